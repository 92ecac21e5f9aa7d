// SPDX-License-Identifier: GPL-3.0-or-later
// CAN admin frames, node ids, stream chunking and UUIDs against katapult.md §2.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocol/canbus.h"
#include "protocol/err.h"

/* katapult.md §2.2: the example probe, UUID e0ef270ca188 */
static const uint8_t uuid_e0[6] = {0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88};

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

static void assert_frame(const char *name, const struct canbus_frame *f, uint32_t id,
			 const char *data)
{
	uint8_t want[8] = {0};
	const size_t n = hex(data, want, sizeof(want));

	if (f->id != id || f->len != n || memcmp(f->data, want, 8) != 0)
		fail_msg("%s: got %03x [%u]", name, (unsigned)f->id, f->len);
}

/* ---- admin frames (katapult.md §2.2) ----------------------------------------------------- */

static void test_canbus_request_bootloader_spec(void **state)
{
	(void)state;
	struct canbus_frame f;

	canbus_build_request_bootloader(uuid_e0, &f);

	assert_frame("§2.2 0x3F0 [7] 02 e0ef270ca188", &f, 0x3f0, "02 e0 ef 27 0c a1 88");
}

static void test_canbus_set_katapult_nodeid_spec(void **state)
{
	(void)state;
	struct canbus_frame f;

	canbus_build_set_katapult_nodeid(uuid_e0, 129, &f);

	assert_frame("§2.2 0x3F0 [8] 11 e0ef270ca188 81", &f, 0x3f0, "11 e0 ef 27 0c a1 88 81");
}

static void test_canbus_set_klipper_nodeid_spec(void **state)
{
	(void)state;
	struct canbus_frame f;

	canbus_build_set_klipper_nodeid(uuid_e0, 4, &f);

	assert_frame("§2.2 0x3F0 [8] 01 e0ef270ca188 04", &f, 0x3f0, "01 e0 ef 27 0c a1 88 04");
}

static void test_canbus_clear_and_query_are_one_byte(void **state)
{
	(void)state;
	struct canbus_frame clear, query;
	memset(&clear, 0xaa, sizeof(clear));
	memset(&query, 0xaa, sizeof(query));

	canbus_build_clear_katapult_nodeid(&clear);
	canbus_build_query_unassigned(&query);

	assert_frame("§2.6 0x3F0 [1] 12", &clear, 0x3f0, "12");
	assert_frame("§2.6 0x3F0 [1] 00", &query, 0x3f0, "00");
}

static void test_canbus_parse_need_nodeid(void **state)
{
	(void)state;
	const struct canbus_frame f = {0x3f1, 8, {0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x11}};
	uint8_t uuid[6];
	uint8_t app = 0;

	assert_int_equal(canbus_parse_need_nodeid(&f, uuid, &app), 0);

	assert_memory_equal(uuid, uuid_e0, 6);
	assert_int_equal(app, CANBUS_APP_KATAPULT);
	assert_string_equal(canbus_app_name(app), "Katapult");
}

static void test_canbus_parse_need_nodeid_dlc7_has_no_app(void **state)
{
	(void)state;
	/* katapult.md §2.6: flashtool keeps replies with length >= 7 */
	const struct canbus_frame f = {0x3f1, 7, {0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88}};
	uint8_t uuid[6];
	uint8_t app = 0x55;

	assert_int_equal(canbus_parse_need_nodeid(&f, uuid, &app), 0);

	assert_int_equal(app, 0);
	assert_string_equal(canbus_app_name(app), "Unknown");
}

static const struct bad_need_case {
	const char *name;
	struct canbus_frame f;
} bad_need_cases[] = {
    {"wrong id 0x3f0", {0x3f0, 8, {0x20, 1, 2, 3, 4, 5, 6, 0x01}}},
    {"DLC 6", {0x3f1, 6, {0x20, 1, 2, 3, 4, 5}}},
    {"byte0 not 0x20", {0x3f1, 8, {0x21, 1, 2, 3, 4, 5, 6, 0x01}}},
};

static void test_canbus_parse_need_nodeid_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_need_cases) / sizeof(bad_need_cases[0]); i++) {
		uint8_t uuid[6], app;

		const int err = canbus_parse_need_nodeid(&bad_need_cases[i].f, uuid, &app);

		if (err != CF_ERR_PROTOCOL)
			fail_msg("%s: err %d", bad_need_cases[i].name, err);
	}
}

static void test_canbus_build_need_nodeid(void **state)
{
	(void)state;
	struct canbus_frame f;

	canbus_build_need_nodeid(uuid_e0, CANBUS_APP_KLIPPER, &f);

	assert_frame("§2.2 0x3F1 [8] 20 uuid 01", &f, 0x3f1, "20 e0 ef 27 0c a1 88 01");
}

