/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Private state of the Katapult CAN backend, shared by its files (backend*.c). */
#ifndef CARTOFLASH_SRC_KATAPULT_BACKEND_PRIV_H
#define CARTOFLASH_SRC_KATAPULT_BACKEND_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "can/canmux.h"
#include "katapult/can_entry.h"
#include "katapult/engine.h"
#include "katapult/wirelog.h"
#include "loop.h"
#include "protocol/katapult.h"
#include "updater.h"

/* After a CAN deployer on its own bus: the rewrite (katapult.md §4) comes before the answer. */
#define KATAPULT_CAN_DEPLOYER_US 10000000u

struct kcan {
	struct updater *u;
	struct loop *loop;
	struct canmux *mux;
	uint8_t uuid[6];
	uint8_t node;
	bool have_node;
	enum updater_step step;		/* the step running, when running */
	bool running;
	bool cancelled;
	struct can_entry entry;
	/* The engine session and its channel: the node's ids on the mux. */
	struct katapult_engine *engine;
	enum katapult_engine_op engine_op;
	struct canmux_listener rx;	/* hears node -> host, owns host -> node units */
	bool tx_busy;			/* an engine frame is queued and not yet out */
	struct loop_timer timer;	/* the engine's deadline */
	struct wirelog wirelog;		/* -v: the exchange decoded for the log only */
	const char *last_stage;
	size_t last_done;
	bool from_app;			/* identify had to request the bootloader */
	bool flashed;			/* write ran the whole flash session, verify included */
	bool verified;			/* a verify-only session matched every block */
	/* A refusal found after identify took the node out of its application: the node is
	 * rebooted back first, then the step ends with this error and the saved failure. */
	int restore_err;
	struct cf_failure *restore_why;
	size_t blocks;
	/* finish: waiting for the application to answer the admin query. */
	struct canmux_listener admin;
	struct loop_timer query_timer;
	uint64_t complete_us, confirm_deadline_us;
	uint64_t bus_frames;		/* bus traffic seen at the last query */
	bool confirming;
	bool expect_katapult; /* after a CAN deployer: the new Katapult answers, not the app */
	char device[96];
};

/* backend_engine.c: run one engine session for the running step; its end calls
 * kcan_engine_done. Returns 0 or a negative cf_err (failure filled). */
int kcan_engine_start(struct kcan *k, enum katapult_engine_op op);
void kcan_engine_stop(struct kcan *k);
void kcan_engine_done(struct kcan *k, int err, uint64_t now_us);
/* backend_engine.c: after COMPLETE, wait until the application answers the admin query. */
int kcan_confirm_start(struct kcan *k, uint64_t now_us);
void kcan_confirm_stop(struct kcan *k);
/* backend_engine.c: a deployer was written or verified here, so COMPLETE starts it and the
 * application does not come back (katapult.md §4). */
bool kcan_deployer_started(const struct kcan *k);
/* backend_engine.c: fill the failure for a bus that failed (BUS-OFF named, with its fix). */
void kcan_bus_failure(struct kcan *k, int err, const char *stage);
/* backend.c: end the running step (0 or negative cf_err, failure already filled). */
void kcan_step_done(struct kcan *k, int err);

#endif
