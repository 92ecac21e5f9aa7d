// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe session against the ROM model on a virtual clock: design rule 5, issue #15.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dfu/dfu_plan.h"
#include "dfu/dfu_session.h"
#include "dfu_virtual.h"
#include "failure.h"
#include "protocol/dfu.h"
#include "protocol/err.h"

#define BOOT_END  0x08002000u
#define FULL_LEN  30720
#define KAT_LEN	  0x1224 /* a 4644-byte Katapult, as mkimage makes it */
#define APP_LEN	  (FULL_LEN - 0x2000)
#define LAYOUT	  "@Internal Flash  /0x08000000/032*001Kg"
#define APP_PAGE0 8 /* the first application page of the F042 */

static struct vrom vr;
static uint8_t full[FULL_LEN]; /* Katapult, 0xFF up to 0x2000, the application */
static uint8_t garbage[VROM_FLASH_SIZE];
static struct dfu_plan plan;
static struct dfu_session *ses;

static uint32_t lcg(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 16;
}

/* Bytes as an image has them: code, 0xFF padding, an all-0xFF page (0x08004000). */
static void make_images(void)
{
	uint32_t x = 42;

	for (size_t i = 0; i < FULL_LEN; i++)
		full[i] = (uint8_t)lcg(&x);
	memset(full + KAT_LEN, 0xFF, 0x2000 - KAT_LEN);
	memset(full + 0x4000, 0xFF, 1024);
	full[0x5555] = 0x46; /* a byte with 0 bits, for the weak cell */
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)lcg(&x);
}

static struct dfu_layout layout(const char *text)
{
	struct dfu_layout l;

	assert_int_equal(dfu_parse_layout(text, strlen(text), &l), 0);
	return l;
}

static void plan_images(const struct dfu_plan_image *imgs, size_t n, bool mass_erase,
			const char *layout_text)
{
	const struct dfu_layout l = layout(layout_text);
	char why[200];

	assert_int_equal(dfu_plan_build(&plan, &l, imgs, n, mass_erase, why, sizeof(why)), 0);
}

static void plan_full(void)
{
	const struct dfu_plan_image img = { "full image", VROM_BASE, full, FULL_LEN };

	plan_images(&img, 1, false, LAYOUT);
}

/* A session as recover makes one for the F042 (no flash ECC: blank pages stay). */
static void new_session(bool blank_is_erased, bool unprotect)
{
	const struct dfu_session_config cfg = {
		.walk = { .plan = &plan,
			  .xfer = ROM_DFU_TRANSFER_SIZE,
			  .flash_base = VROM_BASE,
			  .boot_end = BOOT_END,
			  .blank_is_erased = blank_is_erased,
			  .unprotect = unprotect },
	};

	dfu_session_free(ses);
	assert_int_equal(dfu_session_new(&cfg, &ses), 0);
}

/* The chip as found: its flash, faults, datasheet timing (free on the virtual clock). */
static void chip(const uint8_t *flash, unsigned faults)
{
	memcpy(vr.flash, flash, VROM_FLASH_SIZE);
	vrom_init(&vr, faults, 1.0);
}

