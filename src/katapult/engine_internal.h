/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What engine.c (the command exchange) and engine_flow.c (the session) share. */
#ifndef CARTOFLASH_SRC_KATAPULT_ENGINE_INTERNAL_H
#define CARTOFLASH_SRC_KATAPULT_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "failure.h"
#include "katapult/engine.h"
#include "protocol/katapult.h"

/* What became of the latest try of the command in flight; decides the final error. */
enum engine_try_event {
	ENGINE_TRY_SILENT, /* nothing answered (yet) */
	ENGINE_TRY_NACK,
	ENGINE_TRY_BUSY,
	ENGINE_TRY_BAD,	  /* unreadable or unexpected frame */
	ENGINE_TRY_OTHER, /* something else arrived: a stale ACK, a command error */
};

/* Where the session is; the command in flight follows from it. */
enum engine_phase {
	ENGINE_PHASE_PRIME,
	ENGINE_PHASE_CONNECT,
	ENGINE_PHASE_CANBUS_ID,
	ENGINE_PHASE_WRITE,
	ENGINE_PHASE_EOF,
	ENGINE_PHASE_VERIFY,
	ENGINE_PHASE_COMPLETE,
	ENGINE_PHASE_END,
};

struct katapult_engine {
	struct katapult_engine_config cfg;
	struct katapult_parser parser;
	enum katapult_engine_state state;
	enum engine_phase phase;
	int result;
	struct cf_failure failure;
	struct katapult_engine_stats stats;

	/* The command in flight (katapult.md §1.8: one at a time, resent whole). */
	uint8_t tx[KATAPULT_MAX_FRAME];
	size_t tx_len;
	uint8_t cmd;	      /* its command code */
	uint32_t addr;	      /* SEND_BLOCK / REQUEST_BLOCK address */
	bool tx_handed;	      /* poll_tx gave the frame to the channel */
	uint64_t tx_ready_us; /* when the frame became ready (UINT64_MAX: before any clock) */
	uint64_t now_us;      /* latest time passed in; UINT64_MAX before the first */
	unsigned tries;	      /* sends completed */
	unsigned max_tries;
	uint64_t timeout_us;
	uint64_t deadline_us;
	enum engine_try_event try_event;
	bool nack_seen;	     /* a NACK answered some try of this command */
	unsigned busy_waits; /* BUSY replies to this command that did not use up a try */
	bool discard_next;   /* katapult.md §3.4: drop the first frame after a prime */
	bool cancel;

	/* The session. */
	struct katapult_connect_info info;
	bool have_info;
	uint8_t uuid[KATAPULT_CANBUS_UUID_LEN];
	bool have_uuid;
	uint32_t page_blocks; /* blocks per erase page for the safer order; 0 = ascending */
	size_t nblocks;	      /* image blocks, the last one padded */
	size_t step;	      /* position in the write order or the verify walk */
	size_t done_blocks;   /* real image blocks written or verified (progress) */
	uint8_t last_block[KATAPULT_BLOCK_SIZE]; /* the last image block, padded with 0xFF */
	uint8_t ff_block[KATAPULT_BLOCK_SIZE];	 /* the safer order's first block */
	bool wrote;
	bool completed;
	enum katapult_engine_app app;

	/* Erasing a page again after a refused block (katapult.md §1.6). */
	uint8_t force_block[KATAPULT_BLOCK_SIZE]; /* differs from the page's first block */
	bool reerasing;	      /* the command in flight is force_block at reerase_first */
	size_t reerase_first; /* first block of the page */
	size_t reerased;      /* 1 + the first block of the last page erased again; 0 none */

	/* Erasing page 0 again before a stop (no valid-looking half image). */
	bool invalidating;    /* the command in flight is the 0xFF block over page 0 */
	bool invalidate_failed;
	int stop_err;	      /* the result once that command is done */
	struct cf_failure stop_failure;
};

/* engine.c: the exchange layer. */
void engine_command(struct katapult_engine *e, uint8_t cmd, uint32_t addr, const uint8_t *data);
void engine_finish(struct katapult_engine *e, int err);
/* The stop a cancel asked for: CF_ERR_INTERRUPTED, "stopped on request". */
void engine_finish_interrupted(struct katapult_engine *e);
void engine_log(const struct katapult_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* engine_flow.c: the session. */
void engine_flow_start(struct katapult_engine *e);
/* The prime frame is out: go on without waiting for its (held-back) reply. */
void engine_flow_after_prime(struct katapult_engine *e);
/* An ACK echoing the command in flight: true when its address matches too (else stale). */
bool engine_flow_ack_matches(const struct katapult_engine *e, const struct katapult_reply *r);
/* Handle the accepted ACK: prepare the next command or finish. */
void engine_flow_on_ack(struct katapult_engine *e, const struct katapult_reply *r);
/* A SEND_BLOCK went out whole: what the application area may hold now. */
void engine_flow_block_out(struct katapult_engine *e);
/* A block was refused: erase its page again and rewrite it; false when that cannot help. */
bool engine_flow_reerase(struct katapult_engine *e);
/* The session stops with err: first erase page 0 again when it holds a valid-looking half
 * or differing image and the device still answers; true when that command was started. */
bool engine_flow_invalidate(struct katapult_engine *e, int err);
/* The public stage of the current phase. */
enum katapult_engine_stage engine_flow_stage(const struct katapult_engine *e);

/* engine_fail.c: what a failure says. */
/* A command error answered the command in flight: true when it ends the session. */
bool engine_fail_cmd_error(struct katapult_engine *e);
/* Tries exhausted: record the failure for the phase and finish. */
void engine_fail_give_up(struct katapult_engine *e, int err);
/* Fill the hint for a session that stops now (failure or cancel), unless one is set. */
void engine_fail_hint(struct katapult_engine *e);
/* engine_check.c: refusal rules against the CONNECT reply; 0 or the failure recorded. */
int engine_check_image(struct katapult_engine *e);

#endif
