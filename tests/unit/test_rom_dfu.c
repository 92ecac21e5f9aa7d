// SPDX-License-Identifier: GPL-3.0-or-later
// The ROM DFU device model: ST state machine, F0 flash rules, timing, faults (dfu.md §1.5-§2.8).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "protocol/dfu.h"
#include "tools/twin/rom_dfu.h"

#define FLASH_SIZE 32768

struct fixture {
	uint8_t flash[FLASH_SIZE];
	struct rom_dfu d;
	uint64_t now_us;
	uint8_t buf[4096];
	size_t len;
};

static struct fixture fx;

static void start(unsigned faults, double speed)
{
	const struct rom_dfu_config cfg = {
		.flash = fx.flash,
		.flash_size = FLASH_SIZE,
		.flash_base = 0x08000000,
		.page_size = 1024,
		.speed = speed,
		.faults = faults,
		.vanish_after_blocks = 2,
	};

	memset(fx.flash, 0x5A, sizeof(fx.flash)); /* not erased: writes must be preceded by erase */
	fx.now_us = 1000;
	rom_dfu_init(&fx.d, &cfg);
}

/* Wire bytes written out: bmRequestType, bRequest, wValue, wIndex 0, wLength. */
static enum rom_dfu_xfer xfer(uint8_t type, uint8_t req, uint16_t value, uint16_t length,
			      const void *out)
{
	const uint8_t setup[8] = { type,	   req, (uint8_t)value, (uint8_t)(value >> 8), 0, 0,
				   (uint8_t)length, (uint8_t)(length >> 8) };

	if (out)
		memcpy(fx.buf, out, length);
	return rom_dfu_control(&fx.d, setup, fx.buf, &fx.len, fx.now_us);
}

static struct dfu_status_record getstatus(void)
{
	struct dfu_status_record st;

	assert_int_equal(xfer(0xa1, 3, 0, 6, NULL), ROM_DFU_XFER_OK);
	assert_int_equal(dfu_parse_status(fx.buf, fx.len, &st), 0);
	return st;
}

/* dfu.md §2.3: one DfuSe operation = DNLOAD + GETSTATUS (dfuDNBUSY) + wait + GETSTATUS. */
static struct dfu_status_record operation(uint16_t block, const void *data, uint16_t len)
{
	struct dfu_status_record st;

	assert_int_equal(xfer(0x21, 1, block, len, data), ROM_DFU_XFER_OK);
	st = getstatus();
	assert_int_equal(st.state, DFU_STATE_DNBUSY);
	fx.now_us += (uint64_t)st.poll_timeout_ms * 1000;
	return getstatus();
}

static struct dfu_status_record command(uint8_t cmd, uint32_t addr)
{
	const uint8_t b[5] = { cmd, (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)(addr >> 16),
			       (uint8_t)(addr >> 24) };

	return operation(0, b, 5);
}

static void test_rom_dfu_descriptors_carry_f042_layout(void **state)
{
	uint8_t desc[64];
	struct dfu_functional fd;
	struct dfu_layout l;
	char name[64];
	(void)state;
	start(0, 0);

	assert_int_equal(rom_dfu_descriptors(desc, sizeof(desc)), 54);
	assert_int_equal(dfu_find_functional(desc + 18, 36, &fd), 0);
	assert_int_equal(fd.transfer_size, 2048);
	assert_int_equal(fd.attributes, 0x0b);
	assert_int_equal(fd.bcd_dfu, 0x011a);
	/* String 4 = alt 0's iInterface, UTF-16LE. */
	assert_int_equal(xfer(0x80, 6, 0x0304, 255, NULL), ROM_DFU_XFER_OK);
	assert_int_equal(fx.len, 2 + 2 * strlen(ROM_DFU_ALT0_NAME));
	for (size_t i = 0; i < (fx.len - 2) / 2; i++)
		name[i] = (char)fx.buf[2 + 2 * i];
	assert_int_equal(dfu_parse_layout(name, (fx.len - 2) / 2, &l), 0);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.seg[0].count, 32);
	assert_int_equal(l.seg[0].page_size, 1024);
}

