// SPDX-License-Identifier: GPL-3.0-or-later
// After leave: confirm the ROM left the port, then find Katapult or the application there.
#include "dfu/dfu_follow.h"

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dfu/dfu_usb.h"
#include "failure.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "updater.h"
#include "usb/sysfs.h"

#define POLL_US		    100000
#define DEFAULT_DEADLINE_US 5000000

/*
 * USB devices from sysfs as they are at this moment (not libusb's hotplug-maintained list).
 * opendir/readdir rather than sysfs_usb_list's scandir: glibc's scandir opens the directory
 * internally, out of reach of LD_PRELOAD emulators (umockdev), so tests could not see it.
 */
static size_t list_usb(struct sysfs_usb *out, size_t max)
{
	char dir[512];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/bus/usb/devices", sysfs_root());
	d = opendir(dir);
	if (!d)
		return 0;
	while (n < max && (e = readdir(d))) {
		char path[768];

		/* "1-1:1.0" is an interface, "usb1" a root hub. */
		if (e->d_name[0] == '.' || strchr(e->d_name, ':') || !strncmp(e->d_name, "usb", 3))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (sysfs_usb_read(path, &out[n]) == CF_OK)
			n++;
	}
	closedir(d);
	return n;
}

static bool rom_attached(const char *path)
{
	struct sysfs_usb list[32];
	const size_t n = list_usb(list, 32);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].port, path) && sysfs_usb_kind(&list[i]) == SYSFS_KIND_ROM_DFU)
			return true;
	return false;
}

static bool found_probe(struct dfu_follow *f, const char *path)
{
	char text[320];
	struct sysfs_usb list[32];
	const size_t n = list_usb(list, 32);

	for (size_t i = 0; i < n; i++) {
		const enum sysfs_kind kind = sysfs_usb_kind(&list[i]);
		struct device_identity *id = updater_identity(f->u);
		uint8_t uuid[CANBUS_UUID_LEN];
		char hex[2 * CANBUS_UUID_LEN + 1] = "";

		if (strcmp(list[i].port, path) ||
		    (kind != SYSFS_KIND_KATAPULT && kind != SYSFS_KIND_CARTOGRAPHER &&
		     kind != SYSFS_KIND_KLIPPER))
			continue;
		id->mode = sysfs_kind_mode(kind);
		snprintf(id->uid_hex, sizeof(id->uid_hex), "%s", list[i].serial);
		snprintf(id->tty, sizeof(id->tty), "%s", list[i].tty);
		/* The CAN UUID goes into the summary only: a can_uuid in the identity would label
		 * this USB device as a CAN node in the report. */
		if (!canbus_uuid_from_serial(list[i].serial, uuid))
			canbus_uuid_format(uuid, hex);
		snprintf(text, sizeof(text), "back as %s on usb %s, serial %s, CAN UUID %s",
			 kind == SYSFS_KIND_KATAPULT ? "Katapult" : "the application", path,
			 list[i].serial, hex[0] ? hex : "?");
		cf_log(CF_LOG_INFO, path, "dfu", "back as %s (%04x:%04x)",
		       kind == SYSFS_KIND_KATAPULT ? "Katapult" : "the application", list[i].vid,
		       list[i].pid);
		dfu_follow_append_summary(f->u, text);
		return true;
	}
	return false;
}

static void tick(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_follow *f =
	    (struct dfu_follow *)((char *)t - offsetof(struct dfu_follow, timer));
	const char *path = updater_identity(f->u)->usb_path;

	if (!f->rom_gone)
		f->rom_gone = !rom_attached(path);
	if (f->rom_gone && found_probe(f, path)) {
		f->active = false;
		updater_step_done(f->u, CF_OK);
		return;
	}
	if (now_us >= f->deadline_us) {
		f->active = false;
		dfu_follow_give_up(f);
		updater_step_done(f->u, CF_OK);
		return;
	}
	loop_arm(f->loop, &f->timer, now_us + POLL_US);
}

void dfu_follow_init(struct dfu_follow *f, struct updater *u, struct dfu_usb *usb,
		     struct loop *loop)
{
	memset(f, 0, sizeof(*f));
	f->u = u;
	f->usb = usb;
	f->loop = loop;
	f->timer.fire = tick;
}

void dfu_follow_start(struct dfu_follow *f, bool left_confirmed)
{
	const uint64_t timeout = updater_get_config(f->u)->opts.timeout_us;
	const uint64_t now = cf_now_us();

	f->confirmed = left_confirmed;
	f->active = true;
	f->deadline_us = now + (timeout ? timeout : DEFAULT_DEADLINE_US);
	updater_identity(f->u)->mode = DEVICE_MODE_UNKNOWN;
	if (f->mux) {
		dfu_follow_can_start(f);
		return;
	}
	loop_arm(f->loop, &f->timer, now);
}

void dfu_follow_cancel(struct dfu_follow *f)
{
	if (!f->active)
		return;
	f->active = false;
	loop_disarm(f->loop, &f->timer);
	dfu_follow_can_fini(f);
	cf_failure_set(updater_failure(f->u), CF_ERR_INTERRUPTED, "follow",
		       "stopped while waiting for the probe to come back");
	cf_failure_set_hint(updater_failure(f->u), "the probe was written and verified: look "
						   "for it with 'cartoflash scan'");
	updater_step_done(f->u, CF_ERR_INTERRUPTED);
}

void dfu_follow_fini(struct dfu_follow *f)
{
	if (f->loop)
		loop_disarm(f->loop, &f->timer);
	dfu_follow_can_fini(f);
	f->active = false;
}
