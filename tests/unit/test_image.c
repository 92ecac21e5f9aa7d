// SPDX-License-Identifier: GPL-3.0-or-later
// protocol/image classification (images.md §3-§5) of applications, containers and garbage.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "protocol/bytes.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/mkimage/mkimage.h"
#include "tests/unit/image_fixture.h"

/* ---- hand-built images: bytes placed by the test itself, straight from the spec ---- */

static void test_image_handmade_katapult_500k(void **state)
{
	uint8_t img[4096];
	struct image_info in;

	(void)state;
	memset(img, 0x11, sizeof(img));
	cf_put_le32(img, 0x200017F8);		 /* §2.3 F042 Katapult SP */
	cf_put_le32(img + 4, 0x080000C9);	 /* reset */
	memcpy(img + 0xC0, "CanBoot!", 8);	 /* §3.2: at reset - 9 */
	memcpy(img + 0x6CC, "\x60\x20\x00\xf0\x00\xf8", 6); /* §5: movs r0,#96; bl */
	memcpy(img + 0xE00, "stm32f042x6", 12);
	cf_put_le32(img + 0x400, A);
	cf_put_le32(img + 0x800, A);
	memset(img + 0xF00, 0xFF, 0x100); /* §4 step 2: part ends at the first 64 x 0xFF */

	assert_int_equal(image_inspect(img, sizeof(img), scratch, sizeof(scratch), &in), 0);

	assert_int_equal(in.kind, IMAGE_KATAPULT);
	assert_int_equal(in.load_address, F);
	assert_int_equal(in.katapult.len, 0xF00);
	assert_string_equal(in.mcu, "stm32f042x6");
	assert_int_equal(in.iface, IMAGE_IFACE_CAN);
	assert_int_equal(in.can_bitrate, 500000);
	assert_int_equal(in.bitrate_source, IMAGE_BITRATE_HEURISTIC);
	assert_int_equal(in.katapult.app_start_literals, 2);
	assert_true(in.fits);
	assert_int_equal(in.warnings, 0);
}

/* An app whose JSON the test compresses and places itself, anchors included (§3.3, §3.4). */
static size_t handmade_app(uint8_t *img, size_t cap, const char *json, size_t dict_off)
{
	uLongf zlen = cap - dict_off;

	memset(img, 0x22, cap);
	cf_put_le32(img, 0x20001800);
	cf_put_le32(img + 4, A + 0x1B9);
	assert_int_equal(compress2(img + dict_off, &zlen, (const Bytef *)json, strlen(json), 9),
			 Z_OK);
	assert_int_equal(img[dict_off], 0x78);
	cf_put_le32(img + 0x300, A);
	cf_put_le32(img + 0x308, A + (uint32_t)dict_off);
	return dict_off + zlen + 16;
}

static void test_image_handmade_app_usb(void **state)
{
	static const char json[] = "{\"config\":{\"CLOCK_FREQ\":48000000,\"MCU\":\"stm32f042x6\","
				   "\"RESERVE_PINS_USB\":\"PA11,PA12\"},\"version\":\"CARTOGRAPHER "
				   "5.1.0\"}";
	uint8_t img[0x1000];
	struct image_info in;
	const size_t len = handmade_app(img, sizeof(img), json, 0x800);

	(void)state;
	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), &in), 0);

	assert_int_equal(in.kind, IMAGE_APP);
	assert_true(in.load_known);
	assert_int_equal(in.load_address, A);
	assert_int_equal(in.app.dict_offset, 0x800);
	assert_int_equal(in.app.link_base_candidates, 1);
	assert_int_equal(in.iface, IMAGE_IFACE_USB);
	assert_int_equal(in.can_bitrate, 0);
	assert_int_equal(in.app.clock_freq, 48000000);
	assert_string_equal(in.version, "CARTOGRAPHER 5.1.0");
	assert_int_equal(in.flash_end_offset, 0x2000 + len);
}

