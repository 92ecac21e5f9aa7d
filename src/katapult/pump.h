/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine pump: one sans-I/O Katapult session driven over a channel and the loop. */
#ifndef CARTOFLASH_SRC_KATAPULT_PUMP_H
#define CARTOFLASH_SRC_KATAPULT_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "katapult/engine.h"
#include "katapult/wirelog.h"
#include "loop.h"

struct kchannel;

/*
 * Caller-embedded. The caller routes the channel's sent/writable/received/failed events to
 * kpump_on_*; the pump hands the engine's frames to the channel one whole frame at a time
 * (AGAIN: the same frame again on writable), feeds replies, arms the engine's deadline, and
 * reports progress and the end through the callbacks.
 */
struct kpump {
	struct kchannel *ch;
	struct loop *loop;
	/* "connect", "write", "verify": done/total in bytes (total 0 = unknown). */
	void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
	/* The session ended: err 0 or negative cf_err. The engine is still there to be read
	 * (kpump_engine) until the callback returns; the callback may start another session. */
	void (*done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
	/* internal */
	struct katapult_engine *engine;
	struct loop_timer timer;
	struct wirelog wirelog;
	uint64_t limit_us; /* the whole session ends by then (CF_ERR_TIMEOUT), UINT64_MAX none */
	bool tx_busy;	   /* a frame is with the channel and not yet out */
	bool driving;	   /* inside drive: a synchronous sent loops instead of recursing */
	bool again;
	const char *last_stage;
	size_t last_done;
};

/*
 * Start a session of cfg over p->ch; limit_us ends it (between frames, never mid-frame) with
 * CF_ERR_TIMEOUT. Returns 0 (done follows) or a negative cf_err (nothing started).
 */
int kpump_start(struct kpump *p, const struct katapult_engine_config *cfg, uint64_t limit_us);
/* Free the session without a callback; idempotent. */
void kpump_stop(struct kpump *p);
/* Stop at the next safe point (katapult_engine_cancel); done follows. */
void kpump_cancel(struct kpump *p, uint64_t now_us);
bool kpump_running(const struct kpump *p);
/* The running (or just ended, inside done) session; NULL when none. */
struct katapult_engine *kpump_engine(struct kpump *p);

/* Channel events while a session runs. */
void kpump_on_sent(struct kpump *p, uint64_t now_us);
void kpump_on_writable(struct kpump *p, uint64_t now_us);
void kpump_on_received(struct kpump *p, const uint8_t *data, size_t len, uint64_t now_us);
void kpump_on_failed(struct kpump *p, int err, uint64_t now_us);

#endif
