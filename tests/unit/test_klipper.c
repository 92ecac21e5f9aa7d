// SPDX-License-Identifier: GPL-3.0-or-later
// Klipper blocks, VLQ, identify and dictionary reassembly against katapult.md §3.6 and §8.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/klipper.h"

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

/* ---- blocks (katapult.md §8.3 vectors) --------------------------------------------------- */

static const struct identify_case {
	const char *name;
	uint8_t seq;
	uint32_t offset;
	const char *block;
} identify_cases[] = {
    {"§8.3 identify offset 0 seq 0", 0, 0, "08 10 01 00 28 5e 9f 7e"},
    {"§8.3 identify offset 40 seq 1", 1, 40, "08 11 01 28 28 af d7 7e"},
    {"§8.3 identify offset 80 seq 2", 2, 80, "08 12 01 50 28 b4 1e 7e"},
    {"§8.3 identify offset 120 seq 3", 3, 120, "09 13 01 80 78 28 07 96 7e"},
};
#define N_IDENTIFY (sizeof(identify_cases) / sizeof(identify_cases[0]))

static const struct ack_case {
	const char *name;
	uint8_t seq;
	const char *block;
} ack_cases[] = {
    {"§8.3 ACK seq 1", 1, "05 11 8f 08 7e"}, {"§8.3 ACK/NAK seq 0", 0, "05 10 9e 81 7e"},
    {"§8.3 seq 2", 2, "05 12 bd 93 7e"},     {"§8.3 seq 3", 3, "05 13 ac 1a 7e"},
    {"§8.3 seq 4", 4, "05 14 d8 a5 7e"},
};
#define N_ACK (sizeof(ack_cases) / sizeof(ack_cases[0]))

static void test_klipper_identify_blocks_match_spec(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_IDENTIFY; i++) {
		const struct identify_case *c = &identify_cases[i];
		uint8_t want[16], got[KLIPPER_BLOCK_MAX];
		size_t got_len = 0;
		const size_t want_len = hex(c->block, want, sizeof(want));

		const int err = klipper_build_identify(c->seq, c->offset, KLIPPER_IDENTIFY_COUNT,
						       got, sizeof(got), &got_len);

		if (err || got_len != want_len || memcmp(got, want, want_len))
			fail_msg("%s: err %d len %zu", c->name, err, got_len);
	}
}

static void test_klipper_ack_blocks_match_spec(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ACK; i++) {
		uint8_t want[8], got[8];
		size_t got_len = 0;
		const size_t want_len = hex(ack_cases[i].block, want, sizeof(want));

		const int err =
		    klipper_block_encode(ack_cases[i].seq, NULL, 0, got, sizeof(got), &got_len);

		if (err || got_len != want_len || memcmp(got, want, want_len))
			fail_msg("%s: err %d len %zu", ack_cases[i].name, err, got_len);
	}
}

static void test_klipper_block_find_spec_blocks(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_IDENTIFY + N_ACK; i++) {
		const char *name =
		    i < N_IDENTIFY ? identify_cases[i].name : ack_cases[i - N_IDENTIFY].name;
		const char *text =
		    i < N_IDENTIFY ? identify_cases[i].block : ack_cases[i - N_IDENTIFY].block;
		const uint8_t seq =
		    i < N_IDENTIFY ? identify_cases[i].seq : ack_cases[i - N_IDENTIFY].seq;
		uint8_t buf[16];
		struct klipper_block b;
		size_t consumed = 99;
		const size_t n = hex(text, buf, sizeof(buf));

		const int r = klipper_block_find(buf, n, &consumed, &b);

		if (r != 1 || consumed != n || b.seq != seq || b.block_len != n ||
		    b.content_len != n - 5 || b.content != buf + 2)
			fail_msg("%s: r %d consumed %zu", name, r, consumed);
	}
}

static void test_klipper_block_find_needs_more_on_prefix(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct klipper_block b;
	size_t consumed;
	const size_t n = hex("09 13 01 80 78 28 07 96 7e", buf, sizeof(buf));

	for (size_t k = 0; k < n; k++) {
		assert_int_equal(klipper_block_find(buf, k, &consumed, &b), 0);
		assert_int_equal(consumed, 0);
	}
}

static void test_klipper_block_find_skips_leading_sync(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct klipper_block b;
	size_t consumed;
	/* katapult.md §8.1: a leading 0x7e before a block is allowed and skipped */
	const size_t n = hex("7e 7e 05 11 8f 08 7e", buf, sizeof(buf));

	assert_int_equal(klipper_block_find(buf, 2, &consumed, &b), 0);
	assert_int_equal(consumed, 2);
	assert_int_equal(klipper_block_find(buf, n, &consumed, &b), 1);
	assert_int_equal(consumed, n);
	assert_int_equal(b.seq, 1);
}

