/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Identify a running Klipper-derived application without rebooting it: a sans-I/O session. */
#ifndef CARTOFLASH_SRC_APPID_APPID_H
#define CARTOFLASH_SRC_APPID_APPID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cf_failure;
struct appid;

/*
 * What klippy does first on every connect (katapult.md §8.3): identify blocks until the whole
 * data dictionary arrived, nothing else before (an unknown command shuts the MCU down, §8.2).
 * With ask_canbus_id the session then sends get_canbus_id (its id taken from that dictionary,
 * §8.4) to learn the node's UUID. Nothing here reboots the application or changes its state.
 *
 * A channel drives it like the Katapult engine (src/katapult/engine.h):
 *   while (appid_state(s) != APPID_DONE) {
 *           if (appid_poll_tx(s, &block, &len) > 0)
 *                   send the whole block (CAN: 8-byte frames on 0x100 + 2n), then
 *                   appid_tx_done(s, now);
 *           bytes -> appid_feed(s, buf, n, now);   timer (appid_deadline) -> appid_tick(s, now);
 *   }
 * Time is monotonic microseconds, passed in; never blocks, never sleeps.
 */

enum appid_state {
	APPID_TX,   /* a block waits for appid_poll_tx / appid_tx_done */
	APPID_WAIT, /* waiting for the answer until appid_deadline */
	APPID_DONE,
};

/* klippy's whole identify has 5 s; one request gets a short reply window and some tries. */
#define APPID_REPLY_TIMEOUT_US 250000u
#define APPID_TRIES	       5u
#define APPID_DICT_MAX	       (64u * 1024) /* compressed; upstream Klipper's is ~6 KiB */

struct appid_config {
	bool ask_canbus_id;  /* CAN: get_canbus_id after the dictionary */
	uint64_t reply_us;   /* per request; 0 = APPID_REPLY_TIMEOUT_US */
	unsigned tries;	     /* per request; 0 = APPID_TRIES */
	const char *device;  /* borrowed label for debug logs; may be NULL */
	uint8_t seq;	     /* first sequence number (0..15): what the MCU expects, if known */
};

/* Counters for -vv; they only count up. */
struct appid_stats {
	unsigned blocks_sent;
	unsigned blocks_received;
	unsigned naks;	   /* answers carrying another sequence number: adopted, resent */
	unsigned timeouts; /* requests resent after APPID_REPLY_TIMEOUT_US */
	unsigned bad_blocks;
};

/* 0 and *out (free with appid_free), or CF_ERR_NOMEM. The first block is ready at once. */
int appid_new(const struct appid_config *cfg, struct appid **out);
void appid_free(struct appid *s); /* NULL-safe */

/* 1 with the block to send (borrowed until appid_tx_done / appid_free), 0 when none. */
int appid_poll_tx(struct appid *s, const uint8_t **block, size_t *len);
void appid_tx_done(struct appid *s, uint64_t now_us);
void appid_feed(struct appid *s, const uint8_t *data, size_t len, uint64_t now_us);
void appid_tick(struct appid *s, uint64_t now_us);
/* When appid_tick is due; UINT64_MAX in APPID_TX before the first tx_done and once DONE. */
uint64_t appid_deadline(const struct appid *s);
enum appid_state appid_state(const struct appid *s);

/* 0 or a negative cf_err once DONE (CF_ERR_TIMEOUT: no answer; CF_ERR_PROTOCOL: not a Klipper
 * application); CF_ERR_AGAIN before. The failure holds stage and detail, device empty. */
int appid_result(const struct appid *s);
const struct cf_failure *appid_failure(const struct appid *s);
/* The dictionary as served (a zlib stream) once DONE with 0; borrowed until appid_free. */
const uint8_t *appid_dict(const struct appid *s, size_t *len);
/* true with uuid and node once get_canbus_id answered. */
bool appid_canbus_id(const struct appid *s, uint8_t uuid[6], uint8_t *node);
const struct appid_stats *appid_stats(const struct appid *s);

#endif
