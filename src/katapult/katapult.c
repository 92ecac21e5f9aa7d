// SPDX-License-Identifier: GPL-3.0-or-later
// The one Katapult updater: steps, restore after a refusal, finish and its confirmation.
#include "katapult/katapult.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "katapult/channel.h"
#include "katapult/iface_switch.h"
#include "katapult/katapult_session.h"
#include "katapult/katapult_text.h"
#include "katapult/kpump.h"
#include "katapult/switch_follow.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/image.h"

struct kupd {
	struct updater *u;
	struct kchannel *ch;
	struct kpump pump;
	enum updater_step step;
	bool running;
	bool cancelled;
	bool reaching, confirming;
	bool flashed;  /* write ran the whole flash session, verify included */
	bool verified; /* a verify-only session matched every block */
	bool ack_lost; /* COMPLETE went out, its ACK never came */
	bool deployer; /* COMPLETE starts a deployer: its Katapult comes back, not the app */
	enum katapult_engine_op op;
	uint64_t deadline_us; /* identify: the whole wait ends here */
	/* A refusal found after identify took the probe out of its application: COMPLETE puts
	 * it back first, then the step ends with this error and this failure. */
	int restore_err;
	struct cf_failure restore_why;
	struct cf_failure ack_why; /* the engine's words for the lost ACK */
	struct switch_follow onto_bus; /* a tty deployer followed onto the named CAN bus */
};

static struct kupd *kupd_of(struct updater *u)
{
	struct kupd *k = updater_priv(u);

	k->u = u;
	return k;
}

static void step_done(struct kupd *k, int err)
{
	struct cf_failure *why = updater_failure(k->u);

	if (!k->running)
		return;
	k->running = false;
	if (k->restore_err) {
		ktext_restored(why, &k->restore_why, err == CF_OK);
		err = k->restore_err;
		k->restore_err = 0;
	}
	if (err < 0) {
		if (!why->code)
			cf_failure_set(why, err, updater_step_name(k->step), "%s", cf_strerror(err));
		cf_failure_set_device(why, "%s", k->ch ? k->ch->label : "katapult");
	}
	updater_step_done(k->u, err);
}

/* A step that could not start: the core reports err itself (no step_done). */
static int not_started(struct kupd *k, int err)
{
	k->running = false;
	cf_failure_set_device(updater_failure(k->u), "%s", k->ch ? k->ch->label : "katapult");
	return err;
}

static void begin(struct kupd *k, enum updater_step step)
{
	k->step = step;
	k->running = true;
}

/* ---- the engine session ---- */

static void on_progress(void *ctx, const char *stage, size_t done, size_t total)
{
	struct kupd *k = ctx;

	updater_progress(k->u, stage, done, total);
}

static void session_done(void *ctx, int err, uint64_t now);

static int start_session(struct kupd *k, enum katapult_engine_op op)
{
	const struct updater_config *cfg = updater_get_config(k->u);
	struct katapult_engine_config c;
	int err;

	ksession_config(k->u, k->ch, op, &c);
	k->op = op;
	kpump_init(&k->pump, k->ch, cfg->loop, on_progress, session_done, k);
	/* --timeout bounds the whole wait for Katapult, CONNECT included. */
	err = kpump_start(&k->pump, &c,
			  op == KATAPULT_ENGINE_INFO_ONLY && cfg->opts.timeout_us ? k->deadline_us
										: UINT64_MAX);
	if (err < 0)
		return cf_failure_set(updater_failure(k->u), err, updater_step_name(k->step),
				      "cannot start the Katapult session: %s", cf_strerror(err));
	return CF_OK;
}

static int start_step_session(struct kupd *k, enum updater_step step, enum katapult_engine_op op)
{
	begin(k, step);
	const int err = start_session(k, op);

	return err < 0 ? not_started(k, err) : CF_OK;
}

static void confirm(struct kupd *k);

static void session_done(void *ctx, int err, uint64_t now)
{
	struct kupd *k = ctx;
	const enum katapult_engine_op op = k->op;

	(void)now;
	err = ksession_result(k->u, op, kpump_engine(&k->pump), kpump_seen(&k->pump), err,
			      &k->ack_lost, &k->ack_why);
	kpump_stop(&k->pump);
	if (err == CF_OK && op == KATAPULT_ENGINE_FLASH)
		k->flashed = true;
	if (err == CF_OK && op == KATAPULT_ENGINE_VERIFY_ONLY)
		k->verified = true;
	if (err == CF_OK && (op == KATAPULT_ENGINE_FLASH || op == KATAPULT_ENGINE_VERIFY_ONLY))
		ktext_image_done(k->u, op == KATAPULT_ENGINE_FLASH);
	if (err == CF_OK && op == KATAPULT_ENGINE_REBOOT) {
		confirm(k);
		return;
	}
	step_done(k, err);
}

/* ---- channel events ---- */

