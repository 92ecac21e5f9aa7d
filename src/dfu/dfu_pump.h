/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The DfuSe binding of the one pump: a session's requests as libusb control transfers. */
#ifndef CARTOFLASH_SRC_DFU_DFU_PUMP_H
#define CARTOFLASH_SRC_DFU_DFU_PUMP_H

#include <stddef.h>

#include "dfu/dfu_session.h"
#include "pump.h"

struct dfu_dev;

/*
 * Caller-embedded. The pump submits the session's requests on dev and feeds their ends back
 * with the loop's time; the one pump (src/pump.h) ticks the session at its deadlines
 * (bwPollTimeout waits are loop timers, never a sleep), reports progress, and calls done once
 * per phase with its result from a loop timer (never from inside libusb's transfer callback,
 * so done may close dev).
 */
struct dfu_pump {
	struct pump_core core;
	struct dfu_dev *dev;
	struct dfu_session *session;
};

void dfu_pump_init(struct dfu_pump *p, struct loop *loop,
		   void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
		   void (*done)(void *ctx, int err, uint64_t now_us), void *ctx);
/* Start phase of session on dev (both borrowed until done or dfu_pump_stop). */
void dfu_pump_run(struct dfu_pump *p, struct dfu_dev *dev, struct dfu_session *session,
		  enum dfu_session_phase phase);
/* Stop at the next operation boundary (dfu_session_cancel); done follows. No-op when idle. */
void dfu_pump_cancel(struct dfu_pump *p);
/* Disarm; no callback follows. A transfer in flight is cancelled by dfu_usb_close. */
void dfu_pump_stop(struct dfu_pump *p);

#endif
