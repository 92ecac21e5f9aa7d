// SPDX-License-Identifier: GPL-3.0-or-later
// Katapult frames: every katapult.md §1.2 vector built by our builders and parsed by our parsers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/katapult.h"

#define APP_START 0x08002000u

/* Spec vectors are written as in katapult.md: lower-case hex bytes separated by spaces. */
static size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;
	int used;

	while (sscanf(s, " %2x%n", &v, &used) == 1) {
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
		s += used;
	}
	return n;
}

/* katapult.md §1.2: SEND_BLOCK @0x08002000 with data 00 01 ... 3f, spelled out. */
static size_t send_block_vector(uint8_t *out)
{
	size_t n = hex("01 88 12 11 00 20 00 08", out, 8);
	for (int i = 0; i < 64; i++)
		out[n++] = (uint8_t)i;
	n += hex("d2 f3 99 03", out + n, 4);
	return n;
}

static const char connect_ack_110[] =
    "01 88 a0 0d 11 00 00 00 00 01 01 00 00 20 00 08 40 00 00 00 73 74 6d 33 32 66 30 34 32 "
    "78 36 00 00 00 00 00 76 30 2e 30 2e 31 2d 31 31 30 2d 67 39 30 32 66 33 33 35 00 14 51 "
    "99 03";

/* ---- builders ---------------------------------------------------------------------------- */

static int b_request_block(uint8_t *o, size_t c, size_t *l)
{
	return katapult_build_request_block(APP_START, o, c, l);
}

static int b_send_block(uint8_t *o, size_t c, size_t *l)
{
	uint8_t data[KATAPULT_BLOCK_SIZE];
	for (int i = 0; i < KATAPULT_BLOCK_SIZE; i++)
		data[i] = (uint8_t)i;
	return katapult_build_send_block(APP_START, data, o, c, l);
}

static int b_block_ack(uint8_t *o, size_t c, size_t *l)
{
	return katapult_build_block_ack(APP_START, o, c, l);
}

static int b_eof_ack(uint8_t *o, size_t c, size_t *l)
{
	return katapult_build_eof_ack(18, o, c, l);
}

static int b_complete_ack(uint8_t *o, size_t c, size_t *l)
{
	return katapult_build_ack(KATAPULT_CMD_COMPLETE, NULL, 0, o, c, l);
}

static int b_canbus_id_ack(uint8_t *o, size_t c, size_t *l)
{
	const uint8_t uuid[6] = {0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88};
	return katapult_build_canbus_id_ack(uuid, o, c, l);
}

static int b_connect_ack_110(uint8_t *o, size_t c, size_t *l)
{
	const struct katapult_connect_info info = {
	    .proto_version = KATAPULT_PROTO_1_1_0,
	    .app_start = APP_START,
	    .block_size = 64,
	    .mcu = "stm32f042x6",
	    .version = "v0.0.1-110-g902f335",
	};
	return katapult_build_connect_ack(&info, o, c, l);
}

static const struct build_case {
	const char *name;
	int (*build)(uint8_t *out, size_t cap, size_t *out_len);
	const char *want; /* NULL: the 76-byte SEND_BLOCK vector */
} build_cases[] = {
    {"§1.2 NACK", katapult_build_nack, "01 88 f1 00 68 95 99 03"},
    {"§1.2 command error", katapult_build_cmd_error, "01 88 f2 00 00 bf 99 03"},
    {"§1.2 busy", katapult_build_busy, "01 88 f3 00 d8 a6 99 03"},
    {"§1.2 CONNECT", katapult_build_connect, "01 88 11 00 f1 7c 99 03"},
    {"§1.2 SEND_EOF", katapult_build_send_eof, "01 88 13 00 41 4f 99 03"},
    {"§1.2 COMPLETE", katapult_build_complete, "01 88 15 00 91 1b 99 03"},
    {"§1.2 GET_CANBUS_ID", katapult_build_get_canbus_id, "01 88 16 00 f9 31 99 03"},
    {"§1.2 prime", katapult_build_prime, "01 88 90 00 e5 e9 99 03"},
    {"§1.2 REQUEST_BLOCK", b_request_block, "01 88 14 01 00 20 00 08 5b de 99 03"},
    {"§1.2 SEND_BLOCK", b_send_block, NULL},
    {"§1.2 ACK SEND_BLOCK", b_block_ack, "01 88 a0 02 12 00 00 00 00 20 00 08 5a d6 99 03"},
    {"§1.2 ACK SEND_EOF 18", b_eof_ack, "01 88 a0 02 13 00 00 00 12 00 00 00 41 22 99 03"},
    {"§1.2 ACK COMPLETE", b_complete_ack, "01 88 a0 01 15 00 00 00 00 2e 99 03"},
    {"§1.2 ACK GET_CANBUS_ID", b_canbus_id_ack,
     "01 88 a0 03 16 00 00 00 e0 ef 27 0c a1 88 00 00 b0 d0 99 03"},
    {"§1.2 ACK CONNECT 1.1.0", b_connect_ack_110, connect_ack_110},
};
#define N_BUILD (sizeof(build_cases) / sizeof(build_cases[0]))

