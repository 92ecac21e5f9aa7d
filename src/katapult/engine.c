// SPDX-License-Identifier: GPL-3.0-or-later
// The Katapult engine's command exchange: one frame in flight, replies matched, retries timed.
#include "katapult/engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "katapult/engine_internal.h"
#include "log.h"
#include "protocol/err.h"

/* ---- lifecycle ---------------------------------------------------------------------------- */

int katapult_engine_new(const struct katapult_engine_config *cfg, struct katapult_engine **out)
{
	struct katapult_engine *e;
	const bool needs_image =
	    cfg->op == KATAPULT_ENGINE_FLASH || cfg->op == KATAPULT_ENGINE_VERIFY_ONLY;

	*out = NULL;
	if (needs_image && (!cfg->image || !cfg->image_len))
		return CF_ERR_USAGE;
	e = calloc(1, sizeof(*e));
	if (!e)
		return CF_ERR_NOMEM;
	e->cfg = *cfg;
	e->result = CF_ERR_AGAIN;
	e->now_us = UINT64_MAX;
	katapult_parser_init(&e->parser);
	engine_flow_start(e);
	*out = e;
	return 0;
}

void katapult_engine_free(struct katapult_engine *e)
{
	free(e);
}

void engine_log(const struct katapult_engine *e, const char *fmt, ...)
{
	char line[192];
	va_list ap;

	if (!cf_log_enabled(CF_LOG_DEBUG))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cf_log(CF_LOG_DEBUG, e->cfg.device, "katapult", "%s", line);
}

/* ---- commands ----------------------------------------------------------------------------- */

static int build_frame(struct katapult_engine *e, uint8_t cmd, uint32_t addr, const uint8_t *data)
{
	uint8_t *b = e->tx;
	const size_t cap = sizeof(e->tx);
	size_t *n = &e->tx_len;

	switch (cmd) {
	case KATAPULT_CMD_CONNECT:
		return katapult_build_connect(b, cap, n);
	case KATAPULT_CMD_SEND_BLOCK:
		return katapult_build_send_block(addr, data, b, cap, n);
	case KATAPULT_CMD_SEND_EOF:
		return katapult_build_send_eof(b, cap, n);
	case KATAPULT_CMD_REQUEST_BLOCK:
		return katapult_build_request_block(addr, b, cap, n);
	case KATAPULT_CMD_COMPLETE:
		return katapult_build_complete(b, cap, n);
	case KATAPULT_CMD_GET_CANBUS_ID:
		return katapult_build_get_canbus_id(b, cap, n);
	case KATAPULT_CMD_PRIME:
		return katapult_build_prime(b, cap, n);
	}
	return CF_ERR_USAGE;
}

/*
 * Make cmd the command in flight; the engine waits in TX until the channel took it whole.
 * katapult.md §1.8: SEND_BLOCK gets 3 tries of 5 s (raised after H723 trouble), the rest
 * 5 tries of 2 s.
 */
void engine_command(struct katapult_engine *e, uint8_t cmd, uint32_t addr, const uint8_t *data)
{
	const bool block = cmd == KATAPULT_CMD_SEND_BLOCK;
	int rc = build_frame(e, cmd, addr, data);

	if (rc < 0) {
		/* Only a programming error gets here: every frame fits KATAPULT_MAX_FRAME. */
		cf_failure_set(&e->failure, CF_ERR_OTHER, "internal", "cannot build %s: %s",
			       katapult_cmd_name(cmd), cf_strerror(rc));
		engine_finish(e, CF_ERR_OTHER);
		return;
	}
	e->cmd = cmd;
	e->addr = addr;
	e->tries = 0;
	e->max_tries = block ? KATAPULT_ENGINE_BLOCK_TRIES : KATAPULT_ENGINE_TRIES;
	e->timeout_us = block ? KATAPULT_ENGINE_BLOCK_TIMEOUT_US : KATAPULT_ENGINE_REPLY_TIMEOUT_US;
	e->nack_seen = false;
	e->busy_waits = 0;
	e->try_event = ENGINE_TRY_SILENT;
	e->tx_handed = false;
	e->tx_ready_us = e->now_us;
	e->state = KATAPULT_ENGINE_TX;
}

