// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe request layer and the erase planner against the in-process ROM model (virtual clock).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dfu/dfu_check.h"
#include "dfu/dfu_plan.h"
#include "dfu/dfu_usb.h"
#include "dfu/dfuse.h"
#include "dfu_virtual.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/twin/rom_dfu.h"
#include "updater.h"

#define FLASH_SIZE 32768

static struct vrom vr;
static struct dfuse eng;

static int setup(void **state)
{
	(void)state;
	memset(vr.flash, 0xFF, sizeof(vr.flash));
	vrom_init(&vr, 0, 0);
	dfuse_init(&eng, 0);
	return 0;
}

static struct dfuse_result run_op(enum dfuse_op_kind kind, uint32_t addr, uint16_t block,
				  uint8_t *data, size_t len)
{
	return vrom_op(&vr, &eng, kind, addr, block, data, len);
}

static void test_dfuse_idle_clears_only_a_real_error(void **state)
{
	static const uint8_t clr[8] = { 0x21, 0x04, 0, 0, 0, 0, 0, 0 };
	size_t len;
	(void)state;

	/* Put the device in dfuERROR the way a stray CLRSTATUS does on ST (dfu.md §1.5). */
	rom_dfu_control(&vr.model, clr, NULL, &len, 0);
	assert_int_equal(vr.model.state, 10);

	assert_int_equal(run_op(DFUSE_OP_IDLE, 0, 0, NULL, 0).err, 0);
	assert_int_equal(vr.model.state, 2);
	assert_int_equal(vr.requests[4], 1); /* one CLRSTATUS, sent in dfuERROR */
	assert_int_equal(run_op(DFUSE_OP_IDLE, 0, 0, NULL, 0).err, 0);
	assert_int_equal(vr.requests[4], 1); /* none when already idle */
	assert_int_equal(vr.model.stats.clrstatus_outside_error, 1);
}

static void test_dfuse_erase_write_read_back(void **state)
{
	uint8_t data[2048], back[2048];
	struct dfuse_result r;
	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0xA5);
	memset(vr.flash, 0x00, 2048); /* not erased */

	assert_int_equal(run_op(DFUSE_OP_ERASE, 0x08000000, 0, NULL, 0).err, 0);
	assert_int_equal(run_op(DFUSE_OP_ERASE, 0x08000400, 0, NULL, 0).err, 0);
	assert_int_equal(run_op(DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0).err, 0);
	assert_int_equal(run_op(DFUSE_OP_WRITE, 0, 2, data, sizeof(data)).err, 0);
	assert_int_equal(run_op(DFUSE_OP_ABORT, 0, 0, NULL, 0).err, 0);
	r = run_op(DFUSE_OP_UPLOAD, 0, 2, back, sizeof(back));

	assert_int_equal(r.err, 0);
	assert_int_equal(r.actual, sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	assert_memory_equal(vr.flash, data, sizeof(data));
}

static void test_dfuse_write_onto_unerased_reports_status_and_recovers(void **state)
{
	uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct dfuse_result r;
	(void)state;
	memset(vr.flash, 0x00, 8);

	assert_int_equal(run_op(DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0).err, 0);
	r = run_op(DFUSE_OP_WRITE, 0, 2, data, sizeof(data));

	assert_int_equal(r.err, CF_ERR_PROTOCOL);
	assert_true(r.have_status);
	assert_int_equal(r.st.status, 0x06); /* errPROG */
	assert_int_equal(vr.model.state, 2); /* CLRSTATUS brought it back to dfuIDLE */
}

static void test_dfuse_read_protection_is_err_vendor(void **state)
{
	uint8_t back[8];
	struct dfuse_result r;
	(void)state;
	vr.model.rdp = true;

	assert_int_equal(run_op(DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0).err, 0);
	assert_int_equal(run_op(DFUSE_OP_ABORT, 0, 0, NULL, 0).err, 0);
	r = run_op(DFUSE_OP_UPLOAD, 0, 2, back, sizeof(back));

	assert_int_equal(r.err, CF_ERR_PROTOCOL);
	assert_int_equal(r.st.status, 0x0B);
	assert_int_equal(vr.model.state, 2);
}

static void test_dfuse_leave_confirmed_and_reset_before_status(void **state)
{
	struct dfuse_result r;
	(void)state;

	r = run_op(DFUSE_OP_LEAVE, 0, 0, NULL, 0);
	assert_int_equal(r.err, 0);
	assert_true(r.left_confirmed);

	setup(NULL);
	vr.model.cfg.faults = ROM_DFU_FAULT_RESET_BEFORE_LEAVE_STATUS;
	r = run_op(DFUSE_OP_LEAVE, 0, 0, NULL, 0);
	/* dfu.md §2.5: the device vanishing during leave is success, unconfirmed. */
	assert_int_equal(r.err, 0);
	assert_false(r.left_confirmed);
	assert_true(vr.model.left);
}

