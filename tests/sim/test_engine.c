// SPDX-License-Identifier: GPL-3.0-or-later
// The Katapult engine against a scripted device: spec frames, write order, verify, refusals.
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

/* ---- connect ------------------------------------------------------------------------------ */

static enum fake_action reply_spec_connect(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	(void)n, (void)addr;
	if (cmd != KATAPULT_CMD_CONNECT)
		return FAKE_NORMAL;
	memcpy(f->custom, connect_ack_1_1_0, sizeof(connect_ack_1_1_0));
	f->custom_len = sizeof(connect_ack_1_1_0);
	return FAKE_CUSTOM;
}

static void test_engine_info_sends_spec_connect_and_parses_1_1_0(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY };
	static struct fake f;
	struct katapult_engine *e;
	const struct katapult_connect_info *ci;

	(void)state;
	fake_init(&f);
	f.script = reply_spec_connect;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.ncmds, 1);
	assert_memory_equal(f.frames[0], connect_frame, sizeof(connect_frame));
	ci = katapult_engine_connect_info(e);
	assert_non_null(ci);
	assert_int_equal(ci->proto_version, 0x00010100);
	assert_int_equal(ci->app_start, START);
	assert_int_equal(ci->block_size, 64);
	assert_string_equal(ci->mcu, "stm32f042x6");
	assert_string_equal(ci->version, "v0.0.1-110-g902f335");
	katapult_engine_free(e);
}

/* katapult.md §1.4: 1.0.0 replies (the Cartographer fork) carry no version field. */
static enum fake_action reply_1_0_0(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	static const uint8_t payload[] = { 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
					   0x00, 0x20, 0x00, 0x08, 0x40, 0x00, 0x00, 0x00,
					   's',	 't',  'm',  '3',  '2',	 'f',  '0',  '4',
					   '2',	 'x',  '6',  0x00 };

	(void)n, (void)addr;
	if (cmd != KATAPULT_CMD_CONNECT)
		return FAKE_NORMAL;
	assert_int_equal(katapult_encode(KATAPULT_RESP_ACK, payload, sizeof(payload), f->custom,
					 sizeof(f->custom), &f->custom_len),
			 0);
	return FAKE_CUSTOM;
}

static void test_engine_info_parses_1_0_0(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY };
	static struct fake f;
	struct katapult_engine *e;
	const struct katapult_connect_info *ci;

	(void)state;
	fake_init(&f);
	f.script = reply_1_0_0;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	ci = katapult_engine_connect_info(e);
	assert_non_null(ci);
	assert_int_equal(ci->proto_version, 0x00010000);
	assert_string_equal(ci->mcu, "stm32f042x6");
	assert_string_equal(ci->version, "");
	katapult_engine_free(e);
}

static enum fake_action reply_spec_canbus_id(struct fake *f, unsigned n, uint8_t cmd,
					     uint32_t addr)
{
	(void)n, (void)addr;
	if (cmd != KATAPULT_CMD_GET_CANBUS_ID)
		return FAKE_NORMAL;
	memcpy(f->custom, canbus_id_ack, sizeof(canbus_id_ack));
	f->custom_len = sizeof(canbus_id_ack);
	return FAKE_CUSTOM;
}

static void test_engine_uuid_match_goes_on(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_INFO_ONLY, .expect_uuid = true };
	static struct fake f;
	struct katapult_engine *e;
	uint8_t uuid[6];

	(void)state;
	fake_init(&f);
	f.script = reply_spec_canbus_id;
	memcpy(c.uuid, "\xe0\xef\x27\x0c\xa1\x88", 6);
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.ncmds, 2);
	assert_memory_equal(f.frames[1], canbus_id_frame, sizeof(canbus_id_frame));
	assert_true(katapult_engine_get_uuid(e, uuid));
	assert_memory_equal(uuid, c.uuid, 6);
	katapult_engine_free(e);
}

static void test_engine_uuid_mismatch_writes_nothing(void **state)
{
	uint8_t *img = make_image(1000);
	struct katapult_engine_config c = flash_cfg(img, 1000);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	c.expect_uuid = true;
	memcpy(c.uuid, "\xe0\xef\x27\x0c\xa1\x89", 6);
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_NO_DEVICE);

	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), 0);
	assert_non_null(strstr(katapult_engine_failure(e)->detail, "e0ef270ca188"));
	assert_false(katapult_engine_wrote(e));
	katapult_engine_free(e);
	free(img);
}

