/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one pump: a sans-I/O session bound to the loop (deadline, progress, cancel, end). */
#ifndef CARTOFLASH_SRC_PUMP_H
#define CARTOFLASH_SRC_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

/* What a session shows while it runs. */
struct pump_progress {
	const char *stage; /* "connect", "write", "erase", "verify" ... */
	size_t done, total; /* bytes; total 0 = unknown */
};

/*
 * A session as the pump sees it (design.md: "next request and deadline out, completion and
 * time in"): both the Katapult engine and the DfuSe session have this shape. The request and
 * completion side differs per transport and stays with the binding (flush below, and whatever
 * feeds the session before it calls pump_drive).
 */
struct pump_session_ops {
	/* When the session wants tick next; UINT64_MAX while it waits for I/O only. */
	uint64_t (*deadline)(const void *session);
	void (*tick)(void *session, uint64_t now_us);
	/* true once the session ended; *result is then 0 or a negative cf_err. */
	bool (*ended)(const void *session, int *result);
	/* What to show now; false for a stage that takes no time. */
	bool (*progress)(const void *session, struct pump_progress *out);
	/* Stop at the session's next safe point (never mid-frame, never mid-operation). */
	void (*cancel)(void *session, uint64_t now_us);
};

/*
 * Caller-embedded (the binding: kpump over a Katapult channel, dfu_pump over libusb). Fill
 * loop, progress (may be NULL), done and ctx, or call pump_init.
 */
struct pump_core {
	struct loop *loop;
	void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
	/* The session ended: err 0 or negative cf_err. Always from a loop timer, never from
	 * inside a transport's callback, so done may close the transport, free the session or
	 * start another one. */
	void (*done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
	/* internal */
	const struct pump_session_ops *ops;
	void *session;
	/* The binding hands the session's next request to its transport (a whole frame, a
	 * control transfer): 0, or the transport's error, which ends the session. */
	int (*flush)(void *binding, uint64_t now_us);
	void *binding;
	uint64_t limit_us; /* the whole session ends by then with CF_ERR_TIMEOUT */
	struct loop_timer timer; /* the session's deadline (or the limit) */
	struct loop_timer end;	 /* reports done */
	int result;
	bool running, ending, in_drive, again;
	const char *last_stage;
	size_t last_done;
};

void pump_init(struct pump_core *p, struct loop *loop,
	       void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
	       void (*done)(void *ctx, int err, uint64_t now_us), void *ctx);
/*
 * Drive session (started by the caller) until it ends: flush(binding) after every event,
 * ticks at its deadlines; limit_us (UINT64_MAX: none) ends it between requests, never
 * mid-frame, with CF_ERR_TIMEOUT. session and binding are borrowed until done or pump_stop.
 */
void pump_start(struct pump_core *p, const struct pump_session_ops *ops, void *session,
		int (*flush)(void *binding, uint64_t now_us), void *binding, uint64_t limit_us);
/* The binding fed the session (a completion, reply bytes, a frame sent): move it on. A call
 * from inside flush (a transport that completes at once) repeats the flush, never recurses. */
void pump_drive(struct pump_core *p, uint64_t now_us);
/* The transport broke under the session: end with err. */
void pump_fail(struct pump_core *p, int err, uint64_t now_us);
/* Stop at the session's next safe point; done follows. */
void pump_cancel(struct pump_core *p, uint64_t now_us);
/* Disarm without a callback; idempotent. */
void pump_stop(struct pump_core *p);
/* A session runs and has not ended: events for it are wanted. */
bool pump_active(const struct pump_core *p);

#endif
