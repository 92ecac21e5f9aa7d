// SPDX-License-Identifier: GPL-3.0-or-later
// The engine against the probe twin: clean flashes over CAN and USB, CONNECT layouts, refusals.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "failure.h"
#include "sim_harness.h"

#define KP_VERSION "v0.0.1-110-g902f335"

static void open_in_katapult(struct sim *s, bool usb, const char *kp_version)
{
	assert_int_equal(sim_open(s, usb, kp_version, "CARTOGRAPHER 5.0.0"), 0);
	sim_snapshot(s);
	assert_true(sim_enter_katapult(s));
}

static void assert_rule1_clean(const struct sim *s)
{
	const struct twin_stats *ts = twin_get_stats(s->t);

	assert_int_equal(s->changed_mid_send, 0);
	assert_int_equal(s->abandoned_mid_send, 0);
	/* No host->device fault was injected, so the device never saw a broken frame. */
	assert_int_equal(ts->nacks, 0);
	assert_int_equal(ts->wedges, 0);
}

static void test_sim_can_flash_22k_app(void **state)
{
	static struct sim s;
	uint64_t start;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;
	const struct twin_stats *ts;

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 22 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	s.stall_pct = 20;
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	start = s.now;

	assert_int_equal(sim_session(&s, &c, &st, NULL), 0);
	/* No idle gap: with an instant device the session lasts exactly its bus time (the last
	 * CAN frame of each command counts as sent when handed over) plus the full-queue
	 * waits; the next command leaves the moment a reply is parsed. */
	assert_int_equal(s.now - start,
			 (uint64_t)(s.units - s.frames) * SIM_CAN_FRAME_US + s.stalls * 1000u);
	sim_settle(&s, 2000000);

	ts = twin_get_stats(s.t);
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	assert_int_equal(ts->completes, 1);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	/* §1.6: every page-start block written counts, page 0 twice (0xFF, then block 0). */
	assert_int_equal(st.eof_pages, 22 + 1);
	assert_int_equal(st.retries, 0);
	assert_true(s.stalls > 0);
	assert_rule1_clean(&s);
	sim_close(&s);
}

static void test_sim_can_flash_short_app(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;

	(void)state;
	open_in_katapult(&s, false, KP_VERSION);
	assert_int_equal(sim_make_app(&s, 0, NULL, "CARTOGRAPHER 5.1.0"), 0);
	assert_true(s.img_len % 64 != 0 || s.img_len < 24576);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);

	assert_int_equal(sim_session(&s, &c, NULL, NULL), 0);
	sim_settle(&s, 2000000);

	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	assert_rule1_clean(&s);
	sim_close(&s);
}

static void test_sim_usb_flash_with_prime(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;

	(void)state;
	open_in_katapult(&s, true, NULL);
	assert_int_equal(sim_make_app(&s, 16 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	assert_true(c.prime);

	assert_int_equal(sim_session(&s, &c, &st, NULL), 0);
	sim_settle(&s, 2000000);

	/* §3.4: the prime's command error was held back and dropped; no try timed out. */
	assert_int_equal(st.timeouts, 0);
	assert_int_equal(st.stale, 1);
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	assert_rule1_clean(&s);
	sim_close(&s);
}

static void test_sim_usb_without_prime_costs_one_timeout(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;

	(void)state;
	open_in_katapult(&s, true, NULL);
	assert_int_equal(sim_make_app(&s, 4 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	c.prime = false;

	assert_int_equal(sim_session(&s, &c, &st, NULL), 0);

	/* The first CONNECT's reply stays in the device until the second is queued, then the
	 * late duplicate is dropped as stale. */
	assert_int_equal(st.timeouts, 1);
	assert_true(st.stale >= 1);
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	sim_close(&s);
}

static void connect_info_case(bool usb, const char *kp_version, uint32_t want_proto,
			      const char *want_version)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct katapult_engine *e;
	const struct katapult_connect_info *ci;
	uint8_t uuid[6], twin_id[6];

	open_in_katapult(&s, usb, kp_version);
	c = sim_config(&s, KATAPULT_ENGINE_INFO_ONLY);
	assert_int_equal(katapult_engine_new(&c, &e), 0);

	assert_int_equal(sim_run(&s, e), 0);

	ci = katapult_engine_connect_info(e);
	assert_non_null(ci);
	assert_int_equal(ci->proto_version, want_proto);
	assert_string_equal(ci->mcu, "stm32f042x6");
	assert_string_equal(ci->version, want_version);
	assert_int_equal(ci->app_start, 0x08002000);
	assert_int_equal(ci->block_size, 64);
	assert_int_equal(katapult_engine_get_uuid(e, uuid), !usb);
	twin_uuid(s.t, twin_id);
	if (!usb)
		assert_memory_equal(uuid, twin_id, 6);
	assert_int_equal(twin_get_stats(s.t)->blocks_written, 0);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_KATAPULT);
	katapult_engine_free(e);
	sim_close(&s);
}

static void test_sim_connect_1_0_0_can(void **state)
{
	(void)state;
	connect_info_case(false, NULL, KATAPULT_PROTO_1_0_0, "");
}

static void test_sim_connect_1_1_0_can(void **state)
{
	(void)state;
	connect_info_case(false, KP_VERSION, KATAPULT_PROTO_1_1_0, KP_VERSION);
}

static void test_sim_connect_1_1_0_usb(void **state)
{
	(void)state;
	connect_info_case(true, KP_VERSION, KATAPULT_PROTO_1_1_0, KP_VERSION);
}

/* Refusals happen after CONNECT and before the first SEND_BLOCK (design.md rule 4). */
static void refusal_case(struct sim *s, const char *want_stage)
{
	struct katapult_engine_config c = sim_config(s, KATAPULT_ENGINE_FLASH);
	struct cf_failure why;
	const struct twin_stats *ts = twin_get_stats(s->t);
	const uint32_t erased = ts->pages_erased, written = ts->blocks_written;

	assert_int_equal(sim_session(s, &c, NULL, &why), CF_ERR_REFUSED);

	assert_string_equal(why.stage, want_stage);
	assert_non_null(strstr(why.hint, "nothing written"));
	assert_int_equal(s->frames, 2); /* CONNECT, GET_CANBUS_ID */
	assert_int_equal(ts->pages_erased, erased);
	assert_int_equal(ts->blocks_written, written);
	assert_int_equal(sim_app_state(s), SIM_APP_OLD);
	assert_int_equal(twin_get_mode(s->t), TWIN_MODE_KATAPULT);
}

static void test_sim_full_image_refused_r1(void **state)
{
	static struct sim s;
	struct mkimage_full_opts o;
	uint8_t *img;
	size_t len;

	(void)state;
	open_in_katapult(&s, false, NULL);
	memset(&o, 0, sizeof(o));
	assert_int_equal(mkimage_full(&o, &img, &len), 0);
	sim_set_image(&s, img, len);
	assert_int_equal(s.info.kind, IMAGE_FULL);

	refusal_case(&s, "refusal R1");
	sim_close(&s);
}

static void test_sim_other_mcu_refused_r2(void **state)
{
	static struct sim s;

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 0, "stm32g431xx", "CARTOGRAPHER V4 6.1.0"), 0);

	refusal_case(&s, "refusal R2");
	sim_close(&s);
}