static const struct discard_case {
	const char *name;
	const char *in;
	int want;
	size_t consumed;
} discard_cases[] = {
    {"§8.1 bad CRC", "05 11 8f 09 7e 05 11 8f 08 7e", CF_ERR_CRC, 5},
    {"§8.1 length below 5", "04 11 00 00 7e 05 11", CF_ERR_FRAME, 5},
    {"§8.1 length above 64", "41 11 00 00 7e", CF_ERR_FRAME, 5},
    {"§8.1 seq byte without 0x10", "05 21 8f 08 7e", CF_ERR_FRAME, 5},
    {"§8.1 trailer not 0x7e", "05 11 8f 08 7f 00 7e 05", CF_ERR_FRAME, 7},
    {"§8.1 no sync anywhere: drop all", "04 01 02 03", CF_ERR_FRAME, 4},
};

static void test_klipper_block_find_discards_through_next_sync(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(discard_cases) / sizeof(discard_cases[0]); i++) {
		const struct discard_case *c = &discard_cases[i];
		uint8_t buf[16];
		struct klipper_block b;
		size_t consumed = 99;
		const size_t n = hex(c->in, buf, sizeof(buf));

		const int r = klipper_block_find(buf, n, &consumed, &b);

		if (r != c->want || consumed != c->consumed)
			fail_msg("%s: r %d consumed %zu", c->name, r, consumed);
	}
}

static void test_klipper_block_encode_limits(void **state)
{
	(void)state;
	uint8_t content[KLIPPER_CONTENT_MAX + 1] = {0};
	uint8_t out[KLIPPER_BLOCK_MAX + 8];
	size_t len;

	assert_int_equal(klipper_block_encode(0, content, 59, out, sizeof(out), &len), 0);
	assert_int_equal(len, 64);
	assert_int_equal(klipper_block_encode(0, content, 60, out, sizeof(out), &len),
			 CF_ERR_USAGE);
	assert_int_equal(klipper_block_encode(0, content, 10, out, 14, &len), CF_ERR_NOSPACE);
}

/* ---- UART request (katapult.md §3.6) ----------------------------------------------------- */

static void test_klipper_serial_bootloader_request_bytes(void **state)
{
	(void)state;
	uint8_t want[40];
	const size_t n = hex("7e 20 1c 20 52 65 71 75 65 73 74 20 53 65 72 69 61 6c 20 42 6f 6f 74 "
			     "6c 6f 61 64 65 72 21 21 20 7e",
			     want, sizeof(want));

	assert_int_equal(n, KLIPPER_SERIAL_BOOTLOADER_REQUEST_LEN);
	assert_memory_equal(klipper_serial_bootloader_request, want, n);
}

static void test_klipper_serial_bootloader_request_is_a_bad_crc_block(void **state)
{
	(void)state;
	struct klipper_block b;
	size_t consumed;

	const int r = klipper_block_find(klipper_serial_bootloader_request,
					 KLIPPER_SERIAL_BOOTLOADER_REQUEST_LEN, &consumed, &b);

	/* katapult.md §3.6: the leading 0x7e is skipped, then exactly 32 bytes are discarded */
	assert_int_equal(r, CF_ERR_CRC);
	assert_int_equal(consumed, 1 + 32);
}

/* ---- VLQ (katapult.md §8.2) -------------------------------------------------------------- */

static const struct vlq_case {
	int32_t v;
	const char *bytes; /* NULL: only the length is given by the spec */
	int len;
} vlq_cases[] = {
    {-32, "60", 1},
    {95, "5f", 1},
    {-33, "ff 5f", 2},
    {96, "80 60", 2},
    {120, "80 78", 2}, /* §8.3 identify offset 120 */
    {-4096, "e0 00", 2},
    {12287, "df 7f", 2},
    {-4097, NULL, 3},
    {12288, NULL, 3},
    {-524288, NULL, 3},
    {1572863, NULL, 3},
    {-524289, NULL, 4},
    {1572864, NULL, 4},
    {-67108864, NULL, 4},
    {201326591, NULL, 4},
    {-67108865, NULL, 5},
    {201326592, NULL, 5},
    {INT32_MAX, "87 ff ff ff 7f", 5},
    {INT32_MIN, "88 80 80 80 00", 5},
};

