/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin's flash as Katapult's stm32/flash.c writes it, on the geometry of the MCU table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include "protocol/katapult.h"
#include "tests/unit/test_twin_harness.h"

/* A CAN twin of the given MCU in Katapult (no application), node id 129 assigned. */
static struct th start_katapult(const char *mcu)
{
	const uint8_t set[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};
	struct twin_config c;
	struct th h;

	memset(&h, 0, sizeof(h));
	memset(&c, 0, sizeof(c));
	memcpy(c.uid, th_uid, sizeof(c.uid));
	c.mcu = mcu;
	h.t = twin_new(&c);
	assert_non_null(h.t);
	assert_int_equal(twin_init_state(h.t, "katapult:can:1000000"), 0);
	twin_power_on(h.t, 0);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_KATAPULT);
	h.node = 129;
	th_can_frame(&h, CANBUS_ADMIN_ID, set, 8);
	return h;
}

/* SEND_BLOCK; the reply's type byte (0xa0 ACK, 0xf2 command error), 0 for no reply. */
static uint8_t send_block(struct th *h, uint32_t addr, const uint8_t *data)
{
	uint8_t frame[KATAPULT_SEND_BLOCK_FRAME_LEN], reply[16];
	size_t len;

	assert_int_equal(katapult_build_send_block(addr, data, frame, sizeof(frame), &len), 0);
	if (th_kp(h, frame, len, reply, 16) < 8)
		return 0;
	return reply[2];
}

/* The geometry is the table's: flash size, erase page, application start, CONNECT's MCU. */
static void test_twin_flash_geometry_from_the_mcu_table(void **state)
{
	static const char *const mcus[] = {"stm32f042x6", "stm32g431xx"};
	static const uint8_t connect[8] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct th h = start_katapult(mcus[i]);
		const struct mcu_info *m = mcu_find(mcus[i]);
		uint8_t old[64], data[64], reply[64];
		const uint8_t *flash;
		struct katapult_connect_info ci;
		size_t len, n;

		assert_ptr_equal(twin_mcu(h.t), m);
		flash = twin_flash(h.t, &len);
		assert_int_equal(len, m->flash_size);
		n = th_kp(&h, connect, sizeof(connect), reply, sizeof(reply));
		assert_true(n > 8);
		assert_int_equal(katapult_parse_connect(reply + 8, n - 12, &ci), 0);
		assert_string_equal(ci.mcu, m->name);
		assert_int_equal(ci.app_start, mcu_app_start(m));

		/* Old data at the page start and in the last block of the page: a new page-start
		 * block erases exactly one page of the row's size. */
		memset(old, 0x5a, sizeof(old));
		memset(data, 0x11, sizeof(data));
		assert_int_equal(twin_flash_write_raw(h.t, 0x08002000, old, 64), 0);
		assert_int_equal(twin_flash_write_raw(h.t, 0x08002000 + m->page_size - 64, old, 64),
				 0);
		assert_int_equal(twin_flash_write_raw(h.t, 0x08002000 + m->page_size, old, 64), 0);
		assert_int_equal(send_block(&h, 0x08002000, data), 0xa0);
		assert_memory_equal(flash + 0x2000, data, 64);
		assert_int_equal(flash[0x2000 + m->page_size - 64], 0xff);
		assert_int_equal(flash[0x2000 + m->page_size], 0x5a); /* next page untouched */
		twin_free(h.t);
	}
}

/* The twin models probes only: a family row or an unknown MCU has no geometry to take. */
static void test_twin_flash_refuses_an_mcu_without_a_probe_row(void **state)
{
	static const char *const bad[] = {"stm32f072xb", "stm32h723xx", "rp2040", ""};
	struct twin_config c;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.mcu = bad[i];
		assert_null(twin_new(&c));
	}
	c.mcu = NULL;
	{
		struct twin *t = twin_new(&c);

		assert_non_null(t);
		assert_ptr_equal(twin_mcu(t), mcu_default());
		twin_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_twin_flash_geometry_from_the_mcu_table),
	    cmocka_unit_test(test_twin_flash_refuses_an_mcu_without_a_probe_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
