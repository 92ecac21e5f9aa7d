/* SPDX-License-Identifier: GPL-3.0-or-later */
/* After a deployer from a tty: follow the probe onto the CAN bus the user named, as Katapult. */
#ifndef CARTOFLASH_SRC_KATAPULT_SWITCH_FOLLOW_H
#define CARTOFLASH_SRC_KATAPULT_SWITCH_FOLLOW_H

#include <stdint.h>

#include "updater.h"

struct follow;

/* How long by default: the 100 ms delay, the ~8 KiB rewrite and the restart (katapult.md §4),
 * with room for a slow bus. --timeout replaces it. */
#define SWITCH_FOLLOW_DEFAULT_US 10000000u

/* Caller-embedded. */
struct switch_follow {
	struct updater *u;
	struct follow *follow;
	void (*done)(void *ctx, int err, uint64_t now_us);
	void *ctx;
};

/*
 * ecosystem.md §1 (guided switch): a deployer written over a tty that brings the probe back as
 * CAN Katapult, with the bus named (identity iface: --can IFACE next to --serial), is followed
 * there through the one follow until its UUID answers as Katapult. done fires once: 0 (the
 * summary says after how long), CF_ERR_NO_DEVICE (not by the deadline) or CF_ERR_PROTOCOL
 * (answers running something else), failure filled. Returns CF_ERR_NOT_SUPPORTED when there is
 * nothing to follow (no done), 0 when started, or the follow's error.
 */
int switch_follow_start(struct switch_follow *s, struct updater *u,
			void (*done)(void *ctx, int err, uint64_t now_us), void *ctx);
/* Stop without done; idempotent. */
void switch_follow_stop(struct switch_follow *s);

#endif
