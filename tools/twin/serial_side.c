/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin's byte side: USB CDC-ACM (flow-controlled receive, the prime quirk, 1200 baud) or
 * a UART wire, where only a UART build hears anything. */
#include <string.h>

#include "tools/twin/twin_priv.h"

static bool on_usb(const struct twin *t)
{
	return t->iface == (t->cfg.uart ? TWIN_IFACE_UART : TWIN_IFACE_USB) &&
	       (t->mode == TWIN_MODE_APP || t->mode == TWIN_MODE_KATAPULT);
}

size_t twin_serial_receive(struct twin *t, const uint8_t *buf, size_t len, uint64_t now_us)
{
	uint8_t chunk[TWIN_USB_RX_SIZE];
	size_t take = 0;

	twin_advance(t, now_us);
	if (!on_usb(t))
		return len; /* nobody listens: the bytes vanish */
	/* katapult.md §1.5: a 64-byte packet is read only when 64 bytes are free */
	while (take < len && TWIN_USB_RX_SIZE - t->rx_len - take >= TWIN_USB_PACKET)
		take += len - take > TWIN_USB_PACKET ? TWIN_USB_PACKET : len - take;
	if (!take)
		return 0;
	memcpy(chunk, buf, take);
	switch (twin_fault_rx(t, chunk, take)) {
	case TWIN_RX_DROP:
		return take;
	case TWIN_RX_DELAY:
		t->delayed.on = true;
		t->delayed.can = false;
		memcpy(t->delayed.bytes, chunk, take);
		t->delayed.len = take;
		t->delayed.due = now_us + t->faults.delay_us;
		return take;
	}
	twin_serial_deliver(t, chunk, take, now_us);
	return take;
}

void twin_serial_deliver(struct twin *t, const uint8_t *buf, size_t len, uint64_t now_us)
{
	if (!on_usb(t) || len > TWIN_USB_RX_SIZE - t->rx_len)
		return; /* a late packet that no longer fits is lost with the fault */
	memcpy(t->rx + t->rx_len, buf, len);
	t->rx_len += len;
	twin_advance(t, now_us);
}

static void push_chunk(struct twin *t, const struct twin_txchunk *c)
{
	if (t->txc_count == 32)
		return;
	t->txc[(t->txc_head + t->txc_count++) % 32] = *c;
}

/* USB full speed: the host collects a bulk IN packet in the next 1 ms frame at the earliest. */
static uint64_t next_usb_frame(const struct twin *t, uint64_t us)
{
	uint64_t period = twin_scale(t, 1000.0);

	return period ? (us + period - 1) / period * period : us;
}

void twin_serial_queue(struct twin *t, const uint8_t *buf, size_t len, uint64_t ready_us)
{
	struct twin_txchunk c = {.ready_us = next_usb_frame(t, ready_us), .len = (uint16_t)len};

	if (len > sizeof(c.data))
		return;
	memcpy(c.data, buf, len);
	if (twin_fault_tx(t, c.data, c.len, &c.ready_us))
		return;
	if (t->prime_hold && !t->held_valid && len > TWIN_USB_PACKET) {
		/* katapult.md §3.4 holds the first *packet* until a second is queued: a first
		 * reply longer than one packet queues that second packet itself. */
		t->prime_hold = false;
	}
	if (t->prime_hold) {
		/* katapult.md §3.4: the first packet waits for a second one to be queued */
		if (!t->held_valid) {
			t->held = c;
			t->held_valid = true;
			return;
		}
		t->prime_hold = false;
		t->held_valid = false;
		t->held.ready_us = c.ready_us;
		push_chunk(t, &t->held);
	}
	push_chunk(t, &c);
}

size_t twin_serial_pop(struct twin *t, uint64_t now_us, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	twin_advance(t, now_us);
	while (n < cap && t->txc_count) {
		struct twin_txchunk *c = &t->txc[t->txc_head];
		size_t k = c->len - c->off;

		if (c->ready_us > now_us)
			break;
		if (k > cap - n)
			k = cap - n;
		memcpy(buf + n, c->data + c->off, k);
		n += k;
		c->off = (uint16_t)(c->off + k);
		if (c->off == c->len) {
			t->txc_head = (t->txc_head + 1) % 32;
			t->txc_count--;
		}
	}
	return n;
}

/* katapult.md §3.3: rate 1200 with DTR low (a close drops DTR) requests the bootloader. */
void twin_serial_line(struct twin *t, uint32_t baud, bool dtr, bool open, uint64_t now_us)
{
	twin_advance(t, now_us);
	t->line_baud = baud;
	t->line_dtr = dtr && open;
	if (t->mode == TWIN_MODE_APP && t->iface == TWIN_IFACE_USB && baud == 1200 && !t->line_dtr)
		twin_bootloader_request(t, now_us);
}