/* ---- device-side admin parsing ----------------------------------------------------------- */

static const struct admin_case {
	const char *name;
	struct canbus_frame f;
	int want;
	uint8_t cmd;
	bool has_uuid, has_node;
	uint8_t node;
} admin_cases[] = {
    {"§2.2 request bootloader",
     {0x3f0, 7, {0x02, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88}},
     0,
     0x02,
     true,
     false,
     0},
    {"§2.2 Katapult set id 129",
     {0x3f0, 8, {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81}},
     0,
     0x11,
     true,
     true,
     129},
    {"§2.2 Klipper set id 4",
     {0x3f0, 8, {0x01, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x04}},
     0,
     0x01,
     true,
     true,
     4},
    {"§2.2 clear", {0x3f0, 1, {0x12}}, 0, 0x12, false, false, 0},
    {"§2.2 query", {0x3f0, 1, {0x00}}, 0, 0x00, false, false, 0},
    {"§2.2 request bootloader DLC 6",
     {0x3f0, 6, {0x02, 0xe0, 0xef, 0x27, 0x0c, 0xa1}},
     CF_ERR_FRAME,
     0x02,
     false,
     false,
     0},
    {"§2.2 set id DLC 7",
     {0x3f0, 7, {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88}},
     CF_ERR_FRAME,
     0x11,
     false,
     false,
     0},
    {"unknown admin command", {0x3f0, 1, {0x55}}, CF_ERR_NOT_SUPPORTED, 0x55, false, false, 0},
    {"not the admin id", {0x3f1, 1, {0x00}}, CF_ERR_PROTOCOL, 0, false, false, 0},
    {"empty frame", {0x3f0, 0, {0}}, CF_ERR_PROTOCOL, 0, false, false, 0},
};

static void test_canbus_parse_admin_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(admin_cases) / sizeof(admin_cases[0]); i++) {
		const struct admin_case *c = &admin_cases[i];
		struct canbus_admin a;

		const int err = canbus_parse_admin(&c->f, &a);

		if (err != c->want || a.cmd != c->cmd || a.has_uuid != c->has_uuid ||
		    a.has_node != c->has_node || a.node != c->node ||
		    (a.has_uuid && memcmp(a.uuid, uuid_e0, 6) != 0))
			fail_msg("%s: err %d cmd %02x", c->name, err, a.cmd);
	}
}

/* ---- node ids and chunking (katapult.md §2.1, §2.4) -------------------------------------- */

static void test_canbus_node_ids(void **state)
{
	(void)state;
	assert_int_equal(canbus_node_tx_id(129), 0x202);
	assert_int_equal(canbus_node_rx_id(129), 0x203);
	assert_int_equal(canbus_node_tx_id(4), 0x108);
	assert_int_equal(canbus_node_rx_id(4), 0x109);
	assert_int_equal(canbus_node_tx_id(0), 0x100);
	assert_int_equal(canbus_node_rx_id(255), 0x2ff);
}

static void test_canbus_stream_send_block_is_ten_frames(void **state)
{
	(void)state;
	uint8_t stream[76];
	struct canbus_frame frames[16];
	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i + 1);

	const size_t n = canbus_stream_to_frames(0x202, stream, sizeof(stream), frames, 16);

	/* katapult.md §2.4: SEND_BLOCK (76 B) = 9 x 8 + 1 x 4 -> 10 frames */
	assert_int_equal(n, 10);
	for (size_t i = 0; i < 9; i++) {
		assert_int_equal(frames[i].id, 0x202);
		assert_int_equal(frames[i].len, 8);
		assert_memory_equal(frames[i].data, stream + 8 * i, 8);
	}
	assert_int_equal(frames[9].len, 4);
	assert_memory_equal(frames[9].data, stream + 72, 4);
}

static void test_canbus_stream_connect_is_one_frame(void **state)
{
	(void)state;
	uint8_t stream[8];
	struct canbus_frame frames[2];
	hex("01 88 11 00 f1 7c 99 03", stream, sizeof(stream));

	assert_int_equal(canbus_stream_to_frames(0x202, stream, 8, frames, 2), 1);

	assert_frame("§2.4 CONNECT", &frames[0], 0x202, "01 88 11 00 f1 7c 99 03");
}

static void test_canbus_stream_all_or_nothing(void **state)
{
	(void)state;
	uint8_t stream[76] = {0};
	struct canbus_frame frames[9];
	memset(frames, 0xaa, sizeof(frames));

	const size_t n = canbus_stream_to_frames(0x202, stream, sizeof(stream), frames, 9);

	/* design.md rule 1: never a partial command */
	assert_int_equal(n, 0);
	assert_int_equal(frames[0].len, 0xaa);
	assert_int_equal(canbus_stream_to_frames(0x202, stream, 0, frames, 9), 0);
}