static size_t case_bytes(const struct build_case *c, uint8_t *out)
{
	return c->want ? hex(c->want, out, KATAPULT_MAX_FRAME) : send_block_vector(out);
}

static void test_katapult_builders_match_spec(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_BUILD; i++) {
		uint8_t want[KATAPULT_MAX_FRAME], got[KATAPULT_MAX_FRAME];
		size_t got_len = 0;
		const size_t want_len = case_bytes(&build_cases[i], want);

		const int err = build_cases[i].build(got, sizeof(got), &got_len);

		if (err || got_len != want_len || memcmp(got, want, want_len))
			fail_msg("%s: err %d, len %zu want %zu", build_cases[i].name, err, got_len,
				 want_len);
	}
}

static void test_katapult_send_block_is_76_bytes(void **state)
{
	(void)state;
	uint8_t out[KATAPULT_MAX_FRAME];
	size_t len = 0;

	assert_int_equal(b_send_block(out, sizeof(out), &len), 0);

	assert_int_equal(len, 76);
	assert_int_equal(KATAPULT_SEND_BLOCK_FRAME_LEN, 76);
}

static void test_katapult_builders_refuse_small_buffer(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_BUILD; i++) {
		uint8_t want[KATAPULT_MAX_FRAME], out[KATAPULT_MAX_FRAME];
		size_t len = 12345;
		const size_t want_len = case_bytes(&build_cases[i], want);
		memset(out, 0xaa, sizeof(out));

		const int err = build_cases[i].build(out, want_len - 1, &len);

		if (err != CF_ERR_NOSPACE || len != 12345 || out[0] != 0xaa)
			fail_msg("%s: err %d", build_cases[i].name, err);
	}
}

static void test_katapult_encode_rejects_unaligned_payload(void **state)
{
	(void)state;
	const uint8_t payload[5] = {1, 2, 3, 4, 5};
	uint8_t out[KATAPULT_MAX_FRAME];
	size_t len;

	assert_int_equal(katapult_encode(0x12, payload, 5, out, sizeof(out), &len), CF_ERR_USAGE);
	assert_int_equal(katapult_encode(0x12, payload, 3, out, sizeof(out), &len), CF_ERR_USAGE);
}

static void test_katapult_encode_rejects_oversize_payload(void **state)
{
	(void)state;
	uint8_t payload[KATAPULT_MAX_PAYLOAD + 4] = {0};
	uint8_t out[256];
	size_t len;

	/* katapult.md §1.1: N <= 30, so 120 payload bytes fit a 128-byte frame and 124 do not */
	assert_int_equal(katapult_encode(0x12, payload, 120, out, sizeof(out), &len), 0);
	assert_int_equal(len, 128);
	assert_int_equal(katapult_encode(0x12, payload, 124, out, sizeof(out), &len), CF_ERR_USAGE);
}

/* ---- one-shot decode --------------------------------------------------------------------- */

static void test_katapult_decode_every_spec_vector(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_BUILD; i++) {
		uint8_t buf[KATAPULT_MAX_FRAME];
		struct katapult_frame f;
		size_t frame_len = 0;
		const size_t n = case_bytes(&build_cases[i], buf);

		const int r = katapult_decode(buf, n, &frame_len, &f);

		if (r != 1 || frame_len != n || f.cmd != buf[2] || f.words != buf[3] ||
		    f.payload != buf + 4 || f.payload_len != (size_t)buf[3] * 4 || f.raw_len != n)
			fail_msg("%s: r %d", build_cases[i].name, r);
	}
}

