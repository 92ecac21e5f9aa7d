// SPDX-License-Identifier: GPL-3.0-or-later
// The "katapult" updater over CAN: identify, check, write, verify, finish as updater_ops.
#include "katapult/backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "katapult/backend_priv.h"
#include "katapult/iface_switch.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/katapult.h"

static struct kcan *kcan_of(struct updater *u)
{
	struct kcan *k = updater_priv(u);

	k->u = u;
	return k;
}

void kcan_step_done(struct kcan *k, int err)
{
	struct cf_failure *why = updater_failure(k->u);

	if (!k->running)
		return;
	k->running = false;
	if (k->restore_err) {
		bool back = err == CF_OK;
		char hint[sizeof(why->hint)];

		*why = *k->restore_why;
		free(k->restore_why);
		k->restore_why = NULL;
		err = k->restore_err;
		k->restore_err = 0;
		snprintf(hint, sizeof(hint), "%s", why->hint);
		cf_failure_set_hint(why, "%s%s", hint,
				    back ? "; nothing was written, the probe runs its application again" :
					   "; nothing was written, the probe is left in Katapult");
	}
	if (err < 0) {
		if (!why->code)
			cf_failure_set(why, err, updater_step_name(k->step), "%s", cf_strerror(err));
		cf_failure_set_device(why, "%s", k->device);
	}
	updater_step_done(k->u, err);
}

static void set_device_label(struct kcan *k)
{
	const struct device_identity *id = updater_identity(k->u);

	if (k->have_node)
		snprintf(k->device, sizeof(k->device), "probe %s (%s node %u)", id->can_uuid,
			 id->iface, k->node);
	else
		snprintf(k->device, sizeof(k->device), "probe %s (%s)", id->can_uuid, id->iface);
}

/* Open the bus, check the target and take a node id: once per updater. */
static int attach(struct kcan *k)
{
	struct device_identity *id = updater_identity(k->u);
	struct cf_failure *why = updater_failure(k->u);
	uint32_t bitrate = 0;
	int err;

	if (k->mux)
		return CF_OK;
	set_device_label(k);
	if (canbus_uuid_parse(id->can_uuid, k->uuid) < 0)
		return cf_failure_set(why, CF_ERR_USAGE, "identify",
				      "'%s' is not a CAN UUID (12 hex digits)", id->can_uuid);
	k->loop = updater_get_config(k->u)->loop;
	err = canmux_acquire(k->loop, id->iface, &k->mux, why);
	if (err < 0)
		return err;
	err = canmux_alloc_node(k->mux, &k->node);
	if (err < 0) {
		cf_failure_set(why, err, "identify", "no free CAN node id on %s", id->iface);
		return err;
	}
	k->have_node = true;
	id->node_id = k->node;
	set_device_label(k);
	if (canmux_get_bitrate(k->mux, &bitrate) == CF_OK)
		id->bus_bitrate = bitrate;
	else
		cf_log(CF_LOG_DEBUG, k->device, "katapult", "interface bitrate unknown");
	return CF_OK;
}

static void entry_done(void *ctx, int err, uint64_t now)
{
	struct kcan *k = ctx;
	struct cf_failure *why = updater_failure(k->u);
	const struct device_identity *id = updater_identity(k->u);

	(void)now;
	if (err == CF_ERR_NO_DEVICE) {
		cf_failure_set(why, err, "identify",
			       "no Katapult answered for UUID %s on %s within %.1f s%s", id->can_uuid,
			       id->iface, (double)(k->entry.deadline_us - k->entry.start_us) / 1e6,
			       k->entry.request_bootloader ? " of the bootloader request" : "");
		if (k->entry.request_bootloader)
			cf_failure_set_hint(why, "check the UUID with `cartoflash scan --can %s`; a "
						 "probe without Katapult needs DFU recovery",
					    id->iface);
		else
			cf_failure_set_hint(why, "a probe running its application is left alone "
						 "here: `cartoflash bootloader --can %s --uuid %s` "
						 "enters Katapult first",
					    id->iface, id->can_uuid);
		kcan_step_done(k, err);
		return;
	}
	if (err < 0) {
		kcan_bus_failure(k, err, "identify");
		kcan_step_done(k, why->code);
		return;
	}
	if (k->cancelled) {
		cf_failure_set(why, CF_ERR_INTERRUPTED, "identify", "stopped by the user");
		kcan_step_done(k, CF_ERR_INTERRUPTED);
		return;
	}
	k->from_app = k->entry.requested;
	err = kcan_engine_start(k, KATAPULT_ENGINE_INFO_ONLY);
	if (err < 0)
		kcan_step_done(k, err);
}

