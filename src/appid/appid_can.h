/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Identify running applications on a CAN bus: assign a node id, read the dictionary, let go. */
#ifndef CARTOFLASH_SRC_APPID_APPID_CAN_H
#define CARTOFLASH_SRC_APPID_APPID_CAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "appid/appdict.h"
#include "failure.h"

struct loop;
struct canmux;

/*
 * Node ids for identifying applications. Klipper's application has no way to give an id
 * back (Klipper src/generic/canserial.c: an assignment lasts until the next reset or the next
 * SET_KLIPPER_NODEID for its UUID, which klippy sends on connect), so the id stays with the
 * probe after we are done. This range keeps it clear of everyone: klippy assigns 4 upward
 * (klippy/extras/canbus_ids.py), Katapult sessions (flashtool, canmux) 129..223. A node parked
 * here no longer answers the admin query; appid_sweep finds it again by its id.
 */
#define APPID_CAN_NODE_FIRST 224
#define APPID_CAN_NODE_LAST  254
#define APPID_CAN_NODES	     (APPID_CAN_NODE_LAST - APPID_CAN_NODE_FIRST + 1)

struct appid_can;

/*
 * Identify the application behind node: with uuid, first give it that node id (SET_KLIPPER_NODEID,
 * katapult.md §2.2: only this UUID reacts); without, the node holds the id already (a sweep
 * found it; seq is the sequence number it expects, from appid_sweep_seq). Then the identify session (src/appid/appid.h) with get_canbus_id, at most
 * timeout_us. done runs once from the loop. Never send this to a UUID Klipper may hold: the
 * new id would cut klippy off (callers only pass nodes that answered the admin query, which
 * nodes Klipper holds never do). Returns 0 with *out (free with appid_can_free after done or
 * to abort), CF_ERR_NOMEM, or the mux's error.
 */
int appid_can_start(struct loop *loop, struct canmux *mux, const uint8_t *uuid, uint8_t node,
		    uint8_t seq, uint64_t timeout_us, void (*done)(void *ctx, struct appid_can *c), void *ctx,
		    struct appid_can **out);
void appid_can_free(struct appid_can *c); /* NULL-safe */

/* 0 or a negative cf_err once done; CF_ERR_AGAIN before. */
int appid_can_result(const struct appid_can *c);
/* Stage and detail of a failure (device filled: "can0 node 224"). */
const struct cf_failure *appid_can_failure(const struct appid_can *c);
/* Facts of the dictionary once done with 0. Borrowed. */
const struct appdict *appid_can_facts(const struct appid_can *c);
/* The UUID get_canbus_id reported, and the node id. */
void appid_can_uuid(const struct appid_can *c, uint8_t uuid[6]);
uint8_t appid_can_node(const struct appid_can *c);

/* ---- the sweep: find nodes parked in the range above by an earlier run ---- */

struct appid_sweep;

/*
 * Send one identify block to every id of the range not in use by this process, and note
 * which answer within quiet_us (0: 100 ms) after the last one went out. Applications answer
 * identify whatever their state; nothing else sits on these ids. done runs once.
 */
int appid_sweep_start(struct loop *loop, struct canmux *mux, uint64_t quiet_us,
		      void (*done)(void *ctx, struct appid_sweep *s), void *ctx,
		      struct appid_sweep **out);
void appid_sweep_free(struct appid_sweep *s); /* NULL-safe */
/* After done: whether node answered, and the sequence number its answer carried (what it
 * expects next, katapult.md §8.1); the mux error when the bus failed (0 otherwise). */
bool appid_sweep_taken(const struct appid_sweep *s, uint8_t node);
uint8_t appid_sweep_seq(const struct appid_sweep *s, uint8_t node);
int appid_sweep_result(const struct appid_sweep *s);

#endif
