/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin on a CAN bus: admin frames, the node byte stream, and its transmit queue. */
#include <string.h>

#include "protocol/err.h"
#include "tools/simbus/canwire.h"
#include "tools/twin/twin_priv.h"

static bool on_can(const struct twin *t)
{
	if (t->iface != TWIN_IFACE_CAN)
		return false;
	if (t->mode != TWIN_MODE_APP && t->mode != TWIN_MODE_KATAPULT)
		return false;
	/* katapult.md §2.5: a node at another bitrate is invisible */
	return t->bitrate == t->cfg.bus_bitrate;
}

void twin_rx_consume(struct twin *t, size_t n)
{
	if (n > t->rx_len)
		n = t->rx_len;
	memmove(t->rx, t->rx + n, t->rx_len - n);
	t->rx_len -= n;
}

static void node_data(struct twin *t, const struct canbus_frame *f, uint64_t now_us)
{
	/* katapult.md §1.5: a frame that does not fit the 192-byte buffer is silently dropped */
	if (t->rx_len + f->len > TWIN_CAN_RX_SIZE) {
		t->stats.rx_overflow_drops++;
		return;
	}
	memcpy(t->rx + t->rx_len, f->data, f->len);
	t->rx_len += f->len;
	twin_advance(t, now_us);
}

void twin_can_receive(struct twin *t, const struct canbus_frame *frame, uint64_t now_us)
{
	struct canbus_frame f = *frame;
	bool mine;

	twin_advance(t, now_us);
	if (!on_can(t) || f.id > 0x7ff || f.len > 8)
		return;
	mine = f.id == CANBUS_ADMIN_ID ||
	       (t->node_id >= 0 && (f.id & ~1u) == 0x100u + 2u * (uint32_t)t->node_id);
	if (!mine)
		return;
	switch (twin_fault_rx(t, f.data, f.len)) {
	case TWIN_RX_DROP:
		return;
	case TWIN_RX_DELAY:
		t->delayed.on = true;
		t->delayed.can = true;
		t->delayed.f = f;
		t->delayed.due = now_us + t->faults.delay_us;
		return;
	}
	twin_can_deliver(t, &f, now_us);
}

void twin_can_deliver(struct twin *t, const struct canbus_frame *frame, uint64_t now_us)
{
	struct canbus_frame f = *frame;

	if (!on_can(t))
		return;
	if (f.id == CANBUS_ADMIN_ID) {
		if (t->mode == TWIN_MODE_APP)
			twin_app_admin(t, &f, now_us);
		else
			twin_katapult_admin(t, &f, now_us);
		return;
	}
	if (f.id & 1) {
		/* katapult.md §2.2: a frame on our own response id is an id conflict */
		t->node_id = -1;
		if (t->mode == TWIN_MODE_APP)
			t->stats.app_shutdown = true;
		return;
	}
	node_data(t, &f, now_us);
}

size_t twin_can_filter(const struct twin *t, uint32_t ids[2], uint32_t masks[2])
{
	ids[0] = CANBUS_ADMIN_ID;
	masks[0] = 0x7ff;
	if (t->node_id < 0)
		return 1;
	ids[1] = 0x100u + 2u * (uint32_t)t->node_id;
	masks[1] = 0x7fe;
	return 2;
}

/* Bytes waiting in the transmit buffer at time at_us (not yet on the wire). */
static size_t tx_backlog(const struct twin *t, uint64_t at_us)
{
	size_t bytes = 0;

	for (size_t i = 0; i < t->txf_count; i++) {
		const struct twin_txframe *q = &t->txf[(t->txf_head + i) % TWIN_TXQ_FRAMES];
		if (q->ready_us > at_us)
			bytes += q->f.len;
	}
	return bytes;
}

static void queue_frame(struct twin *t, const struct canbus_frame *f, uint64_t ready_us)
{
	struct twin_txframe *q;
	uint64_t at = ready_us;

	if (t->txf_count == TWIN_TXQ_FRAMES) {
		t->stats.tx_overflow_drops++;
		return;
	}
	if (t->cfg.wire_time) {
		if (at < t->tx_wire_free)
			at = t->tx_wire_free;
		at += twin_scale(t, (double)canwire_frame_ns(f, t->cfg.bus_bitrate) / 1000.0);
		t->tx_wire_free = at;
	}
	q = &t->txf[(t->txf_head + t->txf_count) % TWIN_TXQ_FRAMES];
	q->f = *f;
	q->ready_us = at;
	if (twin_fault_tx(t, q->f.data, q->f.len, &q->ready_us))
		return;
	t->txf_count++;
}

void twin_can_send_admin(struct twin *t, const uint8_t *data, uint8_t len, uint64_t now_us)
{
	struct canbus_frame f = {.id = CANBUS_ADMIN_RESP_ID, .len = len};

	if (t->faults.silent)
		return;
	memcpy(f.data, data, len);
	queue_frame(t, &f, now_us);
}

static void can_send(struct twin *t, const uint8_t *buf, size_t len, uint64_t ready_us)
{
	struct canbus_frame f;

	if (t->node_id < 0)
		return; /* no assigned id: nowhere to send */
	/* katapult.md §1.5: a reply that does not fit the 96-byte buffer is not sent */
	if (tx_backlog(t, ready_us) + len > TWIN_CAN_TX_SIZE) {
		t->stats.tx_overflow_drops++;
		return;
	}
	f.id = 0x100u + 2u * (uint32_t)t->node_id + 1;
	for (size_t off = 0; off < len; off += 8) {
		f.len = (uint8_t)(len - off > 8 ? 8 : len - off);
		memset(f.data, 0, sizeof(f.data));
		memcpy(f.data, buf + off, f.len);
		queue_frame(t, &f, ready_us);
	}
}

void twin_send(struct twin *t, const uint8_t *buf, size_t len, uint64_t ready_us)
{
	if (t->faults.silent)
		return;
	if (t->iface == TWIN_IFACE_CAN)
		can_send(t, buf, len, ready_us);
	else if (t->iface == TWIN_IFACE_USB || t->iface == TWIN_IFACE_UART)
		twin_serial_queue(t, buf, len, ready_us);
}

int twin_can_pop(struct twin *t, uint64_t now_us, struct canbus_frame *out)
{
	struct twin_txframe *q;

	twin_advance(t, now_us);
	if (!t->txf_count)
		return CF_ERR_AGAIN;
	q = &t->txf[t->txf_head];
	if (q->ready_us > now_us)
		return CF_ERR_AGAIN;
	*out = q->f;
	t->txf_head = (t->txf_head + 1) % TWIN_TXQ_FRAMES;
	t->txf_count--;
	return CF_OK;
}

/* A reset loses what was still in the transmit buffer; frames already sent stay sent. */
void twin_outputs_clear(struct twin *t, uint64_t now_us)
{
	size_t keep = 0;

	for (size_t i = 0; i < t->txf_count; i++) {
		struct twin_txframe q = t->txf[(t->txf_head + i) % TWIN_TXQ_FRAMES];
		if (q.ready_us <= now_us)
			t->txf[(t->txf_head + keep++) % TWIN_TXQ_FRAMES] = q;
	}
	t->txf_count = keep;
	if (t->tx_wire_free > now_us)
		t->tx_wire_free = now_us;
	keep = 0;
	for (size_t i = 0; i < t->txc_count; i++) {
		struct twin_txchunk c = t->txc[(t->txc_head + i) % 32];
		if (c.ready_us <= now_us)
			t->txc[(t->txc_head + keep++) % 32] = c;
	}
	t->txc_count = keep;
	t->held_valid = false;
}
