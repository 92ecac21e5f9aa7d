/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Katapult session as a sans-I/O state machine: connect, check, write, verify, complete. */
#ifndef CARTOFLASH_SRC_KATAPULT_ENGINE_H
#define CARTOFLASH_SRC_KATAPULT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/image.h"

struct cf_failure;
struct katapult_connect_info; /* protocol/katapult.h */
struct katapult_engine;

/*
 * How a channel drives the engine (CAN node stream, USB/UART tty: the engine knows neither):
 *
 *   while (katapult_engine_state(e) != KATAPULT_ENGINE_DONE) {
 *           if (katapult_engine_poll_tx(e, &frame, &len) > 0)
 *                   send the whole frame (CAN: canbus_stream_to_frames, resend on EAGAIN),
 *                   then katapult_engine_tx_done(e, now);
 *           wait for bytes or katapult_engine_deadline(e);
 *           bytes  -> katapult_engine_feed(e, buf, n, now);
 *           timer  -> katapult_engine_tick(e, now);
 *   }
 *   katapult_engine_result(e), katapult_engine_failure(e)
 *
 * Time is monotonic microseconds, always passed in; the engine never reads a clock, never
 * blocks and never prints beyond cf_log at debug level.
 */

enum katapult_engine_op {
	KATAPULT_ENGINE_FLASH,	     /* connect, check, write, EOF, verify, COMPLETE */
	KATAPULT_ENGINE_VERIFY_ONLY, /* connect, size check, read back and compare; no write */
	KATAPULT_ENGINE_INFO_ONLY,   /* connect (and GET_CANBUS_ID); report the CONNECT info */
	KATAPULT_ENGINE_REBOOT,	     /* COMPLETE only: leave Katapult for the application */
};

enum katapult_engine_state {
	KATAPULT_ENGINE_TX,	 /* a frame waits for katapult_engine_poll_tx / _tx_done */
	KATAPULT_ENGINE_WAIT,	 /* waiting for the reply until katapult_engine_deadline */
	KATAPULT_ENGINE_BACKOFF, /* waiting before a resend (katapult.md §1.8) */
	KATAPULT_ENGINE_DONE,	 /* finished: katapult_engine_result says how */
};

/* What the engine is doing; a stage starts with its first command. */
enum katapult_engine_stage {
	KATAPULT_STAGE_CONNECT, /* prime, CONNECT, GET_CANBUS_ID */
	/* Refusal rules against the CONNECT reply. They run synchronously while the reply is
	 * handled, so katapult_engine_progress never reports this stage; refusals carry the
	 * stage "refusal Rn" in the failure. */
	KATAPULT_STAGE_CHECK,
	KATAPULT_STAGE_WRITE,	 /* SEND_BLOCK in the safer order, then SEND_EOF */
	KATAPULT_STAGE_VERIFY,	 /* REQUEST_BLOCK of every block, byte compare */
	KATAPULT_STAGE_COMPLETE, /* COMPLETE: the device jumps to its application */
	KATAPULT_STAGE_FINISHED,
};

/*
 * What the application area holds, as far as the session knows (design.md rule 3). Katapult
 * starts the application after a reset or power cycle whenever its first word is neither 0
 * nor 0xFFFFFFFF (katapult.md §5).
 */
enum katapult_engine_app {
	KATAPULT_APP_UNTOUCHED,	   /* nothing written */
	KATAPULT_APP_MAYBE_ERASED, /* the first block went out, unanswered: the old one may be gone */
	KATAPULT_APP_INVALID,	   /* page 0 erased: Katapult keeps control after any reset */
	KATAPULT_APP_HALF,	   /* page 0 partly written: looks valid, is incomplete (§5 window) */
	KATAPULT_APP_WRITTEN,	   /* every block acknowledged (Katapult compared each), not read */
	KATAPULT_APP_VERIFIED,	   /* every block read back equal to the image */
	KATAPULT_APP_DIFFERS,	   /* a block read back differs from the image */
	KATAPULT_APP_STARTED,	   /* COMPLETE acknowledged: the application is starting */
};