/* ---- UUIDs (katapult.md §2.3) ------------------------------------------------------------ */

static const struct uuid_case {
	const char *name;
	const char *serial;
	const char *uuid;
} uuid_cases[] = {
    {"§2.3 real Cartographer", "16000C000F43304253373820", "e0ef270ca188"},
    {"§2.3 real Cartographer, lower case", "16000c000f43304253373820", "e0ef270ca188"},
    {"§2.3 counting bytes", "000102030405060708090a0b", "90a4ae022dfc"},
};

static void test_canbus_uuid_from_serial_spec(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(uuid_cases) / sizeof(uuid_cases[0]); i++) {
		uint8_t uuid[6];
		char text[13];

		const int err = canbus_uuid_from_serial(uuid_cases[i].serial, uuid);

		canbus_uuid_format(uuid, text);
		if (err || strcmp(text, uuid_cases[i].uuid) != 0)
			fail_msg("%s: err %d uuid %s", uuid_cases[i].name, err, text);
	}
}

static void test_canbus_uuid_from_uid_spec(void **state)
{
	(void)state;
	uint8_t uid[12], uuid[6];
	for (int i = 0; i < 12; i++)
		uid[i] = (uint8_t)i;

	canbus_uuid_from_uid(uid, sizeof(uid), uuid);

	const uint8_t want[6] = {0x90, 0xa4, 0xae, 0x02, 0x2d, 0xfc};
	assert_memory_equal(uuid, want, 6);
}

static void test_canbus_uuid_from_serial_rejects(void **state)
{
	(void)state;
	const char *bad[] = {
	    "16000C000F4330425337382",	 /* 23 digits */
	    "16000C000F433042533738200", /* 25 digits */
	    "16000C000F4330425337382G",	 /* not hex */
	    "",
	    NULL,
	};
	uint8_t uuid[6];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (canbus_uuid_from_serial(bad[i], uuid) != CF_ERR_USAGE)
			fail_msg("accepted %s", bad[i] ? bad[i] : "NULL");
}

static void test_canbus_uuid_parse(void **state)
{
	(void)state;
	uint8_t uuid[6];
	uint8_t kept[6] = {1, 2, 3, 4, 5, 6};

	assert_int_equal(canbus_uuid_parse("E0EF270CA188", uuid), 0);
	assert_memory_equal(uuid, uuid_e0, 6);
	assert_int_equal(canbus_uuid_parse("e0ef270ca18", kept), CF_ERR_USAGE);
	assert_int_equal(canbus_uuid_parse("0xe0ef270ca1", kept), CF_ERR_USAGE);
	assert_int_equal(canbus_uuid_parse("e0ef270ca1880", kept), CF_ERR_USAGE);
	const uint8_t untouched[6] = {1, 2, 3, 4, 5, 6};
	assert_memory_equal(kept, untouched, 6);
}

static void test_canbus_uid_format_serial(void **state)
{
	(void)state;
	uint8_t uid[12];
	char serial[25], small[6];
	hex("16 00 0c 00 0f 43 30 42 53 37 38 20", uid, sizeof(uid));

	canbus_uid_format_serial(uid, sizeof(uid), serial, sizeof(serial));
	canbus_uid_format_serial(uid, sizeof(uid), small, sizeof(small));

	/* katapult.md §2.3: upper-case hex, high nibble first, as in the by-id name */
	assert_string_equal(serial, "16000C000F43304253373820");
	assert_string_equal(small, "1600");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canbus_request_bootloader_spec),
	    cmocka_unit_test(test_canbus_set_katapult_nodeid_spec),
	    cmocka_unit_test(test_canbus_set_klipper_nodeid_spec),
	    cmocka_unit_test(test_canbus_clear_and_query_are_one_byte),
	    cmocka_unit_test(test_canbus_parse_need_nodeid),
	    cmocka_unit_test(test_canbus_parse_need_nodeid_dlc7_has_no_app),
	    cmocka_unit_test(test_canbus_parse_need_nodeid_rejects),
	    cmocka_unit_test(test_canbus_build_need_nodeid),
	    cmocka_unit_test(test_canbus_parse_admin_table),
	    cmocka_unit_test(test_canbus_node_ids),
	    cmocka_unit_test(test_canbus_stream_send_block_is_ten_frames),
	    cmocka_unit_test(test_canbus_stream_connect_is_one_frame),
	    cmocka_unit_test(test_canbus_stream_all_or_nothing),
	    cmocka_unit_test(test_canbus_uuid_from_serial_spec),
	    cmocka_unit_test(test_canbus_uuid_from_uid_spec),
	    cmocka_unit_test(test_canbus_uuid_from_serial_rejects),
	    cmocka_unit_test(test_canbus_uuid_parse),
	    cmocka_unit_test(test_canbus_uid_format_serial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
