// SPDX-License-Identifier: GPL-3.0-or-later
// Find applications an earlier run left on the identify node ids: one identify block per id.
#include "appid/appid_can.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "can/canmux.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/klipper.h"

#define SWEEP_QUIET_US 100000u

struct sweep_slot {
	struct canmux_listener rx;
	struct appid_sweep *owner;
	bool taken;
	uint8_t seq;
	uint8_t rx_buf[2 * KLIPPER_BLOCK_MAX];
	size_t rx_len;
};

struct appid_sweep {
	struct loop *loop;
	struct canmux *mux;
	struct sweep_slot slot[APPID_CAN_NODES];
	struct loop_timer timer;
	uint64_t quiet_us;
	bool finished;
	int result;
	void (*done)(void *ctx, struct appid_sweep *s);
	void *ctx;
};

static void finish(struct appid_sweep *s, int err)
{
	if (s->finished)
		return;
	s->finished = true;
	s->result = err;
	loop_disarm(s->loop, &s->timer);
	for (unsigned i = 0; i < APPID_CAN_NODES; i++)
		canmux_unlisten(s->mux, &s->slot[i].rx);
	s->done(s->ctx, s);
}

/* Any block on the node's answer id means an application sits there (katapult.md §8.1). */
static void on_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct sweep_slot *slot = (struct sweep_slot *)((char *)l - offsetof(struct sweep_slot, rx));
	struct klipper_block b;
	size_t used;
	int rc;

	(void)now;
	slot->taken = true;
	if (f->len > sizeof(slot->rx_buf) - slot->rx_len)
		slot->rx_len = 0; /* only the sequence number is wanted: start over */
	memcpy(slot->rx_buf + slot->rx_len, f->data, f->len);
	slot->rx_len += f->len;
	/* frames do not align with blocks: every whole block carries the number expected next */
	while (slot->rx_len) {
		rc = klipper_block_find(slot->rx_buf, slot->rx_len, &used, &b);
		if (rc == 1)
			slot->seq = b.seq;
		if (!used)
			break;
		memmove(slot->rx_buf, slot->rx_buf + used, slot->rx_len - used);
		slot->rx_len -= used;
	}
}

/* The last block went out: listen quiet_us more. */
static void on_sent(struct canmux_listener *l, uint64_t now)
{
	struct sweep_slot *slot = (struct sweep_slot *)((char *)l - offsetof(struct sweep_slot, rx));
	struct appid_sweep *s = slot->owner;

	loop_arm(s->loop, &s->timer, now + s->quiet_us);
}

static void on_error(struct canmux_listener *l, int err, uint64_t now)
{
	struct sweep_slot *slot = (struct sweep_slot *)((char *)l - offsetof(struct sweep_slot, rx));

	(void)now;
	finish(slot->owner, err);
}

static void on_timer(struct loop_timer *t, uint64_t now)
{
	struct appid_sweep *s = (struct appid_sweep *)((char *)t - offsetof(struct appid_sweep, timer));

	(void)now;
	finish(s, CF_OK);
}

int appid_sweep_start(struct loop *loop, struct canmux *mux, uint64_t quiet_us,
		      void (*done)(void *ctx, struct appid_sweep *s), void *ctx,
		      struct appid_sweep **out)
{
	struct appid_sweep *s = calloc(1, sizeof(*s));
	uint8_t block[KLIPPER_BLOCK_MAX];
	size_t len;
	int err = CF_OK;

	if (!s)
		return CF_ERR_NOMEM;
	s->loop = loop;
	s->mux = mux;
	s->quiet_us = quiet_us ? quiet_us : SWEEP_QUIET_US;
	s->done = done;
	s->ctx = ctx;
	s->timer.fire = on_timer;
	/* identify offset 0 count 1: the smallest question every application answers */
	(void)klipper_build_identify(0, 0, 1, block, sizeof(block), &len);
	for (unsigned i = 0; i < APPID_CAN_NODES && !err; i++) {
		struct sweep_slot *slot = &s->slot[i];
		const uint8_t node = (uint8_t)(APPID_CAN_NODE_FIRST + i);
		const bool last = i + 1 == APPID_CAN_NODES;

		slot->owner = s;
		slot->rx = (struct canmux_listener){.id = canbus_node_rx_id(node),
						    .on_frame = on_frame,
						    .on_sent = last ? on_sent : NULL,
						    .on_error = on_error};
		canmux_listen(mux, &slot->rx);
		err = canmux_send_stream(mux, last ? &slot->rx : NULL, canbus_node_tx_id(node), block,
					 len);
	}
	if (err < 0) {
		for (unsigned i = 0; i < APPID_CAN_NODES; i++)
			canmux_unlisten(mux, &s->slot[i].rx);
		free(s);
		return err;
	}
	cf_log(CF_LOG_DEBUG, canmux_spec(mux), "appid", "sweep of node ids %u-%u sent",
	       APPID_CAN_NODE_FIRST, APPID_CAN_NODE_LAST);
	*out = s;
	return CF_OK;
}

void appid_sweep_free(struct appid_sweep *s)
{
	if (!s)
		return;
	if (!s->finished) {
		loop_disarm(s->loop, &s->timer);
		for (unsigned i = 0; i < APPID_CAN_NODES; i++)
			canmux_unlisten(s->mux, &s->slot[i].rx);
	}
	free(s);
}

static const struct sweep_slot *slot_of(const struct appid_sweep *s, uint8_t node)
{
	if (node < APPID_CAN_NODE_FIRST || node > APPID_CAN_NODE_LAST)
		return NULL;
	return &s->slot[node - APPID_CAN_NODE_FIRST];
}

bool appid_sweep_taken(const struct appid_sweep *s, uint8_t node)
{
	const struct sweep_slot *slot = slot_of(s, node);

	return slot && slot->taken;
}

uint8_t appid_sweep_seq(const struct appid_sweep *s, uint8_t node)
{
	const struct sweep_slot *slot = slot_of(s, node);

	return slot ? slot->seq : 0;
}

int appid_sweep_result(const struct appid_sweep *s)
{
	return s->result;
}
