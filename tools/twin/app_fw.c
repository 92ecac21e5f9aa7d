/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Klipper-derived application: message blocks and identify from the installed dictionary. */
#include <string.h>

#include "protocol/bytes.h"
#include "protocol/crc16.h"
#include "protocol/klipper.h"
#include "tools/twin/twin_priv.h"

/* katapult.md §8.1 */
#define KL_MIN 5u
#define KL_MAX 64u
#define KL_SYNC 0x7e
#define KL_DEST 0x10
#define KL_SEQ_MASK 0x0f
#define KL_MSGID_IDENTIFY_RESPONSE 0
#define KL_MSGID_IDENTIFY 1

#define NEED_SYNC 0x01
#define NEED_VALID 0x02

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

static void dispatch(struct twin *t, const uint8_t *content, size_t len, uint64_t now_us)
{
	const uint8_t *p = content, *end = content + len;
	uint32_t a, b;
	uint16_t id;
	size_t used;

	while (p < end) {
		if (klipper_msgid_decode(p, (size_t)(end - p), &id, &used) < 0)
			return;
		p += used;
		if (id == KL_MSGID_IDENTIFY && vlq_next(&p, end, &a) && vlq_next(&p, end, &b)) {
			identify(t, a, b, now_us);
			continue;
		}
		/* katapult.md §8.2: an unknown command shuts the MCU down ("Invalid command") */
		if (!t->stats.app_shutdown)
			twin_logf(t, "application shutdown: Invalid command (msgid %u)", id);
		t->stats.app_shutdown = true;
		return;
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
