/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The print guard: nothing reboots a probe while Klipper prints or while Klipper holds it. */
#ifndef CARTOFLASH_SRC_GUARD_H
#define CARTOFLASH_SRC_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "klippy/klippy_state.h"

struct loop;
struct cf_failure;

/*
 * Asked before any command that reboots a probe or enters its bootloader (flash, verify,
 * bootloader, reboot, fleet …), before anything goes on a bus:
 *   - no Klipper API socket (none, nobody listening): go on, as without Klipper;
 *   - printing or paused (print_stats.state; or idle_timeout Printing): refuse, naming the
 *     state, the file and the printer (exit 75). No override: the print must end first;
 *   - Klipper holds a target (its configured canbus_uuid / serial, and it is connected to it
 *     or connecting): refuse with the next step, or with stop_klipper stop the systemd unit
 *     that owns the socket (or klipper_service), do the work, and start it again
 *     (guard_restore) — also after a failure;
 *   - a socket that accepts but does not answer in time: refuse (a hung Klipper may be
 *     printing), unless stop_klipper stops it.
 */
struct guard_opts {
	const char *klippy_socket;   /* NULL: the invoking user's default */
	bool stop_klipper;	     /* --stop-klipper */
	const char *klipper_service; /* --klipper-service UNIT; NULL: the socket owner's unit */
	const char *verb;	     /* "flash" … for messages */
};

/* What a verb is about to touch. */
struct guard_target {
	const char *iface; /* CAN */
	const char *uuid;  /* CAN, 12 hex */
	const char *tty;   /* a tty path ("auto": every probe-like USB tty in sysfs) */
};

struct guard {
	bool klipper; /* the socket answered */
	struct klippy_state st;
	bool stopped; /* we stopped the unit: guard_restore starts it again */
	char unit[128];
	char held[160]; /* the first target Klipper held: "mcu scanner (e0ef270ca188)" */
};

/*
 * Decide, and stop Klipper when asked and needed. Returns 0 (go on), CF_ERR_BUSY (printing,
 * or held without stop_klipper, or Klipper does not answer: exit 75), or the error of
 * stopping it; why names the printer, the state and the next step. Runs loop while it waits.
 */
int guard_check(struct loop *loop, const struct guard_opts *o, const struct guard_target *t,
		size_t n, struct guard *g, struct cf_failure *why);

/*
 * After the work, whatever its outcome: start the unit guard_check stopped, wait until its
 * API answers again (up to 10 s), and print what was done on stderr. 0, or the error of
 * starting it (why filled: start it by hand). No-op when nothing was stopped.
 */
int guard_restore(struct loop *loop, const struct guard_opts *o, struct guard *g,
		  struct cf_failure *why);

#endif
