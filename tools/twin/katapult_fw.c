/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Katapult's side of the wire: its own receive parser (with the §1.7 wedge) and its commands. */
#include <stdio.h>
#include <string.h>

#include "protocol/bytes.h"
#include "protocol/crc16.h"
#include "protocol/katapult.h"
#include "tools/twin/twin_priv.h"

/* katapult.md §1.1, §1.3 */
#define KP_MSG_MIN	 8u
#define KP_MSG_MAX	 128u
#define KP_CONNECT	 0x11
#define KP_SEND_BLOCK	 0x12
#define KP_SEND_EOF	 0x13
#define KP_REQUEST_BLOCK 0x14
#define KP_COMPLETE	 0x15
#define KP_GET_CANBUS_ID 0x16
#define KP_ACK		 0xa0
#define KP_NACK		 0xf1
#define KP_CMD_ERROR	 0xf2
#define KP_BUSY		 0xf3
#define KP_PROTO_1_0_0	 0x00010000u
#define KP_PROTO_1_1_0	 0x00010100u

/* Parser flags, as the firmware's command_find_block keeps them. */
#define NEED_SYNC  0x01
#define NEED_VALID 0x02

/* Build and queue one reply: payload is whole words, already padded. */
static void reply(struct twin *t, uint8_t code, const uint8_t *payload, size_t words,
		  uint64_t ready_us)
{
	uint8_t f[KP_MSG_MAX + 16];
	size_t n;

	if (katapult_encode(code, payload, 4 * words, f, sizeof(f), &n) < 0)
		return;
	/* the slow_block fault: the reply after the slow one (the resend's) comes late too */
	if (t->late_next == 2) {
		ready_us += t->faults.late_next_us;
		twin_logf(t, "fault: the reply after the slow block %llu us late",
			  (unsigned long long)t->faults.late_next_us);
		t->late_next = 0;
	}
	if (t->late_next == 1)
		t->late_next = 2;
	twin_send(t, f, n, ready_us);
}

static void reply_code(struct twin *t, uint8_t code, uint64_t ready_us)
{
	reply(t, code, NULL, 0, ready_us);
}

/* katapult.md §1.7: on error one NACK, then resync on the next 0x01 searched from offset 0. */
static int find_block(struct twin *t, size_t *pop, uint64_t now_us)
{
	const uint8_t *buf = t->rx, *next;
	size_t len = t->rx_len, msglen;

	if (len && (t->kp_sync & NEED_SYNC))
		goto need_sync;
	if (len < KP_MSG_MIN)
		goto need_more;
	if (buf[0] != 0x01 || buf[1] != 0x88)
		goto error;
	msglen = (size_t)buf[3] * 4 + KP_MSG_MIN;
	if (msglen > KP_MSG_MAX)
		goto error;
	if (len < msglen)
		goto need_more;
	if (buf[msglen - 2] != 0x99 || buf[msglen - 1] != 0x03)
		goto error;
	if (crc16_mcrf4xx(buf + 2, msglen - 6) != cf_get_le16(buf + msglen - 4))
		goto error;
	t->kp_sync &= (uint8_t)~NEED_VALID;
	*pop = msglen;
	return 1;
need_more:
	*pop = 0;
	return 0;
error:
	t->kp_sync |= NEED_SYNC;
need_sync:
	next = memchr(buf, 0x01, len);
	if (next) {
		t->kp_sync &= (uint8_t)~NEED_SYNC;
		*pop = (size_t)(next - buf);
	} else {
		*pop = len;
	}
	if (t->kp_sync & NEED_VALID)
		return -1;
	t->kp_sync |= NEED_VALID;
	t->stats.nacks++;
	reply_code(t, KP_NACK, now_us);
	return -1;
}

static size_t put_string(uint8_t *p, const char *s)
{
	size_t len = strlen(s), words = (len + 4) / 4; /* at least one NUL */

	memset(p, 0, words * 4);
	memcpy(p, s, len);
	return words;
}

/* katapult.md §1.4 */
static void cmd_connect(struct twin *t, uint64_t now_us)
{
	uint8_t p[KP_MSG_MAX];
	size_t w = 4;
	bool v11 = t->cfg.katapult_proto ? t->cfg.katapult_proto >= KP_PROTO_1_1_0
					 : t->inst.bl_version[0] != '\0';

	cf_put_le32(p, KP_CONNECT);
	cf_put_le32(p + 4, v11 ? KP_PROTO_1_1_0 : KP_PROTO_1_0_0);
	cf_put_le32(p + 8, TWIN_FLASH_BASE + t->app_off);
	cf_put_le32(p + 12, TWIN_BLOCK_SIZE);
	w += put_string(p + 4 * w, t->inst.bl_mcu);
	if (v11) {
		cf_put_le32(p + 4 * w, 0);
		w++;
		w += put_string(p + 4 * w, t->inst.bl_version);
	}
	reply(t, KP_ACK, p, w, now_us);
}