/* flashtool's figures (katapult.md §1.8, §2.9); the engine never waits less. */
#define KATAPULT_ENGINE_REPLY_TIMEOUT_US 2000000u /* each reply */
#define KATAPULT_ENGINE_BLOCK_TIMEOUT_US 5000000u /* SEND_BLOCK reply */
#define KATAPULT_ENGINE_TRIES		 5u	  /* per command */
#define KATAPULT_ENGINE_BLOCK_TRIES	 3u	  /* per SEND_BLOCK */
#define KATAPULT_ENGINE_BACKOFF_US	 750000u  /* flush 0.25 s + sleep 0.5 s */
#define KATAPULT_ENGINE_BUSY_BACKOFF_US	 1500000u /* after a BUSY reply */
#define KATAPULT_ENGINE_BUSY_WAITS	 8u	  /* BUSY replies per command that cost no try */
/* A frame the channel cannot get out in this time: the device stopped taking data (a wedged
 * USB device with a full buffer NAKs every packet) or the bus is down. */
#define KATAPULT_ENGINE_TX_STALL_US 5000000u

struct katapult_engine_config {
	enum katapult_engine_op op;
	/* Borrowed until katapult_engine_free. Unused by INFO_ONLY and REBOOT. */
	const uint8_t *image;
	size_t image_len;
	/*
	 * image_inspect result for image (borrowed; NULL skips image_check_against). For FLASH
	 * the engine copies target, sets path = IMAGE_PATH_KATAPULT, mcu and app_start from the
	 * CONNECT reply, and runs image_check_against(image_info, &target, force) before the
	 * first byte is written. The caller fills iface, bus_bitrate, switch_to,
	 * stated_load_address. FLASH and VERIFY_ONLY also get a size backstop (R5 against the
	 * CONNECT MCU's flash), with or without image_info.
	 */
	const struct image_info *image_info;
	struct image_target target;
	unsigned force; /* enum image_force bits */
	/*
	 * Optional extra check after CONNECT (and GET_CANBUS_ID), before any write (FLASH and
	 * VERIFY_ONLY): return 0 to go on, or a negative cf_err after filling why (stage, detail,
	 * hint).
	 */
	int (*check)(void *ctx, const struct katapult_connect_info *info, struct cf_failure *why);
	void *check_ctx;
	bool prime;	  /* USB: send the 0x90 dummy first, drop the held-back reply (§3.4) */
	bool expect_uuid; /* CAN: GET_CANBUS_ID after CONNECT must return uuid */
	uint8_t uuid[6];
	bool dry_run;		  /* FLASH: connect and check, then stop: nothing written */
	bool no_reboot;		  /* FLASH: no COMPLETE after a successful verify */
	bool reboot_after_verify; /* VERIFY_ONLY: COMPLETE when everything matched */
	/* Erase page size override in bytes (0: from the CONNECT MCU, katapult.md §1.6). */
	uint32_t page_size;
	const char *device; /* borrowed label for debug logs ("can0/129"); may be NULL */
};

/* Counters for debug output and the JSON summary; they only count up. */
struct katapult_engine_stats {
	unsigned frames_sent; /* whole frames confirmed by tx_done */
	unsigned replies;     /* replies accepted */
	unsigned retries;     /* resends of a command */
	unsigned timeouts;
	unsigned nacks;
	unsigned busy;
	unsigned cmd_errors;
	unsigned stale;		/* ACKs for another command or address, dropped */
	unsigned bad_frames;	/* CRC or framing errors in the reply stream */
	unsigned bytes_dropped; /* reply bytes outside any frame */
	uint32_t eof_pages;	/* SEND_EOF reply: pages written since boot (§1.6) */
	unsigned pages_reerased; /* pages erased again after a refused block (katapult.md §1.6) */
};

struct katapult_engine_progress {
	enum katapult_engine_stage stage;
	const char *stage_name; /* "connect", "check", "write", "verify", "complete", "finished" */
	size_t done;		/* bytes of the (padded) image written or verified */
	size_t total;		/* 0 in stages without a byte count */
};

