// SPDX-License-Identifier: GPL-3.0-or-later
// Reaching Katapult behind a tty: classify by sysfs, 1200-baud touch or UART request, follow.
#include "katapult/tty_entry.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "follow/follow.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/klipper.h"
#include "usb/inuse.h"
#include "usb/touch.h"

#define AUTO_MAX 32
#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* The identity record (design.md) from what sysfs shows for the port. */
static void identity_from_usb(struct tty_entry *e)
{
	struct device_identity *id = e->id;

	/* katapult.md §3.1: the ROM DFU serial is not the chip UID; keep what we knew. */
	if (sysfs_usb_kind(&e->usb) != SYSFS_KIND_ROM_DFU)
		identity_set_uid(id, e->usb.serial);
	snprintf(id->usb_path, sizeof(id->usb_path), "%.31s", e->usb.port);
	if (e->usb.tty[0])
		snprintf(id->tty, sizeof(id->tty), "%.63s", e->usb.tty);
	id->mode = sysfs_kind_mode(sysfs_usb_kind(&e->usb));
	id->uart = false;
}

static int refuse(struct tty_entry *e, int code, const char *detail, const char *hint)
{
	cf_failure_set(e->why, code, "identify", "%s", detail);
	cf_failure_set_hint(e->why, "%s", hint);
	return code;
}

static int rom_dfu(struct tty_entry *e, const char *how)
{
	cf_failure_set(e->why, CF_ERR_NOT_SUPPORTED, "identify",
		       "the probe on USB port %s %s ROM DFU mode (0483:df11), not Katapult",
		       e->usb.port, how);
	cf_failure_set_hint(e->why, "recover it: cartoflash recover --path %s --full "
				    "FULL_IMAGE.bin",
			    e->usb.port);
	return CF_ERR_NOT_SUPPORTED;
}

