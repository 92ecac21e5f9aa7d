// SPDX-License-Identifier: GPL-3.0-or-later
// The one pump: flush after every event, the session's deadline as a loop timer, the end later.
#include "pump.h"

#include <stddef.h>

#include "log.h"
#include "protocol/err.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void show_progress(struct pump_core *p)
{
	struct pump_progress pr = { 0 };

	if (!p->progress || !p->ops->progress(p->session, &pr) || !pr.stage)
		return;
	if (pr.stage == p->last_stage && pr.done == p->last_done)
		return;
	p->last_stage = pr.stage;
	p->last_done = pr.done;
	p->progress(p->ctx, pr.stage, pr.done, pr.total);
}

/* The end is reported from the loop: the caller may be inside a transport's callback. */
static void end_later(struct pump_core *p, int err, uint64_t now)
{
	if (p->ending)
		return;
	p->ending = true;
	p->result = err;
	loop_disarm(p->loop, &p->timer);
	loop_arm(p->loop, &p->end, now);
}

static void arm_deadline(struct pump_core *p)
{
	uint64_t at = p->ops->deadline(p->session);

	if (p->limit_us < at)
		at = p->limit_us;
	if (at != UINT64_MAX)
		loop_arm(p->loop, &p->timer, at);
	else
		loop_disarm(p->loop, &p->timer);
}

void pump_drive(struct pump_core *p, uint64_t now)
{
	int result;

	if (!pump_active(p))
		return;
	if (p->in_drive) {
		p->again = true; /* the transport completed inside flush: flush again there */
		return;
	}
	p->in_drive = true;
	do {
		const int err = (p->again = false, p->flush(p->binding, now));

		if (err < 0) {
			p->in_drive = false;
			end_later(p, err, now);
			return;
		}
	} while (p->again);
	p->in_drive = false;
	show_progress(p);
	if (p->ops->ended(p->session, &result))
		end_later(p, result, now);
	else
		arm_deadline(p);
}

static void deadline_fire(struct loop_timer *t, uint64_t now)
{
	struct pump_core *p = container(t, struct pump_core, timer);

	if (!pump_active(p))
		return;
	if (now >= p->limit_us) {
		end_later(p, CF_ERR_TIMEOUT, now);
		return;
	}
	p->ops->tick(p->session, now);
	pump_drive(p, now);
}

static void done_fire(struct loop_timer *t, uint64_t now)
{
	struct pump_core *p = container(t, struct pump_core, end);

	if (!p->running || !p->ending)
		return;
	p->running = false;
	p->ending = false;
	p->done(p->ctx, p->result, now);
}

void pump_init(struct pump_core *p, struct loop *loop,
	       void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
	       void (*done)(void *ctx, int err, uint64_t now_us), void *ctx)
{
	*p = (struct pump_core){ .loop = loop, .progress = progress, .done = done, .ctx = ctx };
}

void pump_start(struct pump_core *p, const struct pump_session_ops *ops, void *session,
		int (*flush)(void *binding, uint64_t now_us), void *binding, uint64_t limit_us)
{
	pump_stop(p);
	p->ops = ops;
	p->session = session;
	p->flush = flush;
	p->binding = binding;
	p->limit_us = limit_us;
	p->timer.fire = deadline_fire;
	p->end.fire = done_fire;
	p->last_stage = NULL;
	p->last_done = 0;
	p->in_drive = p->again = false;
	p->running = true;
	pump_drive(p, cf_now_us());
}

void pump_fail(struct pump_core *p, int err, uint64_t now)
{
	if (pump_active(p))
		end_later(p, err, now);
}

void pump_cancel(struct pump_core *p, uint64_t now)
{
	if (!pump_active(p))
		return;
	p->ops->cancel(p->session, now);
	pump_drive(p, now);
}

void pump_stop(struct pump_core *p)
{
	p->running = false;
	p->ending = false;
	if (p->loop) {
		loop_disarm(p->loop, &p->timer);
		loop_disarm(p->loop, &p->end);
	}
}

bool pump_active(const struct pump_core *p)
{
	return p->running && !p->ending;
}
