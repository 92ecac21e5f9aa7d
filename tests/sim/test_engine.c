// SPDX-License-Identifier: GPL-3.0-or-later
// The Katapult engine against a scripted device: frames, order, retries, failures, cancel.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "fake_device.h"
#include "katapult/engine.h"
#include "protocol/err.h"
#include "protocol/katapult.h"

#define START 0x08002000u
#define BS KATAPULT_BLOCK_SIZE

/* katapult.md §1.2 vectors. */
static const uint8_t connect_frame[] = { 0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03 };
static const uint8_t prime_frame[] = { 0x01, 0x88, 0x90, 0x00, 0xe5, 0xe9, 0x99, 0x03 };
static const uint8_t complete_frame[] = { 0x01, 0x88, 0x15, 0x00, 0x91, 0x1b, 0x99, 0x03 };
static const uint8_t canbus_id_frame[] = { 0x01, 0x88, 0x16, 0x00, 0xf9, 0x31, 0x99, 0x03 };
static const uint8_t connect_ack_1_1_0[] = {
	0x01, 0x88, 0xa0, 0x0d, 0x11, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x20, 0x00,
	0x08, 0x40, 0x00, 0x00, 0x00, 0x73, 0x74, 0x6d, 0x33, 0x32, 0x66, 0x30, 0x34, 0x32, 0x78,
	0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x76, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x2d, 0x31, 0x31,
	0x30, 0x2d, 0x67, 0x39, 0x30, 0x32, 0x66, 0x33, 0x33, 0x35, 0x00, 0x14, 0x51, 0x99, 0x03,
};
static const uint8_t canbus_id_ack[] = { 0x01, 0x88, 0xa0, 0x03, 0x16, 0x00, 0x00, 0x00, 0xe0, 0xef,
					 0x27, 0x0c, 0xa1, 0x88, 0x00, 0x00, 0xb0, 0xd0, 0x99, 0x03 };

static uint8_t *make_image(size_t len)
{
	uint8_t *img = malloc(len);

	assert_non_null(img);
	for (size_t i = 0; i < len; i++)
		img[i] = (uint8_t)(i * 7 + 3 + (i >> 8));
	return img;
}

static struct katapult_engine_config flash_cfg(const uint8_t *img, size_t len)
{
	struct katapult_engine_config c;

	memset(&c, 0, sizeof(c));
	c.op = KATAPULT_ENGINE_FLASH;
	c.image = img;
	c.image_len = len;
	return c;
}

static struct katapult_engine *new_engine(const struct katapult_engine_config *c)
{
	struct katapult_engine *e = NULL;

	assert_int_equal(katapult_engine_new(c, &e), 0);
	return e;
}

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

static void test_engine_page_sizes_follow_spec(void **state)
{
	(void)state;
	assert_int_equal(katapult_engine_page_size_of("stm32f042x6"), 1024);
	assert_int_equal(katapult_engine_page_size_of("stm32f072xb"), 2048);
	assert_int_equal(katapult_engine_page_size_of("stm32f070xb"), 2048);
	assert_int_equal(katapult_engine_page_size_of("stm32f103xe"), 2048);
	assert_int_equal(katapult_engine_page_size_of("stm32g431xx"), 2048);
	assert_int_equal(katapult_engine_page_size_of("stm32h723xx"), 128 * 1024);
	assert_int_equal(katapult_engine_page_size_of("stm32f446xx"), 128 * 1024);
	assert_int_equal(katapult_engine_page_size_of("rp2040"), 0);
	assert_int_equal(katapult_engine_page_size_of("lpc176x"), 0);
	assert_int_equal(katapult_engine_page_size_of(""), 2048);
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
	assert_int_equal(fake_count(&f, KATAPULT_CMD_COMPLETE), 0);
	assert_int_equal(f.cmds[f.ncmds - 1], KATAPULT_CMD_REQUEST_BLOCK);
	assert_int_equal(f.addrs[f.ncmds - 1], START + 5 * BS);
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
	katapult_engine_tx_done(e, 1000);
	assert_int_equal(katapult_engine_state(e), KATAPULT_ENGINE_WAIT);
	assert_int_equal(katapult_engine_deadline(e), 1000 + 2000000);
	assert_int_equal(katapult_engine_poll_tx(e, &a, &la), 0);
	assert_int_equal(katapult_engine_result(e), CF_ERR_AGAIN);
	katapult_engine_free(e);
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
		cmocka_unit_test(test_engine_info_sends_spec_connect_and_parses_1_1_0),
		cmocka_unit_test(test_engine_info_parses_1_0_0),
		cmocka_unit_test(test_engine_uuid_match_goes_on),
		cmocka_unit_test(test_engine_uuid_mismatch_writes_nothing),
		cmocka_unit_test(test_engine_flash_22k_uses_safer_order),
		cmocka_unit_test(test_engine_short_image_pads_last_block),
		cmocka_unit_test(test_engine_page_sizes_follow_spec),
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
		cmocka_unit_test(test_engine_block_size_128_not_supported),
		cmocka_unit_test(test_engine_new_needs_image),
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
		cmocka_unit_test(test_engine_cancel_waits_for_the_reply),
		cmocka_unit_test(test_engine_cancel_before_sending_stops_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
