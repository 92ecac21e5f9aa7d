/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A scripted Katapult device for engine tests: plain flash memory, replies a script can bend. */
#ifndef CARTOFLASH_TESTS_SIM_FAKE_DEVICE_H
#define CARTOFLASH_TESTS_SIM_FAKE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "katapult/engine.h"
#include "protocol/err.h"
#include "protocol/katapult.h"

#define FAKE_UNUSED __attribute__((unused))
#define FAKE_FLASH_BASE 0x08000000u
#define FAKE_FLASH_SIZE 32768u
#define FAKE_MAX_CMDS 4096
#define FAKE_LATENCY_US 1000u /* reply delay of the fake device */

/* What the device does with one command (chosen by the test's script). */
enum fake_action {
	FAKE_NORMAL,	/* what Katapult does */
	FAKE_SILENT,	/* nothing at all (a lost command or reply) */
	FAKE_NACK,	/* 01 88 f1 00 68 95 99 03 */
	FAKE_CMD_ERROR, /* 01 88 f2 00 00 bf 99 03 */
	FAKE_BUSY,	/* 01 88 f3 00 d8 a6 99 03 */
	FAKE_CUSTOM,	/* the bytes the script put in custom[] */
	FAKE_STALE_FIRST, /* first an ACK of the previous command, then the normal reply */
};

struct fake;
/* n: 0-based index of the frame the engine sent; cmd/addr decoded from it. */
typedef enum fake_action (*fake_script)(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr);
/* Rewrite reply bytes on their way to the host (loss, damage, noise); returns the new length
 * (at most cap). */
typedef size_t (*fake_mutator)(struct fake *f, const uint8_t *in, size_t len, uint8_t *out,
			       size_t cap);

struct fake {
	uint8_t flash[FAKE_FLASH_SIZE];
	struct katapult_connect_info info;
	uint8_t uuid[6];
	bool hold_first; /* USBFS quirk (katapult.md §3.4): first reply waits for a second */
	uint32_t pages;	     /* page-start blocks written, the EOF reply */
	fake_script script;
	fake_mutator mutate;
	void *ctx;
	uint8_t custom[KATAPULT_MAX_FRAME];
	size_t custom_len;
	/* what the engine sent, in order */
	uint8_t cmds[FAKE_MAX_CMDS];
	uint32_t addrs[FAKE_MAX_CMDS];
	uint64_t sent_at[FAKE_MAX_CMDS];
	uint8_t frames[8][KATAPULT_MAX_FRAME]; /* the first 8 frames, raw */
	size_t frame_lens[8];
	unsigned ncmds;
	unsigned completes;
	/* reply bytes in flight */
	uint8_t out[4096];
	size_t out_len;
	uint64_t out_due;
	uint8_t held[KATAPULT_MAX_FRAME * 2];
	size_t held_len;
	bool replied_once;
	size_t feed_chunk; /* feed replies in pieces of this many bytes; 0 = whole */
	uint64_t now;
};

static FAKE_UNUSED void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	memset(f->flash, 0xff, sizeof(f->flash));
	f->info.proto_version = KATAPULT_PROTO_1_1_0;
	f->info.app_start = 0x08002000u;
	f->info.block_size = KATAPULT_BLOCK_SIZE;
	strcpy(f->info.mcu, "stm32f042x6");
	strcpy(f->info.version, "v0.0.1-110-g902f335");
	memcpy(f->uuid, "\xe0\xef\x27\x0c\xa1\x88", 6);
}

static FAKE_UNUSED unsigned fake_count(const struct fake *f, uint8_t cmd)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->ncmds; i++)
		n += f->cmds[i] == cmd;
	return n;
}

static FAKE_UNUSED void fake_emit(struct fake *f, const uint8_t *bytes, size_t len)
{
	uint8_t mutated[4 * KATAPULT_MAX_FRAME];

	if (f->mutate) {
		len = f->mutate(f, bytes, len, mutated, sizeof(mutated));
		bytes = mutated;
	}
	if (f->out_len + f->held_len + len > sizeof(f->out))
		return; /* the device's transmit buffer is full: the reply is lost */
	/* katapult.md §3.4: the first reply after configuration waits for a second one. */
	if (f->hold_first && !f->replied_once) {
		if (len > sizeof(f->held))
			return;
		f->replied_once = true;
		memcpy(f->held, bytes, len);
		f->held_len = len;
		return;
	}
	f->replied_once = true;
	if (f->held_len) {
		memcpy(f->out + f->out_len, f->held, f->held_len);
		f->out_len += f->held_len;
		f->held_len = 0;
	}
	memcpy(f->out + f->out_len, bytes, len);
	f->out_len += len;
	f->out_due = f->now + FAKE_LATENCY_US;
}

