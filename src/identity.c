// SPDX-License-Identifier: GPL-3.0-or-later
// The identity record: link kind, UID -> CAN UUID once, one label builder, one mode-name table.
#include "identity.h"

#include <stdio.h>
#include <string.h>

#include "protocol/canbus.h"
#include "protocol/err.h"

void identity_init(struct device_identity *id, enum identity_link link)
{
	memset(id, 0, sizeof(*id));
	id->link = link;
	id->node_id = -1;
	id->mode = DEVICE_MODE_UNKNOWN;
}

bool identity_set_uid(struct device_identity *id, const char *serial)
{
	uint8_t uuid[CANBUS_UUID_LEN];

	if (!serial || canbus_uuid_from_serial(serial, uuid) != CF_OK)
		return false;
	snprintf(id->uid_hex, sizeof(id->uid_hex), "%.24s", serial);
	canbus_uuid_format(uuid, id->can_uuid);
	return true;
}

const char *identity_label(const struct device_identity *id, char *buf, size_t cap)
{
	/* A port without tty (ROM DFU) is named by its USB path. */
	const char *where = id->tty[0] ? id->tty : id->usb_path;

	switch (id->link) {
	case IDENTITY_LINK_CAN:
		if (id->node_id >= 0)
			snprintf(buf, cap, "probe %s (%s node %d)", id->can_uuid, id->iface,
				 id->node_id);
		else
			snprintf(buf, cap, "probe %s (%s)", id->can_uuid, id->iface);
		return buf;
	case IDENTITY_LINK_TTY:
	case IDENTITY_LINK_USB_DFU:
		if (id->can_uuid[0])
			snprintf(buf, cap, "probe %s (%.100s)", id->can_uuid, where);
		else if (id->uart)
			snprintf(buf, cap, "serial %.100s", id->tty);
		else if (id->usb_path[0] || id->link == IDENTITY_LINK_USB_DFU)
			snprintf(buf, cap, "usb %.100s", where);
		else
			snprintf(buf, cap, "serial %.100s", id->tty);
		return buf;
	case IDENTITY_LINK_NONE:
		break;
	}
	snprintf(buf, cap, "%s", id->can_uuid[0] ? id->can_uuid : "device");
	return buf;
}

const char *device_mode_name(enum device_mode mode)
{
	switch (mode) {
	case DEVICE_MODE_APPLICATION:
		return "application";
	case DEVICE_MODE_KATAPULT:
		return "katapult";
	case DEVICE_MODE_ROM_DFU:
		return "rom_dfu";
	case DEVICE_MODE_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}

const char *identity_link_name(enum identity_link link)
{
	switch (link) {
	case IDENTITY_LINK_CAN:
		return "can";
	case IDENTITY_LINK_TTY:
		return "tty";
	case IDENTITY_LINK_USB_DFU:
		return "usb_dfu";
	case IDENTITY_LINK_NONE:
		return "none";
	}
	return "none";
}
