// SPDX-License-Identifier: GPL-3.0-or-later
// The identify session: Klipper message blocks until the whole data dictionary is read.
#include "appid/appid.h"

#include <stdlib.h>
#include <string.h>

#include "appid/appdict.h"
#include "failure.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/klipper.h"

#define APPID_RX_CAP 256 /* a few blocks: the reply, its ACK, a stale ACK */

enum phase {
	PHASE_DICT,	 /* identify offset=len count=40 until n == 0 */
	PHASE_CANBUS_ID, /* get_canbus_id -> canbus_id */
	PHASE_FINISHED,
};

struct appid {
	struct appid_config cfg;
	enum appid_state state;
	enum phase phase;
	uint8_t seq; /* the sequence number the MCU expects next (katapult.md §8.1) */
	uint8_t block[1 + KLIPPER_BLOCK_MAX];
	size_t block_len;
	bool first; /* the very first block goes out behind a 0x7e that flushes line garbage */
	uint64_t deadline;
	unsigned tries_left;
	uint8_t rx[APPID_RX_CAP];
	size_t rx_len;
	struct klipper_dict_reader dict;
	uint8_t *dict_buf;
	int get_canbus_id, canbus_id; /* ids from the dictionary */
	bool have_canbus_id;
	uint8_t uuid[6], node;
	int result;
	struct cf_failure failure;
	struct appid_stats stats;
};

static void finish(struct appid *s, int err)
{
	s->state = APPID_DONE;
	s->phase = PHASE_FINISHED;
	s->deadline = UINT64_MAX;
	s->result = err;
}

static void fail(struct appid *s, int err, const char *detail)
{
	cf_failure_set(&s->failure, err, "identify", "%s", detail);
	finish(s, err);
}

/* Build the request of the current phase with the current sequence number. */
static void prepare(struct appid *s)
{
	uint8_t *out = s->block;
	size_t cap = sizeof(s->block), n = 0;
	int err;

	if (s->first) {
		*out++ = KLIPPER_SYNC;
		cap--;
	}
	if (s->phase == PHASE_DICT)
		err = klipper_build_identify(s->seq, (uint32_t)s->dict.len, KLIPPER_IDENTIFY_COUNT,
					     out, cap, &n);
	else
		err = klipper_build_command(s->seq, (uint16_t)s->get_canbus_id, out, cap, &n);
	if (err < 0) {
		fail(s, CF_ERR_OTHER, "cannot encode the request");
		return;
	}
	s->block_len = n + (s->first ? 1 : 0);
	s->state = APPID_TX;
	s->deadline = UINT64_MAX;
}

/* The next request after a good answer: fresh tries. */
static void advance(struct appid *s, enum phase next)
{
	s->phase = next;
	s->tries_left = s->cfg.tries;
	if (next == PHASE_FINISHED)
		finish(s, CF_OK);
	else
		prepare(s);
}

/* The whole dictionary is here: read the ids get_canbus_id needs (katapult.md §8.4). */
static void dict_complete(struct appid *s)
{
	struct appdict d;

	if (appdict_read(s->dict_buf, s->dict.len, &d) < 0) {
		fail(s, CF_ERR_PROTOCOL, "the data dictionary does not decode (zlib + JSON)");
		return;
	}
	s->get_canbus_id = d.get_canbus_id;
	s->canbus_id = d.canbus_id;
	if (!s->cfg.ask_canbus_id)
		advance(s, PHASE_FINISHED);
	else if (s->get_canbus_id < 0 || s->canbus_id < 0)
		fail(s, CF_ERR_PROTOCOL, "the application has no get_canbus_id (not a CAN build)");
	else
		advance(s, PHASE_CANBUS_ID);
}

static void on_identify_response(struct appid *s, const uint8_t *c, size_t len)
{
	struct klipper_identify_response r;
	int rc;

	if (klipper_parse_identify_response(c, len, &r) < 0 || r.offset != s->dict.len)
		return; /* a late answer to an earlier request: the current one is still due */
	rc = klipper_dict_add(&s->dict, r.offset, r.data, r.data_len);
	if (rc == CF_ERR_NOSPACE)
		fail(s, CF_ERR_PROTOCOL, "the data dictionary is larger than 64 KiB");
	else if (rc == 1)
		dict_complete(s);
	else
		advance(s, PHASE_DICT);
}

static void on_message(struct appid *s, const uint8_t *c, size_t len)
{
	uint16_t id;
	size_t used;

	if (klipper_msgid_decode(c, len, &id, &used) < 0)
		return;
	if (s->phase == PHASE_DICT && id == KLIPPER_MSGID_IDENTIFY_RESPONSE) {
		on_identify_response(s, c, len);
	} else if (s->phase == PHASE_CANBUS_ID && (int)id == s->canbus_id &&
		   !klipper_parse_canbus_id(c, len, id, s->uuid, &s->node)) {
		s->have_canbus_id = true;
		advance(s, PHASE_FINISHED);
	}
}

