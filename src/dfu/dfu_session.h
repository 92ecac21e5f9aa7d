/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The DfuSe recovery session as a sans-I/O state machine: next request out, completion in. */
#ifndef CARTOFLASH_SRC_DFU_DFU_SESSION_H
#define CARTOFLASH_SRC_DFU_DFU_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dfu/dfu_walk.h"
#include "dfu/dfuse.h"

struct cf_failure;
struct dfu_session;

/*
 * The same shape as the Katapult session (src/katapult/engine.h, design.md "Both protocols
 * are sessions of one shape"): whoever binds it to a device (dfu_pump.c: libusb and the
 * loop; tests: the ROM model on a virtual clock) moves the bytes:
 *
 *   dfu_session_start(s, DFU_PHASE_WRITE, now);
 *   while (dfu_session_state(s) != DFU_SESSION_DONE) {
 *           if (dfu_session_poll_request(s, &req))
 *                   submit req whole; at its end:
 *                   dfu_session_complete(s, result, in_bytes, actual, now);
 *           else at dfu_session_deadline(s):
 *                   dfu_session_tick(s, now);
 *   }
 *   dfu_session_result(s), dfu_session_failure(s), dfu_session_stats(s)
 *
 * One phase runs at a time; the device stays open across phases (identify, write, verify,
 * leave are the updater's steps). Time is monotonic microseconds, always passed in; the
 * session never reads a clock, never blocks and never prints.
 */

enum dfu_session_phase {
	DFU_PHASE_IDENTIFY, /* idle, read-protection probe (and with unprotect, 0x92) */
	DFU_PHASE_WRITE,    /* pre-read, bootloader region erase/write/read back, then the app */
	DFU_PHASE_VERIFY,   /* every byte of the span read back and compared */
	DFU_PHASE_LEAVE,    /* SET_ADDRESS(flash base), zero-length DNLOAD (dfu.md §2.5) */
	DFU_PHASE_READ,	    /* dfu read: idle, upload cfg.read_len bytes */
};

enum dfu_session_state {
	DFU_SESSION_SEND,      /* a request waits: dfu_session_poll_request */
	DFU_SESSION_IN_FLIGHT, /* waiting for dfu_session_complete */
	DFU_SESSION_WAIT,      /* bwPollTimeout: dfu_session_tick at dfu_session_deadline */
	DFU_SESSION_DONE,      /* the phase ended: dfu_session_result */
};

struct dfu_session_config {
	struct dfu_walk_config walk; /* the plan (may be filled after identify), sizes, options */
	uint16_t interface;	     /* wIndex of the DFU interface */
};

struct dfu_session_progress {
	const char *stage; /* "erase", "write", "verify", "read"; NULL before the first */
	size_t done, total;
};

/* Caller frees with dfu_session_free. 0, CF_ERR_USAGE (no transfer size), CF_ERR_NOMEM. */
int dfu_session_new(const struct dfu_session_config *cfg, struct dfu_session **out);
/* NULL-safe. */
void dfu_session_free(struct dfu_session *s);

/* Begin a phase; the first request is ready at once. A phase must not start while one runs. */
void dfu_session_start(struct dfu_session *s, enum dfu_session_phase phase, uint64_t now_us);
/* The request to submit now: true with *req filled (borrowed until the completion). */
bool dfu_session_poll_request(struct dfu_session *s, struct dfuse_request *req);
/* The end of the request in flight; for IN, the bytes that came (copied). */
void dfu_session_complete(struct dfu_session *s, enum dfuse_xfer_result r, const uint8_t *in,
			  size_t actual, uint64_t now_us);
/* Call when now_us >= dfu_session_deadline; earlier calls do nothing. */
void dfu_session_tick(struct dfu_session *s, uint64_t now_us);
/* When to tick (DFU_SESSION_WAIT), else UINT64_MAX. */
uint64_t dfu_session_deadline(const struct dfu_session *s);
enum dfu_session_state dfu_session_state(const struct dfu_session *s);

/* Stop before the next operation (never inside one, never between the leave's two): the
 * phase then ends with CF_ERR_INTERRUPTED; the device stays in ROM DFU mode. */
void dfu_session_cancel(struct dfu_session *s);

/* 0 or a negative cf_err once DONE; CF_ERR_AGAIN before. */
int dfu_session_result(const struct dfu_session *s);
/* Stage, detail and hint of a failed phase (device left empty); borrowed, valid until the
 * next start. code 0 while no failure. */
const struct cf_failure *dfu_session_failure(const struct dfu_session *s);
/* How the last operation ended (a failed phase: its have_status tells a device that answered
 * from one that did not). Borrowed, valid until the next completion. */
const struct dfuse_result *dfu_session_last(const struct dfu_session *s);
void dfu_session_progress(const struct dfu_session *s, struct dfu_session_progress *out);
const struct dfu_walk_stats *dfu_session_stats(const struct dfu_session *s);

#endif
