/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The words of the Katapult updater: summaries and refusals, the same on every channel. */
#ifndef CARTOFLASH_SRC_KATAPULT_KATAPULT_TEXT_H
#define CARTOFLASH_SRC_KATAPULT_KATAPULT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/image.h"
#include "updater.h"

struct cf_failure;
struct katapult_connect_info;

/* The identity from CONNECT (mode Katapult) and the summary "Katapult 1.1.0 v…, stm32f042x6,
 * application at 0x08002000, 64-byte blocks". */
void ktext_connected(struct updater *u, const struct katapult_connect_info *ci);

/* "CARTOGRAPHER 5.1.0 written, 352 blocks verified" or "… on the probe: 352 blocks match". */
void ktext_image_done(struct updater *u, bool written);

/* Append ", text" (or text alone) to the summary. */
void ktext_append(struct updater *u, const char *text);

/* A refusal after identify took the probe out of its application: why = the refusal with
 * what became of the probe (back: COMPLETE put it back into its application). */
void ktext_restored(struct cf_failure *why, const struct cf_failure *refusal, bool back);

/* The ACK of COMPLETE never came (engine_why: the session's failure, maybe empty): ack_why
 * holds the words until the channel has confirmed the probe, or not. */
void ktext_ack_lost(struct cf_failure *ack_why, const struct cf_failure *engine_why);
/* ... and the probe does not answer as its application either. Returns the error. */
int ktext_ack_lost_silent(struct cf_failure *why, const struct cf_failure *ack_why);
/* The summary after a deployer: where the probe comes back (answered: its Katapult did). */
void ktext_deployer(struct updater *u, bool answered);
/*
 * COMPLETE went out on a channel that cannot see the probe come back (a UART; a deployer that
 * leaves the channel): the summary says so. ack_why (the ACK was lost, NULL when it came)
 * makes it a failure (returned, the updater's failure filled); else CF_ERR_NOT_SUPPORTED.
 */
int ktext_unseen(struct updater *u, bool deployer, const struct cf_failure *ack_why);
/* Stopped by the user while reaching Katapult or confirming after COMPLETE: why filled,
 * returns CF_ERR_INTERRUPTED. */
int ktext_stopped(struct cf_failure *why, const char *stage, bool after_complete);

/*
 * Refusal rules R1-R5 against the device (images.md §7), unforced first so a rule that --force
 * lifts is still named (style.md §2.10). Returns 0, or CF_ERR_REFUSED with why filled: stage
 * "check", detail "refusal R4: interface: image can, device usb (reason)", hint the override.
 */
int ktext_check(const struct updater_config *cfg, const struct image_target *t,
		const char *device, struct cf_failure *why);
/*
 * The rules that need no word from Katapult, decided before the bootloader request
 * (image_check_before_entry): R2 against the application's MCU, R3 against t->bus_bitrate (the
 * bitrate the channel knows of its bus), R8 against the build the application runs
 * (t->running_version, t->running_clock); what is unknown passes. ktext_check decides the rest after CONNECT. A probe refused here is never rebooted.
 * Returns 0, or CF_ERR_REFUSED with why filled as ktext_check fills it.
 */
int ktext_check_before_entry(const struct updater_config *cfg, const struct image_target *t,
			     struct cf_failure *why);

#endif
