// SPDX-License-Identifier: GPL-3.0-or-later
// The CAN entry flow: 02 uuid, then set-id + CONNECT rounds until Katapult answers.
#include "katapult/can_entry.h"

#include <stddef.h>
#include <string.h>

#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void finish(struct can_entry *e, int err, uint64_t now)
{
	if (e->done)
		return;
	e->done = true;
	canmux_unlisten(e->mux, &e->rx);
	canmux_unlisten(e->mux, &e->admin);
	loop_disarm(e->loop, &e->timer);
	if (e->on_done)
		e->on_done(e->ctx, err, now);
}

static int send_request(struct can_entry *e, uint64_t now)
{
	struct canbus_frame f;

	/* katapult.md §2.7 step 2: 02 uuid; Katapult would ignore it, the application jumps. */
	canbus_build_request_bootloader(e->uuid, &f);
	if (!e->requested)
		e->requested_us = now;
	e->requested = true;
	cf_log(CF_LOG_DEBUG, canmux_spec(e->mux), "entry", "no Katapult yet: bootloader request");
	return canmux_send(e->mux, NULL, &f, 1);
}

/* The wait after a round's CONNECT (and from its set-id until the CONNECT is due). */
static uint64_t round_period(const struct can_entry *e, uint64_t now)
{
	if (e->rounds == 1 && !e->requested)
		return CAN_ENTRY_PROBE_US;
	if (e->requested && now - e->requested_us < CAN_ENTRY_FAST_FOR_US)
		return CAN_ENTRY_FAST_US;
	return CAN_ENTRY_POLL_US;
}

static int send_set_id(struct can_entry *e, uint64_t now)
{
	struct canbus_frame f;
	int err;

	/* Again every few rounds: a node still booting (double-reset window, katapult.md §5)
	 * ignored the first one, and an admin frame can be lost like any other. */
	if (e->request_bootloader && (e->rounds % CAN_ENTRY_REQUEST_EVERY == 1 ||
				      (e->rounds == 0 && e->known_app))) {
		err = send_request(e, now);
		if (err < 0)
			return err;
	}
	canbus_build_set_katapult_nodeid(e->uuid, e->node, &f);
	e->rounds++;
	e->connect_due = true;
	cf_log(CF_LOG_DEBUG, canmux_spec(e->mux), "entry", "round %u: set node id %u, CONNECT",
	       e->rounds, e->node);
	/* The next round starts at the poll period unless Katapult answers first. */
	loop_arm(e->loop, &e->timer, now + round_period(e, now));
	return canmux_send(e->mux, &e->admin, &f, 1);
}

static int send_connect(struct can_entry *e)
{
	uint8_t buf[KATAPULT_FRAME_OVERHEAD];
	size_t len;
	int err = katapult_build_connect(buf, sizeof(buf), &len);

	e->connect_due = false;
	if (err < 0)
		return err;
	return canmux_send_stream(e->mux, &e->rx, canbus_node_tx_id(e->node), buf, len);
}

static void timer_fire(struct loop_timer *t, uint64_t now)
{
	struct can_entry *e = container(t, struct can_entry, timer);
	int err;

	if (e->done)
		return;
	if (e->connect_due) {
		err = send_connect(e);
		loop_arm(e->loop, &e->timer, now + round_period(e, now));
	} else if (now >= e->deadline_us) {
		err = CF_ERR_NO_DEVICE;
	} else {
		err = send_set_id(e, now);
	}
	if (err < 0)
		finish(e, err, now);
}

static void admin_sent(struct canmux_listener *l, uint64_t now)
{
	struct can_entry *e = container(l, struct can_entry, admin);

	if (!e->done && e->connect_due)
		loop_arm(e->loop, &e->timer, now + CAN_ENTRY_SETTLE_US);
}

