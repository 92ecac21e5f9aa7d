/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers every tty user shares: baud constants and open errors a user can act on. */
#ifndef CARTOFLASH_SRC_USB_TTYIO_H
#define CARTOFLASH_SRC_USB_TTYIO_H

#include <stdint.h>

struct cf_failure;

/* The termios speed constant (B115200 ...) for a baud rate; 0 when termios has none (250000,
 * Katapult's UART default: set it with ttybaud_set). */
unsigned ttyio_speed(uint32_t baud);

/*
 * Map the errno of a failed open of path to a cf_err and fill why (stage as given) with a
 * detail and the next step: ENOENT/ENODEV/ENXIO -> CF_ERR_NO_DEVICE ("is it plugged in?");
 * EACCES/EPERM -> CF_ERR_ACCESS naming the group that owns the node (usually dialout) and the
 * udev rule; EBUSY -> CF_ERR_BUSY; anything else CF_ERR_IO. Returns the code.
 */
int ttyio_open_error(const char *path, int sys_errno, const char *stage, struct cf_failure *why);

/* errno from read/write/ioctl on an open tty -> cf_err (EIO/ENODEV/ENXIO: the device left). */
int ttyio_errno(int sys_errno);

/* Raw 8N1 without flow control at baud (any rate, ttybaud for non-standard ones), VMIN 1,
 * VTIME 0. Returns 0 or -errno. */
int ttyio_set_raw(int fd, uint32_t baud);

#endif
