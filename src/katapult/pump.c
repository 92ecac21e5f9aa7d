// SPDX-License-Identifier: GPL-3.0-or-later
// The engine pump: whole frames out through the channel, reply bytes in, the engine's deadlines.
#include "katapult/pump.h"

#include <stddef.h>

#include "katapult/channel.h"
#include "log.h"
#include "protocol/err.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void report_progress(struct kpump *p)
{
	struct katapult_engine_progress pr;

	katapult_engine_progress(p->engine, &pr);
	/* Only stages the user waits through; "check" and "finished" take no time. */
	if (pr.stage == KATAPULT_STAGE_CHECK || pr.stage == KATAPULT_STAGE_FINISHED)
		return;
	if (pr.stage_name == p->last_stage && pr.done == p->last_done)
		return;
	p->last_stage = pr.stage_name;
	p->last_done = pr.done;
	if (p->progress)
		p->progress(p->ctx, pr.stage_name, pr.done, pr.total);
}

static void end(struct kpump *p, int err, uint64_t now)
{
	loop_disarm(p->loop, &p->timer);
	p->ch->session = false;
	p->done(p->ctx, err, now);
}

static void arm(struct kpump *p)
{
	uint64_t at = katapult_engine_deadline(p->engine);

	if (p->limit_us < at)
		at = p->limit_us;
	if (at != UINT64_MAX)
		loop_arm(p->loop, &p->timer, at);
	else
		loop_disarm(p->loop, &p->timer);
}

/* Hand the engine's next frame to the channel as one unit; arm the deadline. */
static void drive(struct kpump *p, uint64_t now)
{
	const uint8_t *frame;
	size_t len;

	p->driving = true;
	do {
		p->again = false;
		if (katapult_engine_state(p->engine) == KATAPULT_ENGINE_DONE) {
			p->driving = false;
			report_progress(p);
			end(p, katapult_engine_result(p->engine), now);
			return;
		}
		if (!p->tx_busy && katapult_engine_poll_tx(p->engine, &frame, &len) > 0) {
			int err;

			p->tx_busy = true;
			wirelog_tx(&p->wirelog, p->ch->label, frame, len);
			err = p->ch->ops->send(p->ch, frame, len);
			if (err < 0 && err != CF_ERR_AGAIN) {
				p->driving = false;
				end(p, err, now);
				return;
			}
		}
	} while (p->again);
	p->driving = false;
	if (p->engine) {
		arm(p);
		report_progress(p);
	}
}

void kpump_on_sent(struct kpump *p, uint64_t now)
{
	if (!p->engine || !p->tx_busy)
		return;
	p->tx_busy = false;
	katapult_engine_tx_done(p->engine, now);
	if (p->driving)
		p->again = true; /* the send returned at once: carry on in drive's loop */
	else
		drive(p, now);
}

void kpump_on_writable(struct kpump *p, uint64_t now)
{
	if (!p->engine)
		return;
	p->tx_busy = false; /* nothing of the frame went out: poll_tx gives the same one */
	drive(p, now);
}

void kpump_on_received(struct kpump *p, const uint8_t *data, size_t len, uint64_t now)
{
	if (!p->engine)
		return;
	wirelog_rx(&p->wirelog, p->ch->label, data, len);
	katapult_engine_feed(p->engine, data, len, now);
	if (!p->driving)
		drive(p, now);
}

void kpump_on_failed(struct kpump *p, int err, uint64_t now)
{
	if (p->engine)
		end(p, err, now);
}

static void timer_fire(struct loop_timer *t, uint64_t now)
{
	struct kpump *p = container(t, struct kpump, timer);

	if (!p->engine)
		return;
	if (now >= p->limit_us) {
		end(p, CF_ERR_TIMEOUT, now);
		return;
	}
	katapult_engine_tick(p->engine, now);
	drive(p, now);
}

int kpump_start(struct kpump *p, const struct katapult_engine_config *cfg, uint64_t limit_us)
{
	int err;

	kpump_stop(p);
	err = katapult_engine_new(cfg, &p->engine);
	if (err < 0)
		return err;
	wirelog_init(&p->wirelog);
	p->limit_us = limit_us;
	p->tx_busy = false;
	p->driving = false;
	p->last_stage = NULL;
	p->last_done = 0;
	p->timer.fire = timer_fire;
	p->ch->session = true;
	drive(p, cf_now_us());
	return CF_OK;
}

void kpump_stop(struct kpump *p)
{
	if (p->loop)
		loop_disarm(p->loop, &p->timer);
	if (p->ch)
		p->ch->session = false;
	katapult_engine_free(p->engine);
	p->engine = NULL;
}

void kpump_cancel(struct kpump *p, uint64_t now)
{
	if (!p->engine)
		return;
	katapult_engine_cancel(p->engine, now);
	/* Back-off and idle states end at once; a command in flight ends with its reply. */
	if (katapult_engine_state(p->engine) == KATAPULT_ENGINE_DONE && !p->driving)
		drive(p, now);
}

bool kpump_running(const struct kpump *p)
{
	return p->engine != NULL;
}

struct katapult_engine *kpump_engine(struct kpump *p)
{
	return p->engine;
}
