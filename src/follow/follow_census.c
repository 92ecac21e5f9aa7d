// SPDX-License-Identifier: GPL-3.0-or-later
// The census before a reset: every node that answers the admin query now, on a bus held open.
#include "follow/follow_census.h"

#include <string.h>

#include "can/canmux.h"
#include "failure.h"
#include "protocol/err.h"

static void query_done(void *ctx, int err, uint64_t now)
{
	struct follow_census *c = ctx;

	c->running = false;
	canquery_stop(&c->query);
	c->done(c->ctx, err, now);
}

int follow_census_start(struct follow_census *c, struct loop *loop, const char *iface,
			void (*done)(void *ctx, int err, uint64_t now_us), void *ctx,
			struct cf_failure *why)
{
	int err;

	follow_census_stop(c);
	memset(c, 0, sizeof(*c));
	err = canmux_acquire(loop, iface, &c->mux, why);
	if (err < 0) {
		c->mux = NULL;
		return err;
	}
	c->done = done;
	c->ctx = ctx;
	c->query.on_done = query_done;
	c->query.ctx = c;
	err = canquery_start(&c->query, c->mux, loop, true, 0, 0);
	if (err < 0) {
		follow_census_stop(c);
		return cf_failure_set(why, err, "follow", "CAN bus %s: the admin query failed: %s",
				      iface, cf_strerror(err));
	}
	c->running = true;
	return CF_OK;
}

bool follow_census_has(const struct follow_census *c, const uint8_t uuid[6])
{
	return canquery_find(&c->query, uuid) != NULL;
}

struct canmux *follow_census_mux(const struct follow_census *c)
{
	return c->mux;
}

void follow_census_stop(struct follow_census *c)
{
	if (c->running)
		canquery_stop(&c->query);
	c->running = false;
	canmux_release(c->mux);
	c->mux = NULL;
}
