/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Private state of the Katapult tty backend, shared by its files (serial*.c). */
#ifndef CARTOFLASH_SRC_KATAPULT_SERIAL_PRIV_H
#define CARTOFLASH_SRC_KATAPULT_SERIAL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "katapult/engine.h"
#include "katapult/wirelog.h"
#include "loop.h"
#include "updater.h"
#include "usb/follow.h"
#include "usb/sysfs.h"

struct transport;

enum kser_phase {
	KSER_IDLE,
	KSER_WAIT_KATAPULT, /* after the 1200-baud touch: polling sysfs for 1d50:6177 */
	KSER_SETTLE,	    /* after the UART request: the application is rebooting */
	KSER_ENGINE,	    /* a Katapult session runs over the open tty */
	KSER_CONFIRM,	    /* after COMPLETE: polling sysfs for the application */
};

struct kser {
	struct updater *u;
	struct loop *loop;
	enum updater_step step;
	enum kser_phase phase;
	bool running;
	bool cancelled;
	/* Where the device is. */
	char tty[128]; /* node to open now */
	uint32_t baud; /* UART rate (0: the transport default) */
	bool is_usb;
	struct sysfs_usb usb; /* as last seen */
	struct follow follow;
	uint64_t phase_start_us, deadline_us;
	struct loop_timer poll_timer;
	/* The open channel and the engine session on it. */
	struct transport *tp;
	struct loop_source src;
	bool src_added;
	struct katapult_engine *engine;
	enum katapult_engine_op engine_op;
	bool tx_pending; /* the engine's frame met a full port: resend it whole on POLLOUT */
	bool primed;	 /* the first session after open sent the prime */
	struct loop_timer timer;
	struct wirelog wirelog; /* -v: the exchange decoded for the log only */
	const char *last_stage;
	size_t last_done;
	bool flashed;
	bool verified; /* a verify-only session matched every block */
	char device[128];
};

/* serial.c */
void kser_step_done(struct kser *k, int err);
void kser_set_device_label(struct kser *k);
/* After COMPLETE: when a deployer was written, end the step with where the probe comes back
 * (katapult.md §4) and return true; false when the application is to be awaited. */
bool kser_deployer_done(struct kser *k);

/* serial_engine.c: open the tty (once), run one engine session for the running step; its end
 * calls kser_engine_done. Returns 0 or a negative cf_err (failure filled). */
int kser_channel_open(struct kser *k);
void kser_channel_close(struct kser *k);
int kser_engine_start(struct kser *k, enum katapult_engine_op op);
void kser_engine_stop(struct kser *k);
void kser_engine_done(struct kser *k, int err, uint64_t now_us);

/* serial_usb.c: identify's way into Katapult, and finish's wait for the application. */
int kser_enter(struct kser *k);
void kser_confirm_start(struct kser *k, uint64_t now_us);
void kser_poll_stop(struct kser *k);

#endif
