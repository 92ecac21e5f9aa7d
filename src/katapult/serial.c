// SPDX-License-Identifier: GPL-3.0-or-later
// The "katapult" updater over a tty: identify, check, write, verify, finish as updater_ops.
#include "katapult/serial.h"
#include "katapult/serial_priv.h"
#include "katapult/iface_switch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/katapult.h"
#include "protocol/mcu.h"

static struct kser *kser_of(struct updater *u)
{
	struct kser *k = updater_priv(u);

	k->u = u;
	k->loop = updater_get_config(u)->loop;
	return k;
}

void kser_set_device_label(struct kser *k)
{
	const struct device_identity *id = updater_identity(k->u);

	/* A port without tty (ROM DFU) is named by its USB path. */
	const char *where = k->tty[0] ? k->tty : id->usb_path;

	if (id->can_uuid[0])
		snprintf(k->device, sizeof(k->device), "probe %s (%.100s)", id->can_uuid, where);
	else if (k->is_usb)
		snprintf(k->device, sizeof(k->device), "usb %.100s", where);
	else
		snprintf(k->device, sizeof(k->device), "serial %.100s",
			 k->tty[0] ? k->tty : id->tty);
}

void kser_step_done(struct kser *k, int err)
{
	struct cf_failure *why = updater_failure(k->u);

	if (!k->running)
		return;
	k->running = false;
	if (err < 0) {
		if (!why->code)
			cf_failure_set(why, err, updater_step_name(k->step), "%s",
				       cf_strerror(err));
		cf_failure_set_device(why, "%s", k->device);
		/* A dead or wedged channel is not reused by a later step or job. */
		if (err == CF_ERR_NO_DEVICE || err == CF_ERR_IO)
			kser_channel_close(k);
	}
	updater_step_done(k->u, err);
}

static void identity_from_connect(struct kser *k)
{
	const struct katapult_connect_info *ci = katapult_engine_connect_info(k->engine);
	struct device_identity *id = updater_identity(k->u);

	id->mode = DEVICE_MODE_KATAPULT;
	snprintf(id->tty, sizeof(id->tty), "%.63s", k->tty);
	if (!ci)
		return;
	snprintf(id->mcu, sizeof(id->mcu), "%.31s", ci->mcu);
	id->protocol_version = ci->proto_version;
	snprintf(id->bootloader_version, sizeof(id->bootloader_version), "%.63s", ci->version);
	id->app_start = ci->app_start;
	id->block_size = ci->block_size;
	id->flash_size = mcu_flash_size(ci->mcu);
	updater_set_summary(
	    k->u,
	    "Katapult %u.%u.%u%s%s, %s, application at 0x%08" PRIx32 ", %" PRIu32 "-byte blocks",
	    KATAPULT_PROTO_MAJOR(ci->proto_version), KATAPULT_PROTO_MINOR(ci->proto_version),
	    KATAPULT_PROTO_PATCH(ci->proto_version), ci->version[0] ? " " : "", ci->version,
	    ci->mcu, ci->app_start, ci->block_size);
}

static void summarize_write(struct kser *k)
{
	const struct updater_config *cfg = updater_get_config(k->u);
	const char *ver =
	    cfg->image_info && cfg->image_info->version[0] ? cfg->image_info->version : "image";
	const size_t blocks = (cfg->image_len + KATAPULT_BLOCK_SIZE - 1) / KATAPULT_BLOCK_SIZE;

	updater_set_summary(k->u, "%s written, %zu blocks verified", ver, blocks);
}

void kser_engine_done(struct kser *k, int err, uint64_t now)
{
	const struct cf_failure *ef = katapult_engine_failure(k->engine);
	struct cf_failure *why = updater_failure(k->u);
	const enum katapult_engine_op op = k->engine_op;

	if (err < 0 && ef->code && !why->code)
		*why = *ef;
	if (op == KATAPULT_ENGINE_INFO_ONLY)
		identity_from_connect(k);
	kser_engine_stop(k);
	if (err == CF_OK && op == KATAPULT_ENGINE_VERIFY_ONLY)
		k->verified = true;
	if (err == CF_OK && op == KATAPULT_ENGINE_FLASH && k->step == UPDATER_WRITE) {
		k->flashed = true;
		summarize_write(k);
	}
	if (err == CF_OK && op == KATAPULT_ENGINE_REBOOT) {
		/* The device resets 100 ms after the ACK (katapult.md §1.3): its tty goes away. */
		kser_channel_close(k);
		updater_identity(k->u)->mode = DEVICE_MODE_UNKNOWN;
		if (kser_deployer_done(k))
			return;
		if (k->is_usb) {
			kser_confirm_start(k, now);
			return;
		}
		updater_set_summary(k->u, "%s (UART: the application cannot be confirmed)",
				    updater_get_summary(k->u));
	}
	kser_step_done(k, err);
}