static int op_identify(struct updater *u)
{
	struct kcan *k = kcan_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	bool request = cfg->target.mode != DEVICE_MODE_KATAPULT;
	int err;

	k->u = u;
	k->step = UPDATER_IDENTIFY;
	k->running = true;
	err = attach(k);
	if (err < 0) {
		k->running = false;
		cf_failure_set_device(updater_failure(u), "%s", k->device);
		return err;
	}
	k->entry.on_done = entry_done;
	k->entry.ctx = k;
	err = can_entry_start(&k->entry, k->mux, k->loop, k->uuid, k->node, request,
			      cfg->opts.timeout_us);
	if (err < 0) {
		k->running = false;
		return cf_failure_set(updater_failure(u), err, "identify", "CAN bus %s: %s",
				      canmux_spec(k->mux), cf_strerror(err));
	}
	return CF_OK;
}

static void identity_from_connect(struct kcan *k)
{
	const struct katapult_connect_info *ci = katapult_engine_connect_info(k->engine);
	struct device_identity *id = updater_identity(k->u);

	id->mode = DEVICE_MODE_KATAPULT;
	if (!ci)
		return;
	snprintf(id->mcu, sizeof(id->mcu), "%.31s", ci->mcu);
	id->protocol_version = ci->proto_version;
	snprintf(id->bootloader_version, sizeof(id->bootloader_version), "%.63s", ci->version);
	id->app_start = ci->app_start;
	id->block_size = ci->block_size;
	updater_set_summary(k->u, "Katapult %u.%u.%u%s%s, %s, application at 0x%08" PRIx32
				  ", %" PRIu32 "-byte blocks",
			    KATAPULT_PROTO_MAJOR(ci->proto_version),
			    KATAPULT_PROTO_MINOR(ci->proto_version),
			    KATAPULT_PROTO_PATCH(ci->proto_version), ci->version[0] ? " " : "",
			    ci->version, ci->mcu, ci->app_start, ci->block_size);
}

static void summarize(struct kcan *k, bool written)
{
	const struct updater_config *cfg = updater_get_config(k->u);
	const char *ver = cfg->image_info && cfg->image_info->version[0] ?
				  cfg->image_info->version :
				  "image";
	size_t bs = KATAPULT_BLOCK_SIZE;

	k->blocks = (cfg->image_len + bs - 1) / bs;
	if (written)
		updater_set_summary(k->u, "%s written, %zu blocks verified", ver, k->blocks);
	else
		updater_set_summary(k->u, "%s on the probe: %zu blocks match", ver, k->blocks);
}

static bool engine_completed(struct kcan *k);

void kcan_engine_done(struct kcan *k, int err, uint64_t now)
{
	const struct cf_failure *ef = katapult_engine_failure(k->engine);
	struct cf_failure *why = updater_failure(k->u);
	enum katapult_engine_op op = k->engine_op;

	if (err < 0 && ef->code && !why->code)
		*why = *ef;
	if (op == KATAPULT_ENGINE_INFO_ONLY)
		identity_from_connect(k);
	if (op == KATAPULT_ENGINE_FLASH && err == CF_OK)
		k->flashed = true;
	if (op == KATAPULT_ENGINE_VERIFY_ONLY && err == CF_OK)
		k->verified = true;
	if (op == KATAPULT_ENGINE_REBOOT && err == CF_OK && !engine_completed(k)) {
		err = cf_failure_set(why, CF_ERR_PROTOCOL, "finish", "COMPLETE was not acknowledged");
		cf_failure_set_hint(why, "the probe stays in Katapult; run `cartoflash reboot`");
	}
	kcan_engine_stop(k);
	if (err == CF_OK && (op == KATAPULT_ENGINE_FLASH || op == KATAPULT_ENGINE_VERIFY_ONLY))
		summarize(k, op == KATAPULT_ENGINE_FLASH);
	if (err == CF_OK && op == KATAPULT_ENGINE_REBOOT) {
		kcan_confirm_start(k, now);
		return;
	}
	kcan_step_done(k, err);
}

