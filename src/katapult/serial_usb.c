// SPDX-License-Identifier: GPL-3.0-or-later
// Reaching Katapult behind a tty: classify by sysfs, 1200-baud touch or UART request, follow.
#include "katapult/serial.h"
#include "katapult/serial_priv.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failure.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/klipper.h"
#include "usb/inuse.h"
#include "usb/touch.h"

#define container(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define AUTO_MAX		     32

/* The identity record (design.md) from what sysfs shows for the port. */
static void identity_from_usb(struct kser *k)
{
	struct device_identity *id = updater_identity(k->u);
	uint8_t uuid[CANBUS_UUID_LEN];

	/* katapult.md §3.1: the ROM DFU serial is not the chip UID; keep what we knew. */
	if (sysfs_usb_kind(&k->usb) != SYSFS_KIND_ROM_DFU) {
		snprintf(id->uid_hex, sizeof(id->uid_hex), "%.24s", k->usb.serial);
		if (canbus_uuid_from_serial(k->usb.serial, uuid) == CF_OK)
			canbus_uuid_format(uuid, id->can_uuid);
	}
	snprintf(id->usb_path, sizeof(id->usb_path), "%.31s", k->usb.port);
	if (k->usb.tty[0])
		snprintf(id->tty, sizeof(id->tty), "%.63s", k->usb.tty);
	id->mode = sysfs_kind_mode(sysfs_usb_kind(&k->usb));
	kser_set_device_label(k);
}

static int refuse(struct kser *k, int code, const char *detail, const char *hint)
{
	struct cf_failure *why = updater_failure(k->u);

	cf_failure_set(why, code, "identify", "%s", detail);
	cf_failure_set_hint(why, "%s", hint);
	return code;
}

/* The probe-like devices on USB, named for a message; the last one in *pick. */
static size_t candidates(const struct sysfs_usb *list, size_t count, char *names, size_t cap,
			 size_t *pick)
{
	size_t i, found = 0;

	names[0] = '\0';
	for (i = 0; i < count; i++) {
		const enum sysfs_kind kind = sysfs_usb_kind(&list[i]);
		const size_t n = strlen(names);

		if (kind != SYSFS_KIND_CARTOGRAPHER && kind != SYSFS_KIND_KATAPULT &&
		    kind != SYSFS_KIND_ROM_DFU)
			continue;
		snprintf(names + n, cap - n, "%s%s (%s)", found ? ", " : "",
			 list[i].tty[0] ? list[i].tty : list[i].port, sysfs_kind_name(kind));
		*pick = i;
		found++;
	}
	return found;
}

/* `--serial auto`: the one Cartographer, Katapult or ROM DFU device on USB. */
static int resolve_auto(struct kser *k)
{
	struct sysfs_usb *list = calloc(AUTO_MAX, sizeof(*list));
	char names[256], detail[320];
	size_t count = 0, found, pick = 0;

	if (!list)
		return refuse(k, CF_ERR_NOMEM, "out of memory", "retry");
	if (sysfs_usb_list(sysfs_root(), list, AUTO_MAX, &count) < 0)
		count = 0;
	found = candidates(list, count, names, sizeof(names), &pick);
	if (found == 1) {
		k->usb = list[pick];
		snprintf(k->tty, sizeof(k->tty), "%s", k->usb.tty);
	}
	free(list);
	if (found == 0)
		return refuse(k, CF_ERR_NO_DEVICE, "no Cartographer or Katapult USB device found",
			      "plug the probe in; `cartoflash scan --usb` lists what is there");
	if (found > 1) {
		snprintf(detail, sizeof(detail), "--serial auto needs exactly one probe, found %s",
			 names);
		return refuse(k, CF_ERR_USAGE, detail,
			      "name one: --serial /dev/ttyACMx (see `cartoflash scan --usb`)");
	}
	return CF_OK;
}

/* "PATH" or "PATH@BAUD" (UART rate) from the target. */
static void parse_target(struct kser *k)
{
	const char *spec = updater_identity(k->u)->tty;
	const char *at = strrchr(spec, '@');
	unsigned baud = 0;

	snprintf(k->tty, sizeof(k->tty), "%s", spec);
	if (at && sscanf(at + 1, "%u", &baud) == 1) {
		k->tty[at - spec] = '\0';
		k->baud = baud;
	}
}