bool kser_deployer_done(struct kser *k)
{
	const struct image_info *img = updater_get_config(k->u)->image_info;
	char text[160];

	if ((!k->flashed && !k->verified) || !iface_switch_is_deployer(img))
		return false;
	/* katapult.md §4: the deployer rewrites the bootloader and stays in Katapult, on the
	 * interface it embeds: the application does not come back, so nothing is awaited. */
	iface_switch_summary(img, updater_identity(k->u), updater_get_summary(k->u), text,
			     sizeof(text));
	updater_set_summary(k->u, "%s", text);
	k->phase = KSER_IDLE;
	kser_step_done(k, CF_OK);
	return true;
}

static int begin(struct updater *u, enum updater_step step)
{
	struct kser *k = kser_of(u);

	k->step = step;
	k->running = true;
	return CF_OK;
}

/* A step that could not start: the core reports err itself (no step_done). */
static int not_started(struct kser *k, int err)
{
	k->running = false;
	cf_failure_set_device(updater_failure(k->u), "%s", k->device);
	return err;
}

static int op_identify(struct updater *u)
{
	struct kser *k = kser_of(u);
	int err;

	begin(u, UPDATER_IDENTIFY);
	snprintf(k->device, sizeof(k->device), "serial %s", updater_identity(u)->tty);
	err = kser_enter(k);
	return err < 0 ? not_started(k, err) : CF_OK;
}

static int start_engine_step(struct updater *u, enum updater_step step, enum katapult_engine_op op)
{
	struct kser *k = kser_of(u);
	int err;

	begin(u, step);
	err = kser_engine_start(k, op);
	return err < 0 ? not_started(k, err) : CF_OK;
}

static int op_check_image(struct updater *u)
{
	if (!updater_get_config(u)->image_info) {
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	/* The engine owns the refusal rules: a dry-run session connects and checks. */
	return start_engine_step(u, UPDATER_CHECK_IMAGE, KATAPULT_ENGINE_FLASH);
}

static int op_write(struct updater *u)
{
	if (updater_get_config(u)->opts.dry_run) {
		updater_set_summary(u, "dry run: checks passed, nothing written");
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	return start_engine_step(u, UPDATER_WRITE, KATAPULT_ENGINE_FLASH);
}

static int op_verify(struct updater *u)
{
	struct kser *k = kser_of(u);

	/* The flash session already read back and compared every block. */
	if (k->flashed || updater_get_config(u)->opts.dry_run) {
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	return start_engine_step(u, UPDATER_VERIFY, KATAPULT_ENGINE_VERIFY_ONLY);
}

static int op_finish(struct updater *u)
{
	struct kser *k = kser_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	char keep[200];

	snprintf(keep, sizeof(keep), "%s", updater_get_summary(u));
	if (updater_identity(u)->mode == DEVICE_MODE_APPLICATION) {
		updater_step_done(u, CF_OK); /* identify found it running: nothing to leave */
		return CF_OK;
	}
	if (cfg->opts.no_reboot || cfg->opts.dry_run) {
		updater_set_summary(u, "%s%sleft in Katapult", keep, keep[0] ? ", " : "");
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	/* After a deployer the application does not come back (kser_deployer_done). */
	if ((!k->flashed && !k->verified) || !iface_switch_is_deployer(cfg->image_info))
		updater_set_summary(u, "%s%sapplication running", keep, keep[0] ? ", " : "");
	return start_engine_step(u, UPDATER_FINISH, KATAPULT_ENGINE_REBOOT);
}

static void op_cancel(struct updater *u)
{
	struct kser *k = kser_of(u);
	const uint64_t now = cf_now_us();
	struct cf_failure *why = updater_failure(u);

	k->cancelled = true;
	if (!k->running)
		return;
	if (k->engine) {
		katapult_engine_cancel(k->engine, now);
		/* Back-off and idle states end at once; a command in flight ends with its reply. */
		if (katapult_engine_state(k->engine) == KATAPULT_ENGINE_DONE)
			kser_engine_done(k, katapult_engine_result(k->engine), now);
		return;
	}
	kser_poll_stop(k);
	cf_failure_set(why, CF_ERR_INTERRUPTED, updater_step_name(k->step),
		       "stopped while waiting for the probe to re-enumerate");
	cf_failure_set_hint(why, "it may be in Katapult now; rerun the same command with "
				 "--serial auto");
	kser_step_done(k, CF_ERR_INTERRUPTED);
}

static void op_release(struct updater *u)
{
	struct kser *k = kser_of(u);

	kser_poll_stop(k);
	kser_engine_stop(k);
	kser_channel_close(k);
}

const struct updater_ops katapult_serial_ops = {
    .name = "katapult",
    .priv_size = sizeof(struct kser),
    .identify = op_identify,
    .check_image = op_check_image,
    .write = op_write,
    .verify = op_verify,
    .finish = op_finish,
    .cancel = op_cancel,
    .release = op_release,
};
