/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The admin query collector: ask unassigned nodes to answer, listen until the bus goes quiet. */
#ifndef CARTOFLASH_SRC_CAN_CANQUERY_H
#define CARTOFLASH_SRC_CAN_CANQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "can/canmux.h"
#include "loop.h"

#define CANQUERY_MAX_NODES 64
#define CANQUERY_QUIET_US 200000u     /* no new answer for this long: the bus is quiet */
#define CANQUERY_MAX_US 2000000u      /* flashtool's whole window (katapult.md §2.6) */

struct canquery_node {
	uint8_t uuid[6];
	uint8_t app;	  /* CANBUS_APP_KLIPPER, CANBUS_APP_KATAPULT, other = unknown */
	uint64_t seen_us; /* first answer */
};

/*
 * Caller-embedded state. Start it, let the loop run; on_done fires once when the bus went
 * quiet (or max_us passed, or the bus failed: err < 0). Answers with the same UUID are kept
 * once. Never blocks.
 */
struct canquery {
	struct canmux *mux;
	struct loop *loop;
	uint64_t quiet_us, max_us, start_us, end_us;
	struct canquery_node nodes[CANQUERY_MAX_NODES];
	size_t count;
	bool done;
	int err;
	/* Optional, at each new node. */
	void (*on_node)(void *ctx, const struct canquery_node *n, uint64_t now_us);
	void (*on_done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
	struct canmux_listener listener; /* internal */
	struct loop_timer timer;	 /* internal */
};

/*
 * Send QUERY_UNASSIGNED (and first CLEAR_KATAPULT_NODEID when clear_first, as flashtool -q
 * does, so Katapult nodes holding an old id answer too) and start collecting. quiet_us/max_us
 * 0 take the defaults above. Returns 0 or the mux's error.
 */
int canquery_start(struct canquery *q, struct canmux *mux, struct loop *loop, bool clear_first,
		   uint64_t quiet_us, uint64_t max_us);
/* Stop listening; NULL-safe, idempotent, no callback. */
void canquery_stop(struct canquery *q);
/* The answer of uuid, or NULL. Borrowed from q. */
const struct canquery_node *canquery_find(const struct canquery *q, const uint8_t uuid[6]);

#endif