static void test_image_dictionary_too_big_for_scratch(void **state)
{
	const size_t pad = 20000; /* inflates past the 16 KiB a minimal scratch leaves */
	char *json = malloc(pad + 200);
	uint8_t *img = malloc(0x2000), *small = malloc(IMAGE_SCRATCH_MIN);
	struct image_info in;
	size_t len;

	(void)state;
	strcpy(json, "{\"build_versions\":\"");
	memset(json + strlen(json), 'a', pad);
	strcpy(json + 19 + pad, "\",\"config\":{\"MCU\":\"stm32f042x6\",\"RESERVE_PINS_CAN\":\"x\"}}");
	len = handmade_app(img, 0x2000, json, 0x800);

	assert_int_equal(image_inspect(img, len, small, IMAGE_SCRATCH_MIN, &in), CF_ERR_IMAGE);
	assert_true(in.warnings & IMAGE_WARN_SCRATCH_SMALL);
	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), &in), 0);
	assert_int_equal(in.kind, IMAGE_APP);
	assert_int_equal(image_inspect(img, len, small, IMAGE_SCRATCH_MIN - 1, &in), CF_ERR_NOSPACE);
	free(json);
	free(img);
	free(small);
}

/* ---- applications ---- */

static void test_image_app_can_f042(void **state)
{
	struct mkimage_app_opts o = { .bitrate = 1000000, .version = "CARTOGRAPHER 5.1.0" };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_int_equal(in.kind, IMAGE_APP);
	assert_int_equal(in.load_address, A);
	assert_string_equal(in.mcu, "stm32f042x6");
	assert_int_equal(in.iface, IMAGE_IFACE_CAN);
	assert_int_equal(in.can_bitrate, 1000000);
	assert_int_equal(in.bitrate_source, IMAGE_BITRATE_DICTIONARY);
	assert_string_equal(in.version, "CARTOGRAPHER 5.1.0");
	assert_int_equal(in.flash_size, 32768);
	assert_int_equal(in.flash_end_offset, 0x2000 + in.size);
	assert_true(in.fits);
	assert_int_equal(in.vectors.sp, 0x20001800);
	assert_int_equal(in.app.clock_freq, 48000000);
	assert_int_equal(in.app.usb_vid, 0);
	assert_int_equal(in.warnings, 0);
}

static void test_image_app_usb_descriptor(void **state)
{
	struct mkimage_app_opts o = { .iface = IMAGE_IFACE_USB };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_int_equal(in.iface, IMAGE_IFACE_USB);
	assert_int_equal(in.can_bitrate, 0);
	assert_int_equal(in.bitrate_source, IMAGE_BITRATE_NONE);
	assert_int_equal(in.app.usb_vid, 0x1d50);
	assert_int_equal(in.app.usb_pid, 0x614e);
	assert_string_equal(in.app.usb_manufacturer, "Cartographer");
}

static void test_image_app_g431_ht(void **state)
{
	struct mkimage_app_opts o = { .mcu = "stm32g431xx", .version = "Cartographer HT 5.1.0",
				      .initial_pins = "PA3", .bitrate = 500000 };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_string_equal(in.mcu, "stm32g431xx");
	assert_int_equal(in.flash_size, 131072);
	assert_int_equal(in.app.clock_freq, 150000000);
	assert_string_equal(in.app.initial_pins, "PA3");
	assert_int_equal(in.can_bitrate, 500000);
	assert_int_equal(in.vectors.sp, 0x20008000);
	assert_int_equal(in.warnings, 0);
}

static void test_image_app_name_6x(void **state)
{
	struct mkimage_app_opts o = { .version = "CARTOGRAPHER V3 6.1.0 lite",
				      .app_name = "Cartographer", .initial_pins = "PA1" };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_string_equal(in.app.app_name, "Cartographer");
	assert_string_equal(in.version, "CARTOGRAPHER V3 6.1.0 lite");
}

static void test_image_app_without_anchors_has_no_link_base(void **state)
{
	struct mkimage_app_opts o = { .no_anchors = true };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_int_equal(in.kind, IMAGE_APP);
	assert_false(in.load_known);
	assert_int_equal(in.app.link_base_candidates, 0);
	assert_true(in.warnings & IMAGE_WARN_LINK_BASE_UNKNOWN);
	assert_false(in.fits);
}