static void test_dfuse_tolerates_stalls_while_busy(void **state)
{
	(void)state;
	vr.model.cfg.faults = ROM_DFU_FAULT_STALL_WHILE_BUSY;

	assert_int_equal(run_op(DFUSE_OP_ERASE, 0x08000000, 0, NULL, 0).err, 0);
	assert_int_equal(vr.model.state, 5);
}

static void test_dfuse_stall_reports_state(void **state)
{
	uint8_t back[8];
	struct dfuse_result r;
	(void)state;

	assert_int_equal(run_op(DFUSE_OP_UPLOAD, 0, 2, back, sizeof(back)).err, 0);
	/* dfu.md §1.5: DNLOAD is refused (STALL) in dfuUPLOAD-IDLE; the engine asks why. */
	r = run_op(DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0);

	assert_int_equal(r.err, CF_ERR_PROTOCOL);
	assert_int_equal(r.xfer, DFUSE_XFER_STALL);
	assert_string_equal(r.request, "DNLOAD");
	assert_true(r.have_status);
	assert_int_equal(r.st.state, 9); /* dfuUPLOAD-IDLE */
	assert_int_equal(vr.requests[4], 0); /* no CLRSTATUS outside dfuERROR */
}

/* ---- planner ---- */

static const uint8_t blob[32768];

static struct dfu_layout layout(const char *text)
{
	struct dfu_layout l;

	assert_int_equal(dfu_parse_layout(text, strlen(text), &l), 0);
	return l;
}

static void test_dfu_plan_f042_bootloader_and_app_pages_once(void **state)
{
	const struct dfu_layout l = layout("@Internal Flash  /0x08000000/032*001Kg");
	const struct dfu_plan_image imgs[2] = {
		{ "application", 0x08002000, blob, 0x5000 },
		{ "bootloader", 0x08000000, blob, 0x1F00 },
	};
	struct dfu_plan p;
	char why[160];
	(void)state;

	assert_int_equal(dfu_plan_build(&p, &l, imgs, 2, false, why, sizeof(why)), 0);

	assert_string_equal(p.img[0].name, "bootloader"); /* design rule 5: bootloader first */
	assert_int_equal(p.npages, 8 + 20);
	for (size_t i = 0; i < p.npages; i++)
		assert_int_equal(p.page[i], 0x08000000 + 1024 * i);
}

static void test_dfu_plan_gap_between_the_images_is_erased_too(void **state)
{
	const struct dfu_layout l = layout("@Internal Flash  /0x08000000/032*001Kg");
	const struct dfu_plan_image imgs[2] = {
		{ "bootloader", 0x08000000, blob, 0x0C00 },
		{ "application", 0x08002000, blob, 0x1000 },
	};
	struct dfu_plan p;
	char why[160];
	(void)state;

	assert_int_equal(dfu_plan_build(&p, &l, imgs, 2, false, why, sizeof(why)), 0);

	/* Issue #15: pages 3-7 hold neither image; they end up 0xFF as in a full image. */
	assert_int_equal(p.npages, 8 + 4);
	for (size_t i = 0; i < p.npages; i++)
		assert_int_equal(p.page[i], 0x08000000 + 1024 * i);
	assert_int_equal(p.span_start, 0x08000000);
	assert_int_equal(p.span_end, 0x08003000);
	assert_int_equal(p.total_len, 0x0C00 + 0x1000);
}

static void test_dfu_plan_f4_sector0_erased_once_for_both(void **state)
{
	const struct dfu_layout l =
		layout("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg");
	const struct dfu_plan_image imgs[2] = {
		{ "bootloader", 0x08000000, blob, 0x1F00 },
		{ "application", 0x08002000, blob, 0x2000 },
	};
	struct dfu_plan p;
	char why[160];
	(void)state;

	assert_int_equal(dfu_plan_build(&p, &l, imgs, 2, false, why, sizeof(why)), 0);

	/* dfu.md §2.6: both images live in sector 0, which is erased exactly once. */
	assert_int_equal(p.npages, 1);
	assert_int_equal(p.page[0], 0x08000000);
	assert_int_equal(p.page_size[0], 16384);
}

