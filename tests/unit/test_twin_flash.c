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

#define F0_PAGE 0x08002400u /* the second application page of the F042 */
#define CMD_ERR 0xf2
#define ACK	0xa0

static void fill(uint8_t *p, uint8_t v)
{
	memset(p, v, 64);
}

/* Old bytes at addr, written as a programmer would (no rules). */
static void old(struct th *h, uint32_t addr, uint8_t v, size_t len)
{
	uint8_t buf[1024];

	memset(buf, v, len);
	assert_int_equal(twin_flash_write_raw(h->t, addr, buf, len), 0);
}

static const uint8_t *at(struct th *h, uint32_t addr)
{
	return twin_flash(h->t, NULL) + (addr - TWIN_FLASH_BASE);
}

/*
 * katapult.md §1.6: "page already erased" looks at the first 256 bytes of a 1 KiB page. Old data
 * behind them survives the page-start block, and a later block of that page is refused (-2).
 * One byte of old data inside the first 256 makes the same block erase the page.
 */
static void test_twin_flash_page_start_tests_the_first_quarter(void **state)
{
	struct th h = start_katapult(NULL);
	const struct twin_stats *st = twin_get_stats(h.t);
	uint8_t d[64], e[64];
	uint32_t erased;

	(void)state;
	fill(d, 0x11);
	fill(e, 0x22);
	old(&h, F0_PAGE + 256, 0x5a, 512);
	erased = st->pages_erased;
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK);
	assert_int_equal(st->pages_erased, erased); /* not erased */
	assert_int_equal(st->quarter_misses, 1);
	assert_int_equal(*at(&h, F0_PAGE + 256), 0x5a);
	assert_int_equal(send_block(&h, F0_PAGE + 64, e), ACK);	     /* inside the quarter */
	assert_int_equal(send_block(&h, F0_PAGE + 256, e), CMD_ERR); /* "out of order" */
	assert_int_equal(*at(&h, F0_PAGE + 256), 0x5a);

	/* The same old page with one byte at 255: the page-start block erases it. */
	old(&h, F0_PAGE, 0xff, 256);
	old(&h, F0_PAGE + 255, 0x5a, 1);
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK);
	assert_int_equal(st->pages_erased, erased + 1);
	assert_int_equal(*at(&h, F0_PAGE + 256), 0xff);
	assert_int_equal(send_block(&h, F0_PAGE + 256, e), ACK);
	twin_free(h.t);
}

/*
 * Another block is "erased" when its first 16 bytes are. Programming then meets old half-words:
 * STM32F0 leaves each one that is not 0xFFFF as it was (PGERR) unless the new value is 0x0000,
 * and the compare afterwards refuses the block (-3) -- unless the old bytes already equal the
 * new ones.
 */
static void test_twin_flash_block_tests_its_first_16_bytes(void **state)
{
	struct th h = start_katapult(NULL);
	const struct twin_stats *st = twin_get_stats(h.t);
	uint8_t d[64], z[64];

	(void)state;
	fill(d, 0x11);
	memset(z, 0, sizeof(z));
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK); /* page erased and started */
	old(&h, F0_PAGE + 128 + 16, 0x5a, 48);
	assert_int_equal(send_block(&h, F0_PAGE + 128, d), CMD_ERR);
	assert_int_equal(st->program_errors, 24); /* 48 bytes of half-words */
	assert_int_equal(at(&h, F0_PAGE + 128)[15], 0x11);
	assert_int_equal(at(&h, F0_PAGE + 128)[16], 0x5a);
	assert_int_equal(at(&h, F0_PAGE + 128)[63], 0x5a);

	/* Zeros program over anything. */
	old(&h, F0_PAGE + 192 + 16, 0x5a, 48);
	assert_int_equal(send_block(&h, F0_PAGE + 192, z), ACK);
	assert_true(at(&h, F0_PAGE + 192)[40] == 0);

	/* Old bytes equal to the new ones: PGERR, but the compare passes. */
	old(&h, F0_PAGE + 320 + 16, 0x11, 48);
	assert_int_equal(send_block(&h, F0_PAGE + 320, d), ACK);
	assert_memory_equal(at(&h, F0_PAGE + 320), d, 64);
	twin_free(h.t);
}

/* The retransmit test after a page-start block looks at bytes 64..303 only (240 of 960). */
static void test_twin_flash_retransmit_test_spans_64_to_303(void **state)
{
	struct th h = start_katapult(NULL);
	const struct twin_stats *st = twin_get_stats(h.t);
	uint8_t d[64];
	uint32_t erased;

	(void)state;
	fill(d, 0x11);
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK);
	old(&h, F0_PAGE + 304, 0x5a, 64);
	erased = st->pages_erased;
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK); /* "retransmit": ignored */
	assert_int_equal(st->pages_erased, erased);
	assert_int_equal(st->blocks_retransmit, 1);
	assert_int_equal(*at(&h, F0_PAGE + 304), 0x5a);
	old(&h, F0_PAGE + 303, 0x5a, 1);
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK); /* not a retransmit: erased */
	assert_int_equal(st->pages_erased, erased + 1);
	assert_int_equal(*at(&h, F0_PAGE + 304), 0xff);
	twin_free(h.t);
}

