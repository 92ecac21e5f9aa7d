/* SPDX-License-Identifier: GPL-3.0-or-later */
/* After the DfuSe leave: the one follow finds the probe again, on its USB port or its CAN bus. */
#ifndef CARTOFLASH_SRC_DFU_DFU_FINISH_H
#define CARTOFLASH_SRC_DFU_DFU_FINISH_H

#include <stdbool.h>

#include "follow/follow_census.h"

struct follow;
struct loop;
struct updater;

/* Caller-embedded; fields private to dfu_finish.c. */
struct dfu_finish {
	struct updater *u;
	struct loop *loop;
	struct follow_census census; /* who answered on the --can bus before the leave */
	bool on_can;		     /* the census was taken: follow there */
	struct follow *follow;
	bool confirmed; /* the leave GETSTATUS answered dfuMANIFEST */
	void (*ready)(void *ctx);
	void *ready_ctx;
};

void dfu_finish_init(struct dfu_finish *f, struct updater *u, struct loop *loop);
/*
 * Before the leave of a CAN build with --can IFACE: note who answers on the bus now (a node
 * that is not among them is the probe, follow_census.h); ready(ctx) runs when the bus went
 * quiet. Returns 0; CF_ERR_NOT_SUPPORTED at once when there is no bus to follow on (a USB
 * build, no --can); or the bus's error with the updater's failure filled (the caller then
 * leaves anyway: the summary says where to look).
 */
int dfu_finish_census(struct dfu_finish *f, void (*ready)(void *ctx), void *ctx);
/*
 * After the leave: follow the probe back until opts.timeout_us (default 5 s) - as Katapult or
 * the application, on the ROM's USB port (its serial is not the chip UID: port only) or, after
 * a census, as a new node on that bus. Ends the FINISH step with 0 either way (the flash is
 * verified, leaving succeeded) and says in the summary what came back (serial, CAN UUID) or
 * what to check. A CAN build without a census is not looked for on USB.
 */
void dfu_finish_follow(struct dfu_finish *f, bool left_confirmed);
/* Stop following: the step ends CF_ERR_INTERRUPTED with where to look. No-op when idle. */
void dfu_finish_cancel(struct dfu_finish *f);
void dfu_finish_fini(struct dfu_finish *f);

#endif