static void ev_reached(void *ctx, int err, uint64_t now);
static void ev_confirmed(void *ctx, int err, uint64_t now);

static int channel_new(struct kupd *k)
{
	const struct updater_config *cfg = updater_get_config(k->u);
	const struct kchannel c = {
		.loop = cfg->loop, .id = updater_identity(k->u), .why = updater_failure(k->u),
		.opts = &cfg->opts, .img = cfg->image_info,
		.ev = { .ctx = k, .reached = ev_reached, .confirmed = ev_confirmed },
	};

	return k->ch ? CF_OK : kchannel_open(cfg->target.link, &c, &k->ch);
}

/* ---- identify ---- */

static void ev_reached(void *ctx, int err, uint64_t now)
{
	struct kupd *k = ctx;

	(void)now;
	k->reaching = false;
	if (err == CF_OK && k->cancelled)
		err = cf_failure_set(updater_failure(k->u), CF_ERR_INTERRUPTED, "identify",
				     "stopped by the user");
	if (err == CF_OK && updater_identity(k->u)->mode == DEVICE_MODE_APPLICATION) {
		updater_set_summary(k->u, "running its application, not Katapult; left alone");
		step_done(k, CF_OK);
		return;
	}
	if (err == CF_OK)
		err = start_session(k, KATAPULT_ENGINE_INFO_ONLY);
	if (err < 0)
		step_done(k, err);
}

/* A refusal that the channel's facts (the bus bitrate) and the running build (identified
 * before the run) decide is made before the probe leaves its application: the same rules
 * op_check_image runs again with the whole identity after CONNECT. */
static int check_before_request(struct kupd *k)
{
	const struct device_identity *id = updater_identity(k->u);
	struct kchannel_session s;
	struct image_target t;

	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	k->ch->ops->session(k->ch, &s);
	t.bus_bitrate = s.iface == IMAGE_IFACE_CAN ? s.bus_bitrate : 0;
	snprintf(t.running_version, sizeof(t.running_version), "%s", id->app_version);
	snprintf(t.mcu, sizeof(t.mcu), "%s", id->app_mcu);
	t.running_clock = id->app_clock;
	return ktext_check_before_entry(updater_get_config(k->u), &t, updater_failure(k->u));
}

static int op_identify(struct updater *u)
{
	struct kupd *k = kupd_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	const bool request = cfg->target.mode != DEVICE_MODE_KATAPULT;
	int err;

	begin(k, UPDATER_IDENTIFY);
	k->deadline_us = cf_now_us() + (cfg->opts.timeout_us ? cfg->opts.timeout_us
							      : KATAPULT_REACH_US);
	err = channel_new(k);
	if (err == CF_OK && request && cfg->image_info)
		err = check_before_request(k);
	if (err == CF_OK)
		err = k->ch->ops->reach(k->ch, request, k->deadline_us);
	if (err < 0)
		return not_started(k, err);
	k->reaching = true;
	return CF_OK;
}

/* ---- check ---- */

/*
 * Identify took the probe out of its application for nothing: nothing was written, so its
 * application is intact and COMPLETE puts it back where it was (katapult.md §5).
 */
static void restore_after_refusal(struct kupd *k)
{
	struct cf_failure *why = updater_failure(k->u);

	k->restore_why = *why;
	k->restore_err = CF_ERR_REFUSED;
	cf_failure_clear(why);
	if (start_session(k, KATAPULT_ENGINE_REBOOT) < 0)
		step_done(k, CF_ERR_REFUSED);
}

static int op_check_image(struct updater *u)
{
	struct kupd *k = kupd_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	struct image_target t;

	begin(k, UPDATER_CHECK_IMAGE);
	if (!cfg->image_info || updater_identity(u)->mode == DEVICE_MODE_APPLICATION) {
		step_done(k, CF_OK);
		return CF_OK;
	}
	ksession_target(u, k->ch, &t);
	if (ktext_check(cfg, &t, k->ch->label, updater_failure(u)) < 0) {
		cf_failure_set_device(updater_failure(u), "%s", k->ch->label);
		if (!k->ch->from_app)
			return not_started(k, CF_ERR_REFUSED);
		restore_after_refusal(k);
		return CF_OK;
	}
	if (cfg->opts.dry_run)
		updater_set_summary(u, "dry run: R1-R5 passed, nothing written");
	step_done(k, CF_OK);
	return CF_OK;
}

/* ---- write, verify ---- */

/* A step with nothing to send: done at once. */
static int nothing_to_do(struct kupd *k, enum updater_step step)
{
	begin(k, step);
	step_done(k, CF_OK);
	return CF_OK;
}

static int op_write(struct updater *u)
{
	struct kupd *k = kupd_of(u);

	if (!updater_get_config(u)->opts.dry_run)
		return start_step_session(k, UPDATER_WRITE, KATAPULT_ENGINE_FLASH);
	updater_set_summary(u, "dry run: checks passed, nothing written");
	return nothing_to_do(k, UPDATER_WRITE);
}