static void test_image_app_lone_spurious_anchors_do_not_count(void **state)
{
	/* images.md §3.4: lone (a) hits like 0x08005C00 and lone (b) hits occur in real apps. */
	struct mkimage_app_opts o = { 0 };
	struct image_info in;
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_app(&o, &img, &len), 0);
	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), &in), 0);
	cf_put_le32(img + 0x400, 0x08005C00);
	cf_put_le32(img + 0x404, 0x08002800 + (uint32_t)in.app.dict_offset + 0x400);
	cf_put_le32(img + 0x408, 0x08003000);

	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), &in), 0);
	assert_int_equal(in.app.link_base_candidates, 1);
	assert_int_equal(in.load_address, A);

	/* Both anchors for one wrong base below the reset handler: now it is ambiguous. */
	cf_put_le32(img + 0x40C, 0x08001400);
	cf_put_le32(img + 0x410, 0x08001400 + (uint32_t)in.app.dict_offset);
	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), &in), 0);
	assert_int_equal(in.app.link_base_candidates, 2);
	assert_false(in.load_known);
	free(img);
}

static void test_image_app_ambiguous_link_base(void **state)
{
	struct mkimage_app_opts o = { .ambiguous_base = true };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_false(in.load_known);
	assert_int_equal(in.app.link_base_candidates, 2);
	assert_true(in.warnings & IMAGE_WARN_LINK_BASE_UNKNOWN);
}

static void test_image_app_linked_at_flash_base(void **state)
{
	struct mkimage_app_opts o = { .link_base = F };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_true(in.load_known);
	assert_int_equal(in.load_address, F);
	assert_true(in.warnings & IMAGE_WARN_LINKED_AT_FLASH_BASE);
}

static void test_image_app_linked_at_12kib(void **state)
{
	struct mkimage_app_opts o = { .link_base = 0x08003000 };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);

	assert_int_equal(in.load_address, 0x08003000);
	assert_int_equal(in.flash_end_offset, 0x3000 + in.size);
}

static void test_image_app_corrupt_dictionary_is_unknown(void **state)
{
	struct mkimage_app_opts o = { .corrupt_dict = true };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), CF_ERR_IMAGE);

	assert_int_equal(in.kind, IMAGE_UNKNOWN);
	assert_true(in.warnings & IMAGE_WARN_DICT_DAMAGED);
	assert_false(in.load_known);
}

static void test_image_app_dictionary_without_config_is_unknown(void **state)
{
	struct mkimage_app_opts o = { .dict_without_config = true };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), CF_ERR_IMAGE);

	assert_int_equal(in.kind, IMAGE_UNKNOWN);
	assert_true(in.warnings & IMAGE_WARN_DICT_DAMAGED);
}

static void test_image_app_canboot_constant_without_dict_is_not_deployer(void **state)
{
	/* katapult.md §4: apps carry "CanBoot!" as a constant; the signature test must not fire. */
	struct mkimage_app_opts o = { .no_dict = true, .canboot_constant = true };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), CF_ERR_IMAGE);

	assert_int_equal(in.kind, IMAGE_UNKNOWN);
	assert_int_equal(in.warnings & IMAGE_WARN_DICT_DAMAGED, 0);
}

static void test_image_app_canboot_constant_with_dict_is_app(void **state)
{
	struct mkimage_app_opts o = { .canboot_constant = true };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);
	assert_int_equal(in.kind, IMAGE_APP);
}

static void test_image_app_budget_boundary(void **state)
{
	/* images.md §1: 24 576 bytes behind an 8 KiB Katapult on the F042. */
	struct mkimage_app_opts o = { .size = 24576 };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);
	assert_true(in.fits);
	assert_int_equal(in.overflow_bytes, 0);
	assert_int_equal(in.flash_end_offset, 32768);

	o.size = 24577;
	assert_int_equal(app(&o, &in), 0);
	assert_false(in.fits);
	assert_int_equal(in.overflow_bytes, 1);
	assert_true(in.warnings & IMAGE_WARN_OVERSIZE);
}