static void test_klipper_vlq_boundaries(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vlq_cases) / sizeof(vlq_cases[0]); i++) {
		const struct vlq_case *c = &vlq_cases[i];
		uint8_t out[KLIPPER_VLQ_MAX], want[KLIPPER_VLQ_MAX];
		int32_t back = 0;
		size_t used = 0;

		const int n = klipper_vlq_encode(c->v, out);

		if (n != c->len)
			fail_msg("%d: length %d want %d", c->v, n, c->len);
		if (c->bytes && (hex(c->bytes, want, sizeof(want)) != (size_t)n ||
				 memcmp(out, want, (size_t)n)))
			fail_msg("%d: bytes differ from spec form", c->v);
		if (klipper_vlq_decode(out, (size_t)n, &back, &used) || back != c->v ||
		    used != (size_t)n)
			fail_msg("%d: decoded %d used %zu", c->v, back, used);
	}
}

static void test_klipper_vlq_decode_rejects_truncated_and_long(void **state)
{
	(void)state;
	const uint8_t truncated[] = {0x80, 0x80};
	const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	int32_t v;
	size_t used;

	assert_int_equal(klipper_vlq_decode(truncated, 2, &v, &used), CF_ERR_FRAME);
	assert_int_equal(klipper_vlq_decode(six, 6, &v, &used), CF_ERR_FRAME);
	assert_int_equal(klipper_vlq_decode(six, 0, &v, &used), CF_ERR_FRAME);
}

static void test_klipper_msgid_two_bytes(void **state)
{
	(void)state;
	uint8_t out[2];
	uint16_t id;
	size_t used;

	assert_int_equal(klipper_msgid_encode(1, out), 1);
	assert_int_equal(out[0], 0x01);
	/* katapult.md §8.2: id >= 0x80 -> (0x80 | id >> 7), (id & 0x7f) */
	assert_int_equal(klipper_msgid_encode(300, out), 2);
	assert_int_equal(out[0], 0x82);
	assert_int_equal(out[1], 0x2c);
	assert_int_equal(klipper_msgid_decode(out, 2, &id, &used), 0);
	assert_int_equal(id, 300);
	assert_int_equal(klipper_msgid_decode(out, 1, &id, &used), CF_ERR_FRAME);
}

/* ---- identify ---------------------------------------------------------------------------- */

static void test_klipper_parse_identify_from_spec_block(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct klipper_block b;
	size_t consumed, used;
	uint32_t offset;
	uint8_t count;
	const size_t n = hex("09 13 01 80 78 28 07 96 7e", buf, sizeof(buf));
	assert_int_equal(klipper_block_find(buf, n, &consumed, &b), 1);

	assert_int_equal(klipper_parse_identify(b.content, b.content_len, &offset, &count, &used),
			 0);

	assert_int_equal(offset, 120);
	assert_int_equal(count, 40);
	assert_int_equal(used, 4);
}

/* katapult.md §8.3: "00 <offset VLQ> <n> <n data bytes>"; 78 da is the zlib header. */
static void test_klipper_parse_identify_response(void **state)
{
	(void)state;
	uint8_t content[16];
	struct klipper_identify_response r;
	const size_t n = hex("00 80 78 04 78 da 01 02", content, sizeof(content));

	assert_int_equal(klipper_parse_identify_response(content, n, &r), 0);

	assert_int_equal(r.offset, 120);
	assert_int_equal(r.data_len, 4);
	assert_ptr_equal(r.data, content + 4);
	assert_int_equal(r.used, 8);
}

static void test_klipper_parse_identify_response_rejects(void **state)
{
	(void)state;
	uint8_t content[16];
	struct klipper_identify_response r;
	size_t n = hex("00 00 05 78 da", content, sizeof(content));

	assert_int_equal(klipper_parse_identify_response(content, n, &r), CF_ERR_FRAME);
	n = hex("01 00 28", content, sizeof(content));
	assert_int_equal(klipper_parse_identify_response(content, n, &r), CF_ERR_PROTOCOL);
	n = hex("00 80", content, sizeof(content));
	assert_int_equal(klipper_parse_identify_response(content, n, &r), CF_ERR_FRAME);
}

static void test_klipper_identify_response_block_layout(void **state)
{
	(void)state;
	const uint8_t data[4] = {0x78, 0xda, 0x01, 0x02};
	uint8_t out[KLIPPER_BLOCK_MAX], head[8];
	size_t len;
	struct klipper_block b;
	size_t consumed;
	hex("0c 11 00 28 04 78 da 01", head, sizeof(head));

	assert_int_equal(klipper_build_identify_response(1, 40, data, 4, out, sizeof(out), &len),
			 0);

	assert_int_equal(len, 12);
	assert_memory_equal(out, head, sizeof(head));
	assert_int_equal(out[11], 0x7e);
	assert_int_equal(klipper_block_find(out, len, &consumed, &b), 1);
}

