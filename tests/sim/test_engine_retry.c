// SPDX-License-Identifier: GPL-3.0-or-later
// The Katapult engine against a scripted device: prime, stale replies, retries, wedge, cancel.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_cases.h"
#include "failure.h"
#include "fake_device.h"
#include "katapult/engine.h"
#include "protocol/err.h"
#include "protocol/katapult.h"

/* ---- prime, stale replies, retries -------------------------------------------------------- */

static void test_engine_prime_discards_held_back_reply(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY, .prime = true };
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.hold_first = true;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.ncmds, 2);
	assert_memory_equal(f.frames[0], prime_frame, sizeof(prime_frame));
	assert_memory_equal(f.frames[1], connect_frame, sizeof(connect_frame));
	assert_int_equal(katapult_engine_stats(e)->stale, 1);
	assert_int_equal(katapult_engine_stats(e)->timeouts, 0);
	katapult_engine_free(e);
}

/* katapult.md §3.4: without a prime the first CONNECT times out and a stale ACK follows. */
static void test_engine_unprimed_usb_recovers(void **state)
{
	uint8_t *img = make_image(1000);
	struct katapult_engine_config c = flash_cfg(img, 1000);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.hold_first = true;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(fake_count(&f, KATAPULT_CMD_CONNECT), 2);
	assert_int_equal(katapult_engine_stats(e)->timeouts, 1);
	assert_int_equal(katapult_engine_stats(e)->stale, 1);
	assert_memory_equal(f.flash + 0x2000, img, 1000);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action stale_on_fifth(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)cmd, (void)addr;
	return n == 5 ? FAKE_STALE_FIRST : FAKE_NORMAL;
}

static void test_engine_stale_ack_is_dropped(void **state)
{
	uint8_t *img = make_image(2048);
	struct katapult_engine_config c = flash_cfg(img, 2048);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = stale_on_fifth;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(katapult_engine_stats(e)->stale, 1);
	assert_int_equal(katapult_engine_stats(e)->retries, 0);
	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), 32 + 1);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action nack_third(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)cmd, (void)addr;
	return n == 3 ? FAKE_NACK : FAKE_NORMAL;
}

static void test_engine_nack_resends_the_same_frame(void **state)
{
	uint8_t *img = make_image(2048);
	struct katapult_engine_config c = flash_cfg(img, 2048);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = nack_third;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.frame_lens[3], f.frame_lens[4]);
	assert_memory_equal(f.frames[3], f.frames[4], f.frame_lens[3]);
	/* katapult.md §1.8: flush 0.25 s + 0.5 s before the resend. */
	assert_true(f.sent_at[4] - f.sent_at[3] >= FAKE_LATENCY_US + 750000);
	assert_int_equal(katapult_engine_stats(e)->nacks, 1);
	assert_int_equal(katapult_engine_stats(e)->retries, 1);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action nack_then_silence(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)cmd, (void)addr;
	if (n < 6)
		return FAKE_NORMAL;
	return n == 6 ? FAKE_NACK : FAKE_SILENT;
}

static void test_engine_nack_then_silence_is_wedged(void **state)
{
	uint8_t *img = make_image(2048);
	struct katapult_engine_config c = flash_cfg(img, 2048);
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	f.script = nack_then_silence;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_WEDGED);

	why = katapult_engine_failure(e);
	assert_string_equal(why->stage, "write");
	assert_non_null(strstr(why->hint, "power-cycle the probe"));
	assert_non_null(strstr(why->detail, "NACK on SEND_BLOCK 0x"));
	assert_int_equal(f.ncmds, 6 + KATAPULT_ENGINE_BLOCK_TRIES);
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action nack_blocks(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)n, (void)addr;
	return cmd == KATAPULT_CMD_SEND_BLOCK ? FAKE_NACK : FAKE_NORMAL;
}

static void test_engine_nack_every_try_reports_nack(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	f.script = nack_blocks;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_NACK);

	why = katapult_engine_failure(e);
	assert_string_equal(why->detail, "SEND_BLOCK 0x08002000 rejected with NACK after 3 tries");
	assert_non_null(strstr(why->hint, "power-cycle the probe"));
	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), KATAPULT_ENGINE_BLOCK_TRIES);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action refuse_block_9(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)n;
	return cmd == KATAPULT_CMD_SEND_BLOCK && addr == START + 0x400 ? FAKE_CMD_ERROR
								      : FAKE_NORMAL;
}

static void test_engine_cmd_error_on_block_stops(void **state)
{
	uint8_t *img = make_image(2048);
	struct katapult_engine_config c = flash_cfg(img, 2048);
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	f.script = refuse_block_9;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_PROTOCOL);

	why = katapult_engine_failure(e);
	assert_string_equal(why->stage, "write");
	assert_non_null(strstr(why->detail, "block 0x08002400"));
	assert_non_null(strstr(why->hint, "rerun flash"));
	assert_int_equal(f.ncmds, 3);
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action busy_first(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)cmd, (void)addr;
	return n == 0 ? FAKE_BUSY : FAKE_NORMAL;
}