static int setup(void **state)
{
	(void)state;
	make_images();
	plan_full();
	new_session(true, false);
	chip(garbage, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dfu_session_free(ses);
	ses = NULL;
	return 0;
}

static int recover(void)
{
	int err = vrom_run(&vr, ses, DFU_PHASE_IDENTIFY);

	if (!err)
		err = vrom_run(&vr, ses, DFU_PHASE_WRITE);
	if (!err)
		err = vrom_run(&vr, ses, DFU_PHASE_VERIFY);
	if (!err)
		err = vrom_run(&vr, ses, DFU_PHASE_LEAVE);
	return err;
}

static unsigned erases_of(unsigned first, unsigned last)
{
	unsigned n = 0;

	for (unsigned p = first; p <= last; p++)
		n += vr.model.stats.page_erases[p];
	return n;
}

static void assert_detail(const char *needle)
{
	const struct cf_failure *f = dfu_session_failure(ses);

	if (!strstr(f->detail, needle) && !strstr(f->hint, needle))
		fail_msg("'%s' not in '%s: %s; %s'", needle, f->stage, f->detail, f->hint);
}

/* ---- design rule 5 as the chip sees it ---- */

static void test_dfu_session_garbage_chip_each_page_erased_once_bootloader_first(void **state)
{
	(void)state;

	assert_int_equal(recover(), 0);

	assert_memory_equal(vr.flash, full, FULL_LEN);
	for (unsigned p = 0; p < 30; p++)
		if (vr.model.stats.page_erases[p] != 1)
			fail_msg("page %u erased %u times", p, vr.model.stats.page_erases[p]);
	assert_int_equal(erases_of(30, 31), 0);
	assert_int_equal(dfu_session_stats(ses)->pages_erased, 30);
	/* Issue #15: the bootloader region was erased, written and read back before any
	 * application page was erased or written. */
	assert_int_equal(vr.model.stats.app_erases_before_boot_read, 0);
	assert_int_equal(vr.model.stats.app_writes_before_boot_read, 0);
	/* dfu.md §1.3: every datasheet bwPollTimeout waited out. */
	assert_int_equal(vr.model.stats.early_polls, 0);
	assert_int_equal(vr.model.stats.max_poll_ms, 55);
	assert_int_equal(vr.model.stats.clrstatus_outside_error, 0);
	assert_true(vr.model.left);
	assert_int_equal(vr.model.jump_address, VROM_BASE);
	assert_true(dfu_session_stats(ses)->left_confirmed);
}

static void test_dfu_session_bootloader_read_back_stops_before_the_application(void **state)
{
	(void)state;
	chip(garbage, ROM_DFU_FAULT_WRP); /* page 0 "erases" and "programs" without error */

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_IDENTIFY), 0);
	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_WRITE), CF_ERR_VERIFY);

	assert_string_equal(dfu_session_failure(ses)->stage, "verify bootloader");
	assert_detail("byte 0x08000000 differs");
	assert_detail("the application was not written");
	assert_int_equal(erases_of(APP_PAGE0, 31), 0);
	assert_memory_equal(vr.flash + 0x2000, garbage + 0x2000, VROM_FLASH_SIZE - 0x2000);
	assert_int_equal(vr.model.state, DFU_STATE_IDLE); /* ABORTed, not left in UPLOAD-IDLE */
}

static void test_dfu_session_final_verify_names_a_weak_cell_and_aborts(void **state)
{
	(void)state;
	chip(garbage, ROM_DFU_FAULT_FLIP);
	vr.model.cfg.flip_address = 0x08005555;

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_IDENTIFY), 0);
	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_WRITE), 0);
	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_VERIFY), CF_ERR_VERIFY);

	assert_string_equal(dfu_session_failure(ses)->stage, "verify");
	assert_detail("full image: byte 0x08005555 differs: wrote 0x46, read 0x47");
	assert_int_equal(vr.model.state, DFU_STATE_IDLE); /* issue #15: ABORT after the mismatch */
	assert_false(vr.model.left);
}

static void test_dfu_session_vanish_while_erasing_the_application_leaves_katapult(void **state)
{
	(void)state;
	chip(garbage, ROM_DFU_FAULT_VANISH_MID_ERASE);
	vr.model.cfg.vanish_after_erases = 10; /* 8 bootloader pages, then 2 of the application */

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_IDENTIFY), 0);
	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_WRITE), CF_ERR_NO_DEVICE);

	assert_string_equal(dfu_session_failure(ses)->stage, "erase");
	assert_detail("erase page 0x08002800");
	assert_detail("starts Katapult");
	assert_memory_equal(vr.flash, full, 0x2000);
}

