/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Klipper-derived application: message blocks and identify from the installed dictionary. */
#include <string.h>

#include "protocol/bytes.h"
#include "protocol/crc16.h"
#include "protocol/klipper.h"
#include "tools/twin/twin_priv.h"

/* katapult.md §8.1 */
#define KL_MIN			   5u
#define KL_MAX			   64u
#define KL_SYNC			   0x7e
#define KL_DEST			   0x10
#define KL_SEQ_MASK		   0x0f
#define KL_MSGID_IDENTIFY_RESPONSE 0
#define KL_MSGID_IDENTIFY	   1

#define NEED_SYNC  0x01
#define NEED_VALID 0x02

/* katapult.md §3.6: after the leading 0x7E, 32 bytes that parse as a block with a wrong CRC. */
static const uint8_t serial_bootloader_request[32] = " \x1c Request Serial Bootloader!! ~";

static void send_block(struct twin *t, const uint8_t *content, size_t len, uint64_t now_us)
{
	uint8_t b[KL_MAX];
	size_t n = len + KL_MIN;

	b[0] = (uint8_t)n;
	b[1] = t->kl_next_seq;
	if (len)
		memcpy(b + 2, content, len);
	cf_put_be16(b + 2 + len, crc16_mcrf4xx(b, 2 + len));
	b[n - 1] = KL_SYNC;
	twin_send(t, b, n, now_us);
}

/* Klipper's command_find_block: seq check, NAK once, resync after the next 0x7E. */
static int find_block(struct twin *t, size_t *pop, uint64_t now_us)
{
	const uint8_t *buf = t->rx, *next;
	size_t len = t->rx_len, msglen;

	if (len && (t->kl_sync & NEED_SYNC))
		goto need_sync;
	if (len < KL_MIN)
		goto need_more;
	msglen = buf[0];
	if (msglen < KL_MIN || msglen > KL_MAX || (buf[1] & ~KL_SEQ_MASK) != KL_DEST)
		goto error;
	if (len < msglen)
		goto need_more;
	if (buf[msglen - 1] != KL_SYNC ||
	    crc16_mcrf4xx(buf, msglen - 3) != cf_get_be16(buf + msglen - 3))
		goto error;
	t->kl_sync &= (uint8_t)~NEED_VALID;
	*pop = msglen;
	if (buf[1] != t->kl_next_seq)
		goto nak; /* lost message: discard until it is retransmitted */
	t->kl_next_seq = (uint8_t)(((buf[1] + 1) & KL_SEQ_MASK) | KL_DEST);
	return 1;
need_more:
	*pop = 0;
	return 0;
error:
	if (buf[0] == KL_SYNC) {
		*pop = 1; /* leading sync bytes are ignored, not NAKed */
		return -1;
	}
	t->kl_sync |= NEED_SYNC;
need_sync:
	next = memchr(buf, KL_SYNC, len);
	if (next) {
		t->kl_sync &= (uint8_t)~NEED_SYNC;
		*pop = (size_t)(next - buf) + 1;
	} else {
		*pop = len;
	}
	if (t->kl_sync & NEED_VALID)
		return -1;
	t->kl_sync |= NEED_VALID;
nak:
	send_block(t, NULL, 0, now_us);
	return -1;
}

/* katapult.md §8.2: one VLQ parameter, advancing *p. */
static bool vlq_next(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
	int32_t v;
	size_t used;

	if (klipper_vlq_decode(*p, (size_t)(end - *p), &v, &used) < 0)
		return false;
	*p += used;
	*out = (uint32_t)v;
	return true;
}

/* Klipper command_identify: serve the dictionary of the installed image, clipped to a block. */
static void identify(struct twin *t, uint32_t offset, uint32_t count, uint64_t now_us)
{
	uint8_t c[KL_MAX];
	size_t n = 0, room;

	c[n++] = KL_MSGID_IDENTIFY_RESPONSE;
	n += (size_t)klipper_vlq_encode((int32_t)offset, c + n);
	room = KL_MAX - KL_MIN - n - 1;
	if (offset >= t->inst.dict_len)
		count = 0;
	else if (offset + count > t->inst.dict_len)
		count = (uint32_t)(t->inst.dict_len - offset);
	if (count > room)
		count = (uint32_t)room;
	c[n++] = (uint8_t)count;
	memcpy(c + n, t->flash + t->inst.dict_off + offset, count);
	send_block(t, c, n + count, now_us);
}

/* A response: msgid, then integers and buffers as the format gives them. */
struct resp {
	uint8_t c[KL_MAX];
	size_t n;
};

static void resp_start(struct resp *r, int id)
{
	r->n = (size_t)klipper_msgid_encode((uint16_t)id, r->c);
}