static void test_katapult_decode_prefix_needs_more(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_frame f;
	size_t frame_len;
	const size_t n = send_block_vector(buf);

	for (size_t k = 0; k < n; k++)
		assert_int_equal(katapult_decode(buf, k, &frame_len, &f), 0);
}

static void test_katapult_decode_rejects_missing_header(void **state)
{
	(void)state;
	uint8_t buf[8];
	struct katapult_frame f;
	size_t frame_len;
	hex("00 01 88 11 00 f1 7c 99", buf, sizeof(buf));

	assert_int_equal(katapult_decode(buf, 8, &frame_len, &f), CF_ERR_FRAME);
}

/* ---- streaming parser -------------------------------------------------------------------- */

struct seen {
	size_t count;
	uint8_t cmd[64];
	size_t len[64];
	uint8_t raw[64][KATAPULT_MAX_FRAME];
	int errors[64];
	size_t n_errors;
};

/* Feed in chunks of at most step bytes and record every frame and error. */
static void feed_all(struct katapult_parser *p, const uint8_t *data, size_t len, size_t step,
		     struct seen *s)
{
	size_t pos = 0;

	memset(s, 0, sizeof(*s));
	while (pos < len) {
		const size_t chunk = len - pos < step ? len - pos : step;
		size_t off = 0;

		for (;;) {
			struct katapult_frame f;
			size_t used = 0;
			const int r =
			    katapult_parser_feed(p, data + pos + off, chunk - off, &used, &f);

			off += used;
			assert_true(off <= chunk);
			if (r == 0)
				break;
			if (r < 0) {
				s->errors[s->n_errors++] = r;
				continue;
			}
			assert_int_equal(r, 1);
			s->cmd[s->count] = f.cmd;
			s->len[s->count] = f.raw_len;
			memcpy(s->raw[s->count], f.raw, f.raw_len);
			s->count++;
		}
		assert_int_equal(off, chunk);
		pos += chunk;
	}
}

static size_t all_vectors(uint8_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < N_BUILD; i++)
		n += case_bytes(&build_cases[i], out + n);
	return n;
}

static void test_katapult_parser_byte_by_byte_equals_whole(void **state)
{
	(void)state;
	static uint8_t stream[N_BUILD * KATAPULT_MAX_FRAME];
	static struct seen whole, bytes, sevens;
	struct katapult_parser p;
	const size_t n = all_vectors(stream);

	katapult_parser_init(&p);
	feed_all(&p, stream, n, n, &whole);
	katapult_parser_init(&p);
	feed_all(&p, stream, n, 1, &bytes);
	katapult_parser_init(&p);
	feed_all(&p, stream, n, 7, &sevens);

	assert_int_equal(whole.count, N_BUILD);
	assert_int_equal(whole.n_errors, 0);
	assert_memory_equal(&whole, &bytes, sizeof(whole));
	assert_memory_equal(&whole, &sevens, sizeof(whole));
	assert_int_equal(p.frames, N_BUILD);
	assert_int_equal(p.bytes_discarded, 0);
}

static void test_katapult_parser_skips_garbage_before_header(void **state)
{
	(void)state;
	uint8_t stream[32];
	static struct seen s;
	struct katapult_parser p;
	katapult_parser_init(&p);
	/* 0x01 not followed by 0x88 and 0x88 alone are garbage too */
	const size_t n = hex("ff 00 01 99 88 01 88 11 00 f1 7c 99 03", stream, sizeof(stream));

	feed_all(&p, stream, n, n, &s);

	assert_int_equal(s.count, 1);
	assert_int_equal(s.cmd[0], KATAPULT_CMD_CONNECT);
	assert_int_equal(s.n_errors, 0);
	assert_int_equal(p.bytes_discarded, 5);
}

