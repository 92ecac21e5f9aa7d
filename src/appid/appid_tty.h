/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Identify a running application over its tty (USB CDC-ACM or UART) without rebooting it. */
#ifndef CARTOFLASH_SRC_APPID_APPID_TTY_H
#define CARTOFLASH_SRC_APPID_APPID_TTY_H

#include <stdint.h>

#include "appid/appdict.h"
#include "failure.h"

struct loop;
struct appid_tty;

/*
 * Open tty (a path, "PATH@BAUD" for a UART; a USB tty gets 250000, never 1200, katapult.md
 * §8.4 and §3.3) through the tty transport, which refuses a port another process holds
 * (src/usb/inuse.h) or has locked, then run the identify session (src/appid/appid.h) for at
 * most timeout_us. done runs once from the loop. Returns 0 with *out (free with
 * appid_tty_free), or a negative cf_err with why filled when the port cannot be opened.
 */
int appid_tty_start(struct loop *loop, const char *tty, uint64_t timeout_us,
		    void (*done)(void *ctx, struct appid_tty *a), void *ctx, struct appid_tty **out,
		    struct cf_failure *why);
void appid_tty_free(struct appid_tty *a); /* NULL-safe; closes the port */

int appid_tty_result(const struct appid_tty *a); /* CF_ERR_AGAIN until done */
const struct cf_failure *appid_tty_failure(const struct appid_tty *a);
const struct appdict *appid_tty_facts(const struct appid_tty *a);

#endif