static void test_rom_dfu_erase_write_read_back(void **state)
{
	uint8_t block[2048];
	struct dfu_status_record st;
	(void)state;
	start(0, 0);
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 7 + 1);

	st = getstatus();
	assert_int_equal(st.state, DFU_STATE_IDLE);
	assert_int_equal(command(0x41, 0x08000000).state, DFU_STATE_DNLOAD_IDLE);
	assert_int_equal(command(0x41, 0x08000400).state, DFU_STATE_DNLOAD_IDLE);
	assert_int_equal(command(0x21, 0x08000000).state, DFU_STATE_DNLOAD_IDLE);
	st = operation(2, block, sizeof(block));
	assert_int_equal(st.status, DFU_STATUS_OK);
	assert_int_equal(st.state, DFU_STATE_DNLOAD_IDLE);
	assert_int_equal(xfer(0x21, 6, 0, 0, NULL), ROM_DFU_XFER_OK); /* ABORT */

	assert_memory_equal(fx.flash, block, sizeof(block));
	assert_int_equal(fx.flash[2048], 0x5A);
	assert_int_equal(fx.d.stats.page_erases[0], 1);
	assert_int_equal(fx.d.stats.page_erases[1], 1);
	/* §2.4: UPLOAD blocks 2, 3 from dfuIDLE; block 3 starts one transfer size later. */
	assert_int_equal(xfer(0xa1, 2, 2, 1024, NULL), ROM_DFU_XFER_OK);
	assert_int_equal(fx.len, 1024);
	assert_memory_equal(fx.buf, block, 1024);
	assert_int_equal(xfer(0xa1, 2, 3, 16, NULL), ROM_DFU_XFER_OK);
	assert_memory_equal(fx.buf, fx.flash + 2048, 16);
	assert_int_equal(getstatus().state, DFU_STATE_UPLOAD_IDLE);
}

static void test_rom_dfu_timing_at_speed_1(void **state)
{
	static uint8_t block[2048];
	struct dfu_status_record st;
	(void)state;
	start(0, 1.0);
	memset(block, 0, sizeof(block));

	assert_int_equal(xfer(0x21, 1, 0, 5, ((uint8_t[]){ 0x41, 0, 0, 0, 8 })), ROM_DFU_XFER_OK);
	st = getstatus();
	assert_int_equal(st.state, DFU_STATE_DNBUSY);
	assert_int_equal(st.poll_timeout_ms, 25); /* §2.7: F0 page erase 20-40 ms */
	fx.now_us += 10000;
	st = getstatus(); /* early: still busy, the remaining time */
	assert_int_equal(st.state, DFU_STATE_DNBUSY);
	assert_int_equal(st.poll_timeout_ms, 15);
	assert_int_equal(fx.d.stats.early_polls, 1); /* §1.3: it came before bwPollTimeout */
	fx.now_us += 15000;
	assert_int_equal(getstatus().state, DFU_STATE_DNLOAD_IDLE);
	assert_int_equal(fx.d.stats.early_polls, 1); /* this one waited the announced time */
	assert_int_equal(fx.d.stats.max_poll_ms, 25);
	/* 1024 half-words × 53.5 us = 54.784 ms, reported rounded up. */
	assert_int_equal(xfer(0x21, 1, 2, 2048, block), ROM_DFU_XFER_OK);
	assert_int_equal(getstatus().poll_timeout_ms, 55);
}

static void test_rom_dfu_f0_rule_refuses_unerased_target(void **state)
{
	static const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct dfu_status_record st;
	(void)state;
	start(0, 0);

	command(0x21, 0x08001000);
	st = operation(2, data, sizeof(data));

	assert_int_equal(st.state, DFU_STATE_ERROR);
	assert_int_equal(st.status, DFU_STATUS_ERR_PROG);
	assert_int_equal(fx.flash[0x1000], 0x5A);
	assert_int_equal(xfer(0x21, 4, 0, 0, NULL), ROM_DFU_XFER_OK); /* CLRSTATUS */
	st = getstatus();
	assert_int_equal(st.state, DFU_STATE_IDLE);
	assert_int_equal(st.status, DFU_STATUS_OK);
}

static void test_rom_dfu_out_of_range_is_err_target(void **state)
{
	static const uint8_t data[8];
	struct dfu_status_record st;
	(void)state;
	start(0, 0);

	st = command(0x41, 0x08008000); /* one past the 32 KiB */
	assert_int_equal(st.state, DFU_STATE_ERROR);
	assert_int_equal(st.status, DFU_STATUS_ERR_TARGET);
	xfer(0x21, 4, 0, 0, NULL);
	command(0x21, 0x08007FFC);
	st = operation(2, data, 8); /* straddles the end */
	assert_int_equal(st.status, DFU_STATUS_ERR_TARGET);
	xfer(0x21, 4, 0, 0, NULL);
	command(0x21, 0x20000000);
	xfer(0x21, 6, 0, 0, NULL);
	assert_int_equal(xfer(0xa1, 2, 2, 8, NULL), ROM_DFU_XFER_STALL);
	assert_int_equal(getstatus().status, DFU_STATUS_ERR_TARGET);
}