static void test_sim_oversize_refused_r5(void **state)
{
	static struct sim s;

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 24576 + 64, NULL, "CARTOGRAPHER 5.1.0"), 0);

	refusal_case(&s, "refusal R5");
	assert_int_equal(twin_get_stats(s.t)->wrote_past_end, 0);
	sim_close(&s);
}

/* Poke the twin's flash after the write, so the read-back differs (a flash that lies). */
static void damage_after_eof(struct sim *s, unsigned n, const uint8_t *frame, size_t len)
{
	uint8_t bad = 0x5a;

	(void)n, (void)len;
	if (frame[2] == KATAPULT_CMD_SEND_EOF) {
		bad = (uint8_t)~s->img[0x1234];
		twin_flash_write_raw(s->t, TWIN_APP_START + 0x1234, &bad, 1);
	}
}

static void test_sim_verify_mismatch_never_completes(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct cf_failure why;

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 12 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	s.hook = damage_after_eof;
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);

	assert_int_equal(sim_session(&s, &c, NULL, &why), CF_ERR_VERIFY);
	sim_settle(&s, 2000000);

	assert_non_null(strstr(why.detail, "block 0x08003200 differs at 0x08003234"));
	assert_int_equal(twin_get_stats(s.t)->completes, 0);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_KATAPULT);
	sim_close(&s);
}

static void test_sim_verify_only_after_flash(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 12 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	c.no_reboot = true;
	assert_int_equal(sim_session(&s, &c, NULL, NULL), 0);
	c.op = KATAPULT_ENGINE_VERIFY_ONLY;

	assert_int_equal(sim_session(&s, &c, NULL, NULL), 0);

	assert_int_equal(s.frames, 2 + 192);
	assert_int_equal(twin_get_stats(s.t)->completes, 0);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_KATAPULT);
	sim_close(&s);
}

static void test_sim_cancel_then_resume(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct cf_failure why;

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 20 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	s.cancel_after = 100;
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);

	assert_int_equal(sim_session(&s, &c, NULL, &why), CF_ERR_INTERRUPTED);
	assert_non_null(strstr(why.hint, "rerun flash"));
	assert_int_equal(s.frames, 100);
	/* A power loss now must leave a probe that boots into Katapult (rule 3). */
	twin_power_cycle(s.t, s.now);
	sim_settle(&s, 1000000);
	assert_int_equal(sim_app_state(&s), SIM_APP_INVALID);
	assert_true(sim_enter_katapult(&s));
	s.cancel_after = 0;

	assert_int_equal(sim_session(&s, &c, NULL, NULL), 0);
	sim_settle(&s, 2000000);
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	sim_close(&s);
}