static void test_katapult_parser_resyncs_after_bad_crc(void **state)
{
	(void)state;
	uint8_t stream[64];
	static struct seen s;
	struct katapult_parser p;
	katapult_parser_init(&p);
	/* NACK with its CRC low byte flipped, then a valid ACK COMPLETE */
	const size_t n = hex("01 88 f1 00 69 95 99 03 01 88 a0 01 15 00 00 00 00 2e 99 03", stream,
			     sizeof(stream));

	feed_all(&p, stream, n, n, &s);

	assert_int_equal(s.n_errors, 1);
	assert_int_equal(s.errors[0], CF_ERR_CRC);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.cmd[0], KATAPULT_RESP_ACK);
	assert_int_equal(p.crc_errors, 1);
	assert_int_equal(p.resyncs, 1);
	assert_int_equal(p.frames, 1);
}

static void test_katapult_parser_rejects_bad_trailer(void **state)
{
	(void)state;
	uint8_t stream[16];
	static struct seen s;
	struct katapult_parser p;
	katapult_parser_init(&p);
	const size_t n = hex("01 88 11 00 f1 7c 99 04", stream, sizeof(stream));

	feed_all(&p, stream, n, 1, &s);

	assert_int_equal(s.n_errors, 1);
	assert_int_equal(s.errors[0], CF_ERR_FRAME);
	assert_int_equal(s.count, 0);
	assert_int_equal(p.frame_errors, 1);
}

static void test_katapult_parser_rejects_oversize_length(void **state)
{
	(void)state;
	uint8_t stream[16];
	struct katapult_parser p;
	struct katapult_frame f;
	size_t used;
	katapult_parser_init(&p);
	/* N = 31 -> 132 bytes, over the firmware's 128-byte MESSAGE_MAX (katapult.md §1.1) */
	const size_t n = hex("01 88 a0 1f 11 00 00 00", stream, sizeof(stream));

	const int r = katapult_parser_feed(&p, stream, n, &used, &f);

	assert_int_equal(r, CF_ERR_FRAME);
	assert_int_equal(used, 4); /* reported as soon as the length byte arrives */
	assert_int_equal(p.frame_errors, 1);
}

static void test_katapult_parser_finds_frame_behind_truncated_one(void **state)
{
	(void)state;
	uint8_t stream[64];
	static struct seen s;
	struct katapult_parser p;
	katapult_parser_init(&p);
	/*
	 * katapult.md §2.4: device -> host loss. The first 8 bytes of ACK SEND_BLOCK (16 bytes),
	 * then a whole ACK COMPLETE: the broken frame swallows the start of the good one, which
	 * must still be found once the trailer check fails.
	 */
	const size_t n = hex("01 88 a0 02 12 00 00 00 01 88 a0 01 15 00 00 00 00 2e 99 03", stream,
			     sizeof(stream));

	feed_all(&p, stream, n, n, &s);

	assert_int_equal(s.n_errors, 1);
	assert_int_equal(s.errors[0], CF_ERR_FRAME);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.len[0], 12);
	assert_memory_equal(s.raw[0], stream + 8, 12);
}

static void test_katapult_parser_recovers_from_partial_then_full_retransmit(void **state)
{
	(void)state;
	static uint8_t stream[2 * KATAPULT_MAX_FRAME];
	static struct seen s;
	struct katapult_parser p;
	katapult_parser_init(&p);
	/*
	 * katapult.md §1.7: 68 of 76 bytes of SEND_BLOCK, then the whole frame again. The firmware
	 * wedges on this sequence; the host parser must report one error and find the retransmit.
	 */
	const size_t one = send_block_vector(stream + 68);
	memcpy(stream, stream + 68, 68);

	feed_all(&p, stream, 68 + one, 68 + one, &s);

	assert_int_equal(s.n_errors, 1);
	assert_int_equal(s.errors[0], CF_ERR_FRAME);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.cmd[0], KATAPULT_CMD_SEND_BLOCK);
	assert_memory_equal(s.raw[0], stream + 68, one);
	assert_int_equal(p.resyncs, 1);
}

static void test_katapult_parser_frame_valid_until_next_feed(void **state)
{
	(void)state;
	uint8_t stream[32];
	struct katapult_parser p;
	struct katapult_frame f;
	size_t used;
	katapult_parser_init(&p);
	const size_t n =
	    hex("01 88 a0 01 15 00 00 00 00 2e 99 03 01 88 f1 00", stream, sizeof(stream));

	assert_int_equal(katapult_parser_feed(&p, stream, n, &used, &f), 1);

	assert_int_equal(used, 12);
	assert_int_equal(f.payload_len, 4);
	assert_int_equal(f.payload[0], 0x15);
	assert_int_equal(katapult_parser_feed(&p, stream + used, n - used, &used, &f), 0);
	assert_int_equal(used, 4);
	assert_int_equal(p.fill, 4);
}