/* ---- write order and verify --------------------------------------------------------------- */

static void test_engine_flash_22k_uses_safer_order(void **state)
{
	const size_t len = 22 * 1024, n = len / BS;
	uint8_t *img = make_image(len);
	struct katapult_engine_config c = flash_cfg(img, len);
	static struct fake f;
	struct katapult_engine *e;
	unsigned k = 1;

	(void)state;
	fake_init(&f);
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	/* katapult.md §5: 0xFF at start, blocks >= start + 1 KiB ascending, block 0, 1..15. */
	assert_int_equal(f.cmds[0], KATAPULT_CMD_CONNECT);
	assert_int_equal(f.cmds[k], KATAPULT_CMD_SEND_BLOCK);
	assert_int_equal(f.addrs[k++], START);
	for (uint32_t a = START + 1024; a < START + len; a += BS, k++) {
		assert_int_equal(f.cmds[k], KATAPULT_CMD_SEND_BLOCK);
		assert_int_equal(f.addrs[k], a);
	}
	for (uint32_t a = START; a < START + 1024; a += BS, k++) {
		assert_int_equal(f.cmds[k], KATAPULT_CMD_SEND_BLOCK);
		assert_int_equal(f.addrs[k], a);
	}
	assert_int_equal(f.cmds[k++], KATAPULT_CMD_SEND_EOF);
	for (uint32_t a = START; a < START + len; a += BS, k++) {
		assert_int_equal(f.cmds[k], KATAPULT_CMD_REQUEST_BLOCK);
		assert_int_equal(f.addrs[k], a);
	}
	assert_int_equal(f.cmds[k++], KATAPULT_CMD_COMPLETE);
	assert_int_equal(f.ncmds, k);
	assert_int_equal(f.ncmds, 1 + (n + 1) + 1 + n + 1);
	assert_memory_equal(f.flash + 0x2000, img, len);
	assert_true(katapult_engine_completed(e));
	katapult_engine_free(e);
	free(img);
}

static enum fake_action check_first_block_is_ff(struct fake *f, unsigned n, uint8_t cmd,
						uint32_t addr)
{
	(void)f;
	if (n == 1) {
		assert_int_equal(cmd, KATAPULT_CMD_SEND_BLOCK);
		assert_int_equal(addr, START);
		/* The frame: 01 88 12 11, address, 64 x 0xFF, CRC, 99 03 (katapult.md §1.2). */
		assert_int_equal(f->frame_lens[1], 76);
		for (int i = 8; i < 8 + BS; i++)
			assert_int_equal(f->frames[1][i], 0xff);
	}
	return FAKE_NORMAL;
}

static void test_engine_short_image_pads_last_block(void **state)
{
	uint8_t *img = make_image(100);
	struct katapult_engine_config c = flash_cfg(img, 100);
	static struct fake f;
	struct katapult_engine *e;
	struct katapult_engine_progress p;

	(void)state;
	fake_init(&f);
	f.script = check_first_block_is_ff;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), 3);
	assert_int_equal(f.addrs[2], START);
	assert_int_equal(f.addrs[3], START + BS);
	assert_memory_equal(f.flash + 0x2000, img, 100);
	for (int i = 100; i < 2 * BS; i++)
		assert_int_equal(f.flash[0x2000 + i], 0xff);
	katapult_engine_progress(e, &p);
	assert_int_equal(p.stage, KATAPULT_STAGE_FINISHED);
	assert_int_equal(p.done, 2 * BS);
	assert_int_equal(p.total, 2 * BS);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_ascending_order_without_page_size(void **state)
{
	const size_t len = 3000;
	uint8_t *img = make_image(len);
	struct katapult_engine_config c = flash_cfg(img, len);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	strcpy(f.info.mcu, "rp2040");
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), (len + BS - 1) / BS);
	for (unsigned k = 1; k <= (len + BS - 1) / BS; k++)
		assert_int_equal(f.addrs[k], START + (k - 1) * BS);
	katapult_engine_free(e);
	free(img);
}