/*
 * Create an engine for one session. cfg is copied; the image and image_info stay borrowed.
 * Returns 0 and *out (caller frees with katapult_engine_free), CF_ERR_USAGE for an
 * inconsistent cfg (no image for FLASH/VERIFY_ONLY), CF_ERR_NOMEM. The first frame is ready at
 * once (katapult_engine_poll_tx). Never blocks.
 */
int katapult_engine_new(const struct katapult_engine_config *cfg, struct katapult_engine **out);
/* NULL-safe. */
void katapult_engine_free(struct katapult_engine *e);

/*
 * The frame to send now: returns 1 and sets *frame and *len (borrowed, valid until _tx_done or
 * _free), 0 when nothing is to be sent. Calling it again before _tx_done returns the same
 * frame: a frame is one unit that the channel sends whole (design.md rule 1).
 */
int katapult_engine_poll_tx(struct katapult_engine *e, const uint8_t **frame, size_t *len);
/* The channel put the whole frame on the wire at now_us; the reply deadline starts here. */
void katapult_engine_tx_done(struct katapult_engine *e, uint64_t now_us);
/* Bytes from the device's reply stream, in order. Any chunking is fine. */
void katapult_engine_feed(struct katapult_engine *e, const uint8_t *data, size_t len,
			  uint64_t now_us);
/* Call when now_us >= katapult_engine_deadline; earlier calls do nothing. */
void katapult_engine_tick(struct katapult_engine *e, uint64_t now_us);
/* When the engine wants _tick; in TX the stall limit of the frame (UINT64_MAX before the
 * first time was passed in), UINT64_MAX once DONE. */
uint64_t katapult_engine_deadline(const struct katapult_engine *e);
enum katapult_engine_state katapult_engine_state(const struct katapult_engine *e);

/*
 * Stop at the next safe point: after the reply (or timeout) of the command in flight, never
 * mid-frame and never with COMPLETE. The result becomes CF_ERR_INTERRUPTED with a hint that
 * says what the probe holds; the device stays in Katapult. now_us: when idle in a back-off it
 * ends at once. Inside the page-0 window (block 0 written, page 0 not finished) the engine
 * first erases page 0 again with one more SEND_BLOCK (one try), so no valid-looking half
 * image is left behind; a second cancel does not shorten that command.
 */
void katapult_engine_cancel(struct katapult_engine *e, uint64_t now_us);

/* 0 or a negative cf_err once DONE; CF_ERR_AGAIN before. */
int katapult_engine_result(const struct katapult_engine *e);
/* Stage, detail and hint of a failed session (device left empty for the session to fill);
 * borrowed, valid until _free. code 0 while no failure. */
const struct cf_failure *katapult_engine_failure(const struct katapult_engine *e);
void katapult_engine_progress(const struct katapult_engine *e,
			      struct katapult_engine_progress *out);
const struct katapult_engine_stats *katapult_engine_stats(const struct katapult_engine *e);
/* The CONNECT reply; NULL until it arrived. Borrowed, valid until _free. */
const struct katapult_connect_info *katapult_engine_connect_info(const struct katapult_engine *e);
/* true and uuid filled once GET_CANBUS_ID answered. */
bool katapult_engine_get_uuid(const struct katapult_engine *e, uint8_t uuid[6]);
/* true once COMPLETE was acknowledged (the device is starting its application). */
bool katapult_engine_completed(const struct katapult_engine *e);
/* true once the first SEND_BLOCK went out (the application area is no longer intact). */
bool katapult_engine_wrote(const struct katapult_engine *e);
/* What the application area holds now (always valid, also before DONE). */
enum katapult_engine_app katapult_engine_app(const struct katapult_engine *e);
/*
 * One sentence on what the probe holds now and what a reset or power cycle would do, for a
 * channel's own failure hints (the engine's failures carry it already); "" while nothing was
 * written. Borrowed, static.
 */
const char *katapult_engine_app_text(const struct katapult_engine *e);

const char *katapult_engine_stage_name(enum katapult_engine_stage stage);

#endif
