// SPDX-License-Identifier: GPL-3.0-or-later
// One engine session of the Katapult updater: its config from the channel, its failure words.
#include "katapult/katapult_session.h"

#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "katapult/iface_switch.h"
#include "katapult/katapult_text.h"
#include "log.h"
#include "protocol/err.h"

void ksession_target(struct updater *u, struct kchannel *ch, struct image_target *t)
{
	const struct device_identity *id = updater_identity(u);
	struct kchannel_session s;

	memset(t, 0, sizeof(*t));
	memset(&s, 0, sizeof(s));
	ch->ops->session(ch, &s);
	t->path = IMAGE_PATH_KATAPULT;
	t->iface = s.iface;
	t->bus_bitrate = s.bus_bitrate;
	snprintf(t->mcu, sizeof(t->mcu), "%s", id->mcu);
	/* R8 again with the whole identity: the build the application ran before the run */
	snprintf(t->running_version, sizeof(t->running_version), "%s", id->app_version);
	t->running_clock = id->app_clock;
	t->app_start = id->app_start;
	t->switch_to = iface_switch_target(updater_get_config(u)->opts.switch_to);
	if (s.iface == IMAGE_IFACE_CAN && !t->bus_bitrate)
		cf_log(CF_LOG_WARN, ch->label, NULL, "bitrate of %s unknown: R3 not checked",
		       id->iface);
}

void ksession_config(struct updater *u, struct kchannel *ch, enum katapult_engine_op op,
		     struct katapult_engine_config *c)
{
	const struct updater_config *cfg = updater_get_config(u);
	struct kchannel_session s;

	memset(c, 0, sizeof(*c));
	memset(&s, 0, sizeof(s));
	ch->ops->session(ch, &s);
	c->op = op;
	if (op == KATAPULT_ENGINE_FLASH || op == KATAPULT_ENGINE_VERIFY_ONLY) {
		c->image = cfg->image;
		c->image_len = cfg->image_len;
		c->image_info = cfg->image_info;
	}
	c->target.path = IMAGE_PATH_KATAPULT;
	c->target.iface = s.iface;
	c->target.bus_bitrate = s.bus_bitrate;
	c->target.switch_to = iface_switch_target(cfg->opts.switch_to);
	/* enum updater_force equals enum image_force bit for bit (protocol/image.h). */
	c->force = cfg->opts.force;
	c->prime = s.prime;
	c->expect_uuid = s.expect_uuid;
	memcpy(c->uuid, s.uuid, sizeof(c->uuid));
	/* COMPLETE belongs to the finish step, after everything verified (design.md rule 2). */
	c->no_reboot = op != KATAPULT_ENGINE_REBOOT;
	c->device = ch->label;
}

/* What the channel saw of the probe after it stopped answering: the detail says it; while
 * nothing was written the channel's next step replaces the engine's. */
static void with_seen(struct cf_failure *why, const struct katapult_engine *e, int err,
		      const struct kchannel_seen *seen)
{
	char detail[sizeof(why->detail)], stage[sizeof(why->stage)];

	if (!seen)
		return;
	if (!katapult_engine_wrote(e) && seen->hint[0] &&
	    (err == CF_ERR_TIMEOUT || err == CF_ERR_WEDGED)) {
		cf_failure_set_hint(why, "%s", seen->hint);
		return;
	}
	if (!seen->text[0])
		return;
	/* cf_failure_set writes stage and detail: hand it copies. */
	snprintf(detail, sizeof(detail), "%s", why->detail[0] ? why->detail : cf_strerror(err));
	snprintf(stage, sizeof(stage), "%s", why->stage);
	cf_failure_set(why, why->code ? why->code : err, stage, "%s; %s", detail, seen->text);
}

/* The engine's failure, and what is known of a probe that went silent. */
static int ksession_failure(struct updater *u, enum katapult_engine_op op,
			    const struct katapult_engine *e, int err,
			    const struct kchannel_seen *seen)
{
	const struct cf_failure *ef = katapult_engine_failure(e);
	struct cf_failure *why = updater_failure(u);
	const struct updater_config *cfg = updater_get_config(u);

	if (err == CF_OK)
		return err;
	if (ef->code && !why->code)
		*why = *ef;
	/* The pump's limit: --timeout bounds the whole wait for Katapult, CONNECT included. */
	if (err == CF_ERR_TIMEOUT && op == KATAPULT_ENGINE_INFO_ONLY && !why->code) {
		cf_failure_set(why, err, "identify", "no answer to CONNECT within %.1f s (--timeout)",
			       (double)cfg->opts.timeout_us / 1e6);
		cf_failure_set_hint(why, "nothing was written; rerun with a longer --timeout");
	}
	/* The channel failed: no more frames go out, so say what the probe holds (fidelity's
	 * engine knows: erased, half page 0, every block written). */
	if (katapult_engine_wrote(e) && (err == CF_ERR_NO_DEVICE || err == CF_ERR_IO))
		cf_failure_set_hint(why, "%s; %s", katapult_engine_app_text(e),
				    katapult_engine_app(e) == KATAPULT_APP_HALF
					? "if it was reset or unplugged, short its RESET pads twice "
					  "within 0.5 s (or cartoflash recover), then rerun the same "
					  "command"
					: "reconnect it and rerun the same command");
	with_seen(why, e, err, seen);
	return err;
}

int ksession_result(struct updater *u, enum katapult_engine_op op,
		    const struct katapult_engine *e, const struct kchannel_seen *seen, int err,
		    bool *ack_lost, struct cf_failure *ack_why)
{
	struct cf_failure *why = updater_failure(u);

	err = ksession_failure(u, op, e, err, seen);
	if (op == KATAPULT_ENGINE_INFO_ONLY && err == CF_OK)
		ktext_connected(u, katapult_engine_connect_info(e));
	if (op == KATAPULT_ENGINE_REBOOT && (err < 0 || !katapult_engine_completed(e))) {
		*ack_lost = true;
		ktext_ack_lost(ack_why, why);
		cf_failure_clear(why);
		err = CF_OK;
	}
	return err;
}