/* The engine is gone by now: read what is needed from it first. */
static bool engine_completed(struct kcan *k)
{
	return k->engine && katapult_engine_completed(k->engine);
}

static void note_refusal(const struct image_refusal *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s: image %s, probe/bus %s (%s)", r->what, r->image_value,
		 r->target_value, r->reason);
}

/*
 * Identify took the node out of its application for nothing: nothing was written, so its
 * application is intact and COMPLETE puts the node back where it was (katapult.md §5).
 */
static int restore_after_refusal(struct kcan *k)
{
	struct cf_failure *why = updater_failure(k->u);

	if (!k->from_app)
		return CF_ERR_REFUSED;
	k->restore_why = malloc(sizeof(*k->restore_why));
	if (!k->restore_why)
		return CF_ERR_REFUSED;
	*k->restore_why = *why;
	cf_failure_clear(why);
	k->restore_err = CF_ERR_REFUSED;
	k->step = UPDATER_CHECK_IMAGE;
	k->running = true;
	if (kcan_engine_start(k, KATAPULT_ENGINE_REBOOT) < 0) {
		kcan_step_done(k, CF_ERR_REFUSED);
		return CF_OK;
	}
	return CF_OK;
}

static int op_check_image(struct updater *u)
{
	struct kcan *k = kcan_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	const struct device_identity *id = updater_identity(u);
	struct image_target t = { .path = IMAGE_PATH_KATAPULT, .iface = IMAGE_IFACE_CAN };
	struct image_refusal r;
	char text[200];
	int err;

	k->step = UPDATER_CHECK_IMAGE;
	if (!cfg->image_info) {
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	snprintf(t.mcu, sizeof(t.mcu), "%s", id->mcu);
	t.app_start = id->app_start;
	t.bus_bitrate = id->bus_bitrate;
	t.switch_to = iface_switch_target(cfg->opts.switch_to);
	if (!t.bus_bitrate)
		cf_log(CF_LOG_WARN, k->device, NULL, "bitrate of %s unknown: R3 not checked",
		       id->iface);
	/* Run unforced first so a rule that --force lifts is still named (style.md §2.10). */
	for (unsigned lifted = 0;;) {
		err = image_check_against(cfg->image_info, &t, lifted, &r);
		if (err == CF_OK)
			break;
		note_refusal(&r, text, sizeof(text));
		if (!r.force_bit || !(cfg->opts.force & r.force_bit) || (lifted & r.force_bit)) {
			cf_failure_set(updater_failure(u), CF_ERR_REFUSED, "check",
				       "refusal %s: %s", r.rule, text);
			cf_failure_set_hint(updater_failure(u), "%s%s",
					    r.override ? r.override : "use an image built for this probe",
					    r.override ? " lifts it if you are sure" : "");
			cf_failure_set_device(updater_failure(u), "%s", k->device);
			return restore_after_refusal(k);
		}
		cf_log(CF_LOG_WARN, k->device, NULL, "%s lifted by %s: %s", r.rule,
		       r.override ? r.override : "--force", text);
		lifted |= r.force_bit;
	}
	if (cfg->opts.dry_run)
		updater_set_summary(u, "dry run: R1-R5 passed, nothing written");
	updater_step_done(u, CF_OK);
	return CF_OK;
}

static int start_engine_step(struct updater *u, enum updater_step step,
			     enum katapult_engine_op op)
{
	struct kcan *k = kcan_of(u);
	int err;

	k->step = step;
	k->running = true;
	err = kcan_engine_start(k, op);
	if (err < 0) {
		k->running = false;
		cf_failure_set_device(updater_failure(u), "%s", k->device);
	}
	return err;
}

static int op_write(struct updater *u)
{
	const struct updater_config *cfg = updater_get_config(u);

	if (cfg->opts.dry_run) {
		updater_set_summary(u, "dry run: checks passed, nothing written");
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	return start_engine_step(u, UPDATER_WRITE, KATAPULT_ENGINE_FLASH);
}

static int op_verify(struct updater *u)
{
	struct kcan *k = kcan_of(u);

	/* The flash session already read back and compared every block. */
	if (k->flashed || updater_get_config(u)->opts.dry_run) {
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	return start_engine_step(u, UPDATER_VERIFY, KATAPULT_ENGINE_VERIFY_ONLY);
}

static int op_finish(struct updater *u)
{
	struct kcan *k = kcan_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	const char *prev = updater_get_summary(u);
	char keep[200];

	snprintf(keep, sizeof(keep), "%s", prev ? prev : "");
	/* Reboot what we wrote or verified, what we took out of its application, and on an
	 * explicit reboot; a probe found in Katapult with an unchecked application stays. */
	if (cfg->opts.no_reboot ||
	    (cfg->image && !k->flashed && !k->verified && !k->from_app)) {
		updater_set_summary(u, "%s%sleft in Katapult", keep, keep[0] ? ", " : "");
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	/* A deployer never brings the application back (katapult.md §4): finish reports where
	 * the probe returns instead (kcan_confirm_start). */
	if (!kcan_deployer_started(k))
		updater_set_summary(u, "%s%sapplication running", keep, keep[0] ? ", " : "");
	return start_engine_step(u, UPDATER_FINISH, KATAPULT_ENGINE_REBOOT);
}

static void op_cancel(struct updater *u)
{
	struct kcan *k = kcan_of(u);
	uint64_t now = cf_now_us();

	k->cancelled = true;
	if (!k->running)
		return;
	if (k->engine) {
		katapult_engine_cancel(k->engine, now);
		/* Back-off and idle states end at once; a command in flight ends with its reply. */
		if (katapult_engine_state(k->engine) == KATAPULT_ENGINE_DONE)
			kcan_engine_done(k, katapult_engine_result(k->engine), now);
		return;
	}
	if (!k->entry.done) {
		can_entry_stop(&k->entry);
		cf_failure_set(updater_failure(u), CF_ERR_INTERRUPTED, updater_step_name(k->step),
			       "stopped while waiting for Katapult");
		cf_failure_set_hint(updater_failure(u), "the probe may be in Katapult now; rerun the "
							"same command to go on");
		kcan_step_done(k, CF_ERR_INTERRUPTED);
		return;
	}
	if (k->confirming) {
		cf_failure_set(updater_failure(u), CF_ERR_INTERRUPTED, "finish",
			       "stopped while waiting for the application to answer");
		kcan_confirm_stop(k);
		kcan_step_done(k, CF_ERR_INTERRUPTED);
	}
}

static void op_release(struct updater *u)
{
	struct kcan *k = kcan_of(u);

	can_entry_stop(&k->entry);
	kcan_confirm_stop(k);
	kcan_engine_stop(k);
	if (k->have_node)
		canmux_free_node(k->mux, k->node);
	canmux_release(k->mux);
	k->mux = NULL;
	free(k->restore_why);
	k->restore_why = NULL;
}

const struct updater_ops katapult_can_ops = {
	.name = "katapult",
	.priv_size = sizeof(struct kcan),
	.identify = op_identify,
	.check_image = op_check_image,
	.write = op_write,
	.verify = op_verify,
	.finish = op_finish,
	.cancel = op_cancel,
	.release = op_release,
};
