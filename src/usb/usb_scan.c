// SPDX-License-Identifier: GPL-3.0-or-later
// The USB half of scan: sysfs identities of the probes, printed as a table or JSON lines.
#include "usb/usb_scan.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "identity.h"
#include "protocol/err.h"
#include "usb/byid.h"
#include "usb/sysfs.h"
#include "jsonout.h"

#define USB_SCAN_MAX 64

static bool listed(enum sysfs_kind kind)
{
	switch (kind) {
	case SYSFS_KIND_CARTOGRAPHER:
	case SYSFS_KIND_KLIPPER:
	case SYSFS_KIND_KATAPULT:
	case SYSFS_KIND_ROM_DFU:
	case SYSFS_KIND_CAN_BRIDGE:
		return true;
	case SYSFS_KIND_OTHER:
		return false;
	}
	return false;
}

/* katapult.md §3.1: the serial is the chip UID, so the CAN UUID follows from it; the ROM DFU
 * serial is not the UID (and a bridge's UUID is its own), so those get none. */
static void uuid_of(const struct sysfs_usb *u, enum sysfs_kind kind, char out[13])
{
	struct device_identity id;

	identity_init(&id, IDENTITY_LINK_TTY);
	if (kind != SYSFS_KIND_ROM_DFU)
		identity_set_uid(&id, u->serial);
	memcpy(out, id.can_uuid, sizeof(id.can_uuid));
}

static void print_json(const struct sysfs_usb *u, enum sysfs_kind kind, const char *uuid,
		       const char *by_id)
{
	char id[10];
	json_t *o;

	snprintf(id, sizeof(id), "%04x:%04x", u->vid, u->pid);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "event", "usb_device",
		      "port", u->port, "usb_id", id, "kind", sysfs_kind_name(kind), "mode",
		      device_mode_name(sysfs_kind_mode(kind)), "manufacturer", u->manufacturer, "product",
		      u->product, "serial", u->serial, "tty", u->tty);
	if (!o)
		return;
	json_object_set_new(o, "can_uuid", uuid[0] ? json_string(uuid) : json_null());
	json_object_set_new(o, "by_id", by_id[0] ? json_string(by_id) : json_null());
	jsonout_emit(o);
}

static void print_row(const struct sysfs_usb *u, enum sysfs_kind kind, const char *uuid,
		      const char *by_id)
{
	printf("%-8s  %04x:%04x  %-12s  %-11s  %-24s  %-12s  %s\n", u->port, u->vid, u->pid,
	       sysfs_kind_name(kind), device_mode_name(sysfs_kind_mode(kind)),
	       u->serial[0] ? u->serial : "-", uuid[0] ? uuid : "-", u->tty[0] ? u->tty : "-");
	/* the name to paste into printer.cfg, as udev made it (src/usb/byid.h) */
	if (by_id[0])
		printf("          by-id %s\n", by_id);
}

int usb_scan_run(const char *sysfs_root, bool json)
{
	static struct sysfs_usb list[USB_SCAN_MAX];
	struct cf_failure f;
	size_t count, i, shown = 0;

	if (sysfs_usb_list(sysfs_root, list, USB_SCAN_MAX, &count) < 0) {
		cf_failure_clear(&f);
		cf_failure_set(&f, CF_ERR_NO_DEVICE, "scan", "no USB bus under %s/bus/usb",
			       sysfs_root);
		cf_failure_set_hint(&f, "is sysfs mounted? (mount -t sysfs sysfs /sys)");
		cf_failure_print(&f);
		return cf_err_exit_code(CF_ERR_NO_DEVICE);
	}
	if (!json)
		printf("%-8s  %-9s  %-12s  %-11s  %-24s  %-12s  %s\n", "PORT", "USB ID", "KIND",
		       "MODE", "SERIAL", "CAN UUID", "TTY");
	for (i = 0; i < count; i++) {
		const enum sysfs_kind kind = sysfs_usb_kind(&list[i]);
		char uuid[13], by_id[256] = "";

		if (!listed(kind))
			continue;
		uuid_of(&list[i], kind, uuid);
		if (list[i].tty[0])
			(void)byid_find(list[i].tty, by_id, sizeof(by_id));
		if (json)
			print_json(&list[i], kind, uuid, by_id);
		else
			print_row(&list[i], kind, uuid, by_id);
		shown++;
	}
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:i}", "event", "summary", "bus", "usb",
				      "devices", (int)shown);

		jsonout_emit(o);
	} else {
		printf("%zu USB device%s found\n", shown, shown == 1 ? "" : "s");
	}
	return 0;
}
