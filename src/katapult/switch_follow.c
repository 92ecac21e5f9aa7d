// SPDX-License-Identifier: GPL-3.0-or-later
// After a deployer from a tty: the one follow onto the named CAN bus until Katapult answers.
#include "katapult/switch_follow.h"

#include <stdio.h>

#include "failure.h"
#include "follow/follow.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"

static void followed(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct switch_follow *s = ctx;
	const struct device_identity *id = updater_identity(s->u);
	struct cf_failure *why = updater_failure(s->u);
	const double secs = (double)seen->after_us / 1e6;

	switch_follow_stop(s);
	if (err == CF_OK) {
		cf_log(CF_LOG_INFO, NULL, NULL, "probe %s answers on %s as Katapult after %.1f s",
		       id->can_uuid, id->iface, secs);
		updater_set_summary(s->u, "%s; follow: answers on %s as Katapult after %.1f s",
				    updater_get_summary(s->u), id->iface, secs);
	} else if (err == CF_ERR_PROTOCOL) {
		cf_failure_set(why, err, "follow", "answers on %s running %s, not Katapult",
			       id->iface, canbus_app_name(seen->can_app));
		cf_failure_set_hint(why, "the deployer did not take over; `cartoflash scan --can %s` "
					 "shows it",
				    id->iface);
	} else if (err == CF_ERR_TIMEOUT) {
		err = cf_failure_set(why, CF_ERR_NO_DEVICE, "follow",
				     "no Katapult answered on %s within %.1f s after the deployer "
				     "was written",
				     id->iface, secs);
		cf_failure_set_hint(why, "check its CAN wiring and that %s runs at the deployer's "
					 "bitrate; a probe silent on both USB and CAN lost its "
					 "bootloader: `cartoflash recover`",
				    id->iface);
	} else {
		cf_failure_set(why, err, "follow", "CAN bus %s: %s", id->iface, cf_strerror(err));
		cf_failure_set_hint(why, "check the interface with `cartoflash scan --can %s`",
				    id->iface);
	}
	s->done(s->ctx, err, now);
}

int switch_follow_start(struct switch_follow *s, struct updater *u,
			void (*done)(void *ctx, int err, uint64_t now_us), void *ctx)
{
	const struct updater_config *cfg = updater_get_config(u);
	const struct device_identity *id = updater_identity(u);
	struct follow_target t = { .link = IDENTITY_LINK_CAN, .want = DEVICE_MODE_KATAPULT };
	const uint64_t now = cf_now_us();

	if (id->link != IDENTITY_LINK_TTY || !id->iface[0] || !id->can_uuid[0] ||
	    !cfg->image_info || cfg->image_info->katapult.iface != IMAGE_IFACE_CAN)
		return CF_ERR_NOT_SUPPORTED;
	s->u = u;
	s->done = done;
	s->ctx = ctx;
	snprintf(t.iface, sizeof(t.iface), "%s", id->iface);
	snprintf(t.can_uuid, sizeof(t.can_uuid), "%s", id->can_uuid);
	/* No CLEAR_KATAPULT_NODEID: a freshly started Katapult holds no node id yet. */
	t.first_look_us = now;
	t.deadline_us = now + (cfg->opts.timeout_us ? cfg->opts.timeout_us
						    : SWITCH_FOLLOW_DEFAULT_US);
	return follow_start(cfg->loop, &t, NULL, followed, s, &s->follow, updater_failure(u));
}

void switch_follow_stop(struct switch_follow *s)
{
	follow_free(s->follow);
	s->follow = NULL;
}