/*
 * Every block carries the sequence number the MCU expects next (katapult.md §8.1). An empty
 * block is an ACK when it names ours + 1, a stale ACK of the previous request when it names
 * ours, and otherwise a NAK: adopt its number and resend at once (a node left by an earlier
 * session expects some other number).
 */
static void on_block(struct appid *s, const struct klipper_block *b)
{
	const uint8_t sent = s->seq;

	s->stats.blocks_received++;
	if (s->state != APPID_WAIT)
		return;
	if (b->content_len) {
		s->seq = b->seq;
		on_message(s, b->content, b->content_len);
		return;
	}
	if (b->seq == sent)
		return;
	s->seq = b->seq;
	if (b->seq != ((sent + 1) & KLIPPER_SEQ_MASK)) {
		s->stats.naks++;
		prepare(s);
	}
}

void appid_feed(struct appid *s, const uint8_t *data, size_t len, uint64_t now_us)
{
	(void)now_us;
	while (len && s->state != APPID_DONE) {
		size_t take = len < sizeof(s->rx) - s->rx_len ? len : sizeof(s->rx) - s->rx_len;
		size_t used;
		struct klipper_block b;
		int rc;

		memcpy(s->rx + s->rx_len, data, take);
		s->rx_len += take;
		data += take;
		len -= take;
		while (s->rx_len && s->state != APPID_DONE) {
			rc = klipper_block_find(s->rx, s->rx_len, &used, &b);
			if (rc == 1)
				on_block(s, &b);
			else if (rc < 0)
				s->stats.bad_blocks++;
			if (!used)
				break;
			memmove(s->rx, s->rx + used, s->rx_len - used);
			s->rx_len -= used;
		}
	}
}

void appid_tick(struct appid *s, uint64_t now_us)
{
	if (s->state != APPID_WAIT || now_us < s->deadline)
		return;
	s->stats.timeouts++;
	if (--s->tries_left == 0) {
		cf_failure_set(&s->failure, CF_ERR_TIMEOUT, "identify",
			       "no answer to %s after %u tries of %.0f ms",
			       s->phase == PHASE_DICT ? "identify" : "get_canbus_id", s->cfg.tries,
			       (double)s->cfg.reply_us / 1000.0);
		finish(s, CF_ERR_TIMEOUT);
		return;
	}
	cf_log(CF_LOG_DEBUG, s->cfg.device, "appid", "no answer, resending (seq %u, offset %zu)",
	       (unsigned)s->seq, s->dict.len);
	prepare(s);
}

int appid_poll_tx(struct appid *s, const uint8_t **block, size_t *len)
{
	if (s->state != APPID_TX)
		return 0;
	*block = s->block;
	*len = s->block_len;
	return 1;
}

void appid_tx_done(struct appid *s, uint64_t now_us)
{
	if (s->state != APPID_TX)
		return;
	s->stats.blocks_sent++;
	s->first = false;
	s->state = APPID_WAIT;
	s->deadline = now_us + s->cfg.reply_us;
}

int appid_new(const struct appid_config *cfg, struct appid **out)
{
	struct appid *s = calloc(1, sizeof(*s));

	if (!s || !(s->dict_buf = malloc(APPID_DICT_MAX))) {
		free(s);
		return CF_ERR_NOMEM;
	}
	s->cfg = *cfg;
	if (!s->cfg.reply_us)
		s->cfg.reply_us = APPID_REPLY_TIMEOUT_US;
	if (!s->cfg.tries)
		s->cfg.tries = APPID_TRIES;
	cf_failure_clear(&s->failure);
	klipper_dict_init(&s->dict, s->dict_buf, APPID_DICT_MAX);
	s->get_canbus_id = s->canbus_id = -1;
	s->first = true;
	s->seq = cfg->seq & KLIPPER_SEQ_MASK;
	s->result = CF_ERR_AGAIN;
	advance(s, PHASE_DICT);
	*out = s;
	return CF_OK;
}

void appid_free(struct appid *s)
{
	if (!s)
		return;
	free(s->dict_buf);
	free(s);
}

uint64_t appid_deadline(const struct appid *s)
{
	return s->deadline;
}

enum appid_state appid_state(const struct appid *s)
{
	return s->state;
}

int appid_result(const struct appid *s)
{
	return s->result;
}

const struct cf_failure *appid_failure(const struct appid *s)
{
	return &s->failure;
}

const uint8_t *appid_dict(const struct appid *s, size_t *len)
{
	*len = s->result == CF_OK ? s->dict.len : 0;
	return s->result == CF_OK ? s->dict_buf : NULL;
}

bool appid_canbus_id(const struct appid *s, uint8_t uuid[6], uint8_t *node)
{
	if (!s->have_canbus_id)
		return false;
	memcpy(uuid, s->uuid, 6);
	*node = s->node;
	return true;
}

const struct appid_stats *appid_stats(const struct appid *s)
{
	return &s->stats;
}