static void test_image_truncated_app(void **state)
{
	struct mkimage_app_opts o = { 0 };
	struct image_info in;
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_app(&o, &img, &len), 0);

	/* Cut inside the zlib stream: no clean end, so no dictionary, and it says so. */
	assert_int_equal(image_inspect(img, len - 0x100, scratch, sizeof(scratch), &in),
			 CF_ERR_IMAGE);
	assert_int_equal(in.kind, IMAGE_UNKNOWN);
	assert_true(in.warnings & IMAGE_WARN_DICT_DAMAGED);
	/* Cut before the dictionary: nothing to go by. */
	assert_int_equal(image_inspect(img, 0x800, scratch, sizeof(scratch), &in), CF_ERR_IMAGE);
	assert_int_equal(in.warnings & IMAGE_WARN_DICT_DAMAGED, 0);
	free(img);
}

static void test_image_app_bad_vectors(void **state)
{
	static const struct { const char *name; uint32_t sp, reset; } rows[] = {
		{ "SP outside RAM", 0x30000000, A + 0x1B9 },
		{ "SP above F042 RAM top", 0x20002000, A + 0x1B9 },
		{ "reset even (not Thumb)", 0x20001800, A + 0x1B8 },
		{ "reset past the image", 0x20001800, A + 0x7001 },
	};
	struct image_info in;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct mkimage_app_opts o = { .sp = rows[i].sp, .reset = rows[i].reset };

		assert_int_equal(app(&o, &in), 0);
		if (!(in.warnings & IMAGE_WARN_BAD_VECTORS))
			fail_msg("%s: no bad_vectors warning", rows[i].name);
	}
}

static void test_image_app_usb_can_bridge(void **state)
{
	struct mkimage_app_opts o = { .bridge = true };
	struct image_info in;

	(void)state;
	assert_int_equal(app(&o, &in), 0);
	assert_int_equal(in.iface, IMAGE_IFACE_USB_CAN_BRIDGE);
	assert_true(in.warnings & IMAGE_WARN_USB_CAN_BRIDGE);
}

/* ---- containers and garbage ---- */

static void test_image_uf2(void **state)
{
	uint8_t img[512] = "UF2\nWQ]\x9e";
	struct image_info in;

	(void)state;
	assert_int_equal(image_inspect(img, sizeof(img), scratch, sizeof(scratch), &in), 0);
	assert_int_equal(in.kind, IMAGE_UF2);
}

static void test_image_short_and_garbage_are_unknown(void **state)
{
	uint8_t junk[4096] = { 0 };
	uint32_t x = 12345;
	struct image_info in;

	(void)state;
	assert_int_equal(image_inspect(junk, 0, scratch, sizeof(scratch), &in), CF_ERR_IMAGE);
	assert_int_equal(in.size, 0);
	assert_int_equal(image_inspect(junk, 7, scratch, sizeof(scratch), &in), CF_ERR_IMAGE);
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (uint8_t)(x >> 16);
	}
	assert_int_equal(image_inspect(junk, sizeof(junk), scratch, sizeof(scratch), &in),
			 CF_ERR_IMAGE);
	assert_int_equal(in.kind, IMAGE_UNKNOWN);
	assert_int_equal(in.size, sizeof(junk));
}

