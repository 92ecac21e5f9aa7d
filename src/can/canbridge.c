// SPDX-License-Identifier: GPL-3.0-or-later
// Detect a Klipper USB-to-CAN bridge behind a CAN netdev, and pick the figure for the bus bitrate.
#include "can/canbridge.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/err.h"

int canbridge_detect(const char *root, const char *iface, struct canbridge_info *out)
{
	char link[PATH_MAX], dir[PATH_MAX];
	const char *name = iface;

	memset(out, 0, sizeof(*out));
	if (!strncmp(iface, "sim:", 4)) {
		const char *slash = strrchr(iface + 4, '/');

		name = slash ? slash + 1 : iface + 4;
	}
	snprintf(link, sizeof(link), "%s/class/net/%s", root, name);
	if (!realpath(link, dir))
		return CF_OK;
	/* .../<port>/<port>:1.0/net/can0: walk up to the USB device (the first with idVendor) */
	for (int up = 0; up < 4; up++) {
		char *slash = strrchr(dir, '/');
		char probe[PATH_MAX + 16];

		if (!slash || slash == dir)
			return CF_OK;
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/idVendor", dir);
		if (access(probe, F_OK) == 0)
			break;
	}
	if (sysfs_usb_read(dir, &out->usb) < 0)
		return CF_OK;
	out->on_usb = true;
	out->klipper_bridge = out->usb.vid == SYSFS_VID_OPENMOKO &&
			      out->usb.pid == SYSFS_PID_CAN_BRIDGE &&
			      !strcmp(out->usb.manufacturer, "Klipper");
	return CF_OK;
}

void canbridge_bus_bitrate(const char *iface, const struct canbridge_info *bridge,
			   uint32_t iface_bitrate, const struct canbridge_witness *w, size_t n,
			   struct canbridge_bitrate *out)
{
	memset(out, 0, sizeof(*out));
	if (!bridge || !bridge->klipper_bridge) {
		out->bitrate = iface_bitrate;
		if (iface_bitrate)
			snprintf(out->source, sizeof(out->source), "interface %s", iface);
		else
			snprintf(out->source, sizeof(out->source),
				 "unknown: interface %s does not report a bitrate", iface);
		return;
	}
	size_t first = 0;

	for (size_t i = 0; i < n; i++) {
		if (!w[i].bitrate)
			continue;
		if (!out->bitrate) {
			first = i;
			out->bitrate = w[i].bitrate;
			snprintf(out->source, sizeof(out->source), "%.96s on Klipper bridge %.60s",
				 w[i].who, iface);
		} else if (w[i].bitrate != out->bitrate) {
			out->conflict = true;
			snprintf(out->source, sizeof(out->source),
				 "unknown: on Klipper bridge %.40s the nodes disagree (%.60s: %u, "
				 "%.60s: %u)",
				 iface, w[first].who, (unsigned)out->bitrate, w[i].who,
				 (unsigned)w[i].bitrate);
			out->bitrate = 0;
			return;
		}
	}
	if (!out->bitrate)
		snprintf(out->source, sizeof(out->source),
			 "unknown: %.40s is a Klipper USB-to-CAN bridge (1d50:606f), whose host bitrate "
			 "(%u) does not describe the bus, and no node on it told its own",
			 iface, (unsigned)iface_bitrate);
}