static void test_klipper_identify_response_refuses_too_much_data(void **state)
{
	(void)state;
	uint8_t data[KLIPPER_IDENTIFY_DATA_MAX + 1] = {0};
	uint8_t out[128];
	size_t len;

	assert_int_equal(klipper_build_identify_response(0, 0x7fffffff, data,
							 KLIPPER_IDENTIFY_DATA_MAX, out,
							 sizeof(out), &len),
			 0);
	assert_int_equal(len, KLIPPER_BLOCK_MAX);
	assert_int_equal(
	    klipper_build_identify_response(0, 0, data, sizeof(data), out, sizeof(out), &len),
	    CF_ERR_USAGE);
}

/* ---- dictionary reassembly (katapult.md §8.3) -------------------------------------------- */

static void test_klipper_dict_reassembles_in_order(void **state)
{
	(void)state;
	uint8_t buf[8];
	struct klipper_dict_reader r;
	const uint8_t a[3] = {1, 2, 3}, b[2] = {4, 5};
	klipper_dict_init(&r, buf, sizeof(buf));

	assert_int_equal(klipper_dict_add(&r, 0, a, 3), 0);
	assert_int_equal(klipper_dict_add(&r, 3, b, 2), 0);
	assert_int_equal(klipper_dict_add(&r, 5, NULL, 0), 1);

	assert_true(r.complete);
	assert_int_equal(r.len, 5);
	const uint8_t want[5] = {1, 2, 3, 4, 5};
	assert_memory_equal(buf, want, 5);
}

static void test_klipper_dict_rejects_wrong_offset(void **state)
{
	(void)state;
	uint8_t buf[8];
	struct klipper_dict_reader r;
	const uint8_t a[3] = {1, 2, 3};
	klipper_dict_init(&r, buf, sizeof(buf));
	assert_int_equal(klipper_dict_add(&r, 0, a, 3), 0);

	assert_int_equal(klipper_dict_add(&r, 0, a, 3), CF_ERR_PROTOCOL);
	assert_int_equal(klipper_dict_add(&r, 4, NULL, 0), CF_ERR_PROTOCOL);

	assert_int_equal(r.len, 3);
	assert_false(r.complete);
}

static void test_klipper_dict_rejects_overflow(void **state)
{
	(void)state;
	uint8_t buf[4];
	struct klipper_dict_reader r;
	const uint8_t a[3] = {1, 2, 3};
	klipper_dict_init(&r, buf, sizeof(buf));
	assert_int_equal(klipper_dict_add(&r, 0, a, 3), 0);

	assert_int_equal(klipper_dict_add(&r, 3, a, 2), CF_ERR_NOSPACE);

	assert_int_equal(r.len, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_klipper_identify_blocks_match_spec),
	    cmocka_unit_test(test_klipper_ack_blocks_match_spec),
	    cmocka_unit_test(test_klipper_block_find_spec_blocks),
	    cmocka_unit_test(test_klipper_block_find_needs_more_on_prefix),
	    cmocka_unit_test(test_klipper_block_find_skips_leading_sync),
	    cmocka_unit_test(test_klipper_block_find_discards_through_next_sync),
	    cmocka_unit_test(test_klipper_block_encode_limits),
	    cmocka_unit_test(test_klipper_serial_bootloader_request_bytes),
	    cmocka_unit_test(test_klipper_serial_bootloader_request_is_a_bad_crc_block),
	    cmocka_unit_test(test_klipper_vlq_boundaries),
	    cmocka_unit_test(test_klipper_vlq_decode_rejects_truncated_and_long),
	    cmocka_unit_test(test_klipper_msgid_two_bytes),
	    cmocka_unit_test(test_klipper_parse_identify_from_spec_block),
	    cmocka_unit_test(test_klipper_parse_identify_response),
	    cmocka_unit_test(test_klipper_parse_identify_response_rejects),
	    cmocka_unit_test(test_klipper_identify_response_block_layout),
	    cmocka_unit_test(test_klipper_identify_response_refuses_too_much_data),
	    cmocka_unit_test(test_klipper_dict_reassembles_in_order),
	    cmocka_unit_test(test_klipper_dict_rejects_wrong_offset),
	    cmocka_unit_test(test_klipper_dict_rejects_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
