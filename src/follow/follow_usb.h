/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One look at a USB port: is the probe back, same port, same serial (katapult.md §3.5)? */
#ifndef CARTOFLASH_SRC_FOLLOW_FOLLOW_USB_H
#define CARTOFLASH_SRC_FOLLOW_FOLLOW_USB_H

#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "usb/sysfs.h"

/* What to look for; caller-owned, filled by follow_usb_init. */
struct follow_usb {
	char dir[512];	   /* the port's USB device directory: it survives re-enumeration */
	char serial[64];   /* the chip UID: the same in application and bootloader (§3.1);
			    * "" = whatever probe comes back on the port */
	uint16_t vid, pid; /* the ids before the switch */
	bool device_only;  /* set after init: back without its tty counts */
};

/* Remember the probe as it is now, before the request that makes it re-enumerate. */
void follow_usb_init(struct follow_usb *f, const struct sysfs_usb *now);

/*
 * Look once (the caller polls from a timer until its deadline; nothing here sleeps). want
 * DEVICE_MODE_UNKNOWN takes Katapult or the application, whichever shows.
 * Returns 1 when the port holds the same serial (any probe's, without one) in mode want with
 * its tty present (unless device_only) (*out filled); 0 when not yet (gone, still the old ids,
 * strings or tty not populated; without a serial: a device that is no probe); CF_ERR_PROTOCOL
 * when the probe came back in another mode than want and other than before (*out filled: e.g.
 * ROM DFU instead of Katapult); CF_ERR_NO_DEVICE when another serial now sits in the port
 * (*out filled).
 */
int follow_usb_look(const struct follow_usb *f, enum device_mode want, struct sysfs_usb *out);

#endif
