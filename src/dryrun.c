// SPDX-License-Identifier: GPL-3.0-or-later
// A dry run that reboots nothing: the refusal rules against the running application's facts.
#include "dryrun.h"

#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "katapult/katapult_text.h"
#include "protocol/err.h"

/* Say where the device's figures came from, and that nothing was done to it. */
static int refused(const char *source, const struct discover_bus *bus, struct cf_failure *why)
{
	char hint[256];

	snprintf(hint, sizeof(hint), "%s", why->hint);
	if (bus && bus->bridge.klipper_bridge)
		cf_failure_set_hint(why, "dry run, not rebooted (facts: %s; bus bitrate from %.110s); "
					 "%s",
				    source, bus->bitrate.source, hint);
	else
		cf_failure_set_hint(why, "dry run, not rebooted (facts: %s); %s", source, hint);
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
	struct updater_config cfg = {0};
	struct image_target t;
	const char *source = "";
	int err = target_of(p, bus, switch_to, &t, &source, why);

	if (err < 0)
		return err;
	/* R3 needs the bus's own figure: a bridge's host bitrate is none (canbridge.h) */
	if (t.iface == IMAGE_IFACE_CAN && img->iface == IMAGE_IFACE_CAN && !t.bus_bitrate &&
	    bus && bus->bridge.klipper_bridge && !(force & IMAGE_FORCE_BITRATE)) {
		cf_failure_set(why, CF_ERR_REFUSED, "check",
			       "refusal R3: can bitrate: image %u, bus %s",
			       (unsigned)img->can_bitrate, bus->bitrate.source);
		cf_failure_set_hint(why, "dry run: nothing written; --allow-bitrate-mismatch if you "
					 "know the bus runs at %u",
				    (unsigned)img->can_bitrate);
		return CF_ERR_REFUSED;
	}
	if (p->has_app) { /* R8 inside image_check_against: the running build's facts */
		snprintf(t.running_version, sizeof(t.running_version), "%s", p->app.app.version);
		t.running_clock = p->app.app.clock_freq;
	}
	/* the same rules, words and --force notes as a real run on every channel */
	cfg.image_info = img;
	cfg.opts.force = force;
	if (ktext_check(&cfg, &t, NULL, why) < 0)
		return refused(source, bus, why);
	if (img->kind == IMAGE_DEPLOYER) {
		snprintf(summary, cap, "dry run: the deployer passes every check (R4 included) "
				       "against %s, nothing written, not rebooted",
			 source);
		return CF_OK;
	}
	snprintf(summary, cap, "dry run: R1-R5%s passed against %s (%s, now %s), nothing written, "
			       "never rebooted",
		 p->has_app ? ", R8" : "", source,
		 img->version[0] ? img->version : image_kind_name(img->kind),
		 p->has_app ? p->app.app.version : "Katapult");
	if (t.bus_bitrate && bus && bus->bridge.klipper_bridge) {
		const size_t n = strlen(summary);

		snprintf(summary + n, cap > n ? cap - n : 0, "; bus bitrate %u from %s",
			 (unsigned)t.bus_bitrate, bus->bitrate.source);
	}
	return CF_OK;
}