/* Wherever the ROM vanishes, an application page is touched only behind a verified Katapult. */
static void test_dfu_session_any_vanish_point_keeps_a_verified_bootloader(void **state)
{
	(void)state;

	for (unsigned n = 0; n < 32; n++) {
		for (unsigned erase = 0; erase < 2; erase++) {
			chip(garbage, erase ? ROM_DFU_FAULT_VANISH_MID_ERASE
					    : ROM_DFU_FAULT_VANISH_MID_WRITE);
			vr.model.cfg.vanish_after_erases = n;
			vr.model.cfg.vanish_after_blocks = n;
			new_session(true, false);
			assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_IDENTIFY), 0);
			vrom_run(&vr, ses, DFU_PHASE_WRITE);
			if (erases_of(APP_PAGE0, 31) + vr.model.stats.app_writes_before_boot_read &&
			    memcmp(vr.flash, full, 0x2000))
				fail_msg("vanish after %u %s: application touched, bootloader not "
					 "whole",
					 n, erase ? "erases" : "blocks");
			for (unsigned p = 0; p < 32; p++)
				if (vr.model.stats.page_erases[p] > 1)
					fail_msg("vanish after %u: page %u erased twice", n, p);
		}
	}
}

/* ---- what is written ---- */

static void test_dfu_session_pair_leaves_what_the_full_image_leaves(void **state)
{
	const struct dfu_plan_image imgs[2] = {
		{ "bootloader", VROM_BASE, full, KAT_LEN },
		{ "application", BOOT_END, full + 0x2000, APP_LEN },
	};
	(void)state;
	plan_images(imgs, 2, false, LAYOUT);
	new_session(true, false);

	assert_int_equal(recover(), 0);

	/* Issue #15: 0xFF between the images, exactly as --full leaves the chip. */
	assert_memory_equal(vr.flash, full, FULL_LEN);
	assert_int_equal(plan.npages, 30);
	assert_int_equal(vr.model.stats.app_erases_before_boot_read, 0);
}

static void test_dfu_session_rerun_erases_and_writes_nothing(void **state)
{
	uint8_t chip_now[VROM_FLASH_SIZE];
	(void)state;
	memcpy(chip_now, garbage, sizeof(chip_now));
	memcpy(chip_now, full, FULL_LEN);
	chip(chip_now, 0);

	assert_int_equal(recover(), 0);

	assert_int_equal(erases_of(0, 31), 0);
	assert_int_equal(vr.model.stats.blocks_written, 0);
	assert_int_equal(dfu_session_stats(ses)->bytes_written, 0); /* issue #15 */
	assert_int_equal(dfu_session_stats(ses)->bytes_verified, FULL_LEN);
}

static void test_dfu_session_one_bad_page_is_the_only_one_erased(void **state)
{
	uint8_t chip_now[VROM_FLASH_SIZE];
	(void)state;
	memcpy(chip_now, garbage, sizeof(chip_now));
	memcpy(chip_now, full, FULL_LEN);
	chip_now[0x5000 + 17] ^= 0x10; /* page 20 rotted: its neighbours hold the image */
	chip(chip_now, 0);

	assert_int_equal(recover(), 0);

	/* Blocks never reach into the pages that already hold the image: F0 would refuse to
	 * program their cells again. */
	assert_int_equal(erases_of(0, 31), 1);
	assert_int_equal(vr.model.stats.page_erases[20], 1);
	assert_int_equal(vr.model.stats.prog_errors, 0);
	assert_memory_equal(vr.flash, full, FULL_LEN);
	assert_in_range(dfu_session_stats(ses)->bytes_written, 1, 1024);
}

static void test_dfu_session_blank_chip_skips_erasing_and_erased_bytes(void **state)
{
	uint8_t blank[VROM_FLASH_SIZE];
	(void)state;
	memset(blank, 0xFF, sizeof(blank));
	chip(blank, 0);

	assert_int_equal(recover(), 0);

	assert_int_equal(erases_of(0, 31), 0);
	assert_memory_equal(vr.flash, full, FULL_LEN);
	/* 0xFF runs (the padding behind Katapult, the empty page) are not written: the count
	 * says what was. */
	assert_true(dfu_session_stats(ses)->bytes_written < FULL_LEN - 0x2000 + KAT_LEN + 64);
	assert_true(dfu_session_stats(ses)->bytes_written > FULL_LEN - 0x2000 - 1024);
}