static void test_engine_busy_backs_off_1500ms(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY };
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = busy_first;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.ncmds, 2);
	assert_true(f.sent_at[1] - f.sent_at[0] >= FAKE_LATENCY_US + 1500000);
	assert_int_equal(katapult_engine_stats(e)->busy, 1);
	katapult_engine_free(e);
}

static enum fake_action busy_five_times(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)addr;
	return cmd == KATAPULT_CMD_SEND_BLOCK && n >= 2 && n < 7 ? FAKE_BUSY : FAKE_NORMAL;
}

/* BUSY means "alive, wait": five in a row on a 3-try SEND_BLOCK still succeed. */
static void test_engine_busy_costs_no_try(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = busy_five_times;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(katapult_engine_stats(e)->busy, 5);
	assert_int_equal(f.addrs[2], f.addrs[7]);
	assert_memory_equal(f.flash + 0x2000, img, 640);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action always_busy(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)n, (void)cmd, (void)addr;
	return FAKE_BUSY;
}

static void test_engine_endless_busy_gives_up(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY };
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = always_busy;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_BUSY);

	assert_int_equal(f.ncmds, KATAPULT_ENGINE_BUSY_WAITS + KATAPULT_ENGINE_TRIES);
	katapult_engine_free(e);
}

static enum fake_action all_silent(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)n, (void)cmd, (void)addr;
	return FAKE_SILENT;
}

static void test_engine_connect_timeouts_follow_flashtool(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY };
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	f.script = all_silent;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_TIMEOUT);

	assert_int_equal(f.ncmds, KATAPULT_ENGINE_TRIES);
	for (unsigned i = 1; i < f.ncmds; i++)
		assert_true(f.sent_at[i] - f.sent_at[i - 1] >= 2000000 + 750000);
	assert_true(f.now - f.sent_at[f.ncmds - 1] >= 2000000);
	why = katapult_engine_failure(e);
	assert_string_equal(why->stage, "connect");
	assert_string_equal(why->detail, "no reply to CONNECT after 5 tries");
	assert_non_null(strstr(why->hint, "power-cycle"));
	katapult_engine_free(e);
}

static enum fake_action silent_blocks(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)n, (void)addr;
	return cmd == KATAPULT_CMD_SEND_BLOCK ? FAKE_SILENT : FAKE_NORMAL;
}

static void test_engine_send_block_waits_5s_3_tries(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = silent_blocks;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_TIMEOUT);

	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), KATAPULT_ENGINE_BLOCK_TRIES);
	for (unsigned i = 2; i < f.ncmds; i++)
		assert_true(f.sent_at[i] - f.sent_at[i - 1] >= 5000000 + 750000);
	assert_string_equal(katapult_engine_failure(e)->stage, "write");
	assert_non_null(strstr(katapult_engine_failure(e)->hint, "rerun flash"));
	katapult_engine_free(e);
	free(img);
}

static enum fake_action corrupt_fourth(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	size_t len;

	if (n != 4)
		return FAKE_NORMAL;
	assert_int_equal(cmd, KATAPULT_CMD_SEND_BLOCK);
	katapult_build_block_ack(addr, f->custom, sizeof(f->custom), &len);
	f->custom[len - 3] ^= 0x01; /* the CRC's high byte */
	f->custom_len = len;
	return FAKE_CUSTOM;
}

static void test_engine_corrupt_reply_resends(void **state)
{
	uint8_t *img = make_image(2048);
	struct katapult_engine_config c = flash_cfg(img, 2048);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = corrupt_fourth;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.addrs[4], f.addrs[5]);
	assert_int_equal(katapult_engine_stats(e)->bad_frames, 1);
	assert_int_equal(katapult_engine_stats(e)->timeouts, 0);
	assert_memory_equal(f.flash + 0x2000, img, 2048);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action silent_complete(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)f, (void)n, (void)addr;
	return cmd == KATAPULT_CMD_COMPLETE ? FAKE_SILENT : FAKE_NORMAL;
}

static void test_engine_unacknowledged_complete_says_so(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = silent_complete;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_TIMEOUT);

	assert_string_equal(katapult_engine_failure(e)->stage, "complete");
	assert_non_null(strstr(katapult_engine_failure(e)->hint, "may already run"));
	katapult_engine_free(e);
	free(img);
}

static void test_engine_byte_by_byte_feed_is_the_same(void **state)
{
	uint8_t *img = make_image(3000);
	struct katapult_engine_config c = flash_cfg(img, 3000);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.feed_chunk = 1;
	c.prime = true;
	f.hold_first = true;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_memory_equal(f.flash + 0x2000, img, 3000);
	assert_int_equal(katapult_engine_stats(e)->retries, 0);
	katapult_engine_free(e);
	free(img);
}

/* ---- the channel contract and cancel ------------------------------------------------------ */

