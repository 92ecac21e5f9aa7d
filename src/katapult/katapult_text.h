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

/*
 * Refusal rules R1-R5 against the device (images.md §7), unforced first so a rule that --force
 * lifts is still named (style.md §2.10). Returns 0, or CF_ERR_REFUSED with why filled: stage
 * "check", detail "refusal R4: interface: image can, device usb (reason)", hint the override.
 */
int ktext_check(const struct updater_config *cfg, const struct image_target *t,
		const char *device, struct cf_failure *why);

#endif
