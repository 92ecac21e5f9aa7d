/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Asking a running application for its bootloader: the USB 1200-baud touch, the UART string. */
#ifndef CARTOFLASH_SRC_USB_TOUCH_H
#define CARTOFLASH_SRC_USB_TOUCH_H

#include <stddef.h>
#include <stdint.h>

struct cf_failure;

/*
 * katapult.md §3.3: open O_RDWR|O_NOCTTY|O_NONBLOCK, raise DTR, set 1200 baud, drop DTR, close.
 * Modem-control errors are ignored (a pty has no DTR, dfu.md §5.1; the device reboots on the
 * SET_LINE_CODING/SET_CONTROL_LINE_STATE pair, and a real ACM port accepts both). Returns 0,
 * or CF_ERR_NO_DEVICE / CF_ERR_ACCESS / CF_ERR_IO when the tty cannot be opened or its speed
 * cannot be set, with why filled (stage "bootloader"). Does not wait for the device.
 */
int touch_request_usb(const char *tty, struct cf_failure *why);

/*
 * katapult.md §3.6: open at baud, write the serial bootloader request string (magic, len
 * bytes, from protocol/klipper.h), drain, close. Returns 0 or a negative cf_err with why
 * filled. Blocks until the bytes left the UART (tcdrain), about 1.3 ms at 250000 baud.
 */
int touch_request_uart(const char *tty, uint32_t baud, const uint8_t *magic, size_t len,
		       struct cf_failure *why);

#endif