static int op_verify(struct updater *u)
{
	struct kupd *k = kupd_of(u);

	/* The flash session already read back and compared every block. */
	if (k->flashed || updater_get_config(u)->opts.dry_run)
		return nothing_to_do(k, UPDATER_VERIFY);
	return start_step_session(k, UPDATER_VERIFY, KATAPULT_ENGINE_VERIFY_ONLY);
}

/* ---- finish ---- */

static void ev_confirmed(void *ctx, int err, uint64_t now)
{
	struct kupd *k = ctx;
	struct cf_failure *why = updater_failure(k->u);

	(void)now;
	k->confirming = false;
	if (err == CF_OK && k->ack_lost)
		cf_log(CF_LOG_WARN, k->ch->label, NULL, "the ACK of COMPLETE was lost, but the "
							"probe answers as it should");
	if (err < 0 && k->ack_lost)
		err = ktext_ack_lost_silent(why, &k->ack_why); /* it never left Katapult */
	if (err == CF_OK && k->deployer)
		ktext_deployer(k->u, true);
	step_done(k, err);
}

static void onto_bus_done(void *ctx, int err, uint64_t now)
{
	struct kupd *k = ctx;

	(void)now;
	k->confirming = false;
	step_done(k, err);
}

static void confirm(struct kupd *k)
{
	const uint64_t now = cf_now_us();
	int err;

	err = k->ch->ops->confirm(k->ch, k->deployer ? KCHANNEL_EXPECT_KATAPULT
						     : KCHANNEL_EXPECT_APPLICATION,
				  now + (k->deployer ? KATAPULT_DEPLOYER_US : KATAPULT_CONFIRM_US));
	if (err == CF_OK) {
		k->confirming = true;
		return;
	}
	if (err == CF_ERR_NOT_SUPPORTED) {
		err = ktext_unseen(k->u, k->deployer, k->ack_lost ? &k->ack_why : NULL);
		/* A deployer that moves the probe onto the CAN bus the user named: follow it. */
		if (err == CF_ERR_NOT_SUPPORTED && k->deployer)
			err = switch_follow_start(&k->onto_bus, k->u, onto_bus_done, k);
		if (err == CF_OK) {
			k->confirming = true;
			return;
		}
		if (err == CF_ERR_NOT_SUPPORTED)
			err = CF_OK;
	}
	step_done(k, err);
}

static int op_finish(struct updater *u)
{
	struct kupd *k = kupd_of(u);
	const struct updater_config *cfg = updater_get_config(u);

	begin(k, UPDATER_FINISH);
	if (updater_identity(u)->mode == DEVICE_MODE_APPLICATION) {
		step_done(k, CF_OK); /* identify found it running: nothing to leave */
		return CF_OK;
	}
	/* Reboot what we wrote or verified, what we took out of its application, and on an
	 * explicit reboot; a probe found in Katapult with an unchecked application stays. */
	if (cfg->opts.no_reboot || (cfg->image && !k->flashed && !k->verified && !k->ch->from_app)) {
		ktext_append(u, "left in Katapult");
		step_done(k, CF_OK);
		return CF_OK;
	}
	/* A deployer never brings the application back (katapult.md §4): finish says where the
	 * probe returns instead. */
	k->deployer = (k->flashed || k->verified) && iface_switch_is_deployer(cfg->image_info);
	if (!k->deployer)
		ktext_append(u, "application running");
	return start_step_session(k, UPDATER_FINISH, KATAPULT_ENGINE_REBOOT);
}

/* ---- cancel, release ---- */

static void op_cancel(struct updater *u)
{
	struct kupd *k = kupd_of(u);
	struct cf_failure *why = updater_failure(u);

	k->cancelled = true;
	if (!k->running)
		return;
	if (kpump_running(&k->pump)) {
		kpump_cancel(&k->pump, cf_now_us());
		return;
	}
	if (k->reaching || k->confirming) {
		const bool after_complete = k->confirming;

		k->reaching = k->confirming = false;
		k->ch->ops->stop(k->ch);
		switch_follow_stop(&k->onto_bus);
		step_done(k, ktext_stopped(why, updater_step_name(k->step), after_complete));
	}
}

static void op_release(struct updater *u)
{
	struct kupd *k = kupd_of(u);

	kpump_stop(&k->pump);
	switch_follow_stop(&k->onto_bus);
	kchannel_close(k->ch);
	k->ch = NULL;
}

const struct updater_ops katapult_ops = {
	.name = "katapult",
	.priv_size = sizeof(struct kupd),
	.identify = op_identify,
	.check_image = op_check_image,
	.write = op_write,
	.verify = op_verify,
	.finish = op_finish,
	.cancel = op_cancel,
	.release = op_release,
};
