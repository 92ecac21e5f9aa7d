// SPDX-License-Identifier: GPL-3.0-or-later
// CRC-16/MCRF4XX: check value, spec frame CRCs, incremental equals one-shot (katapult.md §1.2).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <string.h>

#include "protocol/crc16.h"

static void test_crc16_check_value(void **state)
{
	(void)state;
	const uint8_t check[] = "123456789";

	const uint16_t crc = crc16_mcrf4xx(check, 9);

	/* katapult.md §1.2: MCRF4XX 0x6F91, not CCITT-FALSE 0x29B1, KERMIT 0x2189, X.25 0x906E */
	assert_int_equal(crc, 0x6f91);
	assert_int_equal(crc, CRC16_MCRF4XX_CHECK);
}

static void test_crc16_empty_is_init(void **state)
{
	(void)state;

	assert_int_equal(crc16_mcrf4xx(NULL, 0), 0xffff);
}

/* katapult.md §1.2: CRC over cmd + length (+ payload) of each frame, from the vector table. */
static const struct crc_case {
	const char *name;
	uint8_t in[8];
	size_t len;
	uint16_t want;
} crc_cases[] = {
    {"§1.2 NACK f1 00", {0xf1, 0x00}, 2, 0x9568},
    {"§1.2 command error f2 00", {0xf2, 0x00}, 2, 0xbf00},
    {"§1.2 busy f3 00", {0xf3, 0x00}, 2, 0xa6d8},
    {"§1.2 CONNECT 11 00", {0x11, 0x00}, 2, 0x7cf1},
    {"§1.2 SEND_EOF 13 00", {0x13, 0x00}, 2, 0x4f41},
    {"§1.2 COMPLETE 15 00", {0x15, 0x00}, 2, 0x1b91},
    {"§1.2 GET_CANBUS_ID 16 00", {0x16, 0x00}, 2, 0x31f9},
    {"§1.2 prime 90 00", {0x90, 0x00}, 2, 0xe9e5},
    {"§1.2 REQUEST_BLOCK", {0x14, 0x01, 0x00, 0x20, 0x00, 0x08}, 6, 0xde5b},
    /* katapult.md §8.3: Klipper blocks store it big-endian */
    {"§8.3 identify offset 0", {0x08, 0x10, 0x01, 0x00, 0x28}, 5, 0x5e9f},
    {"§8.3 ACK seq 1", {0x05, 0x11}, 2, 0x8f08},
};

static void test_crc16_spec_frames(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(crc_cases) / sizeof(crc_cases[0]); i++) {
		const struct crc_case *c = &crc_cases[i];

		const uint16_t got = crc16_mcrf4xx(c->in, c->len);

		if (got != c->want)
			fail_msg("%s: got %04x want %04x", c->name, got, c->want);
	}
}

static void test_crc16_incremental_equals_one_shot(void **state)
{
	(void)state;
	uint8_t data[200];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + 11);
	const uint16_t whole = crc16_mcrf4xx(data, sizeof(data));

	for (size_t split = 0; split <= sizeof(data); split++) {
		uint16_t crc = crc16_mcrf4xx_update(CRC16_MCRF4XX_INIT, data, split);
		crc = crc16_mcrf4xx_update(crc, data + split, sizeof(data) - split);

		if (crc != whole)
			fail_msg("split at %zu: %04x != %04x", split, crc, whole);
	}
}

/* The nibble-wise form must equal the textbook bit-wise reflected 0x8408 loop. */
static uint16_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xffff;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
	}
	return crc;
}

static void test_crc16_matches_bitwise_reference(void **state)
{
	(void)state;
	uint8_t data[256];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(255 - i);

	for (size_t n = 0; n <= sizeof(data); n += 17)
		assert_int_equal(crc16_mcrf4xx(data, n), crc_bitwise(data, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc16_check_value),
	    cmocka_unit_test(test_crc16_empty_is_init),
	    cmocka_unit_test(test_crc16_spec_frames),
	    cmocka_unit_test(test_crc16_incremental_equals_one_shot),
	    cmocka_unit_test(test_crc16_matches_bitwise_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