static enum fake_action damage_flash_on_verify(struct fake *f, unsigned n, uint8_t cmd,
					       uint32_t addr)
{
	(void)n;
	if (cmd == KATAPULT_CMD_REQUEST_BLOCK && addr == START)
		f->flash[0x2000 + 5 * BS + 3] ^= 0x40;
	return FAKE_NORMAL;
}

static void test_engine_verify_mismatch_never_completes(void **state)
{
	uint8_t *img = make_image(2048);
	struct katapult_engine_config c = flash_cfg(img, 2048);
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;
	char want[96];

	(void)state;
	fake_init(&f);
	f.script = damage_flash_on_verify;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_VERIFY);

	why = katapult_engine_failure(e);
	snprintf(want, sizeof(want), "block 0x%08x differs at 0x%08x: wrote %02x, read %02x",
		 START + 5 * BS, START + 5 * BS + 3, img[5 * BS + 3], img[5 * BS + 3] ^ 0x40);
	assert_string_equal(why->detail, want);
	assert_string_equal(why->stage, "verify");
	assert_non_null(strstr(why->hint, "rerun flash"));
	assert_non_null(strstr(why->hint, "application is erased"));
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	/* The differing application is made invalid again: the 0xFF block over page 0. */
	assert_int_equal(f.cmds[f.ncmds - 2], KATAPULT_CMD_REQUEST_BLOCK);
	assert_int_equal(f.addrs[f.ncmds - 2], START + 5 * BS);
	assert_int_equal(f.cmds[f.ncmds - 1], KATAPULT_CMD_SEND_BLOCK);
	assert_int_equal(f.addrs[f.ncmds - 1], START);
	assert_int_equal(katapult_engine_app(e), KATAPULT_APP_INVALID);
	for (int i = 0; i < BS; i++)
		assert_int_equal(f.flash[0x2000 + i], 0xff);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_no_reboot_skips_complete(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	c.no_reboot = true;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(fake_count(&f, KATAPULT_CMD_REQUEST_BLOCK), 10);
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	assert_false(katapult_engine_completed(e));
	katapult_engine_free(e);
	free(img);
}

static void test_engine_dry_run_writes_nothing(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	c.dry_run = true;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.ncmds, 1);
	assert_int_equal(f.cmds[0], KATAPULT_CMD_CONNECT);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_verify_only_reads_and_stays(void **state)
{
	uint8_t *img = make_image(1000);
	struct katapult_engine_config c = flash_cfg(img, 1000);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	memcpy(f.flash + 0x2000, img, 1000);
	c.op = KATAPULT_ENGINE_VERIFY_ONLY;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), 0);
	assert_int_equal(fake_count(&f, KATAPULT_CMD_REQUEST_BLOCK), 16);
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_verify_only_mismatch(void **state)
{
	uint8_t *img = make_image(1000);
	struct katapult_engine_config c = flash_cfg(img, 1000);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	memcpy(f.flash + 0x2000, img, 1000);
	f.flash[0x2000 + 999] ^= 1;
	c.op = KATAPULT_ENGINE_VERIFY_ONLY;
	c.reboot_after_verify = true;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_VERIFY);

	assert_non_null(strstr(katapult_engine_failure(e)->detail, "0x080023e7"));
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_reboot_sends_only_complete(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_REBOOT };
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.ncmds, 1);
	assert_memory_equal(f.frames[0], complete_frame, sizeof(complete_frame));
	assert_true(katapult_engine_completed(e));
	katapult_engine_free(e);
}

/* ---- refusals ----------------------------------------------------------------------------- */

static void test_engine_oversize_refused_before_write(void **state)
{
	const size_t len = 24576 + 1;
	uint8_t *img = make_image(len);
	struct katapult_engine_config c = flash_cfg(img, len);
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_REFUSED);

	why = katapult_engine_failure(e);
	assert_string_equal(why->stage, "refusal R5");
	assert_non_null(strstr(why->detail, "24640 bytes"));
	assert_non_null(strstr(why->detail, "24576 bytes free"));
	assert_non_null(strstr(why->hint, "nothing written"));
	assert_int_equal(f.ncmds, 1);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_full_budget_accepted(void **state)
{
	const size_t len = 24576;
	uint8_t *img = make_image(len);
	struct katapult_engine_config c = flash_cfg(img, len);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	c.dry_run = true;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);
	katapult_engine_free(e);
	free(img);
}

