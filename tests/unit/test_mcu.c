// SPDX-License-Identifier: GPL-3.0-or-later
// The MCU table: spec facts of the probe rows, family page sizes, ECC, generations, lookup.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <string.h>

#include "protocol/image.h"
#include "protocol/mcu.h"

/* images.md §1 and §2.3, katapult.md §1.6: the two probe MCUs, field by field. */
static void test_mcu_probe_rows_hold_the_spec_facts(void **state)
{
	const struct mcu_info *f0 = mcu_find("stm32f042x6"), *g4 = mcu_find("stm32g431xx");

	(void)state;
	assert_non_null(f0);
	assert_non_null(g4);
	assert_ptr_equal(mcu_default(), f0);
	assert_string_equal(f0->name, "stm32f042x6");
	assert_string_equal(f0->generation, "v2/v3");
	assert_int_equal(f0->flash_size, 0x8000);
	assert_int_equal(f0->ram_top, 0x20001800u);
	assert_int_equal(f0->page_size, 1024);
	assert_int_equal(f0->program_unit, 2);
	assert_int_equal(f0->ecc, MCU_ECC_NO);
	assert_int_equal(mcu_app_start(f0), 0x08002000u);
	assert_int_equal(f0->rom_dfu, 0x1FFFC400u);
	assert_int_equal(f0->bitrate_code, MCU_BITRATE_CODE_F0_BTR);
	assert_int_equal(f0->katapult_reset, 0x080000C9u);
	assert_int_equal(f0->deployer_reset, 0x08002071u);

	assert_string_equal(g4->name, "stm32g431xx");
	assert_string_equal(g4->generation, "v4/HT");
	assert_int_equal(g4->flash_size, 0x20000);
	assert_int_equal(g4->ram_top, 0x20008000u);
	assert_int_equal(g4->page_size, 2048);
	assert_int_equal(g4->program_unit, 8);
	assert_int_equal(g4->ecc, MCU_ECC_YES);
	assert_int_equal(mcu_app_start(g4), 0x08002000u);
	assert_int_equal(g4->rom_dfu, 0x1FFF0000u);
	assert_int_equal(g4->bitrate_code, MCU_BITRATE_CODE_NONE);
	assert_int_equal(g4->katapult_reset, 0x080000A1u);
	assert_int_equal(g4->deployer_reset, 0x08002079u);

	/* katapult.md §1.6: F042 room behind Katapult is 24 576 B, G431 122 880 B. */
	assert_int_equal(f0->flash_size - f0->katapult_size, 24576);
	assert_int_equal(g4->flash_size - g4->katapult_size, 122880);
}

/*
 * Every probe row is complete and self-consistent, and reachable by its own name (no earlier
 * row shadows it): what "adding an MCU is one row" needs from the row.
 */
static void test_mcu_probe_rows_are_complete(void **state)
{
	unsigned probes = 0;

	(void)state;
	for (size_t i = 0; mcu_at(i); i++) {
		const struct mcu_info *m = mcu_at(i);

		assert_non_null(m->pattern);
		if (!m->name) {
			assert_null(m->generation);
			assert_int_equal(m->flash_size, 0);
			continue;
		}
		probes++;
		assert_ptr_equal(mcu_find(m->name), m);
		assert_non_null(m->generation);
		assert_true(m->flash_size && m->ram_top && m->page_size && m->program_unit);
		assert_int_not_equal(m->ecc, MCU_ECC_UNKNOWN);
		assert_int_equal(m->page_size % 64, 0); /* whole Katapult blocks */
		assert_int_equal(m->flash_size % m->page_size, 0);
		assert_int_equal(m->katapult_size % m->page_size, 0); /* app starts a page */
		assert_int_equal(mcu_app_start(m), IMAGE_APP_START);
		assert_true(m->ram_top > 0x20000000u && m->ram_top % 8 == 0);
		assert_true(m->variants[0].clock_freq && m->variants[0].generation);
		assert_true(m->app_vectors >= 0x40 && m->app_vectors % 4 == 0);
		/* Thumb handlers inside their region; "CanBoot!" at reset - 9 before it. */
		assert_true(m->katapult_reset & 1);
		assert_true(m->katapult_reset - 9 >= MCU_FLASH_BASE + 8);
		assert_true(m->katapult_reset < mcu_app_start(m));
		assert_true((m->app_reset & 1) && (m->deployer_reset & 1));
		assert_true(m->app_reset > mcu_app_start(m) + m->app_vectors);
		assert_true(m->deployer_reset > mcu_app_start(m));
		assert_true(m->app_reset < MCU_FLASH_BASE + m->flash_size);
	}
	assert_int_equal(probes, 2);
}