static void test_rom_dfu_read_protection(void **state)
{
	struct dfu_status_record st;
	(void)state;
	start(ROM_DFU_FAULT_RDP, 0);

	/* §2.4: the cheapest RDP probe: SET_ADDRESS works, the read fails with errVENDOR. */
	assert_int_equal(command(0x21, 0x08000000).status, DFU_STATUS_OK);
	xfer(0x21, 6, 0, 0, NULL);
	assert_int_equal(xfer(0xa1, 2, 2, 8, NULL), ROM_DFU_XFER_STALL);
	st = getstatus();
	assert_int_equal(st.state, DFU_STATE_ERROR);
	assert_int_equal(st.status, DFU_STATUS_ERR_VENDOR);
	xfer(0x21, 4, 0, 0, NULL);
	assert_int_equal(command(0x41, 0x08000000).status, DFU_STATUS_ERR_VENDOR);
	xfer(0x21, 4, 0, 0, NULL);

	/* §2.8: 92 wipes the flash and resets: no second GETSTATUS. */
	assert_int_equal(xfer(0x21, 1, 0, 1, ((uint8_t[]){ 0x92 })), ROM_DFU_XFER_OK);
	assert_int_equal(getstatus().state, DFU_STATE_DNBUSY);
	assert_int_equal(xfer(0xa1, 3, 0, 6, NULL), ROM_DFU_XFER_GONE);
	assert_false(fx.d.rdp);
	assert_true(fx.d.reset);
	assert_int_equal(fx.flash[100], 0xFF);

	/* BOOT0 still high: back in the ROM, unprotected, reads work. */
	rom_dfu_reset(&fx.d);
	assert_int_equal(getstatus().state, DFU_STATE_IDLE);
	assert_int_equal(xfer(0xa1, 2, 2, 8, NULL), ROM_DFU_XFER_OK);
	assert_int_equal(fx.buf[0], 0xFF);
}

static void test_rom_dfu_unprotect_erases_then_resets_by_itself(void **state)
{
	struct dfu_status_record st;
	(void)state;
	start(ROM_DFU_FAULT_RDP, 1.0);
	fx.d.cfg.unprotect_us = 1500000; /* a slow reset */

	assert_int_equal(xfer(0x21, 1, 0, 1, ((uint8_t[]){ 0x92 })), ROM_DFU_XFER_OK);
	st = getstatus();

	/* The mass erase takes its time, announced as bwPollTimeout; nothing resets before. */
	assert_int_equal(st.state, DFU_STATE_DNBUSY);
	assert_int_equal(st.poll_timeout_ms, 1500);
	assert_int_equal(rom_dfu_next_event_us(&fx.d), fx.now_us + 1500000);
	rom_dfu_tick(&fx.d, fx.now_us + 1499999);
	assert_false(fx.d.gone);
	/* Then it resets whether the host polls or not. */
	rom_dfu_tick(&fx.d, fx.now_us + 1500000);
	assert_true(fx.d.gone);
	assert_true(fx.d.reset);
	assert_int_equal(rom_dfu_next_event_us(&fx.d), UINT64_MAX);
	assert_int_equal(xfer(0xa1, 3, 0, 6, NULL), ROM_DFU_XFER_GONE);
	assert_false(fx.d.rdp);
}

static void test_rom_dfu_unprotect_takes_the_datasheet_mass_erase(void **state)
{
	(void)state;
	start(ROM_DFU_FAULT_RDP, 1.0);

	assert_int_equal(xfer(0x21, 1, 0, 1, ((uint8_t[]){ 0x92 })), ROM_DFU_XFER_OK);

	assert_int_equal(getstatus().poll_timeout_ms, 40); /* §2.7: F0 mass erase 20-40 ms */
}

static void test_rom_dfu_leave_answers_manifest_then_goes(void **state)
{
	struct dfu_status_record st;
	(void)state;
	start(0, 0);

	command(0x21, 0x08000000);
	assert_int_equal(xfer(0x21, 1, 2, 0, NULL), ROM_DFU_XFER_OK);
	st = getstatus();

	assert_int_equal(st.state, DFU_STATE_MANIFEST);
	assert_true(fx.d.left);
	assert_int_equal(fx.d.jump_address, 0x08000000);
	assert_int_equal(xfer(0xa1, 3, 0, 6, NULL), ROM_DFU_XFER_GONE);
}