/* The probe-like devices on USB, named for a message; the last one in *pick. */
static size_t candidates(const struct sysfs_usb *list, size_t count, char *names, size_t cap,
			 size_t *pick)
{
	size_t found = 0;

	names[0] = '\0';
	for (size_t i = 0; i < count; i++) {
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
static int resolve_auto(struct tty_entry *e)
{
	struct sysfs_usb *list = calloc(AUTO_MAX, sizeof(*list));
	char names[256], detail[320];
	size_t count = 0, found, pick = 0;

	if (!list)
		return refuse(e, CF_ERR_NOMEM, "out of memory", "retry");
	if (sysfs_usb_list(sysfs_root(), list, AUTO_MAX, &count) < 0)
		count = 0;
	found = candidates(list, count, names, sizeof(names), &pick);
	if (found == 1) {
		e->usb = list[pick];
		snprintf(e->tty, sizeof(e->tty), "%s", e->usb.tty);
	}
	free(list);
	if (found == 0)
		return refuse(e, CF_ERR_NO_DEVICE, "no Cartographer or Katapult USB device found",
			      "plug the probe in; `cartoflash scan --usb` lists what is there");
	if (found > 1) {
		snprintf(detail, sizeof(detail), "--serial auto needs exactly one probe, found %s",
			 names);
		return refuse(e, CF_ERR_USAGE, detail,
			      "name one: --serial /dev/ttyACMx (see `cartoflash scan --usb`)");
	}
	return CF_OK;
}

static void done(struct tty_entry *e, int err, uint64_t now)
{
	tty_entry_stop(e);
	e->on_done(e->ctx, err, now);
}

static void follow_done(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct tty_entry *e = ctx;

	if (err == CF_OK) {
		cf_log(CF_LOG_INFO, e->tty, NULL, "Katapult on %s after %.0f ms", seen->usb.tty,
		       (double)seen->after_us / 1000.0);
		e->usb = seen->usb;
		snprintf(e->tty, sizeof(e->tty), "%s", seen->usb.tty);
		identity_from_usb(e);
	} else if (err == CF_ERR_PROTOCOL && seen->mode == DEVICE_MODE_ROM_DFU) {
		e->usb = seen->usb;
		err = rom_dfu(e, "came back in");
	} else if (err == CF_ERR_TIMEOUT) {
		cf_failure_set(e->why, err, "identify",
			       "no Katapult appeared on USB port %s within %.1f s of the 1200-baud "
			       "request",
			       e->usb.port, (double)(e->deadline_us - e->start_us) / 1e6);
		cf_failure_set_hint(e->why, "the application may not support the request, or has "
					    "no Katapult behind it; power-cycle the probe, or recover "
					    "it with `cartoflash recover`");
	} else {
		cf_failure_set(e->why, err, "identify",
			       "USB port %s now holds %04x:%04x serial %s, not the probe %s",
			       seen->usb.port, seen->usb.vid, seen->usb.pid, seen->usb.serial,
			       e->usb.serial);
		cf_failure_set_hint(e->why, "another device took the port; run `cartoflash scan "
					    "--usb`");
	}
	done(e, err, now);
}

static int touch_usb(struct tty_entry *e)
{
	struct follow_target t = { .link = IDENTITY_LINK_TTY, .want = DEVICE_MODE_KATAPULT };
	int err;

	/* Klipper holds its MCU's tty: touching it under Klipper's feet would only make Klipper
	 * reconnect to the probe as it re-enumerates (katapult.md §3.2). */
	err = inuse_check(e->tty, "identify", e->why);
	if (err < 0)
		return err;
	cf_log(CF_LOG_INFO, e->tty, NULL, "USB device running %s: requesting Katapult",
	       sysfs_kind_name(sysfs_usb_kind(&e->usb)));
	t.usb = e->usb;
	t.deadline_us = e->deadline_us;
	err = touch_request_usb(e->tty, e->why);
	if (err < 0)
		return err;
	e->requested = true;
	return follow_start(e->loop, &t, NULL, follow_done, e, &e->follow, e->why);
}

static void later(struct loop_timer *tm, uint64_t now)
{
	struct tty_entry *e = container(tm, struct tty_entry, timer);

	done(e, CF_OK, now);
}

/* Reported from the loop, never from inside start (the caller is still setting up). */
static int done_soon(struct tty_entry *e, uint64_t at_us)
{
	e->timer.fire = later;
	loop_arm(e->loop, &e->timer, at_us);
	return CF_OK;
}

static int enter_usb(struct tty_entry *e)
{
	char found[200];

	e->is_usb = true;
	identity_from_usb(e);
	switch (sysfs_usb_kind(&e->usb)) {
	case SYSFS_KIND_CARTOGRAPHER:
	case SYSFS_KIND_KLIPPER:
		/* info and reboot expect Katapult and leave a running probe alone, as on CAN. */
		return e->request ? touch_usb(e) : done_soon(e, 0);
	case SYSFS_KIND_KATAPULT:
		if (!e->usb.tty[0])
			snprintf(e->usb.tty, sizeof(e->usb.tty), "%s", e->tty);
		return done_soon(e, 0);
	case SYSFS_KIND_ROM_DFU:
		return rom_dfu(e, "is in");
	case SYSFS_KIND_CAN_BRIDGE:
	case SYSFS_KIND_OTHER:
		break;
	}
	snprintf(found, sizeof(found), "%04x:%04x \"%.40s\" \"%.40s\" serial %.40s", e->usb.vid,
		 e->usb.pid, e->usb.manufacturer, e->usb.product,
		 e->usb.serial[0] ? e->usb.serial : "none");
	cf_failure_set(e->why, CF_ERR_NO_DEVICE, "identify",
		       "%s is not a Cartographer, Klipper or Katapult device: found %s", e->tty, found);
	cf_failure_set_hint(e->why, "`cartoflash scan --usb` lists the probes; for a plain UART "
				    "pass its bootloader baud rate with --baud");
	return CF_ERR_NO_DEVICE;
}

static int enter_uart(struct tty_entry *e)
{
	int err;

	e->is_usb = false;
	e->id->uart = true;
	snprintf(e->id->tty, sizeof(e->id->tty), "%.63s", e->tty);
	/* katapult.md §3.2 step 6, §3.6: no automatic request on a UART; only when asked. */
	if (!e->uart_request)
		return done_soon(e, 0);
	err = inuse_check(e->tty, "identify", e->why);
	if (err < 0)
		return err;
	err = touch_request_uart(e->tty, e->baud ? e->baud : 250000u,
				 klipper_serial_bootloader_request,
				 KLIPPER_SERIAL_BOOTLOADER_REQUEST_LEN, e->why);
	if (err < 0)
		return err;
	e->requested = true;
	return done_soon(e, cf_now_us() + TTY_ENTRY_UART_SETTLE_US);
}

/* A tty that is not there: a probe that fell into its ROM DFU bootloader has none. */
static const char *missing_tty_hint(char *buf, size_t cap)
{
	struct sysfs_usb *list = calloc(AUTO_MAX, sizeof(*list));
	size_t count = 0;

	snprintf(buf, cap, "check the cable; `cartoflash scan --usb` lists the probes");
	if (list && sysfs_usb_list(sysfs_root(), list, AUTO_MAX, &count) == CF_OK) {
		for (size_t i = 0; i < count; i++) {
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

/* "PATH" or "PATH@BAUD" (UART rate). */
static void parse_spec(struct tty_entry *e, const char *spec)
{
	const char *at = strrchr(spec, '@');
	unsigned baud = 0;

	snprintf(e->tty, sizeof(e->tty), "%s", spec);
	if (at && sscanf(at + 1, "%u", &baud) == 1) {
		e->tty[at - spec] = '\0';
		e->baud = baud;
	}
}

int tty_entry_start(struct tty_entry *e, const char *spec)
{
	char detail[200], hint[200];
	int err;

	e->start_us = cf_now_us();
	e->requested = false;
	e->follow = NULL;
	memset(&e->timer, 0, sizeof(e->timer));
	parse_spec(e, spec);
	if (!strcmp(e->tty, "auto")) {
		err = resolve_auto(e);
		return err < 0 ? err : enter_usb(e);
	}
	err = sysfs_usb_from_tty(sysfs_root(), e->tty, &e->usb);
	switch (err) {
	case CF_OK:
		return enter_usb(e);
	case CF_ERR_NOT_SUPPORTED:
		return enter_uart(e);
	case CF_ERR_ACCESS:
		snprintf(detail, sizeof(detail), "no permission to look at %s", e->tty);
		return refuse(e, err, detail,
			      "run as a member of the 'dialout' group or install "
			      "tools/udev/70-cartoflash.rules");
	default:
		snprintf(detail, sizeof(detail), "no serial device at %s", e->tty);
		return refuse(e, CF_ERR_NO_DEVICE, detail, missing_tty_hint(hint, sizeof(hint)));
	}
}

void tty_entry_stop(struct tty_entry *e)
{
	if (e->loop)
		loop_disarm(e->loop, &e->timer);
	follow_free(e->follow);
	e->follow = NULL;
}