/* Any well-formed Katapult frame on the node's id proves Katapult holds that id. */
static void rx_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct can_entry *e = container(l, struct can_entry, rx);
	const uint8_t *data = f->data;
	size_t left = f->len;

	while (!e->done) {
		struct katapult_frame kf;
		size_t used;
		int rc = katapult_parser_feed(&e->parser, data, left, &used, &kf);

		data += used;
		left -= used;
		if (rc > 0) {
			cf_log(CF_LOG_DEBUG, canmux_spec(e->mux), "entry",
			       "Katapult answered on node %u after %u rounds (%s)", e->node,
			       e->rounds, katapult_cmd_name(kf.cmd));
			finish(e, CF_OK, now);
		} else if (rc == 0) {
			return;
		}
	}
}

/*
 * An answer to the probe round's query: our UUID answering as Klipper is a node running its
 * application (katapult.md §2.2), so its bootloader request need not wait out the probe's
 * silence. Any other answer (Katapult, another node, no app byte) changes nothing.
 */
static void admin_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct can_entry *e = container(l, struct can_entry, admin);
	uint8_t uuid[CANBUS_UUID_LEN], app;
	int err;

	if (e->done || !e->request_bootloader || e->requested || e->rounds != 1 ||
	    canbus_parse_need_nodeid(f, uuid, &app) < 0 || app != CANBUS_APP_KLIPPER ||
	    memcmp(uuid, e->uuid, sizeof(uuid)))
		return;
	cf_log(CF_LOG_DEBUG, canmux_spec(e->mux), "entry",
	       "the node answers the query as its application");
	err = send_set_id(e, now);
	if (err < 0)
		finish(e, err, now);
}

static int send_query(struct can_entry *e)
{
	struct canbus_frame f;

	canbus_build_query_unassigned(&f);
	return canmux_send(e->mux, NULL, &f, 1);
}

static void bus_error(struct canmux_listener *l, int err, uint64_t now)
{
	struct can_entry *e = l->id == CANBUS_ADMIN_RESP_ID ? container(l, struct can_entry, admin) :
							       container(l, struct can_entry, rx);
	finish(e, err, now);
}

int can_entry_start(struct can_entry *e, struct canmux *mux, struct loop *loop,
		    const uint8_t uuid[6], uint8_t node, bool request_bootloader,
		    uint64_t timeout_us)
{
	uint64_t now = cf_now_us();
	int err;

	e->mux = mux;
	e->loop = loop;
	memcpy(e->uuid, uuid, sizeof(e->uuid));
	e->node = node;
	e->request_bootloader = request_bootloader;
	e->requested = false;
	e->requested_us = 0;
	e->start_us = now;
	e->deadline_us = now + (timeout_us ? timeout_us : CAN_ENTRY_DEADLINE_US);
	e->rounds = 0;
	e->done = false;
	katapult_parser_init(&e->parser);
	memset(&e->rx, 0, sizeof(e->rx));
	e->rx.id = canbus_node_rx_id(node);
	e->rx.on_frame = rx_frame;
	e->rx.on_error = bus_error;
	/* The admin listener owns our 0x3f0 frames (on_sent) and hears the 0x3f1 answers. */
	memset(&e->admin, 0, sizeof(e->admin));
	e->admin.id = CANBUS_ADMIN_RESP_ID;
	e->admin.on_frame = admin_frame;
	e->admin.on_sent = admin_sent;
	e->admin.on_error = bus_error;
	memset(&e->timer, 0, sizeof(e->timer));
	e->timer.fire = timer_fire;
	canmux_listen(mux, &e->rx);
	canmux_listen(mux, &e->admin);
	err = request_bootloader ? send_query(e) : CF_OK;
	if (err >= 0)
		err = send_set_id(e, now);
	if (err < 0)
		goto err_unlisten;
	return CF_OK;

err_unlisten:
	e->done = true;
	canmux_unlisten(mux, &e->rx);
	canmux_unlisten(mux, &e->admin);
	loop_disarm(loop, &e->timer);
	return err;
}

void can_entry_stop(struct can_entry *e)
{
	if (!e || !e->mux || e->done)
		return;
	e->done = true;
	canmux_unlisten(e->mux, &e->rx);
	canmux_unlisten(e->mux, &e->admin);
	loop_disarm(e->loop, &e->timer);
}