static void poll_fire(struct loop_timer *t, uint64_t now);

static int start_waiting(struct kser *k, enum kser_phase phase, uint64_t wait_us)
{
	const uint64_t now = cf_now_us();

	k->phase = phase;
	k->phase_start_us = now;
	k->deadline_us = now + wait_us;
	k->poll_timer.fire = poll_fire;
	loop_arm(k->loop, &k->poll_timer,
		 phase == KSER_SETTLE ? k->deadline_us : now + KATAPULT_SERIAL_POLL_US);
	return CF_OK;
}

static int enter_from_application(struct kser *k)
{
	const struct updater_config *cfg = updater_get_config(k->u);
	struct cf_failure *why = updater_failure(k->u);
	int err;

	/* Klipper holds its MCU's tty: touching it under Klipper's feet would only make Klipper
	 * reconnect to the probe as it re-enumerates (katapult.md §3.2). */
	err = inuse_check(k->tty, "identify", why);
	if (err < 0)
		return err;
	cf_log(CF_LOG_INFO, k->device, NULL, "USB device running %s on %s: requesting Katapult",
	       sysfs_kind_name(sysfs_usb_kind(&k->usb)), k->tty);
	follow_init(&k->follow, &k->usb);
	err = touch_request_usb(k->tty, why);
	if (err < 0)
		return err;
	return start_waiting(k, KSER_WAIT_KATAPULT,
			     cfg->opts.timeout_us ? cfg->opts.timeout_us
						  : KATAPULT_SERIAL_ENTER_US);
}

static int enter_usb(struct kser *k)
{
	char found[200];

	k->is_usb = true;
	identity_from_usb(k);
	switch (sysfs_usb_kind(&k->usb)) {
	case SYSFS_KIND_CARTOGRAPHER:
	case SYSFS_KIND_KLIPPER:
		/* info and reboot expect Katapult and leave a running probe alone, as on CAN. */
		if (updater_get_config(k->u)->target.mode == DEVICE_MODE_KATAPULT) {
			updater_set_summary(k->u,
					    "running its application (%s), not Katapult; "
					    "left alone",
					    sysfs_kind_name(sysfs_usb_kind(&k->usb)));
			kser_step_done(k, CF_OK);
			return CF_OK;
		}
		return enter_from_application(k);
	case SYSFS_KIND_KATAPULT:
		if (!k->usb.tty[0])
			snprintf(k->usb.tty, sizeof(k->usb.tty), "%s", k->tty);
		return kser_engine_start(k, KATAPULT_ENGINE_INFO_ONLY);
	case SYSFS_KIND_ROM_DFU:
		snprintf(found, sizeof(found),
			 "the probe on USB port %s is in ROM DFU mode "
			 "(0483:df11), not Katapult",
			 k->usb.port);
		cf_failure_set(updater_failure(k->u), CF_ERR_NOT_SUPPORTED, "identify", "%s",
			       found);
		cf_failure_set_hint(
		    updater_failure(k->u),
		    "recover it: cartoflash recover --path %s --full FULL_IMAGE.bin", k->usb.port);
		return CF_ERR_NOT_SUPPORTED;
	case SYSFS_KIND_CAN_BRIDGE:
	case SYSFS_KIND_OTHER:
		break;
	}
	snprintf(found, sizeof(found), "%04x:%04x \"%.40s\" \"%.40s\" serial %.40s", k->usb.vid,
		 k->usb.pid, k->usb.manufacturer, k->usb.product,
		 k->usb.serial[0] ? k->usb.serial : "none");
	cf_failure_set(updater_failure(k->u), CF_ERR_NO_DEVICE, "identify",
		       "%s is not a Cartographer, Klipper or Katapult device: found %s", k->tty,
		       found);
	cf_failure_set_hint(updater_failure(k->u),
			    "`cartoflash scan --usb` lists the probes; for a plain UART pass its "
			    "bootloader baud rate with --baud");
	return CF_ERR_NO_DEVICE;
}

