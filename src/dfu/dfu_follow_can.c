// SPDX-License-Identifier: GPL-3.0-or-later
// Following a CAN build after the DfuSe leave: the node that was not on the bus before it.
#include "dfu/dfu_follow.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "can/canmux.h"
#include "failure.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "updater.h"

#define ROUND_GAP_US 100000 /* between two query rounds */

static bool was_there(const struct dfu_follow *f, const uint8_t uuid[6])
{
	for (size_t i = 0; i < f->nbefore; i++)
		if (!memcmp(f->before[i], uuid, 6))
			return true;
	return false;
}

static void on_baseline_done(void *ctx, int err, uint64_t now_us)
{
	struct dfu_follow *f = ctx;

	(void)now_us;
	f->query_running = false;
	if (err)
		cf_log(CF_LOG_WARN, canmux_spec(f->mux), "dfu",
		       "CAN query failed (%s): the nodes "
		       "already on the bus are not known",
		       cf_strerror(err));
	for (size_t i = 0; i < f->query.count && f->nbefore < CANQUERY_MAX_NODES; i++)
		memcpy(f->before[f->nbefore++], f->query.nodes[i].uuid, 6);
	canquery_stop(&f->query);
	f->baseline_done(f->baseline_ctx);
}

int dfu_follow_can_baseline(struct dfu_follow *f, const char *iface, void (*done)(void *ctx),
			    void *ctx)
{
	int err = canmux_acquire(f->loop, iface, &f->mux, updater_failure(f->u));

	if (err) {
		f->mux = NULL;
		return err;
	}
	f->baseline_done = done;
	f->baseline_ctx = ctx;
	f->nbefore = 0;
	f->query.on_done = on_baseline_done;
	f->query.on_node = NULL;
	f->query.ctx = f;
	/* katapult.md §2.6: clear Katapult ids first so nodes holding an old one answer too. */
	err = canquery_start(&f->query, f->mux, f->loop, true, 0, 0);
	if (err) {
		canmux_release(f->mux);
		f->mux = NULL;
		return err;
	}
	f->query_running = true;
	return CF_OK;
}

static void found(struct dfu_follow *f, const struct canquery_node *n)
{
	struct device_identity *id = updater_identity(f->u);
	const bool katapult = n->app == CANBUS_APP_KATAPULT;
	char text[320];

	canbus_uuid_format(n->uuid, id->can_uuid);
	snprintf(id->iface, sizeof(id->iface), "%s", canmux_spec(f->mux));
	id->mode = katapult ? DEVICE_MODE_KATAPULT : DEVICE_MODE_APPLICATION;
	snprintf(text, sizeof(text), "back as %s on %s, CAN UUID %s",
		 katapult ? "Katapult" : "the application", id->iface, id->can_uuid);
	dfu_follow_append_summary(f->u, text);
}

static void start_round(struct dfu_follow *f);

static void on_node(void *ctx, const struct canquery_node *n, uint64_t now_us)
{
	struct dfu_follow *f = ctx;

	(void)now_us;
	if (!f->active || was_there(f, n->uuid))
		return;
	found(f, n);
	f->active = false;
	canquery_stop(&f->query);
	f->query_running = false;
	updater_step_done(f->u, CF_OK);
}

static void on_round_done(void *ctx, int err, uint64_t now_us)
{
	struct dfu_follow *f = ctx;

	f->query_running = false;
	canquery_stop(&f->query);
	if (!f->active)
		return;
	if (err || now_us >= f->deadline_us) {
		f->active = false;
		dfu_follow_give_up(f);
		updater_step_done(f->u, CF_OK);
		return;
	}
	loop_arm(f->loop, &f->again, now_us + ROUND_GAP_US);
}

static void start_round(struct dfu_follow *f)
{
	f->query.on_done = on_round_done;
	f->query.on_node = on_node;
	f->query.ctx = f;
	if (canquery_start(&f->query, f->mux, f->loop, false, 0, 0)) {
		f->active = false;
		dfu_follow_give_up(f);
		updater_step_done(f->u, CF_OK);
		return;
	}
	f->query_running = true;
}

static void again(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_follow *f =
	    (struct dfu_follow *)((char *)t - offsetof(struct dfu_follow, again));

	(void)now_us;
	if (f->active)
		start_round(f);
}

void dfu_follow_can_start(struct dfu_follow *f)
{
	f->again.fire = again;
	start_round(f);
}

void dfu_follow_can_fini(struct dfu_follow *f)
{
	if (f->loop && f->again.fire)
		loop_disarm(f->loop, &f->again);
	if (f->query_running)
		canquery_stop(&f->query);
	f->query_running = false;
	canmux_release(f->mux);
	f->mux = NULL;
}