static void test_rom_dfu_leave_fault_resets_before_status(void **state)
{
	(void)state;
	start(ROM_DFU_FAULT_RESET_BEFORE_LEAVE_STATUS, 0);

	command(0x21, 0x08002000);
	assert_int_equal(xfer(0x21, 1, 0, 0, NULL), ROM_DFU_XFER_OK);

	assert_int_equal(xfer(0xa1, 3, 0, 6, NULL), ROM_DFU_XFER_GONE);
	assert_int_equal(fx.d.jump_address, 0x08002000);
}

static void test_rom_dfu_clrstatus_outside_error_is_err_unknown(void **state)
{
	struct dfu_status_record st;
	(void)state;
	start(0, 0);

	assert_int_equal(xfer(0x21, 4, 0, 0, NULL), ROM_DFU_XFER_OK);
	st = getstatus();

	assert_int_equal(st.state, DFU_STATE_ERROR);
	assert_int_equal(st.status, DFU_STATUS_ERR_UNKNOWN);
	assert_int_equal(fx.d.stats.clrstatus_outside_error, 1);
}

static void test_rom_dfu_stall_while_busy(void **state)
{
	struct dfu_status_record st;
	(void)state;
	start(ROM_DFU_FAULT_STALL_WHILE_BUSY, 0);

	assert_int_equal(xfer(0x21, 1, 0, 5, ((uint8_t[]){ 0x41, 0, 0, 0, 8 })), ROM_DFU_XFER_OK);
	st = getstatus();
	assert_int_equal(st.poll_timeout_ms, 10); /* half of the 20 ms it really takes */
	fx.now_us += 10000;
	assert_int_equal(xfer(0xa1, 3, 0, 6, NULL), ROM_DFU_XFER_STALL);
	fx.now_us += 10000;
	assert_int_equal(getstatus().state, DFU_STATE_DNLOAD_IDLE);
}

static void test_rom_dfu_vanishes_mid_write(void **state)
{
	static uint8_t block[2048];
	(void)state;
	start(ROM_DFU_FAULT_VANISH_MID_WRITE, 0);
	memset(block, 0, sizeof(block));
	memset(fx.flash, 0xFF, sizeof(fx.flash));

	command(0x21, 0x08000000);
	operation(2, block, 2048);
	operation(3, block, 2048);

	assert_int_equal(xfer(0x21, 1, 4, 2048, block), ROM_DFU_XFER_GONE);
	assert_int_equal(xfer(0xa1, 3, 0, 6, NULL), ROM_DFU_XFER_GONE);
	assert_int_equal(fx.d.stats.blocks_written, 2);
}

static void test_rom_dfu_vanishes_mid_erase(void **state)
{
	(void)state;
	start(ROM_DFU_FAULT_VANISH_MID_ERASE, 0);
	fx.d.cfg.vanish_after_erases = 2;

	assert_int_equal(command(0x41, 0x08000000).status, DFU_STATUS_OK);
	assert_int_equal(command(0x41, 0x08000400).status, DFU_STATUS_OK);

	assert_int_equal(xfer(0x21, 1, 0, 5, ((uint8_t[]){ 0x41, 0, 8, 0, 8 })),
			 ROM_DFU_XFER_GONE);
	assert_int_equal(fx.d.stats.erase_commands, 2);
	assert_int_equal(fx.flash[0x800], 0x5A);
}

static void test_rom_dfu_weak_cell_programs_wrong_silently(void **state)
{
	static const uint8_t data[8] = { 0x10, 0x22, 0x33, 0xFF, 0x44, 0x55, 0x66, 0x77 };
	struct dfu_status_record st;
	(void)state;
	start(ROM_DFU_FAULT_FLIP, 0);
	fx.d.cfg.flip_address = 0x08004001;
	command(0x41, 0x08004000);

	command(0x21, 0x08004000);
	st = operation(2, data, sizeof(data));

	assert_int_equal(st.status, DFU_STATUS_OK); /* no status tells */
	assert_int_equal(fx.flash[0x4000], 0x10);
	assert_int_equal(fx.flash[0x4001], 0x23); /* 0x22: bit 0 stayed 1 */
	assert_int_equal(fx.flash[0x4002], 0x33);
	assert_int_equal(fx.d.stats.prog_errors, 0);
}

static void test_rom_dfu_counts_app_erases_before_the_boot_region_is_read(void **state)
{
	(void)state;
	start(0, 0);

	command(0x41, 0x08001C00); /* a bootloader page: the region is no longer verified */
	command(0x41, 0x08002000); /* an application page before it was read back */
	assert_int_equal(fx.d.stats.app_erases_before_boot_read, 1);

	xfer(0x21, 6, 0, 0, NULL);
	command(0x21, 0x08001800);
	xfer(0x21, 6, 0, 0, NULL);
	assert_int_equal(xfer(0xa1, 2, 2, 2048, NULL), ROM_DFU_XFER_OK); /* read to 0x08002000 */
	xfer(0x21, 6, 0, 0, NULL);
	command(0x41, 0x08002400);
	assert_int_equal(fx.d.stats.app_erases_before_boot_read, 1);
}