static int enter_uart(struct kser *k)
{
	const struct device_identity *id = updater_identity(k->u);
	int err;

	k->is_usb = false;
	kser_set_device_label(k);
	/* katapult.md §3.2 step 6, §3.6: no automatic request on a UART; only when asked. */
	if (id->mode != DEVICE_MODE_APPLICATION)
		return kser_engine_start(k, KATAPULT_ENGINE_INFO_ONLY);
	err = inuse_check(k->tty, "identify", updater_failure(k->u));
	if (err < 0)
		return err;
	err = touch_request_uart(k->tty, k->baud ? k->baud : 250000u,
				 klipper_serial_bootloader_request,
				 KLIPPER_SERIAL_BOOTLOADER_REQUEST_LEN, updater_failure(k->u));
	if (err < 0)
		return err;
	return start_waiting(k, KSER_SETTLE, KATAPULT_SERIAL_UART_SETTLE_US);
}

/* A tty that is not there: a probe that fell into its ROM DFU bootloader has none. */
static const char *missing_tty_hint(char *buf, size_t cap)
{
	struct sysfs_usb *list = calloc(AUTO_MAX, sizeof(*list));
	size_t count = 0, i;

	snprintf(buf, cap, "check the cable; `cartoflash scan --usb` lists the probes");
	if (list && sysfs_usb_list(sysfs_root(), list, AUTO_MAX, &count) == CF_OK) {
		for (i = 0; i < count; i++) {
			if (sysfs_usb_kind(&list[i]) != SYSFS_KIND_ROM_DFU)
				continue;
			snprintf(buf, cap,
				 "a probe in ROM DFU mode is on USB port %.31s: recover it "
				 "with cartoflash recover --path %.31s --full FULL_IMAGE.bin",
				 list[i].port, list[i].port);
			break;
		}
	}
	free(list);
	return buf;
}

int kser_enter(struct kser *k)
{
	const char *root = sysfs_root();
	char detail[200], hint[200];
	int err;

	parse_target(k);
	if (!strcmp(k->tty, "auto")) {
		err = resolve_auto(k);
		if (err < 0)
			return err;
		return enter_usb(k);
	}
	err = sysfs_usb_from_tty(root, k->tty, &k->usb);
	switch (err) {
	case CF_OK:
		return enter_usb(k);
	case CF_ERR_NOT_SUPPORTED:
		return enter_uart(k);
	case CF_ERR_ACCESS:
		snprintf(detail, sizeof(detail), "no permission to look at %s", k->tty);
		return refuse(k, err, detail,
			      "run as a member of the 'dialout' group or install "
			      "tools/udev/70-cartoflash.rules");
	default:
		snprintf(detail, sizeof(detail), "no serial device at %s", k->tty);
		return refuse(k, CF_ERR_NO_DEVICE, detail, missing_tty_hint(hint, sizeof(hint)));
	}
}

/* ---- the wait after the touch, and after COMPLETE ---- */

static void wait_katapult(struct kser *k, uint64_t now)
{
	struct cf_failure *why = updater_failure(k->u);
	struct sysfs_usb seen;
	const int rc = follow_poll(&k->follow, DEVICE_MODE_KATAPULT, &seen);
	int err;

	/* The kernel shows the tty in sysfs before udev has made its node and set its group:
	 * give udev until the deadline, then let the open say what is wrong. */
	if (rc == 1 && access(seen.tty, R_OK | W_OK) != 0 && now < k->deadline_us) {
		loop_arm(k->loop, &k->poll_timer, now + KATAPULT_SERIAL_POLL_US);
		return;
	}
	if (rc == 1) {
		cf_log(CF_LOG_INFO, k->device, NULL, "Katapult on %s after %.0f ms", seen.tty,
		       (double)(now - k->phase_start_us) / 1000.0);
		k->usb = seen;
		snprintf(k->tty, sizeof(k->tty), "%s", seen.tty);
		identity_from_usb(k);
		k->phase = KSER_IDLE;
		err = kser_engine_start(k, KATAPULT_ENGINE_INFO_ONLY);
		if (err < 0)
			kser_step_done(k, err);
		return;
	}
	if (rc == CF_ERR_PROTOCOL && sysfs_usb_kind(&seen) == SYSFS_KIND_ROM_DFU) {
		k->usb = seen;
		cf_failure_set(why, CF_ERR_NOT_SUPPORTED, "identify",
			       "the probe on USB port %s came "
			       "back in ROM DFU mode (0483:df11): it has no Katapult",
			       seen.port);
		cf_failure_set_hint(why,
				    "recover it: cartoflash recover --path %s --full "
				    "FULL_IMAGE.bin",
				    seen.port);
		kser_step_done(k, CF_ERR_NOT_SUPPORTED);
		return;
	}
	if (rc < 0) {
		cf_failure_set(why, rc, "identify",
			       "USB port %s now holds %04x:%04x serial %s, "
			       "not the probe %s",
			       seen.port, seen.vid, seen.pid, seen.serial, k->follow.serial);
		cf_failure_set_hint(why,
				    "another device took the port; run `cartoflash scan --usb`");
		kser_step_done(k, rc);
		return;
	}
	if (now < k->deadline_us) {
		loop_arm(k->loop, &k->poll_timer, now + KATAPULT_SERIAL_POLL_US);
		return;
	}
	cf_failure_set(why, CF_ERR_TIMEOUT, "identify",
		       "no Katapult appeared on USB port %s within "
		       "%.1f s of the 1200-baud request",
		       k->usb.port, (double)(k->deadline_us - k->phase_start_us) / 1e6);
	cf_failure_set_hint(why, "the application may not support the request, or has no Katapult "
				 "behind it; power-cycle the probe, or recover it with `cartoflash "
				 "recover`");
	kser_step_done(k, CF_ERR_TIMEOUT);
}

