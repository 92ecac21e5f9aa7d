/* SPDX-License-Identifier: GPL-3.0-or-later */
/* After a deployer: watch the CAN bus the user named until the probe answers there in Katapult. */
#ifndef CARTOFLASH_SRC_KATAPULT_IFACE_FOLLOW_H
#define CARTOFLASH_SRC_KATAPULT_IFACE_FOLLOW_H

#include <stdint.h>

struct cf_failure;
struct loop;

/* How long the follow waits by default: the 100 ms delay, the ~8 KiB rewrite and the restart
 * (katapult.md §4), with room for a slow bus. */
#define IFACE_FOLLOW_DEFAULT_US 10000000u

/*
 * Send the admin query (katapult.md §2.6) on iface (can0, sim:PATH) again and again until the
 * node with CAN UUID uuid_hex answers as Katapult, or timeout_us (0 = the default) passes. Runs
 * loop itself until then (no other work may be pending on it). Returns 0 with *after_us = the
 * time it took, or a negative cf_err with why filled: CF_ERR_NO_DEVICE when it did not answer,
 * CF_ERR_PROTOCOL when it answered running something else, bus errors as canmux reports them.
 */
int iface_follow_can(struct loop *loop, const char *iface, const char *uuid_hex,
		     uint64_t timeout_us, struct cf_failure *why, uint64_t *after_us);

#endif
