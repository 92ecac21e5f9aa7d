/* SPDX-License-Identifier: GPL-3.0-or-later */
/* USB identity of a tty from sysfs: VID:PID, strings, serial, port path (katapult.md §3.1-3.2). */
#ifndef CARTOFLASH_SRC_USB_SYSFS_H
#define CARTOFLASH_SRC_USB_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"

/* katapult.md §3.1 */
#define SYSFS_VID_OPENMOKO   0x1d50
#define SYSFS_PID_KLIPPER    0x614e /* Klipper and the Cartographer application */
#define SYSFS_PID_KATAPULT   0x6177
#define SYSFS_PID_CAN_BRIDGE 0x606f /* Klipper USB-CAN bridge: a netdev, not a tty */
#define SYSFS_VID_ST	     0x0483
#define SYSFS_PID_ST_ROM_DFU 0xdf11

/* What a USB device is running, from its descriptors. */
enum sysfs_kind {
	SYSFS_KIND_OTHER,
	SYSFS_KIND_CARTOGRAPHER, /* 1d50:614e, manufacturer "Cartographer": the application */
	SYSFS_KIND_KLIPPER,	 /* 1d50:614e or manufacturer "Klipper" */
	SYSFS_KIND_KATAPULT,	 /* 1d50:6177 or manufacturer "katapult" / "CanBoot" */
	SYSFS_KIND_ROM_DFU,	 /* 0483:df11 */
	SYSFS_KIND_CAN_BRIDGE,	 /* 1d50:606f */
};

struct sysfs_usb {
	char dir[512];	   /* the USB device directory (resolved, under the sysfs root) */
	char port[32];	   /* its name, the physical port "1-1.3": survives re-enumeration */
	uint16_t vid, pid; /* idVendor, idProduct */
	char manufacturer[64];
	char product[64];
	char serial[64]; /* the chip UID in hex on Klipper, Cartographer and Katapult */
	char tty[128];	 /* "/dev/ttyACM0" of its CDC-ACM interface, "" when it has none */
};

/*
 * The sysfs root: the environment variable CARTOFLASH_SYSFS_ROOT when set (tests only: a
 * fixture tree laid out like /sys), else "/sys". Borrowed, never NULL.
 */
const char *sysfs_root(void);

/*
 * Find the USB device behind a tty (a device node, a /dev/serial/by-id link ...): its device
 * number names root/dev/char/MAJ:MIN (fallback root/class/tty/<name>); from there walk up to
 * the first directory with busnum and devnum (flashtool's get_usb_path). Returns 0,
 * CF_ERR_NO_DEVICE when tty_path does not exist, CF_ERR_ACCESS when it cannot be stat'ed, or
 * CF_ERR_NOT_SUPPORTED when the tty is not on USB (a UART). Blocks only on sysfs reads.
 */
int sysfs_usb_from_tty(const char *root, const char *tty_path, struct sysfs_usb *out);

/*
 * (Re)read the USB device in dir: ids, strings, serial and its tty. Returns 0, or
 * CF_ERR_NO_DEVICE when dir holds no USB device right now (unplugged, re-enumerating).
 */
int sysfs_usb_read(const char *dir, struct sysfs_usb *out);

/* Every USB device under root/bus/usb/devices (interfaces and hubs' root ports excluded).
 * Fills at most max, sets *count to the number filled. Returns 0 or CF_ERR_NO_DEVICE when
 * root has no USB bus directory. */
int sysfs_usb_list(const char *root, struct sysfs_usb *out, size_t max, size_t *count);

enum sysfs_kind sysfs_usb_kind(const struct sysfs_usb *u);
/* The probe mode for a kind (DEVICE_MODE_UNKNOWN for OTHER and CAN_BRIDGE). */
enum device_mode sysfs_kind_mode(enum sysfs_kind kind);
/* Stable token: "cartographer", "klipper", "katapult", "rom_dfu", "can_bridge", "other". */
const char *sysfs_kind_name(enum sysfs_kind kind);

#endif