/* ---- reply parsing ----------------------------------------------------------------------- */

static void decode_hex(const char *s, uint8_t *buf, struct katapult_frame *f)
{
	size_t frame_len;
	const size_t n = hex(s, buf, KATAPULT_MAX_FRAME);
	assert_int_equal(katapult_decode(buf, n, &frame_len, f), 1);
}

static const struct reply_case {
	const char *name;
	const char *frame;
	uint8_t sent;
	int want;
	enum katapult_reply_kind kind;
} reply_cases[] = {
    {"§1.2 ACK COMPLETE for COMPLETE", "01 88 a0 01 15 00 00 00 00 2e 99 03", KATAPULT_CMD_COMPLETE,
     0, KATAPULT_REPLY_ACK},
    {"§3.4 stale ACK COMPLETE for CONNECT", "01 88 a0 01 15 00 00 00 00 2e 99 03",
     KATAPULT_CMD_CONNECT, CF_ERR_PROTOCOL, KATAPULT_REPLY_ACK_OTHER},
    {"§1.2 NACK", "01 88 f1 00 68 95 99 03", KATAPULT_CMD_SEND_BLOCK, CF_ERR_NACK,
     KATAPULT_REPLY_NACK},
    {"§1.2 command error", "01 88 f2 00 00 bf 99 03", KATAPULT_CMD_SEND_BLOCK, CF_ERR_NACK,
     KATAPULT_REPLY_CMD_ERROR},
    {"§1.2 busy", "01 88 f3 00 d8 a6 99 03", KATAPULT_CMD_CONNECT, CF_ERR_BUSY,
     KATAPULT_REPLY_BUSY},
    {"§1.3 a host command is no reply", "01 88 11 00 f1 7c 99 03", KATAPULT_CMD_CONNECT,
     CF_ERR_PROTOCOL, KATAPULT_REPLY_UNKNOWN},
};

static void test_katapult_parse_reply_classifies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];
		uint8_t buf[KATAPULT_MAX_FRAME];
		struct katapult_frame f;
		struct katapult_reply r;
		decode_hex(c->frame, buf, &f);

		const int err = katapult_parse_reply(&f, c->sent, &r);

		if (err != c->want || r.kind != c->kind)
			fail_msg("%s: err %d kind %d", c->name, err, (int)r.kind);
	}
}

static void test_katapult_parse_reply_ack_without_echo_is_unknown(void **state)
{
	(void)state;
	/* an ACK with N = 0 cannot say what it acknowledges (katapult.md §1.3) */
	const struct katapult_frame f = {.cmd = KATAPULT_RESP_ACK, .words = 0};
	struct katapult_reply r;

	const int err = katapult_parse_reply(&f, KATAPULT_CMD_CONNECT, &r);

	assert_int_equal(err, CF_ERR_PROTOCOL);
	assert_int_equal(r.kind, KATAPULT_REPLY_UNKNOWN);
}

static void reply_payload(const char *frame, uint8_t sent, uint8_t *buf, struct katapult_reply *r)
{
	struct katapult_frame f;
	decode_hex(frame, buf, &f);
	assert_int_equal(katapult_parse_reply(&f, sent, r), 0);
}

static void test_katapult_parse_block_ack_spec(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_reply r;
	uint32_t addr = 0;
	reply_payload("01 88 a0 02 12 00 00 00 00 20 00 08 5a d6 99 03", KATAPULT_CMD_SEND_BLOCK,
		      buf, &r);

	assert_int_equal(katapult_parse_block_ack(r.payload, r.payload_len, &addr), 0);

	assert_int_equal(addr, APP_START);
	assert_int_equal(katapult_parse_block_ack(r.payload, 3, &addr), CF_ERR_PROTOCOL);
}