static void resp_int(struct resp *r, uint32_t v)
{
	r->n += (size_t)klipper_vlq_encode((int32_t)v, r->c + r->n);
}

static void resp_buf(struct resp *r, const uint8_t *b, uint8_t len)
{
	r->c[r->n++] = len;
	memcpy(r->c + r->n, b, len);
	r->n += len;
}

static void app_shutdown(struct twin *t, const char *why)
{
	if (!t->stats.app_shutdown)
		twin_logf(t, "application shutdown: %s", why);
	t->stats.app_shutdown = true;
}

/* Commands the twin models; the others the dictionary lists are accepted and do nothing. */
static void run_command(struct twin *t, int id, const uint32_t *arg, uint64_t now_us)
{
	const struct twin_app_ids *ids = &t->app_ids;
	uint64_t clock = now_us * 48; /* CLOCK_FREQ 48 MHz */
	struct resp r;
	uint8_t u[6];

	if (id == ids->identify) {
		identify(t, arg[0], arg[1], now_us);
	} else if (id == ids->get_canbus_id && ids->r_canbus_id >= 0) {
		/* §8.4: canbus_id canbus_uuid=%.*s canbus_nodeid=%u */
		twin_effective_uuid(t, u);
		resp_start(&r, ids->r_canbus_id);
		resp_buf(&r, u, 6);
		resp_int(&r, t->node_id < 0 ? 0 : (uint32_t)t->node_id);
		send_block(t, r.c, r.n, now_us);
	} else if ((id == ids->get_uptime && ids->r_uptime >= 0) ||
		   (id == ids->get_clock && ids->r_clock >= 0)) {
		resp_start(&r, id == ids->get_uptime ? ids->r_uptime : ids->r_clock);
		if (id == ids->get_uptime)
			resp_int(&r, (uint32_t)(clock >> 32));
		resp_int(&r, (uint32_t)clock);
		send_block(t, r.c, r.n, now_us);
	} else if (id == ids->get_config && ids->r_config >= 0) {
		resp_start(&r, ids->r_config); /* is_config crc is_shutdown move_count */
		resp_int(&r, 0);
		resp_int(&r, 0);
		resp_int(&r, t->stats.app_shutdown);
		resp_int(&r, 0);
		send_block(t, r.c, r.n, now_us);
	} else if (id == ids->reset) {
		/* §8.5: reset restarts with CANBOOT_BYPASS, straight back into the application */
		twin_request_reset(t, TWIN_REQUEST_START_APP, now_us + twin_scale(t, 1000.0));
	} else if (id == ids->emergency_stop) {
		app_shutdown(t, "emergency_stop");
	}
}

static void dispatch(struct twin *t, const uint8_t *content, size_t len, uint64_t now_us)
{
	const uint8_t *p = content, *end = content + len;
	const struct twin_app_cmd *cmd;
	uint32_t arg[8];
	uint16_t id;
	size_t used;

	while (p < end) {
		if (klipper_msgid_decode(p, (size_t)(end - p), &id, &used) < 0)
			return;
		p += used;
		cmd = twin_app_cmd_of(t, id);
		if (!cmd) {
			/* katapult.md §8.2: an unknown command shuts the MCU down */
			app_shutdown(t, "Invalid command");
			return;
		}
		for (unsigned i = 0; i < cmd->nparams; i++) {
			if (cmd->buf_mask & (1u << i)) {
				if (p >= end || (size_t)(end - p) < 1u + *p)
					return;
				arg[i] = *p;
				p += 1 + *p;
			} else if (!vlq_next(&p, end, &arg[i])) {
				return;
			}
		}
		run_command(t, id, arg, now_us);
	}
}

void twin_app_run(struct twin *t, uint64_t now_us)
{
	uint8_t block[KL_MAX];
	size_t pop;
	int ret;

	while (t->mode == TWIN_MODE_APP && t->rx_len && now_us >= t->busy_until) {
		ret = find_block(t, &pop, now_us);
		if (ret == 0)
			return;
		/* Klipper's serial_irq.c (HAVE_BOOTLOADER_REQUEST): a UART build only. */
		if (ret < 0 && pop == sizeof(serial_bootloader_request) &&
		    t->iface == TWIN_IFACE_UART &&
		    !memcmp(t->rx, serial_bootloader_request, sizeof(serial_bootloader_request))) {
			twin_rx_consume(t, pop);
			twin_logf(t, "serial bootloader request");
			twin_bootloader_request(t, now_us);
			return;
		}
		if (ret < 0) {
			twin_rx_consume(t, pop);
			continue;
		}
		memcpy(block, t->rx, pop);
		twin_rx_consume(t, pop);
		dispatch(t, block + 2, pop - KL_MIN, now_us);
		send_block(t, NULL, 0, now_us); /* the ACK follows the responses */
	}
}
