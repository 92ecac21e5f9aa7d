// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe session: runs the walk's operations through the request layer, sans-I/O.
#include "dfu/dfu_session.h"

#include <stdlib.h>

#include "failure.h"
#include "protocol/err.h"

struct dfu_session {
	struct dfuse io;
	struct dfu_walk walk;
	bool running;
	bool cancelled;
	int result;
	struct dfuse_result last;
};

int dfu_session_new(const struct dfu_session_config *cfg, struct dfu_session **out)
{
	struct dfu_session *s;

	*out = NULL;
	if (!cfg->walk.xfer || cfg->walk.xfer > DFUSE_MAX_XFER)
		return CF_ERR_USAGE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CF_ERR_NOMEM;
	dfuse_init(&s->io, cfg->interface);
	dfu_walk_init(&s->walk, &cfg->walk);
	s->result = CF_OK;
	*out = s;
	return CF_OK;
}

void dfu_session_free(struct dfu_session *s)
{
	free(s);
}

/* Run what the walk wants next, until it wants an operation or is over. */
static void advance(struct dfu_session *s, uint64_t now_us)
{
	struct dfu_walk *w = &s->walk;

	if (w->next == DFU_WALK_RUN && s->cancelled && !w->must_run) {
		cf_failure_set(&w->failure, CF_ERR_INTERRUPTED, w->stage, "stopped by the user");
		cf_failure_set_hint(&w->failure, "the probe stays in ROM DFU mode: rerun recover");
		w->next = DFU_WALK_FAILED;
	}
	switch (w->next) {
	case DFU_WALK_RUN: {
		const int err = dfuse_start(&s->io, &w->op, now_us);

		if (!err)
			return;
		cf_failure_set(&w->failure, err, w->stage, "cannot start %s",
			       dfuse_op_name(w->op.kind));
		w->next = DFU_WALK_FAILED;
		break;
	}
	case DFU_WALK_DONE:
		break;
	case DFU_WALK_FAILED:
		break;
	}
	s->running = false;
	s->result = w->next == DFU_WALK_DONE ? CF_OK
		    : w->failure.code	     ? w->failure.code
					     : CF_ERR_PROTOCOL;
}

/* The request layer finished an operation: hand its end to the walk. */
static void op_ended(struct dfu_session *s, uint64_t now_us)
{
	const struct dfuse_result *r = dfuse_get_result(&s->io);

	s->last = *r;
	if (r->err && !s->walk.own_errors)
		dfu_walk_op_failed(&s->walk, r);
	else
		dfu_walk_step(&s->walk, r, dfuse_upload_data(&s->io));
	advance(s, now_us);
}

void dfu_session_start(struct dfu_session *s, enum dfu_session_phase phase, uint64_t now_us)
{
	s->running = true;
	s->cancelled = false;
	s->result = CF_ERR_AGAIN;
	switch (phase) {
	case DFU_PHASE_IDENTIFY:
		dfu_walk_begin_identify(&s->walk);
		break;
	case DFU_PHASE_WRITE:
		dfu_walk_begin_write(&s->walk);
		break;
	case DFU_PHASE_VERIFY:
		dfu_walk_begin_verify(&s->walk);
		break;
	case DFU_PHASE_LEAVE:
		dfu_walk_begin_leave(&s->walk);
		break;
	case DFU_PHASE_READ:
		dfu_walk_begin_read(&s->walk);
		break;
	}
	advance(s, now_us);
}

bool dfu_session_poll_request(struct dfu_session *s, struct dfuse_request *req)
{
	return s->running && dfuse_poll_request(&s->io, req);
}

void dfu_session_complete(struct dfu_session *s, enum dfuse_xfer_result r, const uint8_t *in,
			  size_t actual, uint64_t now_us)
{
	if (!s->running)
		return;
	dfuse_complete(&s->io, r, in, actual, now_us);
	if (dfuse_state(&s->io) == DFUSE_DONE)
		op_ended(s, now_us);
}

void dfu_session_tick(struct dfu_session *s, uint64_t now_us)
{
	if (!s->running)
		return;
	dfuse_tick(&s->io, now_us);
	if (dfuse_state(&s->io) == DFUSE_DONE)
		op_ended(s, now_us);
}

uint64_t dfu_session_deadline(const struct dfu_session *s)
{
	return s->running ? dfuse_deadline(&s->io) : UINT64_MAX;
}

enum dfu_session_state dfu_session_state(const struct dfu_session *s)
{
	if (!s->running)
		return DFU_SESSION_DONE;
	switch (dfuse_state(&s->io)) {
	case DFUSE_SEND:
		return DFU_SESSION_SEND;
	case DFUSE_IN_FLIGHT:
		return DFU_SESSION_IN_FLIGHT;
	case DFUSE_WAIT:
		return DFU_SESSION_WAIT;
	case DFUSE_DONE:
		break;
	}
	return DFU_SESSION_DONE;
}

void dfu_session_cancel(struct dfu_session *s)
{
	s->cancelled = true;
}

int dfu_session_result(const struct dfu_session *s)
{
	return s->running ? CF_ERR_AGAIN : s->result;
}

const struct cf_failure *dfu_session_failure(const struct dfu_session *s)
{
	return &s->walk.failure;
}

const struct dfuse_result *dfu_session_last(const struct dfu_session *s)
{
	return &s->last;
}

void dfu_session_progress(const struct dfu_session *s, struct dfu_session_progress *out)
{
	out->stage = s->walk.progress_stage;
	out->done = s->walk.progress_done;
	out->total = s->walk.progress_total;
}

const struct dfu_walk_stats *dfu_session_stats(const struct dfu_session *s)
{
	return &s->walk.stats;
}