static void test_engine_poll_tx_repeats_until_tx_done(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY };
	struct katapult_engine *e = new_engine(&c);
	const uint8_t *a, *b;
	size_t la, lb;

	(void)state;
	assert_int_equal(katapult_engine_poll_tx(e, &a, &la), 1);
	assert_int_equal(katapult_engine_poll_tx(e, &b, &lb), 1);

	assert_ptr_equal(a, b);
	assert_int_equal(la, lb);
	assert_int_equal(katapult_engine_deadline(e), UINT64_MAX);
	katapult_engine_tick(e, 100000000);
	assert_int_equal(katapult_engine_state(e), KATAPULT_ENGINE_TX);
	assert_int_equal(katapult_engine_deadline(e), 100000000 + KATAPULT_ENGINE_TX_STALL_US);
	katapult_engine_tx_done(e, 1000);
	assert_int_equal(katapult_engine_state(e), KATAPULT_ENGINE_WAIT);
	assert_int_equal(katapult_engine_deadline(e), 1000 + 2000000);
	assert_int_equal(katapult_engine_poll_tx(e, &a, &la), 0);
	assert_int_equal(katapult_engine_result(e), CF_ERR_AGAIN);
	katapult_engine_free(e);
}

/* A frame the channel cannot get out (bus down, device not reading) ends the session after
 * the stall limit instead of hanging; no frame is dropped on the engine's side. */
static void test_engine_stalled_frame_ends_session(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	struct katapult_engine *e = new_engine(&c);
	const uint8_t *frame;
	size_t len;

	(void)state;
	katapult_engine_tick(e, 1000);
	assert_int_equal(katapult_engine_poll_tx(e, &frame, &len), 1);

	katapult_engine_tick(e, 1000 + KATAPULT_ENGINE_TX_STALL_US - 1);
	assert_int_equal(katapult_engine_state(e), KATAPULT_ENGINE_TX);
	katapult_engine_tick(e, 1000 + KATAPULT_ENGINE_TX_STALL_US);

	assert_int_equal(katapult_engine_result(e), CF_ERR_IO);
	assert_string_equal(katapult_engine_failure(e)->stage, "connect");
	assert_string_equal(katapult_engine_failure(e)->detail,
			    "CONNECT frame not taken by the channel in 5 s");
	assert_non_null(strstr(katapult_engine_failure(e)->hint, "check the cable or bus"));
	assert_false(katapult_engine_wrote(e));
	katapult_engine_free(e);
	free(img);
}

static void test_engine_cancel_waits_for_the_reply(void **state)
{
	uint8_t *img = make_image(4096);
	struct katapult_engine_config c = flash_cfg(img, 4096);
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 10), CF_ERR_INTERRUPTED);

	/* The tenth frame was answered and nothing followed it. */
	assert_int_equal(f.ncmds, 10);
	assert_int_equal(katapult_engine_stats(e)->replies, 10);
	why = katapult_engine_failure(e);
	assert_string_equal(why->stage, "write");
	assert_non_null(strstr(why->hint, "rerun flash to resume"));
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_cancel_before_sending_stops_at_once(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY };
	struct katapult_engine *e = new_engine(&c);
	const uint8_t *frame;
	size_t len;

	(void)state;
	katapult_engine_cancel(e, 0);

	assert_int_equal(katapult_engine_result(e), CF_ERR_INTERRUPTED);
	assert_int_equal(katapult_engine_poll_tx(e, &frame, &len), 0);
	assert_non_null(strstr(katapult_engine_failure(e)->hint, "nothing written"));
	katapult_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_prime_discards_held_back_reply),
		cmocka_unit_test(test_engine_unprimed_usb_recovers),
		cmocka_unit_test(test_engine_stale_ack_is_dropped),
		cmocka_unit_test(test_engine_nack_resends_the_same_frame),
		cmocka_unit_test(test_engine_nack_then_silence_is_wedged),
		cmocka_unit_test(test_engine_nack_every_try_reports_nack),
		cmocka_unit_test(test_engine_cmd_error_on_block_stops),
		cmocka_unit_test(test_engine_busy_backs_off_1500ms),
		cmocka_unit_test(test_engine_busy_costs_no_try),
		cmocka_unit_test(test_engine_endless_busy_gives_up),
		cmocka_unit_test(test_engine_connect_timeouts_follow_flashtool),
		cmocka_unit_test(test_engine_send_block_waits_5s_3_tries),
		cmocka_unit_test(test_engine_corrupt_reply_resends),
		cmocka_unit_test(test_engine_unacknowledged_complete_says_so),
		cmocka_unit_test(test_engine_byte_by_byte_feed_is_the_same),
		cmocka_unit_test(test_engine_poll_tx_repeats_until_tx_done),
		cmocka_unit_test(test_engine_stalled_frame_ends_session),
		cmocka_unit_test(test_engine_cancel_waits_for_the_reply),
		cmocka_unit_test(test_engine_cancel_before_sending_stops_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