void engine_finish(struct katapult_engine *e, int err)
{
	if (e->state == KATAPULT_ENGINE_DONE)
		return;
	if (e->invalidating) {
		/* The erase of page 0 before the stop ended: report the reason of the stop. */
		e->invalidating = false;
		e->invalidate_failed = e->app != KATAPULT_APP_INVALID;
		err = e->stop_err;
		e->failure = e->stop_failure;
	} else if (err < 0 && engine_flow_invalidate(e, err)) {
		return;
	}
	if (err < 0) {
		e->failure.code = err;
		engine_fail_hint(e);
	}
	e->result = err;
	e->state = KATAPULT_ENGINE_DONE;
	e->phase = ENGINE_PHASE_END;
	e->deadline_us = UINT64_MAX;
}

void engine_finish_interrupted(struct katapult_engine *e)
{
	cf_failure_set(&e->failure, CF_ERR_INTERRUPTED,
		       katapult_engine_stage_name(engine_flow_stage(e)), "stopped on request");
	engine_finish(e, CF_ERR_INTERRUPTED);
}

/* ---- the channel side --------------------------------------------------------------------- */

int katapult_engine_poll_tx(struct katapult_engine *e, const uint8_t **frame, size_t *len)
{
	if (e->state != KATAPULT_ENGINE_TX)
		return 0;
	e->tx_handed = true;
	*frame = e->tx;
	*len = e->tx_len;
	return 1;
}

void katapult_engine_tx_done(struct katapult_engine *e, uint64_t now_us)
{
	e->now_us = now_us;
	if (e->state != KATAPULT_ENGINE_TX || !e->tx_handed)
		return;
	e->stats.frames_sent++;
	if (e->cmd == KATAPULT_CMD_PRIME) {
		/* katapult.md §3.4: its command error comes back only behind the next reply. */
		e->discard_next = true;
		engine_flow_after_prime(e);
		if (e->cancel && e->state == KATAPULT_ENGINE_TX)
			engine_finish_interrupted(e);
		return;
	}
	if (e->cmd == KATAPULT_CMD_SEND_BLOCK) {
		e->wrote = true;
		engine_flow_block_out(e);
	}
	e->tries++;
	e->try_event = ENGINE_TRY_SILENT;
	e->state = KATAPULT_ENGINE_WAIT;
	e->deadline_us = now_us + e->timeout_us;
}

/* Something other than the awaited ACK answered this try: resend after a back-off, or on the
 * last try keep listening until the deadline (a good reply may still follow). */
static void retry_soon(struct katapult_engine *e, uint64_t now_us, uint64_t backoff_us)
{
	if (e->state != KATAPULT_ENGINE_WAIT)
		return;
	if (e->cancel) {
		engine_finish_interrupted(e);
		return;
	}
	if (e->tries >= e->max_tries)
		return;
	e->state = KATAPULT_ENGINE_BACKOFF;
	e->deadline_us = now_us + backoff_us;
}

/* katapult.md §1.3: no sequence numbers, the echo is all there is; an ACK for another
 * command or address is left over from an earlier try (or a prime) and is dropped. */
static void on_stale(struct katapult_engine *e)
{
	e->stats.stale++;
	if (e->state == KATAPULT_ENGINE_WAIT && e->try_event == ENGINE_TRY_SILENT)
		e->try_event = ENGINE_TRY_OTHER;
	engine_log(e, "stale ACK while waiting for %s 0x%08x, dropped", katapult_cmd_name(e->cmd),
		   e->addr);
}

static void on_ack(struct katapult_engine *e, const struct katapult_reply *r)
{
	if (!engine_flow_ack_matches(e, r)) {
		on_stale(e);
		return;
	}
	e->stats.replies++;
	engine_flow_on_ack(e, r);
	/* The safe point of a cancel: the reply is in, the next frame not yet handed out. */
	if (e->cancel && e->state == KATAPULT_ENGINE_TX)
		engine_finish_interrupted(e);
}

static void on_nack(struct katapult_engine *e, uint64_t now_us)
{
	e->stats.nacks++;
	if (e->state != KATAPULT_ENGINE_WAIT)
		return;
	e->nack_seen = true;
	e->try_event = ENGINE_TRY_NACK;
	engine_log(e, "NACK on %s 0x%08x, try %u/%u", katapult_cmd_name(e->cmd), e->addr, e->tries,
		   e->max_tries);
	retry_soon(e, now_us, KATAPULT_ENGINE_BACKOFF_US);
}