static void test_katapult_parse_eof_ack_spec(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_reply r;
	uint32_t pages = 0;
	reply_payload("01 88 a0 02 13 00 00 00 12 00 00 00 41 22 99 03", KATAPULT_CMD_SEND_EOF, buf,
		      &r);

	assert_int_equal(katapult_parse_eof_ack(r.payload, r.payload_len, &pages), 0);

	assert_int_equal(pages, 18);
	assert_int_equal(katapult_parse_eof_ack(r.payload, 0, &pages), CF_ERR_PROTOCOL);
}

static void test_katapult_parse_canbus_id_spec(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_reply r;
	uint8_t uuid[6] = {0};
	const uint8_t want[6] = {0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88};
	reply_payload("01 88 a0 03 16 00 00 00 e0 ef 27 0c a1 88 00 00 b0 d0 99 03",
		      KATAPULT_CMD_GET_CANBUS_ID, buf, &r);

	assert_int_equal(katapult_parse_canbus_id(r.payload, r.payload_len, uuid), 0);

	assert_memory_equal(uuid, want, 6);
	assert_int_equal(katapult_parse_canbus_id(r.payload, 4, uuid), CF_ERR_PROTOCOL);
}

static void test_katapult_parse_complete_ack_is_empty(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_reply r;

	reply_payload("01 88 a0 01 15 00 00 00 00 2e 99 03", KATAPULT_CMD_COMPLETE, buf, &r);

	assert_int_equal(r.payload_len, 0);
	assert_int_equal(r.echoed, KATAPULT_CMD_COMPLETE);
}

/* katapult.md §1.3: REQUEST_BLOCK ACK = echo, u32 address, 64 flash bytes (N = 18). */
static void test_katapult_parse_read_ack_layout(void **state)
{
	(void)state;
	uint8_t payload[68], data[64], want[64];
	uint32_t addr = 0;
	hex("00 24 00 08", payload, 4);
	for (int i = 0; i < 64; i++)
		want[i] = payload[4 + i] = (uint8_t)(0xff - i);

	assert_int_equal(katapult_parse_read_ack(payload, sizeof(payload), &addr, data), 0);

	assert_int_equal(addr, 0x08002400);
	assert_memory_equal(data, want, 64);
	assert_int_equal(katapult_parse_read_ack(payload, 67, &addr, data), CF_ERR_PROTOCOL);
}

static void test_katapult_read_ack_builder_layout(void **state)
{
	(void)state;
	uint8_t data[64], out[KATAPULT_MAX_FRAME], head[12];
	size_t len;
	for (int i = 0; i < 64; i++)
		data[i] = (uint8_t)i;
	hex("01 88 a0 12 14 00 00 00 00 24 00 08", head, sizeof(head));

	assert_int_equal(katapult_build_read_ack(0x08002400, data, out, sizeof(out), &len), 0);

	assert_int_equal(len, 80);
	assert_memory_equal(out, head, sizeof(head));
	assert_memory_equal(out + 12, data, 64);
}

/* ---- CONNECT ----------------------------------------------------------------------------- */

static void test_katapult_parse_connect_110_spec(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_reply r;
	struct katapult_connect_info info;
	reply_payload(connect_ack_110, KATAPULT_CMD_CONNECT, buf, &r);

	assert_int_equal(katapult_parse_connect(r.payload, r.payload_len, &info), 0);

	assert_int_equal(info.proto_version, KATAPULT_PROTO_1_1_0);
	assert_int_equal(KATAPULT_PROTO_MAJOR(info.proto_version), 1);
	assert_int_equal(KATAPULT_PROTO_MINOR(info.proto_version), 1);
	assert_int_equal(KATAPULT_PROTO_PATCH(info.proto_version), 0);
	assert_int_equal(info.app_start, APP_START);
	assert_int_equal(info.block_size, 64);
	assert_string_equal(info.mcu, "stm32f042x6");
	assert_string_equal(info.version, "v0.0.1-110-g902f335");
}

/* katapult.md §1.4, §9: 1.0.0 as Cartographer ships it, no version field (after the echo). */
static const char connect_100_payload[] = "00 00 01 00 00 20 00 08 40 00 00 00 "
					  "73 74 6d 33 32 66 30 34 32 78 36 00";

