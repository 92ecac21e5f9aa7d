// SPDX-License-Identifier: GPL-3.0-or-later
// Re-finding a probe by port path and serial after it re-enumerated, one look at a time.
#include "follow/follow_usb.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "protocol/err.h"

void follow_usb_init(struct follow_usb *f, const struct sysfs_usb *now)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s", now->dir);
	snprintf(f->serial, sizeof(f->serial), "%s", now->serial);
	f->vid = now->vid;
	f->pid = now->pid;
}

static bool wanted(enum device_mode mode, enum device_mode want)
{
	if (want == DEVICE_MODE_UNKNOWN)
		return mode == DEVICE_MODE_KATAPULT || mode == DEVICE_MODE_APPLICATION;
	return mode == want;
}

int follow_usb_look(const struct follow_usb *f, enum device_mode want, struct sysfs_usb *out)
{
	enum device_mode mode;

	if (sysfs_usb_read(f->dir, out) < 0)
		return 0; /* unplugged from the host's view: still re-enumerating */
	mode = sysfs_kind_mode(sysfs_usb_kind(out));
	if (out->vid == f->vid && out->pid == f->pid && !wanted(mode, want))
		return 0; /* the request has not taken effect yet */
	/* The ROM DFU serial is not the chip UID (katapult.md §3.1): the port says it is ours. */
	if (mode == DEVICE_MODE_ROM_DFU && want != DEVICE_MODE_ROM_DFU)
		return CF_ERR_PROTOCOL;
	/* Without a serial only the port says it is ours: a device that is no probe is not. */
	if (!f->serial[0] && mode == DEVICE_MODE_UNKNOWN)
		return 0;
	/* Strings arrive with the ids on a real bus; in a tree being rewritten they may lag. */
	if (!out->serial[0])
		return 0;
	/* katapult.md §3.5: match by port and serial, never "the first katapult entry". The
	 * serial is hex; flashtool lower-cases it, so compare without case. */
	if (f->serial[0] && strcasecmp(out->serial, f->serial))
		return CF_ERR_NO_DEVICE;
	if (!wanted(mode, want))
		return CF_ERR_PROTOCOL;
	return out->tty[0] || f->device_only ? 1 : 0;
}
