/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `cartoflash scan --usb`: every probe-like USB device with its identity, from sysfs. */
#ifndef CARTOFLASH_SRC_USB_USB_SCAN_H
#define CARTOFLASH_SRC_USB_USB_SCAN_H

#include <stdbool.h>

/*
 * List every Cartographer, Klipper (and Klipper USB-CAN bridge), Katapult and ROM DFU device
 * under sysfs_root (normally "/sys"; sysfs_root() honours the test-only CARTOFLASH_SYSFS_ROOT)
 * with its mode, serial, the CAN UUID computed from that serial (katapult.md §2.3, §3.1), USB
 * port path and tty. Human table on stdout, or with json one object per device
 * ({"event":"usb_device",...}) then {"event":"summary",...}. Reads sysfs only: nothing is
 * opened or sent. Returns the process exit code: 0, or 69 when the root has no USB bus.
 */
int usb_scan_run(const char *sysfs_root, bool json);

#endif
