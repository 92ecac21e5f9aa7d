/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The /dev/serial/by-id name of a tty: the path users paste into printer.cfg. */
#ifndef CARTOFLASH_SRC_USB_BYID_H
#define CARTOFLASH_SRC_USB_BYID_H

#include <stddef.h>

/*
 * udev names the link, not us (ecosystem.md §4: 6.x applications carry a product string and
 * appear as usb-Cartographer_stm32f042x6_<UID>-if00, 5.x as usb-Cartographer_614e_<UID>-if00;
 * Katapult as usb-katapult_…): the link is read, never built.
 * The directory is /dev/serial/by-id, or CARTOFLASH_SERIAL_BY_ID when set (tests). Borrowed.
 */
const char *byid_dir(void);

/*
 * The by-id link that resolves to the same device as tty (a node, or a link itself), written
 * into out as "DIR/NAME". Returns 0, or CF_ERR_NO_DEVICE when no link names it (no udev, the
 * tty gone, a UART). Reads the directory only.
 */
int byid_find(const char *tty, char *out, size_t cap);

/*
 * The by-id link whose name carries serial (a chip UID: "…_16000C000F43304253373820-if00"),
 * the first by name, written into out. Returns 0 or CF_ERR_NO_DEVICE (none right now: the
 * device is away, or re-enumerating).
 */
int byid_find_serial(const char *serial, char *out, size_t cap);

#endif
