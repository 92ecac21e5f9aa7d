// SPDX-License-Identifier: GPL-3.0-or-later
// A dry run that reboots nothing: the refusal rules against the running application's facts.
#include "dryrun.h"

#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "protocol/err.h"

static int refused(const struct image_refusal *r, const char *source, struct cf_failure *why)
{
	char stage[16];

	snprintf(stage, sizeof(stage), "refusal %s", r->rule);
	cf_failure_set(why, CF_ERR_REFUSED, stage, "%s: image %s, probe/bus %s (%s; from %s)",
		       r->what ? r->what : "image", r->image_value, r->target_value,
		       r->reason ? r->reason : "refused", source);
	if (r->override)
		cf_failure_set_hint(why, "dry run: nothing written, the probe was not rebooted; %s "
					 "lifts this rule",
				    r->override);
	else
		cf_failure_set_hint(why, "dry run: nothing written, the probe was not rebooted; use "
					 "an image built for this probe");
	return CF_ERR_REFUSED;
}

/* The facts a real run would get from CONNECT and the bus, from what the probe runs now. */
static int target_of(const struct discover_probe *p, const struct discover_bus *bus,
		     enum image_iface switch_to, struct image_target *t, const char **source,
		     struct cf_failure *why)
{
	memset(t, 0, sizeof(*t));
	t->path = IMAGE_PATH_KATAPULT;
	t->switch_to = switch_to;
	t->iface = p->link == DISCOVER_LINK_CAN ? IMAGE_IFACE_CAN : IMAGE_IFACE_USB;
	if (p->has_app) {
		snprintf(t->mcu, sizeof(t->mcu), "%s", p->app.app.mcu);
		if (p->app.app.iface == IMAGE_IFACE_CAN || p->app.app.iface == IMAGE_IFACE_USB)
			t->iface = p->app.app.iface;
		t->app_start = IMAGE_APP_START;
		*source = p->source == DISCOVER_SRC_KLIPPER ? "Klipper's API" :
							      "the running application's dictionary";
	} else if (p->mode == DISCOVER_MODE_KATAPULT && p->source == DISCOVER_SRC_CONNECT) {
		snprintf(t->mcu, sizeof(t->mcu), "%s", p->katapult_mcu);
		t->app_start = p->app_start ? p->app_start : IMAGE_APP_START;
		*source = "Katapult's CONNECT";
	} else {
		return cf_failure_set(why, CF_ERR_NO_DEVICE, "dry run",
				      "the probe told nothing about what it runs (%s); a dry run "
				      "does not reboot it to ask",
				      p->note[0] ? p->note : discover_mode_name(p->mode));
	}
	if (t->iface == IMAGE_IFACE_CAN && bus && !bus->err)
		t->bus_bitrate = bus->bitrate.bitrate;
	return CF_OK;
}

int dryrun_check(const struct image_info *img, const struct discover_probe *p,
		 const struct discover_bus *bus, unsigned force, enum image_iface switch_to,
		 char *summary, size_t cap, struct cf_failure *why)
{
	struct image_refusal r;
	struct image_target t;
	const char *source = "";
	int err = target_of(p, bus, switch_to, &t, &source, why);

	if (err < 0)
		return err;
	/* R3 needs the bus's own figure: a bridge's host bitrate is none (canbridge.h) */
	if (t.iface == IMAGE_IFACE_CAN && img->iface == IMAGE_IFACE_CAN && !t.bus_bitrate &&
	    bus && bus->bridge.klipper_bridge && !(force & IMAGE_FORCE_BITRATE)) {
		cf_failure_set(why, CF_ERR_REFUSED, "refusal R3",
			       "can bitrate: image %u, bus %s",
			       (unsigned)img->can_bitrate, bus->bitrate.source);
		cf_failure_set_hint(why, "dry run: nothing written; --allow-bitrate-mismatch if you "
					 "know the bus runs at %u",
				    (unsigned)img->can_bitrate);
		return CF_ERR_REFUSED;
	}
	if (image_check_against(img, &t, force, &r) < 0)
		return refused(&r, source, why);
	if (p->has_app && image_check_variant(img, p->app.app.version, force, &r) < 0)
		return refused(&r, source, why);
	snprintf(summary, cap, "dry run: %s would replace %s; R1-R5%s pass against %s%s%s; "
			       "nothing written, not rebooted",
		 img->version[0] ? img->version : image_kind_name(img->kind),
		 p->has_app ? p->app.app.version : "Katapult's empty application",
		 p->has_app ? ", R8" : "", source,
		 t.bus_bitrate ? ", bus " : "", t.bus_bitrate && bus ? bus->bitrate.source : "");
	return CF_OK;
}
