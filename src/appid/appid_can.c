// SPDX-License-Identifier: GPL-3.0-or-later
// The identify session over a CAN node: SET_KLIPPER_NODEID, then blocks on 0x100 + 2n.
#include "appid/appid_can.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appid/appid.h"
#include "can/canmux.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct appid_can {
	struct loop *loop;
	struct canmux *mux;
	struct appid *session;
	uint8_t node;
	uint8_t uuid[6];
	char device[96];
	bool tx_busy;
	bool assigning; /* SET_KLIPPER_NODEID not yet on the wire: blocks would be dropped */
	bool finished;
	int result;
	uint64_t end_us;
	struct cf_failure why;
	struct appdict facts;
	struct canmux_listener rx;
	struct loop_timer timer;
	void (*done)(void *ctx, struct appid_can *c);
	void *ctx;
};

static void finish(struct appid_can *c, int err)
{
	if (c->finished)
		return;
	c->finished = true;
	c->result = err;
	loop_disarm(c->loop, &c->timer);
	canmux_unlisten(c->mux, &c->rx);
	if (err < 0 && !c->why.code)
		cf_failure_set(&c->why, err, "identify", "%s", cf_strerror(err));
	if (err < 0)
		cf_failure_set_device(&c->why, "%s", c->device);
	c->done(c->ctx, c);
}

static void session_done(struct appid_can *c)
{
	const uint8_t *dict;
	size_t len;
	uint8_t node;
	int err = appid_result(c->session);

	if (err < 0) {
		c->why = *appid_failure(c->session);
		finish(c, err);
		return;
	}
	dict = appid_dict(c->session, &len);
	err = appdict_read(dict, len, &c->facts);
	if (err < 0) {
		cf_failure_set(&c->why, err, "identify", "the data dictionary does not decode");
		finish(c, err);
		return;
	}
	(void)appid_canbus_id(c->session, c->uuid, &node);
	finish(c, CF_OK);
}

static void drive(struct appid_can *c, uint64_t now)
{
	const uint8_t *block;
	size_t len;
	uint64_t deadline;

	if (appid_state(c->session) == APPID_DONE) {
		session_done(c);
		return;
	}
	if (!c->tx_busy && !c->assigning && appid_poll_tx(c->session, &block, &len) > 0) {
		int err = canmux_send_stream(c->mux, &c->rx, canbus_node_tx_id(c->node), block,
					     len);
		if (err < 0) {
			finish(c, err);
			return;
		}
		c->tx_busy = true;
	}
	deadline = appid_deadline(c->session);
	loop_arm(c->loop, &c->timer, deadline < c->end_us ? deadline : c->end_us);
	(void)now;
}

static void on_sent(struct canmux_listener *l, uint64_t now)
{
	struct appid_can *c = container(l, struct appid_can, rx);

	if (c->finished)
		return;
	if (c->assigning) {
		c->assigning = false;
		drive(c, now);
		return;
	}
	if (!c->tx_busy)
		return;
	c->tx_busy = false;
	appid_tx_done(c->session, now);
	drive(c, now);
}

static void on_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct appid_can *c = container(l, struct appid_can, rx);

	if (c->finished)
		return;
	appid_feed(c->session, f->data, f->len, now);
	drive(c, now);
}

static void on_error(struct canmux_listener *l, int err, uint64_t now)
{
	struct appid_can *c = container(l, struct appid_can, rx);

	(void)now;
	cf_failure_set(&c->why, err, "identify", "CAN bus %s failed: %s", canmux_spec(c->mux),
		       cf_strerror(err));
	finish(c, err);
}

static void on_timer(struct loop_timer *t, uint64_t now)
{
	struct appid_can *c = container(t, struct appid_can, timer);

	if (now >= c->end_us) {
		cf_failure_set(&c->why, CF_ERR_TIMEOUT, "identify",
			       "the application did not finish identify in time");
		finish(c, CF_ERR_TIMEOUT);
		return;
	}
	appid_tick(c->session, now);
	drive(c, now);
}

int appid_can_start(struct loop *loop, struct canmux *mux, const uint8_t *uuid, uint8_t node,
		    uint8_t seq, uint64_t timeout_us, void (*done)(void *ctx, struct appid_can *c), void *ctx,
		    struct appid_can **out)
{
	struct appid_can *c = calloc(1, sizeof(*c));
	struct appid_config cfg = {.ask_canbus_id = true, .seq = seq};
	int err;

	if (!c)
		return CF_ERR_NOMEM;
	snprintf(c->device, sizeof(c->device), "%s node %u", canmux_spec(mux), (unsigned)node);
	cfg.device = c->device;
	err = appid_new(&cfg, &c->session);
	if (err < 0) {
		free(c);
		return err;
	}
	c->loop = loop;
	c->mux = mux;
	c->node = node;
	c->done = done;
	c->ctx = ctx;
	c->result = CF_ERR_AGAIN;
	c->end_us = cf_now_us() + timeout_us;
	cf_failure_clear(&c->why);
	c->rx = (struct canmux_listener){
		.id = canbus_node_rx_id(node), .on_frame = on_frame, .on_sent = on_sent,
		.on_error = on_error};
	c->timer.fire = on_timer;
	canmux_listen(mux, &c->rx);
	if (uuid) {
		struct canbus_frame f;

		memcpy(c->uuid, uuid, 6);
		canbus_build_set_klipper_nodeid(uuid, node, &f);
		err = canmux_send(mux, &c->rx, &f, 1);
		c->assigning = err == CF_OK;
	}
	if (err < 0) {
		canmux_unlisten(mux, &c->rx);
		appid_free(c->session);
		free(c);
		return err;
	}
	/* the first block goes out from the loop, so done never runs inside this call */
	loop_arm(loop, &c->timer, cf_now_us());
	*out = c;
	return CF_OK;
}

void appid_can_free(struct appid_can *c)
{
	if (!c)
		return;
	if (!c->finished) {
		loop_disarm(c->loop, &c->timer);
		canmux_unlisten(c->mux, &c->rx);
	}
	appid_free(c->session);
	free(c);
}

int appid_can_result(const struct appid_can *c)
{
	return c->result;
}

const struct cf_failure *appid_can_failure(const struct appid_can *c)
{
	return &c->why;
}

const struct appdict *appid_can_facts(const struct appid_can *c)
{
	return &c->facts;
}

void appid_can_uuid(const struct appid_can *c, uint8_t uuid[6])
{
	memcpy(uuid, c->uuid, 6);
}

uint8_t appid_can_node(const struct appid_can *c)
{
	return c->node;
}
