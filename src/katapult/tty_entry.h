/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reaching Katapult behind a tty: classify by sysfs, 1200-baud touch or UART request, follow. */
#ifndef CARTOFLASH_SRC_KATAPULT_TTY_ENTRY_H
#define CARTOFLASH_SRC_KATAPULT_TTY_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "loop.h"
#include "usb/sysfs.h"

struct cf_failure;
struct follow;

/* katapult.md §3.6: flashtool waits 1 s after the UART request; a CONNECT sent into the reset
 * could reach Katapult cut in half and wedge its parser (§1.7), so there is nothing to poll. */
#define TTY_ENTRY_UART_SETTLE_US 1000000u

/*
 * Caller-embedded. tty_entry_start reads spec ("PATH", "PATH@BAUD", "auto"), classifies the
 * port through sysfs (sysfs_root()) and gets Katapult on it: at once when it is there; after
 * the 1200-baud touch and a follow of the same port and serial (USB application, when request);
 * after the serial request string and a settle (UART, when uart_request). A USB application
 * without request is left alone: on_done(0) with id->mode APPLICATION. on_done fires once: 0
 * (tty names the Katapult node to open) or a negative cf_err with why filled (stage
 * "identify"). Fills id (link kind kept): UID and CAN UUID, port, tty, mode, uart.
 */
struct tty_entry {
	struct loop *loop;
	struct device_identity *id;
	struct cf_failure *why;
	bool request;	   /* a USB application may be touched */
	bool uart_request; /* a UART gets the request string first (--request-bootloader) */
	uint64_t deadline_us;
	void (*on_done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
	/* out */
	char tty[128];	      /* the node to open */
	uint32_t baud;	      /* UART rate from "PATH@BAUD", 0 = the transport's default */
	bool is_usb;
	bool requested;	      /* the probe was taken out of its application */
	struct sysfs_usb usb; /* the port as last seen */
	/* internal */
	struct follow *follow;
	struct loop_timer timer;
	uint64_t start_us;
};

/* Returns 0 (on_done follows, maybe from the loop only) or a negative cf_err with why filled
 * (nothing started, no on_done). */
int tty_entry_start(struct tty_entry *e, const char *spec);
/* Stop without a callback; idempotent. */
void tty_entry_stop(struct tty_entry *e);

#endif
