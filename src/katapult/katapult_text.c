// SPDX-License-Identifier: GPL-3.0-or-later
// The words of the Katapult updater: summaries and refusals, built once for every channel.
#include "katapult/katapult_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "katapult/iface_switch.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/katapult.h"
#include "protocol/mcu.h"

void ktext_connected(struct updater *u, const struct katapult_connect_info *ci)
{
	struct device_identity *id = updater_identity(u);

	id->mode = DEVICE_MODE_KATAPULT;
	if (!ci)
		return;
	snprintf(id->mcu, sizeof(id->mcu), "%.31s", ci->mcu);
	id->protocol_version = ci->proto_version;
	snprintf(id->bootloader_version, sizeof(id->bootloader_version), "%.63s", ci->version);
	id->app_start = ci->app_start;
	id->block_size = ci->block_size;
	id->flash_size = mcu_flash_size(ci->mcu);
	updater_set_summary(u, "Katapult %u.%u.%u%s%s, %s, application at 0x%08" PRIx32
			       ", %" PRIu32 "-byte blocks",
			    KATAPULT_PROTO_MAJOR(ci->proto_version),
			    KATAPULT_PROTO_MINOR(ci->proto_version),
			    KATAPULT_PROTO_PATCH(ci->proto_version), ci->version[0] ? " " : "",
			    ci->version, ci->mcu, ci->app_start, ci->block_size);
}

void ktext_image_done(struct updater *u, bool written)
{
	const struct updater_config *cfg = updater_get_config(u);
	const char *ver = cfg->image_info && cfg->image_info->version[0] ?
				  cfg->image_info->version :
				  "image";
	const size_t blocks = (cfg->image_len + KATAPULT_BLOCK_SIZE - 1) / KATAPULT_BLOCK_SIZE;

	if (written)
		updater_set_summary(u, "%s written, %zu blocks verified", ver, blocks);
	else
		updater_set_summary(u, "%s on the probe: %zu blocks match", ver, blocks);
}

void ktext_append(struct updater *u, const char *text)
{
	const char *prev = updater_get_summary(u);

	/* updater_set_summary formats into its own buffer first: prev may be an argument. */
	updater_set_summary(u, "%s%s%s", prev, prev[0] ? ", " : "", text);
}

static void refusal(const struct image_refusal *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "refusal %s: %s: image %s, device %s (%s)", r->rule,
		 r->what ? r->what : "image", r->image_value, r->target_value,
		 r->reason ? r->reason : "refused");
}

int ktext_check(const struct updater_config *cfg, const struct image_target *t,
		const char *device, struct cf_failure *why)
{
	struct image_refusal r;
	char text[300];

	for (unsigned lifted = 0;;) {
		if (image_check_against(cfg->image_info, t, lifted, &r) == CF_OK)
			return CF_OK;
		refusal(&r, text, sizeof(text));
		if (!r.force_bit || !(cfg->opts.force & r.force_bit) || (lifted & r.force_bit)) {
			cf_failure_set(why, CF_ERR_REFUSED, "check", "%s", text);
			if (r.override)
				cf_failure_set_hint(why, "%s lifts it if you are sure", r.override);
			else
				cf_failure_set_hint(why, "use an image built for this probe");
			return CF_ERR_REFUSED;
		}
		cf_log(CF_LOG_WARN, device, NULL, "%s lifted by %s: %s", r.rule,
		       r.override ? r.override : "--force", text);
		lifted |= r.force_bit;
	}
}

int ktext_check_before_entry(const struct updater_config *cfg, const struct image_target *t,
			     struct cf_failure *why)
{
	struct image_refusal r;
	char text[300];

	/* a rule that --force lifts passes here; ktext_check names it after CONNECT */
	if (image_check_before_entry(cfg->image_info, t, cfg->opts.force, &r) == CF_OK)
		return CF_OK;
	refusal(&r, text, sizeof(text));
	cf_failure_set(why, CF_ERR_REFUSED, "check", "%s", text);
	cf_failure_set_hint(why, "decided before the bootloader request: nothing was written, the "
				 "probe was never rebooted; %s lifts it if you are sure",
			    r.override);
	return CF_ERR_REFUSED;
}

void ktext_restored(struct cf_failure *why, const struct cf_failure *refusal, bool back)
{
	*why = *refusal;
	cf_failure_set_hint(why, "%s; nothing was written, %s", refusal->hint,
			    back ? "the probe runs its application again"
				 : "the probe is left in Katapult");
}

void ktext_ack_lost(struct cf_failure *ack_why, const struct cf_failure *engine_why)
{
	cf_failure_set(ack_why, engine_why->code ? engine_why->code : CF_ERR_PROTOCOL, "finish",
		       "COMPLETE was sent, but its ACK never came (%s)",
		       engine_why->code ? engine_why->detail : "no reply");
}

int ktext_ack_lost_silent(struct cf_failure *why, const struct cf_failure *ack_why)
{
	*why = *ack_why;
	cf_failure_set_hint(why, "the probe does not answer as its application either; it stays "
				 "in Katapult: run `cartoflash reboot`, or power-cycle it");
	return why->code;
}

void ktext_deployer(struct updater *u, bool answered)
{
	char text[320];

	iface_switch_summary(updater_get_config(u)->image_info, updater_identity(u),
			     updater_get_summary(u), text, sizeof(text));
	updater_set_summary(u, "%s%s", text, answered ? "; Katapult answers" : "");
}

int ktext_unseen(struct updater *u, bool deployer, const struct cf_failure *ack_why)
{
	struct cf_failure *why = updater_failure(u);

	cf_failure_clear(why);
	if (deployer) {
		ktext_deployer(u, false);
		return CF_ERR_NOT_SUPPORTED;
	}
	if (!ack_why) {
		updater_set_summary(u, "%s (UART: the application cannot be confirmed)",
				    updater_get_summary(u));
		return CF_ERR_NOT_SUPPORTED;
	}
	*why = *ack_why;
	cf_failure_set_hint(why, "on a UART whether the application started cannot be seen: if "
				 "Klipper finds the probe it runs; else power-cycle it and run "
				 "`cartoflash info`");
	return why->code;
}

int ktext_stopped(struct cf_failure *why, const char *stage, bool after_complete)
{
	if (after_complete) {
		cf_failure_set(why, CF_ERR_INTERRUPTED, "finish",
			       "stopped while waiting for the probe to come back after COMPLETE");
		cf_failure_set_hint(why, "COMPLETE was sent; `cartoflash scan` shows where the probe "
					 "is");
	} else {
		cf_failure_set(why, CF_ERR_INTERRUPTED, stage, "stopped while waiting for Katapult");
		cf_failure_set_hint(why, "the probe may be in Katapult now; rerun the same command "
					 "to go on");
	}
	return CF_ERR_INTERRUPTED;
}