/* Katapult's flash_get_page_size() per family, rounded up where a family has several. */
static void test_mcu_page_sizes_follow_katapult(void **state)
{
	static const struct {
		const char *mcu;
		uint32_t page;
	} rows[] = {
	    {"stm32f042x6", 1024},
	    {"stm32f072xb", 2048},
	    {"stm32f072x8", 2048},
	    {"stm32f070xb", 2048},
	    {"stm32f030x8", 1024},
	    {"stm32f031x6", 1024},
	    {"stm32f030x4", 1024},
	    {"stm32f030xc", 2048},
	    {"stm32f0", 2048},
	    {"stm32f103xe", 2048},
	    {"stm32g431xx", 2048},
	    {"stm32g0b1xx", 2048},
	    {"stm32g474xx", 2048},
	    {"stm32h723xx", 128 * 1024},
	    {"stm32f446xx", 128 * 1024},
	    {"stm32f207xx", 128 * 1024},
	    {"stm32f767xx", 128 * 1024},
	    {"stm32l412xx", 2048},
	    {"rp2040", 0},
	    {"lpc176x", 0},
	    {"", 2048},
	    {"atsamd51", 2048},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (mcu_page_size(rows[i].mcu) != rows[i].page)
			fail_msg("%s: page %u, want %u", rows[i].mcu,
				 (unsigned)mcu_page_size(rows[i].mcu), (unsigned)rows[i].page);
	assert_int_equal(mcu_page_size(NULL), 2048);
}

static void test_mcu_ecc_assumes_the_safe_side(void **state)
{
	(void)state;
	assert_false(mcu_has_ecc("stm32f042x6"));
	assert_false(mcu_has_ecc("stm32f072xb"));
	assert_false(mcu_has_ecc("stm32f103xe"));
	assert_false(mcu_has_ecc("stm32f446xx"));
	assert_true(mcu_has_ecc("stm32g431xx"));
	assert_true(mcu_has_ecc("stm32g0b1xx"));
	assert_true(mcu_has_ecc("stm32h723xx"));
	/* Unknown: the dfu writer then never skips an erase. */
	assert_true(mcu_has_ecc("stm32f207xx"));
	assert_true(mcu_has_ecc("stm32l412xx"));
	assert_true(mcu_has_ecc("nrf52"));
	assert_true(mcu_has_ecc(""));
	assert_true(mcu_has_ecc(NULL));
}

static void test_mcu_lookup_and_sizes(void **state)
{
	(void)state;
	assert_null(mcu_find(NULL));
	assert_null(mcu_find(""));
	assert_null(mcu_find("nrf52840"));
	assert_null(mcu_find("stm3")); /* shorter than every pattern */
	/* '?' needs a character: "stm32f0" alone is the F0 family row, not a density row. */
	assert_int_equal(mcu_find("stm32f0")->page_size, 2048);
	assert_int_equal(mcu_find("stm32f051x8")->page_size, 1024);
	assert_int_equal(mcu_flash_size("stm32f042x6"), 32768);
	assert_int_equal(mcu_flash_size("stm32f042"), 32768); /* prefix of the probe row */
	assert_int_equal(mcu_flash_size("stm32g431xx"), 131072);
	assert_int_equal(mcu_flash_size("stm32f072xb"), 0); /* family rows: unknown */
	assert_int_equal(mcu_flash_size(NULL), 0);
	assert_int_equal(mcu_ram_top("stm32g431xx"), 0x20008000u);
	assert_int_equal(mcu_ram_top("stm32h723xx"), 0);
	assert_null(mcu_at(1000));
	assert_int_equal(mcu_find("stm32f072xb")->bitrate_code, MCU_BITRATE_CODE_F0_BTR);
	assert_int_equal(mcu_find("stm32f103xe")->bitrate_code, MCU_BITRATE_CODE_NONE);
}

/* images.md §1: v4 at 170 MHz, HT at 150 MHz; F042 always v2/v3; no generation off probes. */
static void test_mcu_generation(void **state)
{
	(void)state;
	assert_string_equal(mcu_generation("stm32g431xx", 150000000), "HT");
	assert_string_equal(mcu_generation("stm32g431xx", 170000000), "v4");
	assert_string_equal(mcu_generation("stm32g431xx", 0), "v4/HT");
	assert_string_equal(mcu_generation("stm32g431xx", 48000000), "v4/HT");
	assert_string_equal(mcu_generation("stm32f042x6", 48000000), "v2/v3");
	assert_string_equal(mcu_generation("stm32f042x6", 0), "v2/v3");
	assert_null(mcu_generation("stm32f072xb", 48000000));
	assert_null(mcu_generation("stm32h723xx", 0));
	assert_null(mcu_generation(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mcu_probe_rows_hold_the_spec_facts),
	    cmocka_unit_test(test_mcu_probe_rows_are_complete),
	    cmocka_unit_test(test_mcu_page_sizes_follow_katapult),
	    cmocka_unit_test(test_mcu_ecc_assumes_the_safe_side),
	    cmocka_unit_test(test_mcu_lookup_and_sizes),
	    cmocka_unit_test(test_mcu_generation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
