// SPDX-License-Identifier: GPL-3.0-or-later
// Host-side stops in the page-0 window: a cancel at every round trip, never a half image left.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include "failure.h"
#include "sim_harness.h"

/* Frame numbers of one clean run: the real block 0 and the last SEND_BLOCK. */
struct marks {
	unsigned block0, last_block;
};

static void mark_hook(struct sim *s, unsigned n, const uint8_t *frame, size_t len)
{
	struct marks *m = s->hook_ctx;

	(void)frame, (void)len;
	if (s->last_cmd != KATAPULT_CMD_SEND_BLOCK)
		return;
	if (s->last_addr == TWIN_APP_START && !s->last_ff)
		m->block0 = n;
	m->last_block = n;
}

/* A twin on its old application, in Katapult, with the new image ready. */
static void open_probe(struct sim *s, const char *mcu, bool usb, size_t size)
{
	assert_int_equal(sim_open_mcu(s, mcu, usb, NULL, "CARTOGRAPHER 5.0.0"), 0);
	assert_int_equal(sim_make_app(s, size, mcu, "CARTOGRAPHER 5.1.0"), 0);
	sim_snapshot(s);
	assert_true(sim_enter_katapult(s));
}

static struct marks find_window(const char *mcu, bool usb, size_t size)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct marks m = {0, 0};

	open_probe(&s, mcu, usb, size);
	s.hook = mark_hook;
	s.hook_ctx = &m;
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	assert_int_equal(sim_session(&s, &c, NULL, NULL), 0);
	sim_close(&s);
	assert_true(m.block0 > 3 && m.last_block > m.block0);
	return m;
}

/*
 * Cancel once frame k went out, for every k from the frame before the real block 0 to the one
 * after the last block. What must hold: the stop is CF_ERR_INTERRUPTED; inside the window one
 * more frame goes out and it is the 0xFF block over page 0, and the hint says the application
 * is erased; after a power cut the probe holds no valid-looking half image and boots
 * Katapult (or, once every block was written, the whole new application); a rerun finishes.
 */
static void cancel_everywhere(const char *mcu, bool usb, size_t size)
{
	const struct marks w = find_window(mcu, usb, size);
	unsigned invalidated = 0, written = 0;

	for (unsigned k = w.block0 - 1; k <= w.last_block + 1; k++) {
		static struct sim s;
		struct katapult_engine_config c;
		struct cf_failure why;
		enum sim_app_state st;
		const bool in_window = k >= w.block0 && k < w.last_block;
		int rc;

		open_probe(&s, mcu, usb, size);
		c = sim_config(&s, KATAPULT_ENGINE_FLASH);
		s.cancel_after = k;
		rc = sim_session(&s, &c, NULL, &why);
		if (rc != CF_ERR_INTERRUPTED)
			fail_msg("cancel after frame %u: %s", k, cf_err_name(rc));
		assert_int_equal(twin_get_stats(s.t)->completes, 0);
		if (in_window) {
			if (s.frames != k + 1 || s.last_cmd != KATAPULT_CMD_SEND_BLOCK ||
			    s.last_addr != TWIN_APP_START || !s.last_ff)
				fail_msg(
				    "cancel after frame %u (window %u..%u): %u frames, last %02x "
				    "at 0x%08x",
				    k, w.block0, w.last_block - 1, s.frames, s.last_cmd,
				    s.last_addr);
			assert_int_equal(s.app, KATAPULT_APP_INVALID);
			assert_non_null(strstr(why.hint, "application is erased"));
			invalidated++;
		} else {
			assert_int_equal(s.frames, k);
		}
		if (k == w.last_block) {
			assert_int_equal(s.app, KATAPULT_APP_WRITTEN);
			assert_non_null(strstr(why.hint, "every block is written"));
			written++;
		}
		/* Ctrl-C, then the probe is unplugged and plugged in again. */
		twin_power_cycle(s.t, s.now);
		sim_settle(&s, 1000000);
		st = sim_app_state(&s);
		if (st == SIM_APP_WINDOW || st == SIM_APP_BROKEN)
			fail_msg("cancel after frame %u: app %s after a power cycle", k,
				 sim_app_state_name(st));
		assert_int_equal(twin_get_mode(s.t),
				 st == SIM_APP_NEW ? TWIN_MODE_APP : TWIN_MODE_KATAPULT);
		s.cancel_after = 0;
		assert_true(sim_enter_katapult(&s));
		assert_int_equal(sim_session(&s, &c, NULL, &why), 0);
		assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
		sim_close(&s);
	}
	print_message("%s %s: block 0 is frame %u, the last block frame %u; %u cancels inside the "
		      "window erased page 0 again, %u after the last block left the whole image\n",
		      mcu ? mcu : "stm32f042x6", usb ? "usb" : "can", w.block0, w.last_block,
		      invalidated, written);
	assert_int_equal(invalidated, w.last_block - w.block0);
}

static void test_sim_stops_cancel_in_window_can(void **state)
{
	(void)state;
	cancel_everywhere(NULL, false, 6 * 1024);
}

static void test_sim_stops_cancel_in_window_usb(void **state)
{
	(void)state;
	cancel_everywhere(NULL, true, 6 * 1024);
}

static void test_sim_stops_cancel_in_window_g431(void **state)
{
	(void)state;
	cancel_everywhere("stm32g431xx", false, 10 * 1024);
}

/*
 * A host-side failure the engine cannot act on: the channel stops taking frames inside the
 * window (CAN queue full for good). Nothing more can go out, so the hint says what the probe
 * holds: page 0 partly written, and what a reset would do.
 */
static void stall_hook(struct sim *s, unsigned n, const uint8_t *frame, size_t len)
{
	const struct marks *w = s->hook_ctx;

	(void)frame, (void)len;
	if (n == w->block0 + 2)
		s->stall_pct = 100;
}

static void test_sim_stops_channel_dies_in_window(void **state)
{
	const struct marks w = find_window(NULL, false, 6 * 1024);
	static struct sim s;
	struct katapult_engine_config c;
	struct cf_failure why;

	(void)state;
	open_probe(&s, NULL, false, 6 * 1024);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	s.hook = stall_hook;
	s.hook_ctx = (void *)&w;
	assert_int_equal(sim_session(&s, &c, NULL, &why), CF_ERR_IO);
	assert_int_equal(s.app, KATAPULT_APP_HALF);
	print_message("%s: %s; %s\n", why.stage, why.detail, why.hint);
	assert_non_null(strstr(why.hint, "page 0 is half written"));
	assert_non_null(strstr(why.hint, "rerun flash now"));
	assert_null(strstr(why.hint, "power-cycle the probe, then"));
	/* whole, not cut at the end of the hint buffer */
	assert_true(strlen(why.hint) < sizeof(why.hint) - 1);
	assert_string_equal(why.hint + strlen(why.hint) - 11, "rerun flash");
	sim_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sim_stops_cancel_in_window_can),
	    cmocka_unit_test(test_sim_stops_cancel_in_window_usb),
	    cmocka_unit_test(test_sim_stops_cancel_in_window_g431),
	    cmocka_unit_test(test_sim_stops_channel_dies_in_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