static void test_image_sha256_known_vector(void **state)
{
	/* FIPS 180-2 "abc". */
	static const uint8_t want[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	struct image_info in;

	(void)state;
	assert_int_equal(image_inspect((const uint8_t *)"abc", 3, scratch, sizeof(scratch), &in),
			 CF_ERR_IMAGE);
	assert_memory_equal(in.sha256, want, 32);
}

static void test_image_probe_generation(void **state)
{
	/* images.md §1: F042 = v2/v3; G431 at 150 MHz = HT, at 170 MHz = v4. */
	static const struct {
		enum image_kind kind;
		const char *mcu;
		uint32_t clock;
		const char *want;
	} rows[] = {
		{ IMAGE_APP, "stm32f042x6", 48000000, "v2/v3" },
		{ IMAGE_APP, "stm32g431xx", 150000000, "HT" },
		{ IMAGE_FULL, "stm32g431xx", 170000000, "v4" },
		{ IMAGE_KATAPULT, "stm32g431xx", 0, "v4/HT" },
		{ IMAGE_UF2, "", 0, "v1" },
		{ IMAGE_UNKNOWN, "", 0, NULL },
		{ IMAGE_APP, "stm32h723xx", 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct image_info in;
		const char *got;

		memset(&in, 0, sizeof(in));
		in.kind = rows[i].kind;
		strcpy(in.mcu, rows[i].mcu);
		in.app.clock_freq = rows[i].clock;
		got = image_probe_generation(&in);
		if ((got == NULL) != (rows[i].want == NULL) ||
		    (got && strcmp(got, rows[i].want)))
			fail_msg("row %zu: '%s', want '%s'", i, got ? got : "(null)",
				 rows[i].want ? rows[i].want : "(null)");
	}
}

static void test_image_names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(image_kind_name(IMAGE_APP), "app");
	assert_string_equal(image_kind_name(IMAGE_FULL), "full");
	assert_string_equal(image_kind_name(IMAGE_KATAPULT), "katapult");
	assert_string_equal(image_kind_name(IMAGE_DEPLOYER), "deployer");
	assert_string_equal(image_kind_name(IMAGE_UF2), "uf2");
	assert_string_equal(image_kind_name(IMAGE_UNKNOWN), "unknown");
	assert_string_equal(image_iface_name(IMAGE_IFACE_CAN), "can");
	assert_string_equal(image_iface_name(IMAGE_IFACE_USB), "usb");
	assert_string_equal(image_iface_name(IMAGE_IFACE_USB_CAN_BRIDGE), "usb-can-bridge");
	assert_string_equal(image_bitrate_source_name(IMAGE_BITRATE_HEURISTIC),
			    "katapult-code-heuristic");
	assert_string_equal(image_bitrate_source_name(IMAGE_BITRATE_DICTIONARY), "dictionary");
	for (unsigned i = 0; i < IMAGE_WARN_COUNT; i++) {
		assert_string_not_equal(image_warning_name(1u << i), "unknown");
		assert_string_not_equal(image_warning_text(1u << i), "unknown");
	}
	assert_string_equal(image_warning_name(3), "unknown");
	assert_string_equal(image_warning_name(1u << IMAGE_WARN_COUNT), "unknown");
	{
		enum image_iface iface = IMAGE_IFACE_UNKNOWN;

		assert_true(image_iface_from_name("usb", &iface));
		assert_int_equal(iface, IMAGE_IFACE_USB);
		assert_true(image_iface_from_name("can", &iface));
		assert_int_equal(iface, IMAGE_IFACE_CAN);
		assert_false(image_iface_from_name("CAN0", &iface));
		assert_int_equal(iface, IMAGE_IFACE_CAN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_handmade_katapult_500k),
		cmocka_unit_test(test_image_handmade_app_usb),
		cmocka_unit_test(test_image_dictionary_too_big_for_scratch),
		cmocka_unit_test(test_image_app_can_f042),
		cmocka_unit_test(test_image_app_usb_descriptor),
		cmocka_unit_test(test_image_app_g431_ht),
		cmocka_unit_test(test_image_app_name_6x),
		cmocka_unit_test(test_image_app_without_anchors_has_no_link_base),
		cmocka_unit_test(test_image_app_lone_spurious_anchors_do_not_count),
		cmocka_unit_test(test_image_app_ambiguous_link_base),
		cmocka_unit_test(test_image_app_linked_at_flash_base),
		cmocka_unit_test(test_image_app_linked_at_12kib),
		cmocka_unit_test(test_image_app_corrupt_dictionary_is_unknown),
		cmocka_unit_test(test_image_app_dictionary_without_config_is_unknown),
		cmocka_unit_test(test_image_app_canboot_constant_without_dict_is_not_deployer),
		cmocka_unit_test(test_image_app_canboot_constant_with_dict_is_app),
		cmocka_unit_test(test_image_app_budget_boundary),
		cmocka_unit_test(test_image_truncated_app),
		cmocka_unit_test(test_image_app_bad_vectors),
		cmocka_unit_test(test_image_app_usb_can_bridge),
		cmocka_unit_test(test_image_uf2),
		cmocka_unit_test(test_image_short_and_garbage_are_unknown),
		cmocka_unit_test(test_image_sha256_known_vector),
		cmocka_unit_test(test_image_probe_generation),
		cmocka_unit_test(test_image_names_are_stable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