static void cmd_send_block(struct twin *t, const uint8_t *msg, uint64_t now_us)
{
	uint32_t addr = cf_get_le32(msg + 4);
	uint64_t cost = 0;
	uint8_t p[8];
	int rc;

	if (msg[3] != TWIN_BLOCK_SIZE / 4 + 1 || addr < TWIN_FLASH_BASE + t->app_off)
		goto fail;
	rc = twin_flash_write_block(t, addr, msg + 8, &cost);
	if (t->faults.slow_block && ++t->slow_seen == t->faults.slow_block) {
		/* a flash that takes its time (katapult.md §1.8: the 5 s came from H723s) */
		cost += t->faults.delay_us;
		t->delay_fired_rx = t->rx_seen + 1;
		t->late_next = t->faults.late_next_us ? 1 : 0;
		twin_logf(t, "fault: SEND_BLOCK %u takes %llu us longer", t->slow_seen,
			  (unsigned long long)t->faults.delay_us);
	}
	t->busy_until = now_us + cost;
	if (rc == 1) {
		twin_lose_power(t, now_us + cost, "while programming a block");
		return;
	}
	if (rc == 2) {
		twin_hang(t, TWIN_MODE_HUNG, "SEND_BLOCK wrote past the end of flash");
		return;
	}
	if (rc < 0)
		goto fail;
	cf_put_le32(p, KP_SEND_BLOCK);
	cf_put_le32(p + 4, addr);
	reply(t, KP_ACK, p, 2, now_us + cost);
	return;
fail:
	t->stats.block_errors++;
	reply_code(t, KP_CMD_ERROR, now_us + cost);
}

/* §1.3: REQUEST_BLOCK checks nothing; unmapped addresses fault the Cortex-M0. */
static void cmd_request_block(struct twin *t, const uint8_t *msg, uint64_t now_us)
{
	uint8_t p[8 + TWIN_BLOCK_SIZE];
	uint32_t addr = cf_get_le32(msg + 4);
	char why[96];

	cf_put_le32(p, KP_REQUEST_BLOCK);
	cf_put_le32(p + 4, addr);
	if (addr >= TWIN_FLASH_BASE && addr - TWIN_FLASH_BASE <= t->flash_size - TWIN_BLOCK_SIZE) {
		memcpy(p + 8, t->flash + (addr - TWIN_FLASH_BASE), TWIN_BLOCK_SIZE);
	} else if (addr >= 0x20000000u && addr < t->mcu->ram_top - TWIN_BLOCK_SIZE) {
		memset(p + 8, 0, TWIN_BLOCK_SIZE); /* RAM: the twin keeps no RAM image */
	} else {
		snprintf(why, sizeof(why), "REQUEST_BLOCK read unmapped address 0x%08x", addr);
		twin_hang(t, TWIN_MODE_HUNG, why);
		return;
	}
	reply(t, KP_ACK, p, 2 + TWIN_BLOCK_SIZE / 4, now_us);
}

static void cmd_simple(struct twin *t, uint8_t cmd, uint32_t value, size_t words, uint64_t now_us)
{
	uint8_t p[12];

	memset(p, 0, sizeof(p));
	cf_put_le32(p, cmd);
	cf_put_le32(p + 4, value);
	reply(t, KP_ACK, p, words, now_us);
}

static void cmd_get_canbus_id(struct twin *t, uint64_t now_us)
{
	uint8_t p[12];

	if (t->iface != TWIN_IFACE_CAN) {
		reply_code(t, KP_CMD_ERROR, now_us);
		return;
	}
	memset(p, 0, sizeof(p));
	cf_put_le32(p, KP_GET_CANBUS_ID);
	twin_effective_uuid(t, p + 4);
	reply(t, KP_ACK, p, 3, now_us);
}

static void dispatch(struct twin *t, const uint8_t *msg, uint64_t now_us)
{
	if (t->faults.busy_replies) {
		t->faults.busy_replies--;
		t->stats.busy_sent++;
		reply_code(t, KP_BUSY, now_us);
		return;
	}
	switch (msg[2]) {
	case KP_CONNECT:
		cmd_connect(t, now_us);
		return;
	case KP_SEND_BLOCK:
		cmd_send_block(t, msg, now_us);
		return;
	case KP_SEND_EOF:
		cmd_simple(t, KP_SEND_EOF, t->stats.eof_page_count, 2, now_us);
		return;
	case KP_REQUEST_BLOCK:
		if (msg[3] != 1)
			break;
		cmd_request_block(t, msg, now_us);
		return;
	case KP_COMPLETE:
		t->stats.completes++;
		cmd_simple(t, KP_COMPLETE, 0, 1, now_us);
		/* §1.3: ACK, then 100 ms later REQUEST_START_APP and reset */
		twin_request_reset(t, TWIN_REQUEST_START_APP, now_us + twin_scale(t, 100000.0));
		return;
	case KP_GET_CANBUS_ID:
		cmd_get_canbus_id(t, now_us);
		return;
	}
	reply_code(t, KP_CMD_ERROR, now_us); /* §1.3: unknown command -> command error */
}

void twin_katapult_run(struct twin *t, uint64_t now_us)
{
	uint8_t msg[KP_MSG_MAX];
	size_t pop;
	int ret;

	while (t->mode == TWIN_MODE_KATAPULT && t->rx_len && now_us >= t->busy_until) {
		ret = find_block(t, &pop, now_us);
		if (ret == 0)
			return;
		if (ret < 0) {
			if (pop == 0) {
				/* §1.7: the firmware re-parses the same bytes forever */
				if (!t->stats.wedged) {
					t->stats.wedged = true;
					t->stats.wedges++;
					twin_logf(t, "katapult parser wedged");
				}
				return;
			}
			twin_rx_consume(t, pop);
			continue;
		}
		memcpy(msg, t->rx, pop);
		twin_rx_consume(t, pop);
		dispatch(t, msg, now_us);
	}
}