static int refuse_all(void *ctx, const struct katapult_connect_info *info, struct cf_failure *why)
{
	(void)ctx;
	return cf_failure_set(why, CF_ERR_REFUSED, "refusal R3", "can bitrate: image 500000, %s %s",
			      info->mcu, "bus 1000000");
}

static void test_engine_check_callback_refuses(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	c.check = refuse_all;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_REFUSED);

	assert_string_equal(katapult_engine_failure(e)->stage, "refusal R3");
	assert_int_equal(f.ncmds, 1);
	assert_false(katapult_engine_wrote(e));
	katapult_engine_free(e);
	free(img);
}

/* The application start comes from CONNECT, not from a constant: a 16 KiB bootloader leaves
 * 16 KiB on the F042 (katapult.md §1.6 budget). */
static void test_engine_follows_connect_app_start(void **state)
{
	const size_t len = 16 * 1024;
	uint8_t *img = make_image(len + BS);
	struct katapult_engine_config c = flash_cfg(img, len);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.info.app_start = 0x08004000u;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(f.addrs[1], 0x08004000u);
	assert_int_equal(f.addrs[2], 0x08004400u);
	assert_memory_equal(f.flash + 0x4000, img, len);
	katapult_engine_free(e);

	fake_init(&f);
	f.info.app_start = 0x08004000u;
	c.image_len = len + BS;
	e = new_engine(&c);
	assert_int_equal(fake_run(&f, e, 0), CF_ERR_REFUSED);
	assert_non_null(strstr(katapult_engine_failure(e)->detail, "16384 bytes free at 0x08004000"));
	katapult_engine_free(e);
	free(img);
}

static void test_engine_unaligned_app_start_is_refused(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.info.app_start = 0x08002020u;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_PROTOCOL);

	assert_string_equal(katapult_engine_failure(e)->detail,
			    "application start 0x08002020 is not block aligned");
	assert_int_equal(f.ncmds, 1);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_block_size_128_not_supported(void **state)
{
	uint8_t *img = make_image(640);
	struct katapult_engine_config c = flash_cfg(img, 640);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.info.block_size = 128;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_NOT_SUPPORTED);
	assert_int_equal(f.ncmds, 1);
	katapult_engine_free(e);
	free(img);
}

static void test_engine_new_needs_image(void **state)
{
	struct katapult_engine_config c = { .op = KATAPULT_ENGINE_FLASH };
	struct katapult_engine *e = (struct katapult_engine *)&c;

	(void)state;
	assert_int_equal(katapult_engine_new(&c, &e), CF_ERR_USAGE);
	assert_null(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_info_sends_spec_connect_and_parses_1_1_0),
		cmocka_unit_test(test_engine_info_parses_1_0_0),
		cmocka_unit_test(test_engine_uuid_match_goes_on),
		cmocka_unit_test(test_engine_uuid_mismatch_writes_nothing),
		cmocka_unit_test(test_engine_flash_22k_uses_safer_order),
		cmocka_unit_test(test_engine_short_image_pads_last_block),
		cmocka_unit_test(test_engine_ascending_order_without_page_size),
		cmocka_unit_test(test_engine_verify_mismatch_never_completes),
		cmocka_unit_test(test_engine_no_reboot_skips_complete),
		cmocka_unit_test(test_engine_dry_run_writes_nothing),
		cmocka_unit_test(test_engine_verify_only_reads_and_stays),
		cmocka_unit_test(test_engine_verify_only_mismatch),
		cmocka_unit_test(test_engine_reboot_sends_only_complete),
		cmocka_unit_test(test_engine_oversize_refused_before_write),
		cmocka_unit_test(test_engine_full_budget_accepted),
		cmocka_unit_test(test_engine_check_callback_refuses),
		cmocka_unit_test(test_engine_follows_connect_app_start),
		cmocka_unit_test(test_engine_unaligned_app_start_is_refused),
		cmocka_unit_test(test_engine_block_size_128_not_supported),
		cmocka_unit_test(test_engine_new_needs_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