static void wait_application(struct kser *k, uint64_t now)
{
	struct cf_failure *why = updater_failure(k->u);
	struct sysfs_usb seen;
	const int rc = follow_poll(&k->follow, DEVICE_MODE_APPLICATION, &seen);

	if (rc == 1) {
		cf_log(CF_LOG_INFO, k->device, NULL, "application on %s %.0f ms after COMPLETE",
		       seen.tty, (double)(now - k->phase_start_us) / 1000.0);
		k->usb = seen;
		identity_from_usb(k);
		k->phase = KSER_IDLE;
		kser_step_done(k, CF_OK);
		return;
	}
	if (rc == 0 && now < k->deadline_us) {
		loop_arm(k->loop, &k->poll_timer, now + KATAPULT_SERIAL_POLL_US);
		return;
	}
	if (rc == 0 && sysfs_usb_read(k->follow.dir, &seen) == CF_OK &&
	    sysfs_usb_kind(&seen) == SYSFS_KIND_KATAPULT)
		cf_failure_set(why, CF_ERR_PROTOCOL, "finish",
			       "COMPLETE acknowledged, but the probe "
			       "on USB port %s stayed in Katapult",
			       seen.port);
	else if (rc == 0)
		cf_failure_set(why, CF_ERR_TIMEOUT, "finish",
			       "COMPLETE acknowledged, but the "
			       "application did not appear on USB port %s within %.1f s",
			       k->usb.port, (double)(k->deadline_us - k->phase_start_us) / 1e6);
	else
		cf_failure_set(why, CF_ERR_PROTOCOL, "finish",
			       "after COMPLETE USB port %s shows "
			       "%04x:%04x \"%s\" serial %s, not the probe's application",
			       seen.port, seen.vid, seen.pid, seen.manufacturer, seen.serial);
	cf_failure_set_hint(why, "the application does not start; flash a known-good image, or "
				 "power-cycle the probe");
	kser_step_done(k, why->code);
}

static void poll_fire(struct loop_timer *t, uint64_t now)
{
	struct kser *k = container(t, struct kser, poll_timer);
	int err;

	switch (k->phase) {
	case KSER_WAIT_KATAPULT:
		wait_katapult(k, now);
		return;
	case KSER_CONFIRM:
		wait_application(k, now);
		return;
	case KSER_SETTLE:
		k->phase = KSER_IDLE;
		err = kser_engine_start(k, KATAPULT_ENGINE_INFO_ONLY);
		if (err < 0)
			kser_step_done(k, err);
		return;
	case KSER_IDLE:
	case KSER_ENGINE:
		return;
	}
}

void kser_confirm_start(struct kser *k, uint64_t now)
{
	(void)now;
	if (kser_deployer_done(k))
		return;
	follow_init(&k->follow, &k->usb);
	start_waiting(k, KSER_CONFIRM, KATAPULT_SERIAL_CONFIRM_US);
}

void kser_poll_stop(struct kser *k)
{
	if (k->loop)
		loop_disarm(k->loop, &k->poll_timer);
	if (k->phase != KSER_ENGINE)
		k->phase = KSER_IDLE;
}
