/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Katapult binding of the one pump: an engine session's whole frames over a channel. */
#ifndef CARTOFLASH_SRC_KATAPULT_KPUMP_H
#define CARTOFLASH_SRC_KATAPULT_KPUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "katapult/channel.h"
#include "katapult/engine.h"
#include "katapult/wirelog.h"
#include "pump.h"

/* After a session that stopped hearing the probe had written or read back: how long the
 * channel may look for it (a reset probe re-enumerates, or answers the admin query). */
#define KPUMP_LOOK_US 1500000u

/*
 * Caller-embedded. While a session runs the pump takes the channel's I/O events (ch->io): it
 * hands the engine's frames to the channel one whole frame at a time (AGAIN: the same frame
 * again on writable) and feeds the replies; the one pump (src/pump.h) arms the engine's
 * deadline, reports progress and the end.
 */
struct kpump {
	struct kchannel *ch;
	struct loop *loop;
	/* "connect", "write", "verify": done/total in bytes (total 0 = unknown). */
	void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
	/* The session ended: err 0 or negative cf_err, from the loop. When it stopped hearing
	 * the probe (a timeout, a wedged parser, the channel broke) the channel has looked first
	 * (kpump_seen). The engine is still there to be read (kpump_engine) until the callback
	 * returns; the callback may start another session. */
	void (*done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
	/* internal */
	struct pump_core core;
	struct katapult_engine *engine;
	struct wirelog wirelog;
	bool tx_busy; /* a frame is with the channel and not yet out */
	enum katapult_engine_op op;
	struct kchannel_seen seen;
	bool looking, looked;
	int end_err; /* kept while the channel looks */
};

/* Bind to channel ch on loop with the callbacks (the fields above). */
void kpump_init(struct kpump *p, struct kchannel *ch, struct loop *loop,
		void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
		void (*done)(void *ctx, int err, uint64_t now_us), void *ctx);
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
/* Inside done: what the channel saw of a probe that stopped answering; NULL when it did not
 * look. */
const struct kchannel_seen *kpump_seen(const struct kpump *p);

#endif
