/* SPDX-License-Identifier: GPL-3.0-or-later */
/* After the DfuSe leave: watch the ROM go and the probe come back on the same USB port. */
#ifndef CARTOFLASH_SRC_DFU_DFU_FOLLOW_H
#define CARTOFLASH_SRC_DFU_DFU_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "can/canquery.h"
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
	/* Following a CAN build on the bus named by --can (dfu_follow_can.c). */
	struct canmux *mux;
	struct canquery query;
	bool query_running;
	uint8_t before[CANQUERY_MAX_NODES][6]; /* nodes answering before the leave */
	size_t nbefore;
	void (*baseline_done)(void *ctx);
	void *baseline_ctx;
	struct loop_timer again; /* the next query round */
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

/*
 * dfu_follow_can.c: before the leave, note which CAN nodes on iface already answer the admin
 * query (another probe must not be mistaken for this one); done(ctx) runs when the bus went
 * quiet. Returns 0, or the bus's error (the failure names it; the caller leaves anyway and
 * follows over USB only).
 */
int dfu_follow_can_baseline(struct dfu_follow *f, const char *iface, void (*done)(void *ctx),
			    void *ctx);
/* After the leave: query rounds until a node that was not there before answers (then the
 * step ends with its UUID) or the deadline passes (false: the caller gives up). */
void dfu_follow_can_start(struct dfu_follow *f);
void dfu_follow_can_fini(struct dfu_follow *f);
/* Shared with dfu_follow.c. */
void dfu_follow_append_summary(struct updater *u, const char *text);
void dfu_follow_give_up(struct dfu_follow *f);
void dfu_follow_fini(struct dfu_follow *f);

#endif
