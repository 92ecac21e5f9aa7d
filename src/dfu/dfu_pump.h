/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Binds a DfuSe session to an open ROM (libusb) and the event loop. */
#ifndef CARTOFLASH_SRC_DFU_DFU_PUMP_H
#define CARTOFLASH_SRC_DFU_DFU_PUMP_H

#include <stddef.h>

#include "dfu/dfu_session.h"
#include "loop.h"

struct dfu_dev;

/*
 * Caller-embedded. The pump submits the session's requests on dev, feeds their ends back
 * with the loop's time, and ticks the session at its deadlines (bwPollTimeout waits are loop
 * timers, never a sleep). progress is called when the session's progress changes; done once
 * per phase with its result, always from a loop timer (never from inside libusb's transfer
 * callback, so done may close dev).
 */
struct dfu_pump {
	struct loop *loop;
	struct dfu_dev *dev;
	struct dfu_session *session;
	void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
	void (*done)(void *ctx, int result);
	void *ctx;
	struct loop_timer timer; /* the session's deadline */
	struct loop_timer end;	 /* reports done */
	const char *last_stage;
	size_t last_done;
	bool running;
};

void dfu_pump_init(struct dfu_pump *p, struct loop *loop,
		   void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
		   void (*done)(void *ctx, int result), void *ctx);
/* Start phase of session on dev (both borrowed until done or dfu_pump_stop). */
void dfu_pump_run(struct dfu_pump *p, struct dfu_dev *dev, struct dfu_session *session,
		  enum dfu_session_phase phase);
/* Disarm; no callback follows. A transfer in flight is cancelled by dfu_usb_close. */
void dfu_pump_stop(struct dfu_pump *p);

#endif
