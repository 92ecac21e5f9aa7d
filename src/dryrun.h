/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --dry-run without a reboot: check an image against what a probe runs now. */
#ifndef CARTOFLASH_SRC_DRYRUN_H
#define CARTOFLASH_SRC_DRYRUN_H

#include <stddef.h>

#include "discover/discover.h"
#include "protocol/image.h"

struct cf_failure;

/*
 * Refusal rules against a probe as discovery found it, nothing sent to it for the purpose:
 * a running application by its identify dictionary (or Klipper's word for it): R1 kind, R2 MCU,
 * R3 CAN bitrate against the bus bitrate (on a Klipper USB-to-CAN bridge the nodes' own, never
 * the host figure; unknown there: refused, R3 cannot pass on no number), R4 interface, R5 size
 * behind Katapult's 0x08002000 (the layout of these probes; a real run gets it from CONNECT),
 * R8 variant; a probe in Katapult by its CONNECT facts. bus may be NULL (USB). force: enum
 * image_force bits; switch_to the requested interface (IMAGE_IFACE_UNKNOWN: none).
 * Returns 0 with summary ("CARTOGRAPHER 5.1.0 over CARTOGRAPHER 4.0.0: …"), CF_ERR_REFUSED
 * with why (stage "refusal Rn"), or CF_ERR_NO_DEVICE when the probe told nothing (silent).
 */
int dryrun_check(const struct image_info *img, const struct discover_probe *p,
		 const struct discover_bus *bus, unsigned force, enum image_iface switch_to,
		 char *summary, size_t cap, struct cf_failure *why);

#endif
