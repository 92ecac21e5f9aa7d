// SPDX-License-Identifier: GPL-3.0-or-later
// Old flash Katapult's quarter checks miss (katapult.md §1.6): one run still writes it all.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include "failure.h"
#include "sim_harness.h"

/*
 * What the application area holds before the run, on top of an old application. Each pattern
 * hides data where Katapult's check_erased() does not look: behind the first quarter of a page
 * (a page start then skips the erase) or behind the first 16 bytes of a block (the block is
 * then programmed over old half-words: F0 PGERR, G4 PROGERR).
 */
enum pattern {
	PAT_QUARTER,	 /* every second page: first quarter erased, data behind it */
	PAT_BLOCK_HEADS, /* every second page: first quarter and every block's first 16 bytes
			  * erased, data behind them */
	PAT_HALF_ERASED, /* every third page half erased, as a power loss during an erase leaves it
			  */
	PAT_PAGE0,	 /* page 0: first quarter erased (the old application is invalid) */
	PAT_FOREIGN,	 /* seeded bytes everywhere, every page's first quarter erased */
	PAT_COUNT,
};

static const char *const pattern_names[] = {
    [PAT_QUARTER] = "quarter-erased pages",  [PAT_BLOCK_HEADS] = "erased block heads",
    [PAT_HALF_ERASED] = "half-erased pages", [PAT_PAGE0] = "page 0 quarter erased",
    [PAT_FOREIGN] = "foreign image",
};

/* Data where there is none yet, so every hidden range really holds something. */
static void fill_data(uint8_t *p, size_t len, uint32_t *rng)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] == 0xff)
			p[i] = (uint8_t)(0x40 | (sim_rand(rng) & 0x3f));
}

static void apply_pattern(struct sim *s, enum pattern pat, size_t span)
{
	const uint32_t page = twin_mcu(s->t)->page_size;
	uint32_t rng = 0x5eed + (uint32_t)pat;
	size_t flash_len;
	uint8_t *app = malloc(span);

	assert_non_null(app);
	memcpy(app, twin_flash(s->t, &flash_len) + SIM_APP_OFF, span);
	for (size_t p = 0; p < span; p += page) {
		const size_t k = p / page;

		switch (pat) {
		case PAT_QUARTER:
			fill_data(app + p, page, &rng);
			if (k % 2)
				memset(app + p, 0xff, page / 4);
			break;
		case PAT_BLOCK_HEADS:
			fill_data(app + p, page, &rng);
			if (k % 2 == 0)
				break;
			memset(app + p, 0xff, page / 4);
			for (size_t b = 0; b < page; b += TWIN_BLOCK_SIZE)
				memset(app + p + b, 0xff, 16);
			break;
		case PAT_HALF_ERASED:
			fill_data(app + p, page, &rng);
			if (k % 3 == 1)
				memset(app + p, 0xff, page / 2);
			break;
		case PAT_PAGE0:
			if (k == 0) {
				fill_data(app, page, &rng);
				memset(app, 0xff, page / 4);
			}
			break;
		case PAT_FOREIGN:
			for (size_t i = 0; i < page; i++)
				app[p + i] = (uint8_t)sim_rand(&rng);
			memset(app + p, 0xff, page / 4);
			break;
		case PAT_COUNT:
			break;
		}
	}
	assert_int_equal(twin_flash_write_raw(s->t, TWIN_APP_START, app, span), 0);
	free(app);
}

struct result {
	unsigned reerased, quarter_misses, program_errors, refused;
};

/* One flash over the pattern: exit 0, the image in flash, the new application running. */
static struct result flash_over(const char *mcu, bool usb, enum pattern pat, size_t size)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;
	struct cf_failure why;
	const struct twin_stats *ts;
	struct result r;
	int rc;

	assert_int_equal(sim_open_mcu(&s, mcu, usb, NULL, "CARTOGRAPHER 5.0.0"), 0);
	assert_int_equal(sim_make_app(&s, size, mcu, "CARTOGRAPHER 5.1.0"), 0);
	/* In Katapult first: the bootloader does not look at the application area again. */
	assert_true(sim_enter_katapult(&s));
	apply_pattern(&s, pat, s.img_len + twin_mcu(s.t)->page_size);
	sim_snapshot(&s);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);

	rc = sim_session(&s, &c, &st, &why);
	sim_settle(&s, 2000000);

	if (rc) {
		sim_close(&s);
		fail_msg("%s %s %s: %s %s: %s (%s)", mcu ? mcu : "stm32f042x6", usb ? "usb" : "can",
			 pattern_names[pat], cf_err_name(rc), why.stage, why.detail, why.hint);
	}
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	ts = twin_get_stats(s.t);
	r.reerased = st.pages_reerased;
	r.quarter_misses = ts->quarter_misses;
	r.program_errors = ts->program_errors;
	r.refused = ts->block_errors;
	/* Every refusal was answered by erasing that page again, once. */
	assert_int_equal(r.refused, r.reerased);
	sim_close(&s);
	return r;
}

static void each_pattern(const char *mcu, bool usb, size_t size)
{
	unsigned hidden = 0;

	for (enum pattern pat = 0; pat < PAT_COUNT; pat++) {
		struct result r = flash_over(mcu, usb, pat, size);

		print_message("%s %s %-21s: %2u quarter misses, %3u units not programmed, "
			      "%2u blocks refused, %2u pages erased again, one run\n",
			      mcu ? mcu : "stm32f042x6", usb ? "usb" : "can", pattern_names[pat],
			      r.quarter_misses, r.program_errors, r.refused, r.reerased);
		/* The pattern really hid data from Katapult, and the engine had to act. */
		assert_true(r.quarter_misses + r.program_errors > 0);
		assert_true(r.reerased > 0);
		hidden += r.reerased;
	}
	assert_true(hidden >= PAT_COUNT);
}

static void test_sim_old_flash_f042_can(void **state)
{
	(void)state;
	each_pattern(NULL, false, 12 * 1024);
}

static void test_sim_old_flash_f042_usb(void **state)
{
	(void)state;
	each_pattern(NULL, true, 12 * 1024);
}

static void test_sim_old_flash_g431_can(void **state)
{
	(void)state;
	each_pattern("stm32g431xx", false, 40 * 1024);
}

static void test_sim_old_flash_g431_usb(void **state)
{
	(void)state;
	each_pattern("stm32g431xx", true, 40 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sim_old_flash_f042_can),
	    cmocka_unit_test(test_sim_old_flash_f042_usb),
	    cmocka_unit_test(test_sim_old_flash_g431_can),
	    cmocka_unit_test(test_sim_old_flash_g431_usb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
