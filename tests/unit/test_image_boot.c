// SPDX-License-Identifier: GPL-3.0-or-later
// protocol/image classification of Katapult, full and deployer images (images.md §2-§5).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/mkimage/mkimage.h"
#include "tests/unit/image_fixture.h"

/* ---- Katapult ---- */

static void test_image_katapult_bitrates(void **state)
{
	static const uint32_t rates[] = { 1000000, 500000, 250000 };
	struct image_info in;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct mkimage_katapult_opts o = { .bitrate = rates[i], .pad_to = 8192 };

		assert_int_equal(katapult(&o, &in), 0);
		assert_int_equal(in.kind, IMAGE_KATAPULT);
		assert_int_equal(in.load_address, F);
		assert_int_equal(in.katapult.len, 4644);
		assert_int_equal(in.can_bitrate, rates[i]);
		assert_int_equal(in.bitrate_source, IMAGE_BITRATE_HEURISTIC);
		assert_int_equal(in.vectors.sp, 0x200017F8);
		assert_int_equal(in.vectors.reset, 0x080000C9);
		/* Katapult_1m.bin is exactly the 8 KiB region and still fits (README). */
		assert_true(in.fits);
		assert_int_equal(in.warnings, 0);
	}
}

static void test_image_katapult_usb(void **state)
{
	struct mkimage_katapult_opts o = { .iface = IMAGE_IFACE_USB };
	struct image_info in;

	(void)state;
	assert_int_equal(katapult(&o, &in), 0);
	assert_int_equal(in.iface, IMAGE_IFACE_USB);
	assert_int_equal(in.can_bitrate, 0);
	assert_int_equal(in.katapult.usb_vid, 0x1d50);
	assert_int_equal(in.katapult.usb_pid, 0x6177);
}

static void test_image_katapult_two_bitrates_undecidable(void **state)
{
	struct mkimage_katapult_opts o = { .two_bitrates = true };
	struct image_info in;

	(void)state;
	assert_int_equal(katapult(&o, &in), 0);
	assert_int_equal(in.can_bitrate, 0);
	assert_true(in.warnings & IMAGE_WARN_BITRATE_UNKNOWN);
}

static void test_image_katapult_g431_bitrate_unknown(void **state)
{
	struct mkimage_katapult_opts o = { .mcu = "stm32g431xx",
					   .version = "v0.0.1-104-gfcb2f84-dirty" };
	struct image_info in;

	(void)state;
	assert_int_equal(katapult(&o, &in), 0);
	assert_string_equal(in.mcu, "stm32g431xx");
	assert_int_equal(in.vectors.sp, 0x20007FF8);
	assert_int_equal(in.vectors.reset, 0x080000A1);
	assert_int_equal(in.can_bitrate, 0);
	assert_true(in.warnings & IMAGE_WARN_BITRATE_UNKNOWN);
	assert_string_equal(in.version, "v0.0.1-104-gfcb2f84-dirty");
}

static void test_image_katapult_without_signature_is_unknown(void **state)
{
	struct mkimage_katapult_opts o = { .no_signature = true };
	struct image_info in;

	(void)state;
	assert_int_equal(katapult(&o, &in), CF_ERR_IMAGE);
	assert_int_equal(in.kind, IMAGE_UNKNOWN);
}

static void test_image_katapult_without_mcu_string(void **state)
{
	struct mkimage_katapult_opts o = { .mcu = "" };
	struct image_info in;

	(void)state;
	assert_int_equal(katapult(&o, &in), 0);
	assert_true(in.warnings & IMAGE_WARN_MCU_UNKNOWN);
	assert_int_equal(in.flash_size, 0);
}

static void test_image_katapult_with_trailing_data(void **state)
{
	/* images.md §2.2 IDM case: Katapult + app code, no app vector table at 0x2000. */
	struct mkimage_full_opts o = { .no_app_vectors = true };
	struct image_info in;
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_full(&o, &img, &len), 0);
	assert_int_equal(inspect_owned(img, len, &in), 0);

	assert_int_equal(in.kind, IMAGE_KATAPULT);
	assert_true(in.warnings & IMAGE_WARN_TRAILING_DATA);
	assert_false(in.fits);
	assert_int_equal(in.overflow_bytes, (long)(len - 0x2000));
	assert_true(in.app.has_dict);
	assert_false(in.app.present);
}

static void test_image_full_truncated_after_0x2000(void **state)
{
	/* §4 step 2: an app is present only when L > 0x2008 and the word at 0x2000 is set. */
	struct mkimage_full_opts o = { 0 };
	struct image_info in;
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_full(&o, &img, &len), 0);
	assert_int_equal(image_inspect(img, 0x2008, scratch, sizeof(scratch), &in), 0);
	assert_int_equal(in.kind, IMAGE_KATAPULT);
	assert_true(in.warnings & IMAGE_WARN_TRAILING_DATA);
	assert_int_equal(image_inspect(img, 0x2009, scratch, sizeof(scratch), &in), 0);
	assert_int_equal(in.kind, IMAGE_FULL);
	assert_true(in.warnings & IMAGE_WARN_FULL_APP_BAD);
	free(img);
}

/* ---- full ---- */

static void test_image_full_can(void **state)
{
	struct mkimage_full_opts o = { .app = { .version = "CARTOGRAPHER 5.1.0" } };
	struct image_info in;

	(void)state;
	assert_int_equal(full(&o, &in), 0);

	assert_int_equal(in.kind, IMAGE_FULL);
	assert_int_equal(in.load_address, F);
	assert_int_equal(in.katapult.len, 4644);
	assert_int_equal(in.katapult.can_bitrate, 1000000);
	assert_int_equal(in.app.offset, 0x2000);
	assert_int_equal(in.app.link_base, A);
	assert_int_equal(in.can_bitrate, 1000000);
	assert_int_equal(in.bitrate_source, IMAGE_BITRATE_DICTIONARY);
	assert_true(in.gap_all_ff);
	assert_true(in.fits);
	assert_int_equal(in.vectors.reset, 0x080000C9);
	assert_int_equal(in.warnings, 0);
}

