// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: identify of a running application (src/appid) fed untrusted bytes.
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "appid/appdict.h"
#include "appid/appid.h"
#include "failure.h"
#include "protocol/err.h"
#include "protocol/klipper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: byte 0 = flags, the rest as the flags say.
 *   bit 0: ask get_canbus_id after the dictionary (a CAN session)
 *   bit 1: answer as an application would: a 2-byte little-endian length L, L bytes of
 *          dictionary JSON served zlib-compressed through identify_response blocks, then the
 *          rest as the content of the answer to get_canbus_id (its message id put in front
 *          when the dictionary names one) - the dictionary and canbus_id parsers behind the
 *          real session;
 *   else:  the rest is what the wire brings: chunks of [n][n bytes] fed one per request,
 *          n = 0 lets the request time out - the block framing, NAKs and stale answers.
 */
/* every step feeds a chunk (at least one input byte) or ticks; once the input is spent the
 * tries run out within a few steps, and a whole 64 KiB dictionary takes ~1700 answers */
#define STEPS_SPARE 4096u

struct wire {
	const uint8_t *p;
	size_t left;
};

static bool take(struct wire *w, size_t n, const uint8_t **out)
{
	if (w->left < n)
		return false;
	*out = w->p;
	w->p += n;
	w->left -= n;
	return true;
}

/* What the application answers to the request block req (the twin's part, from fuzz bytes). */
static size_t answer(const uint8_t *req, size_t req_len, const uint8_t *zdict, size_t zlen,
		     const uint8_t *tail, size_t tail_len, int canbus_id, uint8_t *out, size_t cap)
{
	struct klipper_block b;
	uint8_t content[KLIPPER_CONTENT_MAX];
	uint32_t offset;
	uint8_t count;
	size_t used, n = 0, len = 0;

	if (klipper_block_find(req, req_len, &used, &b) != 1)
		abort(); /* the session sent something that is not one whole block */
	const uint8_t seq = (uint8_t)((b.seq + 1) & KLIPPER_SEQ_MASK);
	if (klipper_parse_identify(b.content, b.content_len, &offset, &count, &used) == 0) {
		const size_t at = offset < zlen ? offset : zlen;
		size_t k = zlen - at < count ? zlen - at : count;

		if (k > KLIPPER_IDENTIFY_DATA_MAX)
			k = KLIPPER_IDENTIFY_DATA_MAX;
		if (klipper_build_identify_response(seq, offset, zdict + at, k, out, cap, &len))
			abort();
		return len;
	}
	if (canbus_id >= 0)
		n = (size_t)klipper_msgid_encode((uint16_t)canbus_id, content);
	if (tail_len > sizeof(content) - n)
		tail_len = sizeof(content) - n;
	memcpy(content + n, tail, tail_len);
	if (klipper_block_encode(seq, content, n + tail_len, out, cap, &len))
		abort();
	return len;
}

static void check_done(const struct appid *s, bool ask)
{
	const int rc = appid_result(s);
	struct appdict d;
	uint8_t uuid[6], node;
	size_t zlen = 0;
	const uint8_t *z;

	if (rc != CF_OK && rc != CF_ERR_TIMEOUT && rc != CF_ERR_PROTOCOL && rc != CF_ERR_NOMEM)
		abort();
	if (rc == CF_OK) {
		z = appid_dict(s, &zlen);
		if (!z || zlen > APPID_DICT_MAX || appdict_read(z, zlen, &d) != CF_OK)
			abort(); /* DONE with 0 means the dictionary decoded */
		if (ask != appid_canbus_id(s, uuid, &node))
			abort();
	} else if (!appid_failure(s)->detail[0]) {
		abort(); /* a failure always says why */
	}
}

static void run(const uint8_t *in, size_t size)
{
	const bool ask = in[0] & 1, app = in[0] & 2;
	struct appid_config cfg = {.ask_canbus_id = ask, .tries = 2, .seq = in[0] >> 4};
	struct wire w = {in + 1, size - 1};
	uint8_t *zdict = NULL, reply[KLIPPER_BLOCK_MAX];
	uLongf zlen = 0;
	int canbus_id = -1;
	struct appid *s;
	uint64_t now = 1000;

	if (app) {
		const uint8_t *l, *text;
		size_t n;
		struct appdict d;

		if (!take(&w, 2, &l) || !take(&w, n = (size_t)(l[0] | l[1] << 8), &text))
			return;
		zlen = compressBound(n);
		if (!(zdict = malloc(zlen)) || compress2(zdict, &zlen, text, n, 6) != Z_OK) {
			free(zdict);
			return;
		}
		if (appdict_read_text((const char *)text, n, &d) == CF_OK)
			canbus_id = d.canbus_id;
	}
	if (appid_new(&cfg, &s) < 0) {
		free(zdict);
		return;
	}
	for (size_t step = 0; appid_state(s) != APPID_DONE && step < size + STEPS_SPARE; step++) {
		const uint8_t *block, *chunk;
		size_t len;

		if (appid_poll_tx(s, &block, &len) > 0) {
			if (len < KLIPPER_BLOCK_MIN || len > KLIPPER_BLOCK_MAX)
				abort();
			if (app) {
				len = answer(block, len, zdict, zlen, w.p, w.left, canbus_id, reply,
					     sizeof(reply));
				appid_tx_done(s, now);
				appid_feed(s, reply, len, now);
				continue;
			}
			appid_tx_done(s, now);
		}
		if (!app && take(&w, 1, &chunk) && take(&w, chunk[0], &block) && chunk[0]) {
			appid_feed(s, block, chunk[0], now);
			continue;
		}
		/* nothing (more) comes: the request times out */
		if (appid_deadline(s) == UINT64_MAX && appid_state(s) == APPID_WAIT)
			abort();
		if (appid_state(s) == APPID_WAIT)
			now = appid_deadline(s);
		appid_tick(s, now);
	}
	/* answered or not, the session ends within its tries: never a hang */
	if (appid_state(s) != APPID_DONE)
		abort();
	check_done(s, ask);
	appid_free(s);
	free(zdict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy so ASan catches any read past the input (style.md §2.9). */
	uint8_t *in;
	uint8_t uuid[6], node;

	if (size < 1 || !(in = malloc(size)))
		return 0;
	memcpy(in, data, size);
	run(in, size);
	/* the canbus_id parser alone, on the input as content, with its first byte as msgid */
	if (klipper_parse_canbus_id(in + 1, size - 1, in[0], uuid, &node) == CF_OK && size - 1 < 9)
		abort(); /* msgid, length 6, six bytes and a VLQ cannot fit fewer */
	free(in);
	return 0;
}