static void test_dfu_session_ecc_part_erases_blank_pages_too(void **state)
{
	uint8_t blank[VROM_FLASH_SIZE];
	(void)state;
	memset(blank, 0xFF, sizeof(blank));
	chip(blank, 0);
	new_session(false, false);

	assert_int_equal(recover(), 0);

	/* Pages already holding what the image leaves there are still skipped: page 16, and
	 * the pages of the padding behind Katapult. */
	assert_int_equal(erases_of(0, 31), 30 - 1 - 3);
	assert_memory_equal(vr.flash, full, FULL_LEN);
}

static void test_dfu_session_mass_erase_replaces_the_page_erases(void **state)
{
	const struct dfu_plan_image img = { "full image", VROM_BASE, full, FULL_LEN };
	(void)state;
	plan_images(&img, 1, true, LAYOUT);
	new_session(true, false);

	assert_int_equal(recover(), 0);

	assert_int_equal(vr.model.stats.mass_erases, 1);
	assert_int_equal(erases_of(0, 31), 0);
	assert_true(dfu_session_stats(ses)->mass_erased);
	assert_memory_equal(vr.flash, full, FULL_LEN);
	assert_int_equal(vr.model.stats.app_writes_before_boot_read, 0);
}

/* ---- faults the host rides out, or names ---- */

static void test_dfu_session_rides_out_stalls_and_slow_erases(void **state)
{
	(void)state;
	chip(garbage, ROM_DFU_FAULT_STALL_WHILE_BUSY | ROM_DFU_FAULT_SLOW_ERASE);

	assert_int_equal(recover(), 0);

	assert_memory_equal(vr.flash, full, FULL_LEN);
}

static void test_dfu_session_errors_name_the_address_not_a_block(void **state)
{
	static uint8_t big[40960];
	const struct dfu_plan_image img = { "full image", VROM_BASE, big, sizeof(big) };
	(void)state;
	memset(big, 0x11, sizeof(big));
	/* The layout claims 64 KiB; the chip has 32: with a mass erase the first write past
	 * 0x08008000 meets errTARGET. */
	plan_images(&img, 1, true, "@Internal Flash  /0x08000000/064*001Kg");
	new_session(true, false);

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_WRITE), CF_ERR_PROTOCOL);

	assert_string_equal(dfu_session_failure(ses)->stage, "write");
	assert_detail("write at 0x08008000: device answered dfuERROR errTARGET");
}

static void test_dfu_session_read_protection_found_before_any_erase(void **state)
{
	(void)state;
	chip(garbage, ROM_DFU_FAULT_RDP);

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_IDENTIFY), CF_ERR_PROTOCOL);

	assert_string_equal(dfu_session_failure(ses)->stage, "identify");
	assert_detail("read at 0x08000000: device answered dfuERROR errVENDOR");
	assert_detail("--unprotect");
	assert_true(dfu_session_stats(ses)->read_protected);
	assert_int_equal(erases_of(0, 31), 0);
	assert_memory_equal(vr.flash, garbage, sizeof(garbage));
}

static void test_dfu_session_unprotect_waits_out_the_mass_erase(void **state)
{
	(void)state;
	chip(garbage, ROM_DFU_FAULT_RDP);
	vr.model.cfg.unprotect_us = 1500000;
	new_session(true, true);

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_IDENTIFY), 0);

	assert_true(dfu_session_stats(ses)->unprotected);
	assert_int_equal(vr.model.stats.early_polls, 0); /* the 1.5 s erase was waited out */
	assert_true(vr.model.reset);
	/* Back in the ROM (BOOT0 bridged): wiped, unprotected, recoverable. */
	rom_dfu_reset(&vr.model);
	vr.gone_reported = false;
	new_session(true, false);
	assert_int_equal(recover(), 0);
	assert_memory_equal(vr.flash, full, FULL_LEN);
}