static void test_image_full_gap_not_ff_is_warning(void **state)
{
	struct mkimage_full_opts o = { .katapult.iface = IMAGE_IFACE_USB,
				       .app.iface = IMAGE_IFACE_USB,
				       .gap_not_ff = true };
	struct image_info in;

	(void)state;
	assert_int_equal(full(&o, &in), 0);
	assert_int_equal(in.kind, IMAGE_FULL);
	assert_false(in.gap_all_ff);
	assert_int_equal(in.warnings, IMAGE_WARN_GAP_NOT_FF);
}

static void test_image_full_mixed_parts(void **state)
{
	static const struct mkimage_full_opts rows[] = {
		{ .katapult.iface = IMAGE_IFACE_USB },
		{ .katapult.bitrate = 500000, .app.bitrate = 1000000 },
		{ .katapult.mcu = "stm32g431xx" },
	};
	struct image_info in;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(full(&rows[i], &in), 0);
		assert_int_equal(in.kind, IMAGE_FULL);
		if (!(in.warnings & IMAGE_WARN_PART_MISMATCH))
			fail_msg("row %zu: parts not flagged", i);
	}
}

static void test_image_full_with_broken_app_part(void **state)
{
	struct mkimage_full_opts o = { .app.corrupt_dict = true };
	struct image_info in;

	(void)state;
	assert_int_equal(full(&o, &in), 0);
	assert_int_equal(in.kind, IMAGE_FULL);
	assert_true(in.warnings & IMAGE_WARN_FULL_APP_BAD);
	/* The summary still names the MCU from the Katapult part. */
	assert_string_equal(in.mcu, "stm32f042x6");
}

static void test_image_full_oversize(void **state)
{
	struct mkimage_full_opts o = { .app.size = 24577 };
	struct image_info in;

	(void)state;
	assert_int_equal(full(&o, &in), 0);
	assert_false(in.fits);
	assert_int_equal(in.overflow_bytes, 1);
}

/* ---- deployers ---- */

static void test_image_deployer_each_interface_and_bitrate(void **state)
{
	static const struct { enum image_iface iface; uint32_t bitrate, want; } rows[] = {
		{ IMAGE_IFACE_CAN, 1000000, 1000000 },
		{ IMAGE_IFACE_CAN, 500000, 500000 },
		{ IMAGE_IFACE_CAN, 250000, 250000 },
		{ IMAGE_IFACE_USB, 0, 0 },
	};
	struct image_info in;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct mkimage_deployer_opts o = { .katapult = { .iface = rows[i].iface,
								 .bitrate = rows[i].bitrate } };

		assert_int_equal(deployer(&o, &in), 0);
		assert_int_equal(in.kind, IMAGE_DEPLOYER);
		assert_int_equal(in.load_address, A);
		assert_int_equal(in.katapult.offset, 0x538);
		assert_int_equal(in.katapult.vectors.sp, 0x200017F8);
		assert_int_equal(in.iface, rows[i].iface);
		assert_int_equal(in.can_bitrate, rows[i].want);
		assert_int_equal(in.vectors.reset, 0x08002071);
		assert_true(in.fits);
		if (in.warnings)
			fail_msg("row %zu: warnings 0x%x", i, in.warnings);
	}
}

static void test_image_deployer_g431(void **state)
{
	struct mkimage_deployer_opts o = { .katapult = { .mcu = "stm32g431xx" },
					   .embed_offset = 0x58C & ~3u };
	struct image_info in;

	(void)state;
	assert_int_equal(deployer(&o, &in), 0);
	assert_int_equal(in.kind, IMAGE_DEPLOYER);
	assert_string_equal(in.mcu, "stm32g431xx");
	assert_int_equal(in.vectors.sp, 0x20008000);
	assert_int_equal(in.can_bitrate, 0);
	assert_true(in.warnings & IMAGE_WARN_BITRATE_UNKNOWN);
}

static void test_image_deployer_own_reset_outside_is_undetermined(void **state)
{
	struct mkimage_deployer_opts o = { .reset = 0x08012001 };
	struct image_info in;

	(void)state;
	assert_int_equal(deployer(&o, &in), 0);
	assert_int_equal(in.kind, IMAGE_DEPLOYER);
	assert_false(in.load_known);
	assert_true(in.warnings & IMAGE_WARN_LINK_BASE_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_katapult_bitrates),
		cmocka_unit_test(test_image_katapult_usb),
		cmocka_unit_test(test_image_katapult_two_bitrates_undecidable),
		cmocka_unit_test(test_image_katapult_g431_bitrate_unknown),
		cmocka_unit_test(test_image_katapult_without_signature_is_unknown),
		cmocka_unit_test(test_image_katapult_without_mcu_string),
		cmocka_unit_test(test_image_katapult_with_trailing_data),
		cmocka_unit_test(test_image_full_truncated_after_0x2000),
		cmocka_unit_test(test_image_full_can),
		cmocka_unit_test(test_image_full_gap_not_ff_is_warning),
		cmocka_unit_test(test_image_full_mixed_parts),
		cmocka_unit_test(test_image_full_with_broken_app_part),
		cmocka_unit_test(test_image_full_oversize),
		cmocka_unit_test(test_image_deployer_each_interface_and_bitrate),
		cmocka_unit_test(test_image_deployer_g431),
		cmocka_unit_test(test_image_deployer_own_reset_outside_is_undetermined),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
