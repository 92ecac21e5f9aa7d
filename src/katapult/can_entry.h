/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reaching Katapult on a CAN node: request the bootloader, assign a node id, poll CONNECT. */
#ifndef CARTOFLASH_SRC_KATAPULT_CAN_ENTRY_H
#define CARTOFLASH_SRC_KATAPULT_CAN_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "can/canmux.h"
#include "loop.h"
#include "protocol/katapult.h"

/* katapult.md §10.3 polls "up to ~5 s"; flashtool gives a node 1 s + 5 CONNECT tries of 2 s
 * (§2.9), and we never give up sooner than flashtool would. */
#define CAN_ENTRY_DEADLINE_US 11000000u
#define CAN_ENTRY_POLL_US 20000u       /* one set-id + CONNECT round, then the next */
#define CAN_ENTRY_PROBE_US 30000u      /* first round without a request: Katapult already? */
/* After the request: Klipper resets into Katapult at once and Katapult listens within
 * milliseconds (katapult.md §2.7), so the first rounds come this often; from
 * CAN_ENTRY_FAST_FOR_US after the request on, CAN_ENTRY_POLL_US (a node that is slow to come
 * back, or absent, costs the bus no more than before). */
#define CAN_ENTRY_FAST_US 5000u
#define CAN_ENTRY_FAST_FOR_US 100000u
#define CAN_ENTRY_REQUEST_EVERY 5u     /* rounds between repeated bootloader requests */
#define CAN_ENTRY_SETTLE_US 2000u      /* set-id leaves before CONNECT, even where a bus
					* arbitrates queued frames by id (0x3f0 loses) */

/*
 * Caller-embedded state. katapult.md §10.3 instead of flashtool's fixed sleeps: one round of
 * SET_KATAPULT_NODEID (11 uuid node) + CONNECT to find a node already in Katapult; without an
 * answer, REQUEST_BOOTLOADER (02 uuid, when allowed) and more rounds until a valid Katapult
 * frame answers on the node's id or the deadline passes. Knowing which happened lets the
 * caller put a node back into its application after a dry run or a refusal. When a request
 * is allowed, the probe round also asks QUERY_UNASSIGNED (00): a node that answers it with
 * our UUID as its application (20 uuid 01, katapult.md §2.2) is running its application for
 * certain, so the request goes out then instead of after the probe's silence (a node Klipper
 * assigned answers no query and is probed as before). No
 * CLEAR_KATAPULT_NODEID: it would knock out other sessions running on the same bus.
 * on_done fires once: 0 (Katapult answers on node), CF_ERR_NO_DEVICE (deadline), or the bus's
 * error. Never blocks.
 */
struct can_entry {
	struct canmux *mux;
	struct loop *loop;
	uint8_t uuid[6];
	uint8_t node;
	bool request_bootloader;
	/* set by the caller before start: the run identified the node running its application
	 * just now, so the first round carries the request (no 30 ms probe for Katapult) */
	bool known_app;
	bool requested; /* the request went out: Katapult did not answer the first round, or the
			 * node answered the query as its application (or is absent) */
	uint64_t start_us, deadline_us, requested_us;
	unsigned rounds;
	bool done, connect_due;
	void (*on_done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
	struct canmux_listener rx;    /* internal: node -> host id */
	struct canmux_listener admin; /* internal: owner of the admin frames */
	struct loop_timer timer;      /* internal */
	struct katapult_parser parser;
};

/* timeout_us 0 = CAN_ENTRY_DEADLINE_US. Returns 0 or the mux's error (nothing started). */
int can_entry_start(struct can_entry *e, struct canmux *mux, struct loop *loop,
		    const uint8_t uuid[6], uint8_t node, bool request_bootloader,
		    uint64_t timeout_us);
/* Stop without a callback; NULL-safe, idempotent. */
void can_entry_stop(struct can_entry *e);

#endif