static void test_dfu_session_leave_without_status_counts_as_left(void **state)
{
	uint8_t chip_now[VROM_FLASH_SIZE];
	(void)state;
	memcpy(chip_now, full, FULL_LEN);
	memset(chip_now + FULL_LEN, 0xFF, sizeof(chip_now) - FULL_LEN);
	chip(chip_now, ROM_DFU_FAULT_RESET_BEFORE_LEAVE_STATUS);

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_LEAVE), 0);

	assert_false(dfu_session_stats(ses)->left_confirmed);
	assert_true(vr.model.left);
	assert_int_equal(vr.model.jump_address, VROM_BASE);
}

static void test_dfu_session_read_uploads_the_range(void **state)
{
	static uint8_t back[VROM_FLASH_SIZE];
	const struct dfu_session_config cfg = {
		.walk = { .xfer = ROM_DFU_TRANSFER_SIZE,
			  .read_address = VROM_BASE,
			  .read_len = sizeof(back),
			  .read_buf = back },
	};
	(void)state;
	dfu_session_free(ses);
	assert_int_equal(dfu_session_new(&cfg, &ses), 0);

	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_READ), 0);

	assert_int_equal(dfu_session_stats(ses)->bytes_read, sizeof(back));
	assert_memory_equal(back, garbage, sizeof(back));
	assert_int_equal(vr.model.state, DFU_STATE_IDLE);
}

static void test_dfu_session_cancel_stops_between_operations(void **state)
{
	struct dfuse_request req;
	static uint8_t buf[DFUSE_MAX_XFER];
	enum dfuse_xfer_result r;
	size_t len;
	(void)state;
	assert_int_equal(vrom_run(&vr, ses, DFU_PHASE_IDENTIFY), 0);
	dfu_session_start(ses, DFU_PHASE_WRITE, vr.now_us);
	assert_true(dfu_session_poll_request(ses, &req));

	dfu_session_cancel(ses);
	r = vrom_xfer(&vr, &req, buf, &len);
	dfu_session_complete(ses, r, buf, len, vr.now_us);
	while (dfu_session_state(ses) != DFU_SESSION_DONE) {
		if (dfu_session_state(ses) == DFU_SESSION_WAIT) {
			vr.now_us = dfu_session_deadline(ses);
			dfu_session_tick(ses, vr.now_us);
		} else if (dfu_session_poll_request(ses, &req)) {
			r = vrom_xfer(&vr, &req, buf, &len);
			dfu_session_complete(ses, r, buf, len, vr.now_us);
		}
	}

	assert_int_equal(dfu_session_result(ses), CF_ERR_INTERRUPTED);
	assert_detail("rerun recover");
	assert_int_equal(erases_of(0, 31), 0); /* stopped after the SET_ADDRESS */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_dfu_session_garbage_chip_each_page_erased_once_bootloader_first),
		T(test_dfu_session_bootloader_read_back_stops_before_the_application),
		T(test_dfu_session_final_verify_names_a_weak_cell_and_aborts),
		T(test_dfu_session_vanish_while_erasing_the_application_leaves_katapult),
		T(test_dfu_session_any_vanish_point_keeps_a_verified_bootloader),
		T(test_dfu_session_pair_leaves_what_the_full_image_leaves),
		T(test_dfu_session_rerun_erases_and_writes_nothing),
		T(test_dfu_session_one_bad_page_is_the_only_one_erased),
		T(test_dfu_session_blank_chip_skips_erasing_and_erased_bytes),
		T(test_dfu_session_ecc_part_erases_blank_pages_too),
		T(test_dfu_session_mass_erase_replaces_the_page_erases),
		T(test_dfu_session_rides_out_stalls_and_slow_erases),
		T(test_dfu_session_errors_name_the_address_not_a_block),
		T(test_dfu_session_read_protection_found_before_any_erase),
		T(test_dfu_session_unprotect_waits_out_the_mass_erase),
		T(test_dfu_session_leave_without_status_counts_as_left),
		T(test_dfu_session_read_uploads_the_range),
		T(test_dfu_session_cancel_stops_between_operations),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