static void test_dfu_plan_refusals(void **state)
{
	const struct dfu_layout f042 = layout("@Internal Flash  /0x08000000/032*001Kg");
	const struct dfu_layout ro = layout("@Flash/0x08000000/08*001Ka,24*001Kg");
	const struct dfu_plan_image overlap[2] = {
		{ "bootloader", 0x08000000, blob, 0x2001 },
		{ "application", 0x08002000, blob, 0x100 },
	};
	const struct dfu_plan_image too_big = { "full image", 0x08000000, blob, 32769 };
	const struct dfu_plan_image boot = { "bootloader", 0x08000000, blob, 0x100 };
	struct dfu_plan p;
	char why[160];
	(void)state;

	assert_int_equal(dfu_plan_build(&p, &f042, overlap, 2, false, why, sizeof(why)),
			 CF_ERR_REFUSED);
	assert_non_null(strstr(why, "overlaps"));
	assert_int_equal(dfu_plan_build(&p, &f042, &too_big, 1, false, why, sizeof(why)),
			 CF_ERR_REFUSED);
	assert_non_null(strstr(why, "0x08008000 is outside"));
	assert_int_equal(dfu_plan_build(&p, &ro, &boot, 1, false, why, sizeof(why)),
			 CF_ERR_REFUSED);
	assert_non_null(strstr(why, "not writeable"));
	assert_int_equal(dfu_plan_build(&p, &f042, &boot, 0, false, why, sizeof(why)),
			 CF_ERR_USAGE);
}

static void test_dfu_plan_mass_erase_has_no_pages(void **state)
{
	const struct dfu_layout l = layout("@Internal Flash  /0x08000000/032*001Kg");
	const struct dfu_plan_image full = { "full image", 0x08000000, blob, 30720 };
	struct dfu_plan p;
	char why[160];
	(void)state;

	assert_int_equal(dfu_plan_build(&p, &l, &full, 1, true, why, sizeof(why)), 0);
	assert_true(p.mass_erase);
	assert_int_equal(p.npages, 0);
	assert_int_equal(p.total_len, 30720);
}

static void test_dfu_usb_transfer_size_is_never_clamped(void **state)
{
	static const struct { uint16_t desc, want; } cases[] = {
		{ 2048, 2048 }, /* ST ROMs (dfu.md §1.1) */
		{ 4096, 4096 }, /* the Linux control limit itself (§1.2) */
		{ 8192, 0 },	/* would need clamping: block addresses would be wrong (§2.2) */
		{ 1023, 0 },	/* not a whole number of 8-byte writes */
		{ 0, 0 },
		{ 64, 64 },
	};
	struct dfu_candidate c;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.functional.transfer_size = cases[i].desc;
		if (dfu_usb_transfer_size(&c) != cases[i].want)
			fail_msg("wTransferSize %u", cases[i].desc);
	}
}

static void test_dfu_check_blank_pages_skip_erase_only_without_ecc(void **state)
{
	static const struct { const char *mcu; bool skip; } cases[] = {
		{ "stm32f042x6", true },  /* the v2/v3 probe: no ECC */
		{ "stm32f072xb", true },
		{ "stm32f103xe", true },
		{ "stm32f446xx", true },
		{ "stm32g431xx", false }, /* v4/HT: ECC, a programmed 0xFF is not erased */
		{ "stm32h743xx", false },
		{ "rp2040", false },	  /* no row says "no ECC": the safe side */
		{ "", false },
	};
	struct image_info info;
	struct updater_config cfg = { .image_info = &info };
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&info, 0, sizeof(info));
		snprintf(info.mcu, sizeof(info.mcu), "%s", cases[i].mcu);
		if (dfu_check_blank_is_erased(&cfg) != cases[i].skip)
			fail_msg("mcu '%s'", cases[i].mcu);
	}
	cfg.image_info = NULL;
	assert_false(dfu_check_blank_is_erased(&cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dfuse_idle_clears_only_a_real_error, setup,
						NULL),
		cmocka_unit_test_setup_teardown(test_dfuse_erase_write_read_back, setup, NULL),
		cmocka_unit_test_setup_teardown(
			test_dfuse_write_onto_unerased_reports_status_and_recovers, setup, NULL),
		cmocka_unit_test_setup_teardown(test_dfuse_read_protection_is_err_vendor, setup,
						NULL),
		cmocka_unit_test_setup_teardown(test_dfuse_leave_confirmed_and_reset_before_status,
						setup, NULL),
		cmocka_unit_test_setup_teardown(test_dfuse_tolerates_stalls_while_busy, setup,
						NULL),
		cmocka_unit_test_setup_teardown(test_dfuse_stall_reports_state, setup, NULL),
		cmocka_unit_test(test_dfu_plan_f042_bootloader_and_app_pages_once),
		cmocka_unit_test(test_dfu_plan_gap_between_the_images_is_erased_too),
		cmocka_unit_test(test_dfu_plan_f4_sector0_erased_once_for_both),
		cmocka_unit_test(test_dfu_plan_refusals),
		cmocka_unit_test(test_dfu_plan_mass_erase_has_no_pages),
		cmocka_unit_test(test_dfu_usb_transfer_size_is_never_clamped),
		cmocka_unit_test(test_dfu_check_blank_pages_skip_erase_only_without_ecc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