/*
 * What a host can do about it (katapult.md §1.6): a page-start block that differs from what is
 * at the page start erases the page, once the tested quarter holds something. From a page whose
 * first quarter is erased, two page-start blocks do it: the first programs, the second erases.
 */
static void test_twin_flash_differing_page_start_block_erases(void **state)
{
	struct th h = start_katapult(NULL);
	const struct twin_stats *st = twin_get_stats(h.t);
	uint8_t d[64], z[64];
	uint32_t erased;

	(void)state;
	fill(d, 0x11);
	memset(z, 0, sizeof(z));
	old(&h, F0_PAGE + 512, 0x5a, 64);
	erased = st->pages_erased;
	assert_int_equal(send_block(&h, F0_PAGE, z), ACK);
	assert_int_equal(st->pages_erased, erased);
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK);
	assert_int_equal(st->pages_erased, erased + 1);
	assert_int_equal(*at(&h, F0_PAGE + 512), 0xff);
	assert_memory_equal(at(&h, F0_PAGE), d, 64);
	twin_free(h.t);
}

/* The G431 row: 2 KiB pages tested on 512 bytes, double words programmed as one unit. */
static void test_twin_flash_g431_quarter_and_double_words(void **state)
{
	struct th h = start_katapult("stm32g431xx");
	const struct twin_stats *st = twin_get_stats(h.t);
	const uint32_t page = 0x08002800u;
	uint8_t d[64];
	uint32_t erased;

	(void)state;
	fill(d, 0x11);
	old(&h, page + 512, 0x5a, 64);
	erased = st->pages_erased;
	assert_int_equal(send_block(&h, page, d), ACK);
	assert_int_equal(st->pages_erased, erased); /* 512 bytes tested, not 2048 */
	assert_int_equal(*at(&h, page + 512), 0x5a);
	/* One old double word behind the tested 16 bytes: one PROGERR, the unit stays. */
	old(&h, page + 64 + 16, 0x5a, 8);
	assert_int_equal(send_block(&h, page + 64, d), CMD_ERR);
	assert_int_equal(st->program_errors, 1);
	assert_int_equal(at(&h, page + 64)[16], 0x5a);
	assert_int_equal(at(&h, page + 64)[24], 0x11);
	twin_free(h.t);
}

/* The corrupt_flash fault: the block is acknowledged, the flash differs in one byte. */
static void test_twin_flash_silent_corruption_fault(void **state)
{
	struct th h = start_katapult(NULL);
	struct twin_faults f = {.corrupt_flash = 2};
	uint8_t d[64];
	int diff = 0;

	(void)state;
	fill(d, 0x11);
	twin_set_faults(h.t, &f);
	assert_int_equal(send_block(&h, F0_PAGE, d), ACK);
	assert_memory_equal(at(&h, F0_PAGE), d, 64);
	assert_int_equal(send_block(&h, F0_PAGE + 64, d), ACK);
	for (int i = 0; i < 64; i++)
		diff += at(&h, F0_PAGE + 64)[i] != 0x11;
	assert_int_equal(diff, 1);
	assert_int_equal(twin_get_stats(h.t)->flash_corruptions, 1);
	twin_free(h.t);
}

/*
 * katapult.md §5 (d): with block 0 written and the rest of page 0 erased the first word looks
 * valid, so Katapult jumps -- into a reset handler that is erased flash: the twin hangs, as
 * the Cortex-M0 does (HardFault on 0xFFFF), instead of running the application.
 */
static void test_twin_flash_half_page0_boots_into_a_fault(void **state)
{
	struct th h;
	uint8_t *img;
	size_t len;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.t = th_twin(0, NULL);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_USB, 0, NULL), 0);
	assert_int_equal(th_make_app(IMAGE_IFACE_USB, 0, NULL, &img, &len), 0);
	assert_int_equal(twin_flash_write_raw(h.t, TWIN_APP_START, img, len), 0);
	old(&h, TWIN_APP_START + 64, 0xff, 1024 - 64); /* page 0: block 0 only */
	twin_power_on(h.t, 0);
	for (int i = 0; i < 16 && th_step(&h); i++)
		;
	assert_true(twin_app_is_valid(h.t));
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_HUNG);
	assert_non_null(strstr(twin_get_reason(h.t), "erased flash"));
	/* the whole image runs */
	assert_int_equal(twin_flash_write_raw(h.t, TWIN_APP_START, img, len), 0);
	twin_power_cycle(h.t, h.now);
	for (int i = 0; i < 16 && th_step(&h); i++)
		;
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	free(img);
	twin_free(h.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_twin_flash_geometry_from_the_mcu_table),
	    cmocka_unit_test(test_twin_flash_refuses_an_mcu_without_a_probe_row),
	    cmocka_unit_test(test_twin_flash_page_start_tests_the_first_quarter),
	    cmocka_unit_test(test_twin_flash_block_tests_its_first_16_bytes),
	    cmocka_unit_test(test_twin_flash_retransmit_test_spans_64_to_303),
	    cmocka_unit_test(test_twin_flash_differing_page_start_block_erases),
	    cmocka_unit_test(test_twin_flash_g431_quarter_and_double_words),
	    cmocka_unit_test(test_twin_flash_silent_corruption_fault),
	    cmocka_unit_test(test_twin_flash_half_page0_boots_into_a_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