static void on_cmd_error(struct katapult_engine *e, uint64_t now_us)
{
	e->stats.cmd_errors++;
	if (e->state != KATAPULT_ENGINE_WAIT)
		return;
	e->try_event = ENGINE_TRY_OTHER;
	if (!engine_fail_cmd_error(e))
		retry_soon(e, now_us, KATAPULT_ENGINE_BACKOFF_US);
}

static void on_busy(struct katapult_engine *e, uint64_t now_us)
{
	e->stats.busy++;
	if (e->state != KATAPULT_ENGINE_WAIT)
		return;
	e->try_event = ENGINE_TRY_BUSY;
	/* A busy device is alive and asks for time: within limits that is no failed try
	 * (flashtool counts it as one, which gives up on a device that is working). */
	if (e->busy_waits < KATAPULT_ENGINE_BUSY_WAITS) {
		e->busy_waits++;
		e->tries--;
	}
	engine_log(e, "BUSY on %s, backing off 1.5 s", katapult_cmd_name(e->cmd));
	retry_soon(e, now_us, KATAPULT_ENGINE_BUSY_BACKOFF_US);
}

/* A broken or unexpected reply will not become good by waiting (katapult.md §1.8). */
static void on_bad(struct katapult_engine *e, uint64_t now_us)
{
	e->stats.bad_frames++;
	if (e->state != KATAPULT_ENGINE_WAIT)
		return;
	e->try_event = ENGINE_TRY_BAD;
	retry_soon(e, now_us, KATAPULT_ENGINE_BACKOFF_US);
}

static void on_frame(struct katapult_engine *e, const struct katapult_frame *f, uint64_t now_us)
{
	struct katapult_reply r;

	if (e->discard_next) {
		e->discard_next = false;
		e->stats.stale++;
		engine_log(e, "dropped the held-back reply to the prime (%s)",
			   katapult_cmd_name(f->cmd));
		return;
	}
	/* While a frame is only partly out nothing may move on (design.md rule 1); a reply to an
	 * earlier try of it is dropped, the resend gets its own. */
	if (e->state != KATAPULT_ENGINE_WAIT && e->state != KATAPULT_ENGINE_BACKOFF) {
		e->stats.stale++;
		return;
	}
	katapult_parse_reply(f, e->cmd, &r);
	switch (r.kind) {
	case KATAPULT_REPLY_ACK:
		on_ack(e, &r);
		return;
	case KATAPULT_REPLY_ACK_OTHER:
		on_stale(e);
		return;
	case KATAPULT_REPLY_NACK:
		on_nack(e, now_us);
		return;
	case KATAPULT_REPLY_CMD_ERROR:
		on_cmd_error(e, now_us);
		return;
	case KATAPULT_REPLY_BUSY:
		on_busy(e, now_us);
		return;
	case KATAPULT_REPLY_UNKNOWN:
		on_bad(e, now_us);
		return;
	}
}

void katapult_engine_feed(struct katapult_engine *e, const uint8_t *data, size_t len,
			  uint64_t now_us)
{
	const unsigned long dropped_before = e->parser.bytes_discarded;
	struct katapult_frame f;
	size_t used;
	int rc;

	e->now_us = now_us;
	if (e->state == KATAPULT_ENGINE_TX && e->tx_ready_us == UINT64_MAX)
		e->tx_ready_us = now_us;
	do {
		if (e->state == KATAPULT_ENGINE_DONE)
			break;
		rc = katapult_parser_feed(&e->parser, data, len, &used, &f);
		data += used;
		len -= used;
		if (rc > 0)
			on_frame(e, &f, now_us);
		else if (rc < 0)
			on_bad(e, now_us);
	} while (rc != 0);
	e->stats.bytes_dropped += (unsigned)(e->parser.bytes_discarded - dropped_before);
}

static void on_timeout(struct katapult_engine *e, uint64_t now_us)
{
	e->stats.timeouts++;
	if (e->cancel) {
		engine_finish_interrupted(e);
		return;
	}
	if (e->tries < e->max_tries) {
		engine_log(e, "no reply to %s 0x%08x, try %u/%u", katapult_cmd_name(e->cmd),
			   e->addr, e->tries, e->max_tries);
		/* katapult.md §1.8: flush 0.25 s + sleep 0.5 s before the resend. */
		e->state = KATAPULT_ENGINE_BACKOFF;
		e->deadline_us = now_us + KATAPULT_ENGINE_BACKOFF_US;
		return;
	}
	/* katapult.md §1.7, §10.8: a NACK and then silence means the parser is wedged. */
	if (e->nack_seen && e->try_event == ENGINE_TRY_SILENT)
		engine_fail_give_up(e, CF_ERR_WEDGED);
	else if (e->try_event == ENGINE_TRY_NACK)
		engine_fail_give_up(e, CF_ERR_NACK);
	else if (e->try_event == ENGINE_TRY_BUSY)
		engine_fail_give_up(e, CF_ERR_BUSY);
	else
		engine_fail_give_up(e, CF_ERR_TIMEOUT);
}