static void test_rom_dfu_dnload_outside_idle_stalls(void **state)
{
	(void)state;
	start(0, 0);

	assert_int_equal(xfer(0xa1, 2, 2, 8, NULL), ROM_DFU_XFER_OK); /* now dfuUPLOAD-IDLE */
	assert_int_equal(xfer(0x21, 1, 0, 5, ((uint8_t[]){ 0x21, 0, 0, 0, 8 })),
			 ROM_DFU_XFER_STALL);
	assert_int_equal(xfer(0x21, 6, 0, 0, NULL), ROM_DFU_XFER_OK);
	assert_int_equal(getstatus().state, DFU_STATE_IDLE);
}

static void test_rom_dfu_counts_app_writes_before_the_boot_region_is_read(void **state)
{
	static uint8_t block[2048];
	(void)state;
	start(0, 0);
	memset(fx.flash, 0xFF, sizeof(fx.flash));
	memset(block, 0x11, sizeof(block));

	command(0x21, 0x08001800);
	operation(2, block, sizeof(block)); /* last bootloader block */
	command(0x21, 0x08002000);
	operation(2, block, sizeof(block)); /* application before any read-back */
	assert_int_equal(fx.d.stats.app_writes_before_boot_read, 1);

	xfer(0x21, 6, 0, 0, NULL);
	command(0x21, 0x08001800);
	xfer(0x21, 6, 0, 0, NULL);
	assert_int_equal(xfer(0xa1, 2, 2, 2048, NULL), ROM_DFU_XFER_OK); /* read to 0x08002000 */
	xfer(0x21, 6, 0, 0, NULL);
	command(0x21, 0x08002800);
	operation(2, block, sizeof(block));
	assert_int_equal(fx.d.stats.app_writes_before_boot_read, 1);
}

static void test_rom_dfu_write_protected_page_changes_silently_nothing(void **state)
{
	static const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct dfu_status_record st;
	(void)state;
	start(ROM_DFU_FAULT_WRP, 0);
	fx.d.cfg.wrp_page = 1;

	/* dfu.md §2.1: erasing a write-protected page returns no error. */
	assert_int_equal(command(0x41, 0x08000400).status, DFU_STATUS_OK);
	assert_int_equal(fx.flash[0x400], 0x5A);
	command(0x21, 0x08000400);
	st = operation(2, data, sizeof(data));
	assert_int_equal(st.status, DFU_STATUS_OK);
	assert_int_equal(fx.flash[0x400], 0x5A);
	/* Page 0 is not protected. */
	assert_int_equal(command(0x41, 0x08000000).status, DFU_STATUS_OK);
	assert_int_equal(fx.flash[0], 0xFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rom_dfu_descriptors_carry_f042_layout),
		cmocka_unit_test(test_rom_dfu_erase_write_read_back),
		cmocka_unit_test(test_rom_dfu_timing_at_speed_1),
		cmocka_unit_test(test_rom_dfu_f0_rule_refuses_unerased_target),
		cmocka_unit_test(test_rom_dfu_out_of_range_is_err_target),
		cmocka_unit_test(test_rom_dfu_read_protection),
		cmocka_unit_test(test_rom_dfu_unprotect_erases_then_resets_by_itself),
		cmocka_unit_test(test_rom_dfu_unprotect_takes_the_datasheet_mass_erase),
		cmocka_unit_test(test_rom_dfu_leave_answers_manifest_then_goes),
		cmocka_unit_test(test_rom_dfu_leave_fault_resets_before_status),
		cmocka_unit_test(test_rom_dfu_clrstatus_outside_error_is_err_unknown),
		cmocka_unit_test(test_rom_dfu_stall_while_busy),
		cmocka_unit_test(test_rom_dfu_vanishes_mid_write),
		cmocka_unit_test(test_rom_dfu_vanishes_mid_erase),
		cmocka_unit_test(test_rom_dfu_weak_cell_programs_wrong_silently),
		cmocka_unit_test(test_rom_dfu_counts_app_erases_before_the_boot_region_is_read),
		cmocka_unit_test(test_rom_dfu_dnload_outside_idle_stalls),
		cmocka_unit_test(test_rom_dfu_counts_app_writes_before_the_boot_region_is_read),
		cmocka_unit_test(test_rom_dfu_write_protected_page_changes_silently_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