/* katapult.md §1.7 through the twin's own parser: a corrupted frame wedges it for good. */
static void test_sim_corrupt_frame_wedges_then_power_cycle_recovers(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct cf_failure why;
	const struct twin_faults corrupt = { .corrupt_rx = 40 };

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 10 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	twin_set_faults(s.t, &corrupt);

	assert_int_equal(sim_session(&s, &c, NULL, &why), CF_ERR_WEDGED);

	assert_true(twin_get_stats(s.t)->wedged);
	assert_string_equal(why.stage, "write");
	assert_string_equal(why.hint,
			    "bootloader wedged - power-cycle the probe, then rerun flash");
	assert_int_equal(twin_get_stats(s.t)->completes, 0);
	twin_set_faults(s.t, &(struct twin_faults){ .corrupt_rx = 0 });
	twin_power_cycle(s.t, s.now);
	sim_settle(&s, 1000000);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_KATAPULT); /* page 0 was erased first */
	assert_true(sim_enter_katapult(&s));
	assert_int_equal(sim_session(&s, &c, NULL, NULL), 0);
	sim_settle(&s, 2000000);
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	sim_close(&s);
}

/* A REQUEST_BLOCK reply 2.9 s late: the 2 s timeout and 0.75 s back-off resend the command,
 * the late reply answers it, and the resend's own reply arrives as a stale duplicate while
 * the next block is awaited; it is dropped (katapult.md §10.1). */
static void test_sim_late_reply_then_stale_duplicate(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;
	/* USB replies: 1 prime, 2 CONNECT, 3..163 SEND_BLOCK, 164 EOF, 165.. REQUEST_BLOCK */
	const struct twin_faults late = { .delay_tx = 200, .delay_us = 2900000 };

	(void)state;
	open_in_katapult(&s, true, NULL);
	assert_int_equal(sim_make_app(&s, 10 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	twin_set_faults(s.t, &late);

	assert_int_equal(sim_session(&s, &c, &st, NULL), 0);

	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.stale, 2); /* the prime's held-back reply and the duplicate */
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	sim_close(&s);
}

/* A reply 2.3 s late lands in the back-off after the 2 s timeout: taken, no resend. */
static void test_sim_late_reply_inside_backoff_is_taken(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;
	const struct twin_faults late = { .delay_tx = 200, .delay_us = 2300000 };

	(void)state;
	open_in_katapult(&s, true, NULL);
	assert_int_equal(sim_make_app(&s, 10 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	twin_set_faults(s.t, &late);

	assert_int_equal(sim_session(&s, &c, &st, NULL), 0);

	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.retries, 0);
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	sim_close(&s);
}

static void test_sim_busy_device_is_waited_for(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;
	const struct twin_faults busy = { .busy_replies = 4 };

	(void)state;
	open_in_katapult(&s, false, NULL);
	assert_int_equal(sim_make_app(&s, 4 * 1024, NULL, "CARTOGRAPHER 5.1.0"), 0);
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	twin_set_faults(s.t, &busy);

	assert_int_equal(sim_session(&s, &c, &st, NULL), 0);

	assert_int_equal(st.busy, 4);
	assert_int_equal(twin_get_stats(s.t)->busy_sent, 4);
	assert_int_equal(sim_app_state(&s), SIM_APP_NEW);
	sim_close(&s);
}

static void test_sim_reboot_only_completes(void **state)
{
	static struct sim s;
	struct katapult_engine_config c;

	(void)state;
	open_in_katapult(&s, false, NULL);
	c = sim_config(&s, KATAPULT_ENGINE_REBOOT);
	c.image = NULL;
	c.image_len = 0;
	c.image_info = NULL;

	assert_int_equal(sim_session(&s, &c, NULL, NULL), 0);
	sim_settle(&s, 2000000);

	assert_int_equal(s.frames, 1);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	assert_int_equal(sim_app_state(&s), SIM_APP_OLD);
	sim_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_can_flash_22k_app),
		cmocka_unit_test(test_sim_can_flash_short_app),
		cmocka_unit_test(test_sim_usb_flash_with_prime),
		cmocka_unit_test(test_sim_usb_without_prime_costs_one_timeout),
		cmocka_unit_test(test_sim_connect_1_0_0_can),
		cmocka_unit_test(test_sim_connect_1_1_0_can),
		cmocka_unit_test(test_sim_connect_1_1_0_usb),
		cmocka_unit_test(test_sim_full_image_refused_r1),
		cmocka_unit_test(test_sim_other_mcu_refused_r2),
		cmocka_unit_test(test_sim_oversize_refused_r5),
		cmocka_unit_test(test_sim_verify_mismatch_never_completes),
		cmocka_unit_test(test_sim_verify_only_after_flash),
		cmocka_unit_test(test_sim_cancel_then_resume),
		cmocka_unit_test(test_sim_corrupt_frame_wedges_then_power_cycle_recovers),
		cmocka_unit_test(test_sim_late_reply_then_stale_duplicate),
		cmocka_unit_test(test_sim_late_reply_inside_backoff_is_taken),
		cmocka_unit_test(test_sim_busy_device_is_waited_for),
		cmocka_unit_test(test_sim_reboot_only_completes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
