// SPDX-License-Identifier: GPL-3.0-or-later
// The Katapult binding: the engine's frames out whole through the channel, reply bytes in.
#include "katapult/kpump.h"

#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "katapult/channel.h"
#include "log.h"
#include "protocol/err.h"

/* ---- the engine as the one pump sees it ---- */

static uint64_t engine_deadline(const void *s)
{
	return katapult_engine_deadline(s);
}

static void engine_tick(void *s, uint64_t now)
{
	katapult_engine_tick(s, now);
}

static bool engine_ended(const void *s, int *result)
{
	if (katapult_engine_state(s) != KATAPULT_ENGINE_DONE)
		return false;
	*result = katapult_engine_result(s);
	return true;
}

static bool engine_progress(const void *s, struct pump_progress *out)
{
	struct katapult_engine_progress pr;

	katapult_engine_progress(s, &pr);
	/* Only stages the user waits through; "check" and "finished" take no time. */
	if (pr.stage == KATAPULT_STAGE_CHECK || pr.stage == KATAPULT_STAGE_FINISHED)
		return false;
	*out = (struct pump_progress){ .stage = pr.stage_name, .done = pr.done, .total = pr.total };
	return true;
}

static void engine_cancel(void *s, uint64_t now)
{
	katapult_engine_cancel(s, now);
}

static const struct pump_session_ops engine_ops = {
	.deadline = engine_deadline,
	.tick = engine_tick,
	.ended = engine_ended,
	.progress = engine_progress,
	.cancel = engine_cancel,
};

/* ---- frames to the channel ---- */

/* The channel broke under the session: it said what broke; the stage is the session's, the one
 * its stage events named (issue 10: the same stage names in text and JSON). */
static int channel_broke(struct kpump *p, int err)
{
	struct cf_failure *why = p->ch->why;
	struct katapult_engine_progress pr;

	if (why && p->engine) {
		katapult_engine_progress(p->engine, &pr);
		snprintf(why->stage, sizeof(why->stage), "%s", pr.stage_name);
	}
	return err;
}

/* Hand the engine's next frame to the channel as one unit (a channel that takes it at once
 * says sent from inside send: the one pump flushes again). */
static int flush(void *binding, uint64_t now)
{
	struct kpump *p = binding;
	const uint8_t *frame;
	size_t len;
	int err;

	(void)now;
	if (p->tx_busy || katapult_engine_poll_tx(p->engine, &frame, &len) <= 0)
		return CF_OK;
	p->tx_busy = true;
	wirelog_tx(&p->wirelog, p->ch->label, frame, len);
	err = p->ch->ops->send(p->ch, frame, len);
	if (err == CF_ERR_AGAIN)
		return CF_OK;
	return err < 0 ? channel_broke(p, err) : err;
}

static void session_progress(void *ctx, const char *stage, size_t done, size_t total)
{
	struct kpump *p = ctx;

	if (p->progress)
		p->progress(p->ctx, stage, done, total);
}

static void finish(struct kpump *p, int err, uint64_t now)
{
	p->ch->session = false;
	p->done(p->ctx, err, now);
}

static void on_looked(void *ctx, uint64_t now)
{
	struct kpump *p = ctx;

	if (!p->looking)
		return;
	p->looking = false;
	finish(p, p->end_err, now);
}

/* The probe went silent, or the channel broke: first ask the channel what it sees of it. */
static bool unheard(int err)
{
	return err == CF_ERR_TIMEOUT || err == CF_ERR_WEDGED || err == CF_ERR_NO_DEVICE ||
	       err == CF_ERR_IO;
}

static void session_end(void *ctx, int err, uint64_t now)
{
	struct kpump *p = ctx;
	/* After a write or read-back the probe may have been reset: give it time to show.
	 * Before that (CONNECT) only what shows at once: --timeout bounds that wait. */
	const bool wrote = katapult_engine_wrote(p->engine) || p->op == KATAPULT_ENGINE_VERIFY_ONLY;

	memset(&p->seen, 0, sizeof(p->seen));
	if (!unheard(err) || !p->ch->ops->look) {
		finish(p, err, now);
		return;
	}
	p->looked = true;
	p->ch->session = false;
	if (p->ch->ops->look(p->ch, err, now + (wrote ? KPUMP_LOOK_US : 0), &p->seen) == CF_ERR_AGAIN) {
		p->looking = true;
		p->end_err = err;
		return;
	}
	finish(p, err, now);
}

static void on_sent(void *ctx, uint64_t now)
{
	struct kpump *p = ctx;

	if (!pump_active(&p->core) || !p->tx_busy)
		return;
	p->tx_busy = false;
	katapult_engine_tx_done(p->engine, now);
	pump_drive(&p->core, now);
}

static void on_writable(void *ctx, uint64_t now)
{
	struct kpump *p = ctx;

	if (!pump_active(&p->core))
		return;
	p->tx_busy = false; /* nothing of the frame went out: poll_tx gives the same one */
	pump_drive(&p->core, now);
}

static void on_received(void *ctx, const uint8_t *data, size_t len, uint64_t now)
{
	struct kpump *p = ctx;

	if (!pump_active(&p->core))
		return;
	wirelog_rx(&p->wirelog, p->ch->label, data, len);
	katapult_engine_feed(p->engine, data, len, now);
	pump_drive(&p->core, now);
}

static void on_failed(void *ctx, int err, uint64_t now)
{
	struct kpump *p = ctx;

	pump_fail(&p->core, channel_broke(p, err), now);
}

void kpump_init(struct kpump *p, struct kchannel *ch, struct loop *loop,
		void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
		void (*done)(void *ctx, int err, uint64_t now_us), void *ctx)
{
	p->ch = ch;
	p->loop = loop;
	p->progress = progress;
	p->done = done;
	p->ctx = ctx;
}

int kpump_start(struct kpump *p, const struct katapult_engine_config *cfg, uint64_t limit_us)
{
	int err;

	kpump_stop(p);
	err = katapult_engine_new(cfg, &p->engine);
	if (err < 0)
		return err;
	wirelog_init(&p->wirelog);
	p->tx_busy = false;
	p->op = cfg->op;
	p->looked = p->looking = false;
	p->ch->io = (struct kchannel_io){ .ctx = p, .sent = on_sent, .writable = on_writable,
					  .received = on_received, .failed = on_failed,
					  .looked = on_looked };
	p->ch->session = true;
	pump_init(&p->core, p->loop, session_progress, session_end, p);
	pump_start(&p->core, &engine_ops, p->engine, flush, p, limit_us);
	return CF_OK;
}

void kpump_stop(struct kpump *p)
{
	pump_stop(&p->core);
	if (p->looking)
		p->ch->ops->stop(p->ch);
	p->looking = false;
	if (p->ch)
		p->ch->session = false;
	katapult_engine_free(p->engine);
	p->engine = NULL;
}

void kpump_cancel(struct kpump *p, uint64_t now)
{
	pump_cancel(&p->core, now);
}

bool kpump_running(const struct kpump *p)
{
	return p->engine != NULL;
}

struct katapult_engine *kpump_engine(struct kpump *p)
{
	return p->engine;
}

const struct kchannel_seen *kpump_seen(const struct kpump *p)
{
	return p->looked ? &p->seen : NULL;
}
