/* SPDX-License-Identifier: GPL-3.0-or-later */
/* After the DfuSe leave: watch the ROM go and the probe come back on the same USB port. */
#ifndef CARTOFLASH_SRC_DFU_DFU_FOLLOW_H
#define CARTOFLASH_SRC_DFU_DFU_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct updater;
struct dfu_usb;

/* Caller-embedded; fields private to dfu_follow.c. */
struct dfu_follow {
	struct updater *u;
	struct dfu_usb *usb;
	struct loop *loop;
	struct loop_timer timer;
	uint64_t deadline_us;
	bool active;
	bool confirmed; /* the leave GETSTATUS answered dfuMANIFEST */
	bool rom_gone;
};

void dfu_follow_init(struct dfu_follow *f, struct updater *u, struct dfu_usb *usb,
		     struct loop *loop);
/*
 * Poll every 100 ms until the probe appears at the ROM's USB path as Katapult (1d50:6177) or
 * the application (1d50:614e), or the deadline (opts.timeout_us, default 5 s) passes. Ends
 * the FINISH step with 0 either way (the flash is verified; leaving succeeded) and says in the
 * summary what came back, with its serial and CAN UUID, or what to check.
 */
void dfu_follow_start(struct dfu_follow *f, bool left_confirmed);
void dfu_follow_cancel(struct dfu_follow *f);
void dfu_follow_fini(struct dfu_follow *f);

#endif
