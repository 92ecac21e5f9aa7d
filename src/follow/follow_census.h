/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Who answers on a CAN bus before a reset, so the follow can tell the node that was not there. */
#ifndef CARTOFLASH_SRC_FOLLOW_FOLLOW_CENSUS_H
#define CARTOFLASH_SRC_FOLLOW_FOLLOW_CENSUS_H

#include <stdbool.h>
#include <stdint.h>

#include "can/canquery.h"

struct canmux;
struct cf_failure;
struct loop;

/* Caller-embedded; zeroed it is an empty census that holds nothing. */
struct follow_census {
	struct canmux *mux; /* held from start to follow_census_stop */
	struct canquery query;
	bool running;
	void (*done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
};

/*
 * Acquire iface's bus and ask who is there: CLEAR_KATAPULT_NODEID then QUERY_UNASSIGNED
 * (katapult.md §2.6, as flashtool -q: a Katapult holding an old node id answers too), until the
 * bus is quiet. done(ctx, err) then runs from the loop (err < 0: the bus failed during the
 * query; the census holds what answered until then). Returns 0, or the bus's error with why
 * filled (no callback).
 */
int follow_census_start(struct follow_census *c, struct loop *loop, const char *iface,
			void (*done)(void *ctx, int err, uint64_t now_us), void *ctx,
			struct cf_failure *why);
/* Did uuid answer the census? */
bool follow_census_has(const struct follow_census *c, const uint8_t uuid[6]);
/* The bus the census holds, for follow_start (NULL before start). */
struct canmux *follow_census_mux(const struct follow_census *c);
/* Stop the query and let the bus go; idempotent. */
void follow_census_stop(struct follow_census *c);

#endif
