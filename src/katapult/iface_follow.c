// SPDX-License-Identifier: GPL-3.0-or-later
// After a deployer: query the CAN bus the user named until the probe answers there in Katapult.
#include "katapult/iface_follow.h"

#include <stdbool.h>
#include <string.h>

#include "can/canmux.h"
#include "can/canquery.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

#define FOLLOW_STEP_US 100000u /* loop wait between checks of the query's end */

struct follow {
	struct canquery q;
	bool done;
	int err;
};

static void query_done(void *ctx, int err, uint64_t now_us)
{
	struct follow *f = ctx;

	(void)now_us;
	f->done = true;
	f->err = err;
}

/* One admin query round, to its quiet end. Returns 0 or the bus error. */
static int query_once(struct follow *f, struct canmux *mux, struct loop *loop)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->q.on_done = query_done;
	f->q.ctx = f;
	/* No CLEAR_KATAPULT_NODEID: a freshly started Katapult holds no node id yet. */
	err = canquery_start(&f->q, mux, loop, false, 0, 0);
	if (err < 0)
		return err;
	while (!f->done)
		if (loop_run_once(loop, FOLLOW_STEP_US) == CF_ERR_IO) {
			canquery_stop(&f->q);
			return CF_ERR_IO;
		}
	return f->err;
}

int iface_follow_can(struct loop *loop, const char *iface, const char *uuid_hex,
		     uint64_t timeout_us, struct cf_failure *why, uint64_t *after_us)
{
	const uint64_t start = cf_now_us();
	const uint64_t limit = timeout_us ? timeout_us : IFACE_FOLLOW_DEFAULT_US;
	uint8_t uuid[CANBUS_UUID_LEN];
	struct canmux *mux = NULL;
	struct follow f;
	int err;

	if (canbus_uuid_parse(uuid_hex, uuid) < 0)
		return cf_failure_set(why, CF_ERR_USAGE, "follow", "'%s' is not a CAN UUID",
				      uuid_hex);
	err = canmux_acquire(loop, iface, &mux, why);
	if (err < 0)
		return err;
	for (;;) {
		const struct canquery_node *n;

		err = query_once(&f, mux, loop);
		if (err < 0) {
			cf_failure_set(why, err, "follow", "CAN bus %s: %s", iface, cf_strerror(err));
			cf_failure_set_hint(why, "check the interface with `cartoflash scan --can %s`",
					    iface);
			break;
		}
		n = canquery_find(&f.q, uuid);
		if (n && n->app == CANBUS_APP_KATAPULT) {
			*after_us = cf_now_us() - start;
			break;
		}
		if (n) {
			err = cf_failure_set(why, CF_ERR_PROTOCOL, "follow",
					     "answers on %s running %s, not Katapult", iface,
					     canbus_app_name(n->app));
			cf_failure_set_hint(why, "the deployer did not take over; `cartoflash scan "
						 "--can %s` shows it",
					    iface);
			break;
		}
		if (cf_now_us() - start >= limit) {
			err = cf_failure_set(why, CF_ERR_NO_DEVICE, "follow",
					     "no Katapult answered on %s within %.1f s after the "
					     "deployer was written",
					     iface, (double)limit / 1e6);
			cf_failure_set_hint(why, "check its CAN wiring and that %s runs at the "
						 "deployer's bitrate; a probe silent on both USB and "
						 "CAN lost its bootloader: `cartoflash recover`",
					    iface);
			break;
		}
	}
	canquery_stop(&f.q);
	canmux_release(mux);
	return err;
}