static void test_katapult_parse_connect_100_without_version(void **state)
{
	(void)state;
	uint8_t payload[64];
	struct katapult_connect_info info;
	const size_t n = hex(connect_100_payload, payload, sizeof(payload));

	assert_int_equal(katapult_parse_connect(payload, n, &info), 0);

	assert_int_equal(info.proto_version, KATAPULT_PROTO_1_0_0);
	assert_int_equal(info.app_start, APP_START);
	assert_int_equal(info.block_size, 64);
	assert_string_equal(info.mcu, "stm32f042x6");
	assert_string_equal(info.version, "");
}

/* katapult.md §1.4, Arksine/katapult#159: 1.1.0 layout whose version string is empty. */
static void test_katapult_parse_connect_110_without_version_string(void **state)
{
	(void)state;
	uint8_t payload[64];
	struct katapult_connect_info info;
	const size_t n = hex("00 01 01 00 00 20 00 08 40 00 00 00 "
			     "73 74 6d 33 32 66 30 34 32 78 36 00 00 00 00 00",
			     payload, sizeof(payload));

	assert_int_equal(katapult_parse_connect(payload, n, &info), 0);

	assert_int_equal(info.proto_version, KATAPULT_PROTO_1_1_0);
	assert_string_equal(info.mcu, "stm32f042x6");
	assert_string_equal(info.version, "");
}

static void test_katapult_parse_connect_rejects_short_and_bad_block_size(void **state)
{
	(void)state;
	uint8_t payload[64];
	struct katapult_connect_info info;
	size_t n = hex(connect_100_payload, payload, sizeof(payload));

	assert_int_equal(katapult_parse_connect(payload, 11, &info), CF_ERR_PROTOCOL);
	payload[8] = 0x20; /* block size 32: flashtool says "Invalid Block Size" */
	assert_int_equal(katapult_parse_connect(payload, n, &info), CF_ERR_PROTOCOL);
	assert_int_equal(info.block_size, 32);
}

static void test_katapult_connect_ack_builder_100_layout(void **state)
{
	(void)state;
	uint8_t out[KATAPULT_MAX_FRAME], want[64];
	size_t len;
	const struct katapult_connect_info info = {
	    .proto_version = KATAPULT_PROTO_1_0_0,
	    .app_start = APP_START,
	    .block_size = 64,
	    .mcu = "stm32f042x6",
	    .version = "ignored for 1.0.0",
	};
	const size_t n = hex(connect_100_payload, want, sizeof(want));

	assert_int_equal(katapult_build_connect_ack(&info, out, sizeof(out), &len), 0);

	/* 6 + ceil(11 / 4) = 9 words: ACK header, echo, 3 fixed words, MCU, CRC + trailer */
	assert_int_equal(len, 36);
	assert_int_equal(out[3], 7);
	assert_memory_equal(out + 8, want, n);
}

/* katapult.md §1.5: CONNECT ACK = 7 + ceil(mcu / 4) + ceil(version / 4) words for 1.1.0. */
static void test_katapult_connect_ack_builder_word_count(void **state)
{
	(void)state;
	uint8_t out[KATAPULT_MAX_FRAME];
	size_t len;
	const struct katapult_connect_info info = {
	    .proto_version = KATAPULT_PROTO_1_1_0,
	    .app_start = APP_START,
	    .block_size = 64,
	    .mcu = "abcdefgh",
	    .version = "v1",
	};

	assert_int_equal(katapult_build_connect_ack(&info, out, sizeof(out), &len), 0);

	assert_int_equal(len, 4 * (7 + 2 + 1));
	/* the MCU fills its words exactly; the zero separator word still ends it */
	assert_memory_equal(out + 20, "abcdefgh\0\0\0\0v1\0\0", 16);
}

static void test_katapult_connect_ack_builder_refuses_oversize_strings(void **state)
{
	(void)state;
	uint8_t out[KATAPULT_MAX_FRAME];
	size_t len;
	struct katapult_connect_info info = {.proto_version = KATAPULT_PROTO_1_1_0};
	memset(info.mcu, 'm', 60);
	memset(info.version, 'v', 44);

	assert_int_equal(katapult_build_connect_ack(&info, out, sizeof(out), &len), CF_ERR_USAGE);
}

/* ---- device side ------------------------------------------------------------------------- */