/* The channel could not put the frame out (design.md rule 1 forbids dropping it, so the
 * session ends here; the device takes no more data anyway). */
static void on_tx_stall(struct katapult_engine *e)
{
	const char *stage = katapult_engine_stage_name(engine_flow_stage(e));
	const int err = e->stats.nacks ? CF_ERR_WEDGED : CF_ERR_IO;

	cf_failure_set(&e->failure, err, stage, "%s frame not taken by the channel in %u s%s",
		       katapult_cmd_name(e->cmd), KATAPULT_ENGINE_TX_STALL_US / 1000000u,
		       e->stats.nacks ? " after a NACK: the device stopped reading" : "");
	engine_finish(e, err);
}

void katapult_engine_tick(struct katapult_engine *e, uint64_t now_us)
{
	e->now_us = now_us;
	if (e->state == KATAPULT_ENGINE_TX && e->tx_ready_us == UINT64_MAX)
		e->tx_ready_us = now_us;
	if (now_us < katapult_engine_deadline(e))
		return;
	switch (e->state) {
	case KATAPULT_ENGINE_WAIT:
		on_timeout(e, now_us);
		return;
	case KATAPULT_ENGINE_BACKOFF:
		if (e->cancel) {
			engine_finish_interrupted(e);
			return;
		}
		e->stats.retries++;
		e->tx_handed = false;
		e->tx_ready_us = now_us;
		e->state = KATAPULT_ENGINE_TX;
		return;
	case KATAPULT_ENGINE_TX:
		on_tx_stall(e);
		return;
	case KATAPULT_ENGINE_DONE:
		return;
	}
}

uint64_t katapult_engine_deadline(const struct katapult_engine *e)
{
	switch (e->state) {
	case KATAPULT_ENGINE_WAIT:
	case KATAPULT_ENGINE_BACKOFF:
		return e->deadline_us;
	case KATAPULT_ENGINE_TX:
		if (e->tx_ready_us == UINT64_MAX)
			return UINT64_MAX;
		return e->tx_ready_us + KATAPULT_ENGINE_TX_STALL_US;
	case KATAPULT_ENGINE_DONE:
		return UINT64_MAX;
	}
	return UINT64_MAX;
}

enum katapult_engine_state katapult_engine_state(const struct katapult_engine *e)
{
	return e->state;
}

void katapult_engine_cancel(struct katapult_engine *e, uint64_t now_us)
{
	e->now_us = now_us;
	if (e->state == KATAPULT_ENGINE_DONE)
		return;
	e->cancel = true;
	/* No frame on its way: stop now. Otherwise the reply or the timeout will. */
	if (e->state == KATAPULT_ENGINE_BACKOFF ||
	    (e->state == KATAPULT_ENGINE_TX && !e->tx_handed))
		engine_finish_interrupted(e);
}

/* ---- results ------------------------------------------------------------------------------ */

int katapult_engine_result(const struct katapult_engine *e)
{
	return e->state == KATAPULT_ENGINE_DONE ? e->result : CF_ERR_AGAIN;
}

const struct cf_failure *katapult_engine_failure(const struct katapult_engine *e)
{
	return &e->failure;
}

const struct katapult_engine_stats *katapult_engine_stats(const struct katapult_engine *e)
{
	return &e->stats;
}

const struct katapult_connect_info *katapult_engine_connect_info(const struct katapult_engine *e)
{
	return e->have_info ? &e->info : NULL;
}

bool katapult_engine_get_uuid(const struct katapult_engine *e, uint8_t uuid[6])
{
	if (!e->have_uuid)
		return false;
	memcpy(uuid, e->uuid, sizeof(e->uuid));
	return true;
}

bool katapult_engine_completed(const struct katapult_engine *e)
{
	return e->completed;
}

bool katapult_engine_wrote(const struct katapult_engine *e)
{
	return e->wrote;
}

enum katapult_engine_app katapult_engine_app(const struct katapult_engine *e)
{
	return e->app;
}