static FAKE_UNUSED void fake_normal(struct fake *f, const struct katapult_frame *fr, uint32_t addr)
{
	uint8_t buf[KATAPULT_MAX_FRAME];
	size_t n = 0;
	uint32_t off = addr - FAKE_FLASH_BASE;
	const uint8_t *data;

	switch (fr->cmd) {
	case KATAPULT_CMD_CONNECT:
		katapult_build_connect_ack(&f->info, buf, sizeof(buf), &n);
		break;
	case KATAPULT_CMD_SEND_BLOCK:
		katapult_parse_send_block(fr, &addr, &data);
		memcpy(f->flash + off, data, KATAPULT_BLOCK_SIZE);
		f->pages += off % 1024 == 0;
		katapult_build_block_ack(addr, buf, sizeof(buf), &n);
		break;
	case KATAPULT_CMD_SEND_EOF:
		katapult_build_eof_ack(f->pages, buf, sizeof(buf), &n);
		break;
	case KATAPULT_CMD_REQUEST_BLOCK:
		katapult_build_read_ack(addr, f->flash + off, buf, sizeof(buf), &n);
		break;
	case KATAPULT_CMD_COMPLETE:
		f->completes++;
		katapult_build_ack(KATAPULT_CMD_COMPLETE, NULL, 0, buf, sizeof(buf), &n);
		break;
	case KATAPULT_CMD_GET_CANBUS_ID:
		katapult_build_canbus_id_ack(f->uuid, buf, sizeof(buf), &n);
		break;
	default:
		katapult_build_cmd_error(buf, sizeof(buf), &n);
		break;
	}
	fake_emit(f, buf, n);
}

static FAKE_UNUSED void fake_handle(struct fake *f, const uint8_t *frame, size_t len)
{
	struct katapult_frame fr;
	size_t flen;
	uint32_t addr = 0;
	uint8_t buf[KATAPULT_MAX_FRAME];
	size_t n = 0;
	enum fake_action act = FAKE_NORMAL;
	const unsigned idx = f->ncmds;

	if (katapult_decode(frame, len, &flen, &fr) != 1 || flen != len)
		return;
	if (fr.payload_len >= 4)
		addr = (uint32_t)fr.payload[0] | (uint32_t)fr.payload[1] << 8 |
		       (uint32_t)fr.payload[2] << 16 | (uint32_t)fr.payload[3] << 24;
	if (idx < FAKE_MAX_CMDS) {
		f->cmds[idx] = fr.cmd;
		f->addrs[idx] = addr;
		f->sent_at[idx] = f->now;
		if (idx < 8) {
			memcpy(f->frames[idx], frame, len);
			f->frame_lens[idx] = len;
		}
		f->ncmds++;
	}
	if (f->script)
		act = f->script(f, idx, fr.cmd, addr);
	switch (act) {
	case FAKE_NORMAL:
		fake_normal(f, &fr, addr);
		return;
	case FAKE_SILENT:
		return;
	case FAKE_NACK:
		katapult_build_nack(buf, sizeof(buf), &n);
		break;
	case FAKE_CMD_ERROR:
		katapult_build_cmd_error(buf, sizeof(buf), &n);
		break;
	case FAKE_BUSY:
		katapult_build_busy(buf, sizeof(buf), &n);
		break;
	case FAKE_CUSTOM:
		memcpy(buf, f->custom, f->custom_len);
		n = f->custom_len;
		break;
	case FAKE_STALE_FIRST:
		katapult_build_block_ack(addr - KATAPULT_BLOCK_SIZE, buf, sizeof(buf), &n);
		fake_emit(f, buf, n);
		fake_normal(f, &fr, addr);
		return;
	}
	fake_emit(f, buf, n);
}

/*
 * Run the engine against the fake on a virtual clock until it is done (or max_steps events,
 * a hang guard). cancel_after: cancel once this many frames went out (0 = never).
 */
static FAKE_UNUSED int fake_run(struct fake *f, struct katapult_engine *e, unsigned cancel_after)
{
	const uint8_t *frame;
	size_t len;
	unsigned steps = 0;

	while (katapult_engine_state(e) != KATAPULT_ENGINE_DONE && steps++ < 200000) {
		if (katapult_engine_poll_tx(e, &frame, &len) > 0) {
			uint8_t copy[KATAPULT_MAX_FRAME];

			memcpy(copy, frame, len);
			katapult_engine_tx_done(e, f->now);
			fake_handle(f, copy, len);
			if (cancel_after && f->ncmds == cancel_after)
				katapult_engine_cancel(e, f->now);
			continue;
		}
		if (f->out_len && f->out_due <= katapult_engine_deadline(e)) {
			if (f->out_due > f->now)
				f->now = f->out_due;
			size_t n = f->out_len;
			uint8_t chunk[4096];

			memcpy(chunk, f->out, n);
			f->out_len = 0;
			for (size_t off = 0; off < n;) {
				size_t piece = n - off;

				if (f->feed_chunk && f->feed_chunk < piece)
					piece = f->feed_chunk;
				katapult_engine_feed(e, chunk + off, piece, f->now);
				off += piece;
			}
			continue;
		}
		if (katapult_engine_deadline(e) == UINT64_MAX)
			break;
		f->now = katapult_engine_deadline(e);
		katapult_engine_tick(e, f->now);
	}
	return katapult_engine_result(e);
}

#endif