static void test_katapult_parse_send_block_device_side(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_frame f;
	size_t frame_len;
	uint32_t addr = 0;
	const uint8_t *data = NULL;
	const size_t n = send_block_vector(buf);
	assert_int_equal(katapult_decode(buf, n, &frame_len, &f), 1);

	assert_int_equal(katapult_parse_send_block(&f, &addr, &data), 0);

	assert_int_equal(addr, APP_START);
	for (int i = 0; i < 64; i++)
		assert_int_equal(data[i], i);
	f.payload_len = 8; /* a short block: the firmware answers command error (§1.3) */
	assert_int_equal(katapult_parse_send_block(&f, &addr, &data), CF_ERR_PROTOCOL);
}

static void test_katapult_parse_request_block_device_side(void **state)
{
	(void)state;
	uint8_t buf[KATAPULT_MAX_FRAME];
	struct katapult_frame f;
	uint32_t addr = 0;
	decode_hex("01 88 14 01 00 20 00 08 5b de 99 03", buf, &f);

	assert_int_equal(katapult_parse_request_block(&f, &addr), 0);

	assert_int_equal(addr, APP_START);
}

static void test_katapult_cmd_names(void **state)
{
	(void)state;
	assert_string_equal(katapult_cmd_name(KATAPULT_CMD_SEND_BLOCK), "SEND_BLOCK");
	assert_string_equal(katapult_cmd_name(KATAPULT_RESP_NACK), "NACK");
	assert_string_equal(katapult_cmd_name(0x42), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_katapult_builders_match_spec),
	    cmocka_unit_test(test_katapult_send_block_is_76_bytes),
	    cmocka_unit_test(test_katapult_builders_refuse_small_buffer),
	    cmocka_unit_test(test_katapult_encode_rejects_unaligned_payload),
	    cmocka_unit_test(test_katapult_encode_rejects_oversize_payload),
	    cmocka_unit_test(test_katapult_decode_every_spec_vector),
	    cmocka_unit_test(test_katapult_decode_prefix_needs_more),
	    cmocka_unit_test(test_katapult_decode_rejects_missing_header),
	    cmocka_unit_test(test_katapult_parser_byte_by_byte_equals_whole),
	    cmocka_unit_test(test_katapult_parser_skips_garbage_before_header),
	    cmocka_unit_test(test_katapult_parser_resyncs_after_bad_crc),
	    cmocka_unit_test(test_katapult_parser_rejects_bad_trailer),
	    cmocka_unit_test(test_katapult_parser_rejects_oversize_length),
	    cmocka_unit_test(test_katapult_parser_finds_frame_behind_truncated_one),
	    cmocka_unit_test(test_katapult_parser_recovers_from_partial_then_full_retransmit),
	    cmocka_unit_test(test_katapult_parser_frame_valid_until_next_feed),
	    cmocka_unit_test(test_katapult_parse_reply_classifies),
	    cmocka_unit_test(test_katapult_parse_reply_ack_without_echo_is_unknown),
	    cmocka_unit_test(test_katapult_parse_block_ack_spec),
	    cmocka_unit_test(test_katapult_parse_eof_ack_spec),
	    cmocka_unit_test(test_katapult_parse_canbus_id_spec),
	    cmocka_unit_test(test_katapult_parse_complete_ack_is_empty),
	    cmocka_unit_test(test_katapult_parse_read_ack_layout),
	    cmocka_unit_test(test_katapult_read_ack_builder_layout),
	    cmocka_unit_test(test_katapult_parse_connect_110_spec),
	    cmocka_unit_test(test_katapult_parse_connect_100_without_version),
	    cmocka_unit_test(test_katapult_parse_connect_110_without_version_string),
	    cmocka_unit_test(test_katapult_parse_connect_rejects_short_and_bad_block_size),
	    cmocka_unit_test(test_katapult_connect_ack_builder_100_layout),
	    cmocka_unit_test(test_katapult_connect_ack_builder_word_count),
	    cmocka_unit_test(test_katapult_connect_ack_builder_refuses_oversize_strings),
	    cmocka_unit_test(test_katapult_parse_send_block_device_side),
	    cmocka_unit_test(test_katapult_parse_request_block_device_side),
	    cmocka_unit_test(test_katapult_cmd_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
