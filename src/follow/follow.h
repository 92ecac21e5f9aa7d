/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one follow: "this probe comes back as mode M on link L by deadline D", without blocking. */
#ifndef CARTOFLASH_SRC_FOLLOW_FOLLOW_H
#define CARTOFLASH_SRC_FOLLOW_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "usb/sysfs.h"

struct canmux;
struct cf_failure;
struct follow;
struct follow_census;
struct loop;

/*
 * What to watch for. CAN: the node with can_uuid answers the admin query on iface (katapult.md
 * §2.6) as mode want. TTY: the USB port that held the probe (usb: as last seen) shows the same
 * serial again, in mode want, with its tty present (katapult.md §3.5: by port and serial, never
 * "the first Katapult entry").
 *
 * Two looser forms serve the DFU finish, where the probe's names are not known before it comes
 * back (the ROM's serial is not the chip UID, katapult.md §3.1; its CAN UUID comes with the new
 * firmware):
 * - port only: usb.serial "" - whatever probe comes back on that port (its serial is then
 *   seen->usb.serial); a device that is no probe there is "not yet".
 * - a new node: can_uuid "" - the first node that answers and is not in before (the nodes
 *   that answered before the reset, follow_census.h); seen->can_uuid names it.
 */
struct follow_target {
	enum identity_link link; /* IDENTITY_LINK_CAN or IDENTITY_LINK_TTY (USB) */
	/* DEVICE_MODE_APPLICATION or DEVICE_MODE_KATAPULT; DEVICE_MODE_UNKNOWN: either (after
	 * a DFU leave the flash decides which starts). */
	enum device_mode want;
	char iface[64];				   /* CAN */
	char can_uuid[13];			   /* CAN; "" = a new node */
	const struct follow_census *before;	   /* CAN, a new node: who was there */
	struct sysfs_usb usb;			   /* TTY: the port and serial before the reset */
	bool device_only; /* TTY: the USB device is enough, its tty need not be there yet
			   * (nothing opens it next) */
	bool gone_first;  /* TTY: the device on the port is leaving (its tty hung up): only what
			   * comes after it counts; still there at the deadline: seen says so */
	uint64_t first_look_us;	 /* look from then on (katapult.md §1.3: app starts 100 ms late) */
	uint64_t deadline_us;
	/* CAN: the answer rides on 0x3f1, the lowest priority (katapult.md §2.2): while other
	 * sessions keep the bus busy, the deadline moves on, up to this time (0 = never). */
	uint64_t busy_limit_us;
};

/* What was seen when the follow ended. */
struct follow_seen {
	enum device_mode mode; /* what answered, DEVICE_MODE_UNKNOWN when nothing did */
	uint8_t can_app;       /* CAN: canbus app code of the answer */
	char can_uuid[13];     /* CAN: the node that answered */
	struct sysfs_usb usb;  /* TTY: the port as seen last */
	uint64_t after_us;     /* from the start of the follow to the answer */
};

/*
 * The end of a follow, once: err 0 (the probe answers in mode want), CF_ERR_TIMEOUT (nothing
 * by the deadline), CF_ERR_PROTOCOL (it answers in another mode: seen says which),
 * CF_ERR_NO_DEVICE (another device took the USB port), or the bus's error. The callback may
 * free the follow.
 */
typedef void (*follow_done_fn)(void *ctx, int err, const struct follow_seen *seen,
			       uint64_t now_us);

/*
 * Start watching on loop. mux (may be NULL) is a CAN bus the caller already holds (a census's:
 * follow_census_mux); without one the follow acquires iface's mux itself. Returns 0 and *out
 * (caller frees with follow_free, at any time; no callback after that), or a negative cf_err
 * with why filled (bad UUID, a new node without a census, a bus that does not open, no
 * memory). Never blocks.
 */
int follow_start(struct loop *loop, const struct follow_target *t, struct canmux *mux,
		 follow_done_fn done, void *ctx, struct follow **out, struct cf_failure *why);
/* Stop and free; NULL-safe. */
void follow_free(struct follow *f);

/* The sysfs look period while a USB port re-enumerates. */
#define FOLLOW_USB_POLL_US 20000u
/* The admin query period on CAN. */
#define FOLLOW_CAN_QUERY_US 25000u

#endif
