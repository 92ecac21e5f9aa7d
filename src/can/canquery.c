// SPDX-License-Identifier: GPL-3.0-or-later
// Admin query collector: QUERY_UNASSIGNED on 0x3f0, answers on 0x3f1 until the bus is quiet.
#include "can/canquery.h"

#include <stddef.h>
#include <string.h>

#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void finish(struct canquery *q, int err, uint64_t now)
{
	if (q->done)
		return;
	q->done = true;
	q->err = err;
	q->end_us = now;
	canmux_unlisten(q->mux, &q->listener);
	loop_disarm(q->loop, &q->timer);
	if (q->on_done)
		q->on_done(q->ctx, err, now);
}

/* Quiet after the last answer, but never past start + max. */
static void arm_quiet(struct canquery *q, uint64_t now)
{
	uint64_t at = now + q->quiet_us;

	if (at > q->start_us + q->max_us)
		at = q->start_us + q->max_us;
	loop_arm(q->loop, &q->timer, at);
}

static void on_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct canquery *q = container(l, struct canquery, listener);
	uint8_t uuid[CANBUS_UUID_LEN], app;

	/* katapult.md §2.6: keep answers of DLC >= 7 starting with 0x20; others are noise. */
	if (q->done || canbus_parse_need_nodeid(f, uuid, &app) < 0)
		return;
	if (canquery_find(q, uuid) || q->count >= CANQUERY_MAX_NODES)
		return;
	memcpy(q->nodes[q->count].uuid, uuid, sizeof(uuid));
	q->nodes[q->count].app = app;
	q->nodes[q->count].seen_us = now;
	q->count++;
	arm_quiet(q, now);
	if (q->on_node)
		q->on_node(q->ctx, &q->nodes[q->count - 1], now);
}

static void on_sent(struct canmux_listener *l, uint64_t now)
{
	struct canquery *q = container(l, struct canquery, listener);

	/* The quiet window counts from the moment the query left, not from when it was queued. */
	if (!q->done && !q->count)
		arm_quiet(q, now);
}

static void on_error(struct canmux_listener *l, int err, uint64_t now)
{
	finish(container(l, struct canquery, listener), err, now);
}

static void timer_fire(struct loop_timer *t, uint64_t now)
{
	finish(container(t, struct canquery, timer), CF_OK, now);
}

int canquery_start(struct canquery *q, struct canmux *mux, struct loop *loop, bool clear_first,
		   uint64_t quiet_us, uint64_t max_us)
{
	struct canbus_frame f;
	int err;

	q->mux = mux;
	q->loop = loop;
	q->quiet_us = quiet_us ? quiet_us : CANQUERY_QUIET_US;
	q->max_us = max_us ? max_us : CANQUERY_MAX_US;
	q->start_us = cf_now_us();
	q->count = 0;
	q->done = false;
	q->err = 0;
	memset(&q->listener, 0, sizeof(q->listener));
	q->listener.id = CANBUS_ADMIN_RESP_ID;
	q->listener.on_frame = on_frame;
	q->listener.on_sent = on_sent;
	q->listener.on_error = on_error;
	memset(&q->timer, 0, sizeof(q->timer));
	q->timer.fire = timer_fire;
	canmux_listen(mux, &q->listener);
	if (clear_first) {
		canbus_build_clear_katapult_nodeid(&f);
		err = canmux_send(mux, NULL, &f, 1);
		if (err < 0)
			goto err_unlisten;
	}
	canbus_build_query_unassigned(&f);
	err = canmux_send(mux, &q->listener, &f, 1);
	if (err < 0)
		goto err_unlisten;
	/* Until the query is out, only the overall cap applies. */
	loop_arm(loop, &q->timer, q->start_us + q->max_us);
	return CF_OK;

err_unlisten:
	canmux_unlisten(mux, &q->listener);
	q->done = true;
	return err;
}

void canquery_stop(struct canquery *q)
{
	if (!q || !q->mux || q->done)
		return;
	q->done = true;
	canmux_unlisten(q->mux, &q->listener);
	loop_disarm(q->loop, &q->timer);
}

const struct canquery_node *canquery_find(const struct canquery *q, const uint8_t uuid[6])
{
	for (size_t i = 0; i < q->count; i++)
		if (!memcmp(q->nodes[i].uuid, uuid, CANBUS_UUID_LEN))
			return &q->nodes[i];
	return NULL;
}
