/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Any baud rate on a Linux tty through termios2/BOTHER (250000 has no Bxxx constant). */
#ifndef CARTOFLASH_SRC_USB_TTYBAUD_H
#define CARTOFLASH_SRC_USB_TTYBAUD_H

#include <stdint.h>

/* Set input and output speed of the open tty fd to baud, keeping every other setting.
 * Returns 0 or -errno. Never blocks. */
int ttybaud_set(int fd, uint32_t baud);
/* Read the output speed in baud; returns 0 or -errno. */
int ttybaud_get(int fd, uint32_t *baud);

#endif
