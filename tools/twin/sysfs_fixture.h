/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test-only: mirror the twin's USB presence into a sysfs-like tree so cartoflash can follow it. */
#ifndef CARTOFLASH_TOOLS_TWIN_SYSFS_FIXTURE_H
#define CARTOFLASH_TOOLS_TWIN_SYSFS_FIXTURE_H

#include <stdbool.h>

#include "tools/twin/twin.h"

/*
 * The tree has the layout cartoflash reads under CARTOFLASH_SYSFS_ROOT (src/usb/sysfs.h):
 *   devices/pci0000:00/0000:00:14.0/usb1/1-1/<port>/{idVendor,idProduct,manufacturer,...}
 *   devices/.../<port>/<port>:1.0/tty/ttyACM<n>/{dev,uevent (DEVNAME=pts/N)}
 *   dev/char/136:N -> that tty directory (the pty the twin serves stands for /dev/ttyACM<n>)
 *   bus/usb/devices/<port>, class/tty/ttyACM<n> -> the same directories
 * Each change is written in the order a kernel makes it visible (device gone, then ids and
 * strings, then the tty last), every file through a rename, so a reader polling the tree sees
 * a port that is empty, or a device without its tty yet, or the whole device.
 */
struct sysfs_fixture {
	char root[256];
	char port[32];	       /* "1-1.3" */
	unsigned enumerations; /* ttyACM<n> numbering */
	char dev_link[320];    /* dev/char link of the current tty, to remove on the next change */
	char class_link[320];
};

/* CARTOFLASH_SYSFS_ROOT (required) and CARTOFLASH_SYSFS_PORT (default "1-1.3"). Returns false,
 * doing nothing, when the root is not set: the twin then runs without a fixture. */
bool sysfs_fixture_from_env(struct sysfs_fixture *fx);

/*
 * Present what the twin shows now: id NULL means no USB device on the port (power off, CAN
 * firmware); pts is the tty node serving the CDC-ACM interface ("/dev/pts/7"), NULL when the
 * device has none (ROM DFU). Returns 0 or -errno. Blocks on small file writes only.
 */
int sysfs_fixture_update(struct sysfs_fixture *fx, const struct twin_usb_id *id, const char *pts);

#endif
