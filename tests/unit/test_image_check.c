// SPDX-License-Identifier: GPL-3.0-or-later
// Refusal rules R1-R6 (images.md §7) and name-vs-content warnings (§2.2) on synthesised images.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/mkimage/mkimage.h"

static uint8_t scratch[IMAGE_SCRATCH_SIZE];

/* One image to build: exactly one of the option pointers is set. */
struct build {
	const struct mkimage_app_opts *app;
	const struct mkimage_katapult_opts *katapult;
	const struct mkimage_full_opts *full;
	const struct mkimage_deployer_opts *deployer;
};

static void classify(const struct build *b, struct image_info *in)
{
	uint8_t *img = NULL;
	size_t len = 0;
	int rc = CF_ERR_USAGE;

	if (b->app)
		rc = mkimage_app(b->app, &img, &len);
	else if (b->katapult)
		rc = mkimage_katapult(b->katapult, &img, &len);
	else if (b->full)
		rc = mkimage_full(b->full, &img, &len);
	else if (b->deployer)
		rc = mkimage_deployer(b->deployer, &img, &len);
	assert_int_equal(rc, 0);
	image_inspect(img, len, scratch, sizeof(scratch), in);
	free(img);
}

/* The probe of the README: F042 Katapult on can0 at 1 Mbit/s. */
static const struct image_target can_katapult = {
	.path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
	.iface = IMAGE_IFACE_CAN, .bus_bitrate = 1000000,
};
static const struct image_target usb_katapult = {
	.path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
	.iface = IMAGE_IFACE_USB,
};
static const struct image_target dfu_f042 = {
	.path = IMAGE_PATH_DFU, .flash_size = 32768, .dfu_address = 0x08000000,
};

static const struct mkimage_app_opts app_can_1m = { .bitrate = 1000000 };
static const struct mkimage_app_opts app_can_250k = { .bitrate = 250000 };
static const struct mkimage_app_opts app_usb = { .iface = IMAGE_IFACE_USB };
static const struct mkimage_app_opts app_g431 = { .mcu = "stm32g431xx" };
static const struct mkimage_app_opts app_12k = { .link_base = 0x08003000 };
static const struct mkimage_app_opts app_nobase = { .no_anchors = true };
static const struct mkimage_app_opts app_at0 = { .link_base = 0x08000000 };
static const struct mkimage_app_opts app_big = { .size = 24600 };
static const struct mkimage_app_opts app_bridge = { .bridge = true };
static const struct mkimage_app_opts app_bad_sp = { .sp = 0x10000000 };
static const struct mkimage_katapult_opts kat_1m = { .pad_to = 8192 };
static const struct mkimage_katapult_opts kat_g4 = { .mcu = "stm32g431xx" };
static const struct mkimage_full_opts full_can = { .katapult.bitrate = 1000000 };
static const struct mkimage_full_opts full_usb_gap = { .katapult.iface = IMAGE_IFACE_USB,
						       .app.iface = IMAGE_IFACE_USB,
						       .gap_not_ff = true };
static const struct mkimage_full_opts full_mixed = { .katapult.iface = IMAGE_IFACE_USB };
static const struct mkimage_full_opts full_mixed_rate = { .katapult.bitrate = 500000 };
static const struct mkimage_full_opts full_noapp = { .no_app_vectors = true };
static const struct mkimage_full_opts full_badapp = { .app.corrupt_dict = true };
static const struct mkimage_full_opts full_g431 = { .katapult.mcu = "stm32g431xx",
						    .app.mcu = "stm32g431xx" };
static const struct mkimage_deployer_opts dep_usb = { .katapult.iface = IMAGE_IFACE_USB };
static const struct mkimage_deployer_opts dep_500k = { .katapult.bitrate = 500000 };
static const struct mkimage_deployer_opts dep_1m = { .katapult.bitrate = 1000000 };
static const struct mkimage_deployer_opts dep_g4 = { .katapult.mcu = "stm32g431xx" };
static const struct mkimage_deployer_opts dep_nopat = { .katapult.no_bitrate_pattern = true };
static const struct mkimage_full_opts full_noapp_usb = { .katapult.iface = IMAGE_IFACE_USB,
							 .app.iface = IMAGE_IFACE_USB,
							 .no_app_vectors = true };

static const struct image_target dfu_g431 = { .path = IMAGE_PATH_DFU, .flash_size = 131072 };
static const struct image_target can_switch_usb = {
	.path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
	.iface = IMAGE_IFACE_CAN, .bus_bitrate = 1000000, .switch_to = IMAGE_IFACE_USB,
};
static const struct image_target usb_switch_can = {
	.path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
	.iface = IMAGE_IFACE_USB, .bus_bitrate = 1000000, .switch_to = IMAGE_IFACE_CAN,
};
static const struct image_target can_stated_12k = {
	.path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08003000,
	.iface = IMAGE_IFACE_CAN, .bus_bitrate = 1000000, .stated_load_address = 0x08003000,
};
static const struct image_target can_stated_base = {
	.path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
	.iface = IMAGE_IFACE_CAN, .bus_bitrate = 1000000, .stated_load_address = 0x08002000,
};

#define ACCEPTED NULL, NULL, NULL, NULL, 0 /* rule, values, override, force bit */

/* Each row names its rule (images.md §7) and the override, if any, that lifts it. */
static const struct check_case {
	const char *name;
	struct build img;
	const struct image_target *target;
	unsigned force;
	const char *rule; /* NULL = accepted */
	const char *image_value, *target_value, *override;
	unsigned force_bit;
} cases[] = {
	{ "app CAN 1M via CAN 1M Katapult", { .app = &app_can_1m }, &can_katapult, 0, ACCEPTED },
	{ "USB app via USB Katapult", { .app = &app_usb }, &usb_katapult, 0, ACCEPTED },
	{ "R1 full via Katapult", { .full = &full_can }, &can_katapult, 0, "R1", "full",
	  "app or deployer", NULL, 0 },
	{ "R1 katapult via Katapult", { .katapult = &kat_1m }, &can_katapult, 0, "R1", "katapult",
	  "app or deployer", NULL, 0 },
	{ "R1 app via DFU", { .app = &app_can_1m }, &dfu_f042, 0, "R1", "app", "full or katapult",
	  NULL, 0 },
	{ "R1 deployer via DFU", { .deployer = &dep_usb }, &dfu_f042, 0, "R1", "deployer",
	  "full or katapult", NULL, 0 },
	{ "full via DFU", { .full = &full_can }, &dfu_f042, 0, ACCEPTED },
	{ "katapult 8 KiB via DFU", { .katapult = &kat_1m }, &dfu_f042, 0, ACCEPTED },
	{ "R1 app linked at 0x08003000", { .app = &app_12k }, &can_katapult, 0, "R1",
	  "0x08003000", "0x08002000", NULL, 0 },
	{ "R1 link base undetermined", { .app = &app_nobase }, &can_katapult, 0, "R1",
	  "undetermined", "0x08002000", "--load-address", IMAGE_FORCE_LINK_BASE },
	{ "R1 lifted by a stated load address", { .app = &app_nobase }, &can_stated_base,
	  IMAGE_FORCE_LINK_BASE, ACCEPTED },	{ "R1 stated load address the reset vector does not fit", { .app = &app_nobase },
	  &can_stated_12k, IMAGE_FORCE_LINK_BASE, "R1", "implausible SP or reset vector",
	  "0x08003000", NULL, 0 },

	{ "R1 app linked at 0x08000000, no override", { .app = &app_at0 }, &can_katapult,
	  IMAGE_FORCE_LINK_BASE, "R1", "0x08000000", "0x08002000", NULL, 0 },
	{ "R1 bad vector table", { .app = &app_bad_sp }, &can_katapult, 0, "R1", NULL, NULL,
	  NULL, 0 },
	{ "R2 G431 app on F042 Katapult", { .app = &app_g431 }, &can_katapult, 0, "R2",
	  "stm32g431xx", "stm32f042x6", NULL, 0 },
	{ "R2 G431 full via DFU with 32 KiB flash", { .full = &full_g431 }, &dfu_f042, 0, "R2",
	  "131072", "32768", NULL, 0 },
	{ "G431 full via DFU with 128 KiB flash", { .full = &full_g431 }, &dfu_g431, 0, ACCEPTED },
	{ "R3 250k app on 1M bus", { .app = &app_can_250k }, &can_katapult, 0, "R3", "250000",
	  "1000000", "--allow-bitrate-mismatch", IMAGE_FORCE_BITRATE },
	{ "R3 lifted by --allow-bitrate-mismatch", { .app = &app_can_250k }, &can_katapult,
	  IMAGE_FORCE_BITRATE, ACCEPTED },
	{ "R3 500k deployer on 1M bus", { .deployer = &dep_500k }, &can_katapult, 0, "R3",
	  "500000", "1000000", "--allow-bitrate-mismatch", IMAGE_FORCE_BITRATE },
	{ "R2 G431 deployer on F042 Katapult", { .deployer = &dep_g4 }, &can_katapult, 0, "R2",
	  "stm32g431xx", "stm32f042x6", NULL, 0 },
	{ "R3 deployer bitrate unreadable", { .deployer = &dep_nopat }, &can_katapult, 0, "R3",
	  "unknown", "1000000", "--allow-bitrate-mismatch", IMAGE_FORCE_BITRATE },
	{ "R4 USB app on CAN Katapult", { .app = &app_usb }, &can_katapult, 0, "R4", "usb", "can",
	  NULL, 0 },
	{ "R4 USB app on CAN Katapult even with a switch", { .app = &app_usb }, &can_switch_usb,
	  IMAGE_FORCE_SWITCH, "R4", "usb", "can", NULL, 0 },
	{ "R4 USB deployer on CAN Katapult without switch", { .deployer = &dep_usb },
	  &can_katapult, 0, "R4", "usb", "can", "--switch-to usb", IMAGE_FORCE_SWITCH },
	{ "USB deployer on CAN Katapult with --switch-to usb", { .deployer = &dep_usb },
	  &can_switch_usb, 0, ACCEPTED },
	{ "R4 CAN deployer when usb was requested", { .deployer = &dep_1m }, &can_switch_usb, 0,
	  "R4", "can", "usb", NULL, 0 },
	{ "CAN 1M deployer from USB Katapult with --switch-to can", { .deployer = &dep_1m },
	  &usb_switch_can, 0, ACCEPTED },
	{ "R4 USB-to-CAN bridge build", { .app = &app_bridge }, &can_katapult, 0, "R4",
	  "usb-can-bridge", "can or usb", NULL, 0 },
	{ "R5 oversize app", { .app = &app_big }, &can_katapult, 0, "R5", "32792", "32768", NULL,
	  0 },
	{ "R6 full with USB Katapult and CAN app", { .full = &full_mixed }, &dfu_f042, 0, "R6",
	  "usb", "can", NULL, 0 },
	{ "R6 full with 500k Katapult and 1M app", { .full = &full_mixed_rate }, &dfu_f042, 0,
	  "R6", "500000", "1000000", NULL, 0 },
	{ "R6 katapult with trailing data", { .full = &full_noapp }, &dfu_f042, 0, "R6", NULL,
	  NULL, NULL, 0 },
	{ "R6 full whose app part is broken", { .full = &full_badapp }, &dfu_f042, 0, "R6", NULL,
	  NULL, NULL, 0 },
	{ "full with non-0xFF gap is only a warning", { .full = &full_usb_gap }, &dfu_f042, 0,
	  ACCEPTED },
	{ "katapult G431 via DFU G431", { .katapult = &kat_g4 }, &dfu_g431, 0, ACCEPTED },
};

static void test_image_check_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct check_case *c = &cases[i];
		struct image_info in;
		struct image_refusal why;
		int rc;

		classify(&c->img, &in);
		rc = image_check_against(&in, c->target, c->force, &why);
		if (!c->rule) {
			if (rc)
				fail_msg("%s: refused by %s (%s: %s vs %s)", c->name, why.rule,
					 why.what, why.image_value, why.target_value);
			continue;
		}
		if (rc != CF_ERR_REFUSED || strcmp(why.rule, c->rule))
			fail_msg("%s: rc %d rule '%s', want %s", c->name, rc, why.rule, c->rule);
		if (c->image_value && strcmp(why.image_value, c->image_value))
			fail_msg("%s: image value '%s', want '%s'", c->name, why.image_value,
				 c->image_value);
		if (c->target_value && strcmp(why.target_value, c->target_value))
			fail_msg("%s: target value '%s', want '%s'", c->name, why.target_value,
				 c->target_value);
		if ((c->override == NULL) != (why.override == NULL) ||
		    (c->override && strcmp(c->override, why.override)))
			fail_msg("%s: override '%s', want '%s'", c->name,
				 why.override ? why.override : "(none)",
				 c->override ? c->override : "(none)");
		if (why.force_bit != c->force_bit)
			fail_msg("%s: force bit %u, want %u", c->name, why.force_bit, c->force_bit);
		if (!why.reason || !why.what)
			fail_msg("%s: refusal without reason", c->name);
	}
}

/* What the running application tells before the reboot: bus bitrate, MCU, running version. */
static int before(const struct image_info *in, uint32_t bus, const char *mcu, const char *runs,
		  unsigned force, struct image_refusal *why)
{
	struct image_target t = { .bus_bitrate = bus };

	snprintf(t.mcu, sizeof(t.mcu), "%s", mcu);
	snprintf(t.running_version, sizeof(t.running_version), "%s", runs);
	return image_check_before_entry(in, &t, force, why);
}

/* R2, R3, R8 decided before the bootloader request, in image_check_against's order and words;
 * what is unknown (0, "") checks nothing. */
static void test_image_check_before_entry(void **state)
{
	static const struct mkimage_app_opts k1 = { .version = "CARTOGRAPHER K1 5.1.0" };
	const struct build b250 = { .app = &app_can_250k }, busb = { .app = &app_usb },
			   bnopat = { .deployer = &dep_nopat }, bg4 = { .app = &app_g431 },
			   bk1 = { .app = &k1 };
	struct image_info in;
	struct image_refusal why;

	(void)state;
	classify(&b250, &in);
	assert_int_equal(before(&in, 1000000, "", "", 0, &why), CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R3");
	assert_string_equal(why.image_value, "250000");
	assert_string_equal(why.target_value, "1000000");
	assert_string_equal(why.override, "--allow-bitrate-mismatch");
	assert_int_equal(before(&in, 250000, "", "", 0, &why), CF_OK);
	assert_int_equal(before(&in, 1000000, "", "", IMAGE_FORCE_BITRATE, NULL), CF_OK);
	assert_int_equal(before(&in, 0, "", "", 0, NULL), CF_OK);
	classify(&busb, &in);
	assert_int_equal(before(&in, 1000000, "", "", 0, NULL), CF_OK);
	classify(&bnopat, &in);
	assert_int_equal(before(&in, 1000000, "", "", 0, &why), CF_ERR_REFUSED);
	assert_string_equal(why.image_value, "unknown");
	/* another MCU: R2 when the application told its MCU, and before R8 */
	classify(&bg4, &in);
	assert_int_equal(before(&in, 1000000, "", "", 0, NULL), CF_OK);
	assert_int_equal(before(&in, 1000000, "stm32f042x6", "CARTOGRAPHER 5.1.0", 0, &why),
			 CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R2");
	/* a K1 build on a probe that runs a plain one: R8, lifted by --allow-variant-change */
	classify(&bk1, &in);
	assert_int_equal(before(&in, 1000000, "stm32f042x6", "CARTOGRAPHER 5.1.0", 0, &why),
			 CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R8");
	assert_string_equal(why.override, "--allow-variant-change");
	assert_int_equal(before(&in, 1000000, "stm32f042x6", "CARTOGRAPHER 5.1.0",
				IMAGE_FORCE_VARIANT, NULL), CF_OK);
	assert_int_equal(before(&in, 1000000, "stm32f042x6", "CARTOGRAPHER K1 4.0.0", 0, NULL),
			 CF_OK);
	assert_int_equal(before(&in, 1000000, "", "", 0, NULL), CF_OK);
}

static void test_image_check_uf2_and_unknown_refused_everywhere(void **state)
{
	static const uint8_t uf2[64] = "UF2\n";
	static const uint8_t junk[64] = { 1, 2, 3 };
	struct image_info in;

	(void)state;
	image_inspect(uf2, sizeof(uf2), scratch, sizeof(scratch), &in);
	assert_int_equal(image_check_against(&in, &can_katapult, ~0u, NULL), CF_ERR_REFUSED);
	assert_int_equal(image_check_against(&in, &dfu_f042, ~0u, NULL), CF_ERR_REFUSED);
	image_inspect(junk, sizeof(junk), scratch, sizeof(scratch), &in);
	assert_int_equal(image_check_against(&in, &can_katapult, ~0u, NULL), CF_ERR_REFUSED);
	assert_int_equal(image_check_against(&in, &dfu_f042, ~0u, NULL), CF_ERR_REFUSED);
}

static void test_image_check_force_does_not_lift_r2(void **state)
{
	const struct build b = { .app = &app_g431 };
	struct image_info in;
	struct image_refusal why;

	(void)state;
	classify(&b, &in);
	assert_int_equal(image_check_against(&in, &can_katapult, ~0u, &why), CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R2");
	assert_null(why.override);
}

static void test_image_check_dfu_at_other_address_is_r1(void **state)
{
	const struct build b = { .full = &full_can };
	struct image_target t = dfu_f042;
	struct image_info in;
	struct image_refusal why;

	(void)state;
	t.dfu_address = 0x08002000;
	classify(&b, &in);
	assert_int_equal(image_check_against(&in, &t, 0, &why), CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R1");
	assert_string_equal(why.target_value, "0x08002000");
}

/* ---- R7: known release builds (images.md Appendix A) ---- */

static void test_image_check_known_table(void **state)
{
	size_t per_kind[IMAGE_UF2 + 1] = { 0 };

	(void)state;
	assert_int_equal(image_known_count(), 136); /* Appendix A: 136 distinct images */
	assert_null(image_known_at(136));
	for (size_t i = 0; i < image_known_count(); i++) {
		const struct image_known *k = image_known_at(i);

		assert_int_equal(strlen(k->sha256), 64);
		assert_true(k->repo == 'k' || k->repo == 'f');
		assert_true(k->size > 0 && k->size < IMAGE_MAX_SIZE);
		per_kind[k->kind]++;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(image_known_at(j)->sha256, k->sha256))
				fail_msg("row %zu repeats row %zu", i, j);
	}
	/* Appendix A: the first row, and one uf2 (the v1 RP2040 probe). */
	assert_string_equal(image_known_at(0)->sha256,
			    "fc06be29a47c1943206b70225a9e458ed043baa722314192f1a0bba90f242f16");
	assert_string_equal(image_known_at(0)->path,
			    "v2-v3/combined-firmware/6.1.0/Katapult_plus_CartographerV3_6.1.0_CAN_1M.bin");
	assert_int_equal(per_kind[IMAGE_UF2], 1);
	assert_int_equal(per_kind[IMAGE_UNKNOWN], 0);
}

static void test_image_check_known_lookup_and_r7(void **state)
{
	/* Appendix A: 31acc2cb... is v2-v3/Katapult_1m.bin, 8192 bytes. */
	static const uint8_t katapult_1m[32] = {
		0x31, 0xac, 0xc2, 0xcb, 0xed, 0x8a, 0x9f, 0xec, 0x4c, 0x6f, 0x0b,
		0x44, 0xe2, 0xcc, 0x5b, 0xd2, 0xac, 0xb6, 0x4c, 0x5c, 0xa3, 0x55,
		0x9a, 0x65, 0x78, 0xb6, 0x04, 0x2d, 0xce, 0x72, 0xf0, 0x92,
	};
	const struct build b = { .app = &app_can_1m };
	const struct image_known *k = image_known_build(katapult_1m);
	struct image_info in;
	struct image_refusal why;

	(void)state;
	assert_non_null(k);
	assert_string_equal(k->path, "v2-v3/Katapult_1m.bin");
	assert_int_equal(k->size, 8192);
	assert_int_equal(k->kind, IMAGE_KATAPULT);
	assert_string_equal(k->version, "");

	classify(&b, &in);
	assert_null(image_known_build(in.sha256));
	assert_int_equal(image_check_known(&in, 0, &why), CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R7");
	assert_string_equal(why.override, "--allow-unknown");
	assert_int_equal(why.force_bit, IMAGE_FORCE_UNKNOWN);
	assert_int_equal(strlen(why.image_value), 16);
	assert_int_equal(image_check_known(&in, IMAGE_FORCE_UNKNOWN, &why), 0);
	memcpy(in.sha256, katapult_1m, 32);
	assert_int_equal(image_check_known(&in, 0, NULL), 0);
}

/* ---- R8: variants (images.md §2.2 version strings) ---- */

static void test_image_variant_tokens(void **state)
{
	static const struct { const char *version; unsigned want; } rows[] = {
		{ "CARTOGRAPHER 5.1.0", 0 },
		{ "CARTOGRAPHER K1 5.1.0", IMAGE_VARIANT_K1 },
		{ "CARTOGRAPHER 5.0.0 K1", IMAGE_VARIANT_K1 },
		{ "Cartographer HT 5.1.0", IMAGE_VARIANT_HT },
		{ "CARTOGRAPHER V3 6.1.0 lite", IMAGE_VARIANT_LITE },
		{ "Cartographer V4 6.0.0 Lite", IMAGE_VARIANT_LITE },
		{ "CARTOGRAPHER v4 6.2.0 Lite", IMAGE_VARIANT_LITE },
		{ "IDM 2.0.0", IMAGE_VARIANT_IDM },
		{ "CARTOGRAPHER V3", 0 },
		{ "Cartographer 4.0.0", 0 },
		{ "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (image_variant_of(rows[i].version) != rows[i].want)
			fail_msg("'%s': 0x%x, want 0x%x", rows[i].version,
				 image_variant_of(rows[i].version), rows[i].want);
	assert_int_equal(image_variant_of(NULL), 0);
}

/* R8 through a target with the running facts, as every write passes them. */
static int r8(const struct image_info *in, const char *running, uint32_t clock, unsigned force,
	      struct image_refusal *why)
{
	struct image_target t = { .path = IMAGE_PATH_KATAPULT };

	snprintf(t.running_version, sizeof(t.running_version), "%s", running);
	t.running_clock = clock;
	snprintf(t.mcu, sizeof(t.mcu), "%s", in->mcu);
	return image_check_variant(in, &t, force, why);
}

static void test_image_check_variant_r8(void **state)
{
	static const struct mkimage_app_opts k1 = { .iface = IMAGE_IFACE_USB,
						    .version = "CARTOGRAPHER K1 5.1.0" };
	static const struct mkimage_app_opts lite = { .version = "CARTOGRAPHER V3 6.1.0 lite" };
	const struct build bk1 = { .app = &k1 }, blite = { .app = &lite };
	struct image_info in;
	struct image_refusal why;

	(void)state;
	classify(&bk1, &in);
	assert_int_equal(r8(&in, "CARTOGRAPHER 5.1.0", 0, 0, &why), CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R8");
	assert_string_equal(why.image_value, "CARTOGRAPHER K1 5.1.0");
	assert_string_equal(why.target_value, "CARTOGRAPHER 5.1.0");
	assert_string_equal(why.override, "--allow-variant-change");
	assert_int_equal(why.force_bit, IMAGE_FORCE_VARIANT);
	assert_int_equal(r8(&in, "CARTOGRAPHER 5.0.0 K1", 0, 0, &why), 0);
	assert_int_equal(r8(&in, "CARTOGRAPHER 5.1.0", 0, IMAGE_FORCE_VARIANT, NULL), 0);
	assert_int_equal(r8(&in, "", 0, 0, NULL), 0);

	classify(&blite, &in);
	assert_int_equal(r8(&in, "CARTOGRAPHER V3 6.1.0", 0, 0, NULL), CF_ERR_REFUSED);
	assert_int_equal(r8(&in, "CARTOGRAPHER V3 6.1.0 lite", 0, 0, NULL), 0);
}

/* images.md §1: "Cartographer HT 5.1.0" runs at 150 MHz on HT probes and at 170 MHz on v4 ones;
 * R8 tells them apart by the clock, and image_check_against applies it with a running version. */
static void test_image_check_variant_ht_by_clock(void **state)
{
	static const struct mkimage_app_opts v4_62 = { .mcu = "stm32g431xx",
						       .clock_freq = 170000000,
						       .version = "CARTOGRAPHER v4 6.2.0" };
	const struct build b = { .app = &v4_62 };
	struct image_target t = { .path = IMAGE_PATH_KATAPULT, .mcu = "stm32g431xx",
				  .app_start = IMAGE_APP_START, .iface = IMAGE_IFACE_CAN,
				  .bus_bitrate = 1000000 };
	struct image_info in;
	struct image_refusal why;

	(void)state;
	classify(&b, &in);
	assert_int_equal(r8(&in, "Cartographer HT 5.1.0", 170000000, 0, NULL), 0);
	assert_int_equal(r8(&in, "Cartographer HT 5.1.0", 150000000, 0, &why), CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R8");

	assert_int_equal(image_check_against(&in, &t, 0, NULL), 0);
	snprintf(t.running_version, sizeof(t.running_version), "Cartographer HT 5.1.0");
	t.running_clock = 150000000;
	assert_int_equal(image_check_against(&in, &t, 0, &why), CF_ERR_REFUSED);
	assert_string_equal(why.rule, "R8");
	assert_int_equal(image_check_against(&in, &t, IMAGE_FORCE_VARIANT, NULL), 0);
	t.running_clock = 170000000;
	assert_int_equal(image_check_against(&in, &t, 0, NULL), 0);
}

/* ---- names (images.md §2.2) ---- */

static const struct mkimage_full_opts full_400 = { .app.version = "Cartographer 4.0.0" };
static const struct mkimage_app_opts app_610 = { .version = "CARTOGRAPHER V3 6.1.0" };
static const struct mkimage_app_opts app_610_lite = { .version = "CARTOGRAPHER V3 6.1.0 lite" };

static const struct name_case {
	const char *file;
	struct build img;
	unsigned want;
} name_cases[] = {
	{ "Cartographer_CAN_1000000_12kib_offset.bin", { .app = &app_can_1m }, IMAGE_NAME_12KIB },
	{ "Cartographer_CAN_1000000_8kib_offset.bin", { .app = &app_can_1m }, 0 },
	{ "v3/Full_Cartographer_CAN_1M_v3.bin", { .full = &full_usb_gap }, IMAGE_NAME_IFACE },
	{ "Survey_Cartographer_CAN_250000_8kib_offset.bin", { .app = &app_can_1m },
	  IMAGE_NAME_BITRATE },
	{ "carto_1M_5.1.3.bin", { .app = &app_can_250k }, IMAGE_NAME_BITRATE | IMAGE_NAME_VERSION },
	{ "carto_250k_5.1.0.bin", { .app = &app_can_250k }, 0 },
	{ "v3/Full_Cartographer_USB_v3.bin", { .full = &full_noapp_usb },
	  IMAGE_NAME_FULL_NO_APP },
	{ "katapult-deployer-1m.bin", { .app = &app_can_1m }, IMAGE_NAME_KIND },
	{ "Katapult_1m.bin", { .deployer = &dep_1m }, IMAGE_NAME_KIND },
	{ "Katapult_plus_CartographerV3_6.1.0_CAN_1M.bin", { .app = &app_can_1m },
	  IMAGE_NAME_KIND | IMAGE_NAME_VERSION },
	{ "CartographerV4_6.0.0_CAN_1M_full_8kib_offset.bin", { .app = &app_can_1m },
	  IMAGE_NAME_MCU | IMAGE_NAME_VERSION },
	{ "Survey_Cartographer_CAN_1000000_8kib_offset_HT_5.1.0.bin", { .app = &app_can_1m },
	  IMAGE_NAME_MCU },
	{ "CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin", { .app = &app_g431 },
	  IMAGE_NAME_MCU | IMAGE_NAME_VERSION },
	/* images.md §2.2: the 4.0.1 Full image reports "Cartographer 4.0.0". */
	{ "Full_Cartographer_CAN_1M_4_0_1.bin", { .full = &full_400 }, IMAGE_NAME_VERSION },
	{ "Full_Cartographer_CAN_1M_4_0_0.bin", { .full = &full_400 }, 0 },
	{ "CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin", { .app = &app_610 },
	  IMAGE_NAME_VARIANT },
	{ "CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin", { .app = &app_610_lite },
	  IMAGE_NAME_VARIANT },
	{ "CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin", { .app = &app_610_lite }, 0 },
	{ "CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin", { .app = &app_610 }, 0 },
	{ "v4/Cartographer_CAN_1000000_8kib_offset.bin", { .app = &app_g431 }, 0 },
	{ "/tmp/USB/carto_CAN.bin", { .app = &app_usb }, IMAGE_NAME_IFACE },
	{ "firmware.bin", { .app = &app_usb }, 0 },
	{ "Katapult_USB.bin", { .katapult = &kat_1m }, IMAGE_NAME_IFACE },
	{ "katapult-deployer-usb.bin", { .deployer = &dep_usb }, 0 },
};

static void test_image_name_warnings(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		struct image_info in;
		unsigned got;

		classify(&name_cases[i].img, &in);
		got = image_name_warnings(name_cases[i].file, &in);
		if (got != name_cases[i].want)
			fail_msg("%s: warnings 0x%x, want 0x%x", name_cases[i].file, got,
				 name_cases[i].want);
	}
}

/*
 * images.md §2.2 over the 136 real names of Appendix A, each with the classification the table
 * gives: exactly the mislabels the spec lists are flagged, nothing else.
 */
static const struct { const char *path_end; unsigned want; } release_lies[] = {
	{ "Cartographer_CAN_1000000_12kib_offset.bin", IMAGE_NAME_12KIB },
	{ "Cartographer_CAN_250000_12kib_offset.bin", IMAGE_NAME_12KIB },
	{ "Cartographer_CAN_500000_12kib_offset.bin", IMAGE_NAME_12KIB },
	{ "Cartographer_USB_v3_12kib_offset.bin", IMAGE_NAME_12KIB },
	{ "4.0.0/Full_Cartographer_CAN_1M_4_0_1.bin", IMAGE_NAME_VERSION }, /* reports 4.0.0 */
	{ "v3/Full_Cartographer_USB_v3.bin", IMAGE_NAME_FULL_NO_APP },	     /* the IDM image */
};

static unsigned release_lie(const char *path)
{
	const size_t n = strlen(path);

	for (size_t i = 0; i < sizeof(release_lies) / sizeof(release_lies[0]); i++) {
		const size_t m = strlen(release_lies[i].path_end);

		if (n >= m && !strcmp(path + n - m, release_lies[i].path_end))
			return release_lies[i].want;
	}
	return 0;
}

static void test_image_name_warnings_of_all_releases(void **state)
{
	unsigned flagged = 0;

	(void)state;
	for (size_t i = 0; i < image_known_count(); i++) {
		const struct image_known *k = image_known_at(i);
		struct image_info in;
		unsigned w;

		memset(&in, 0, sizeof(in));
		in.kind = k->kind;
		in.load_known = k->load_address != 0;
		in.load_address = k->load_address;
		in.iface = k->iface;
		in.can_bitrate = k->can_bitrate;
		snprintf(in.mcu, sizeof(in.mcu), "%s", k->mcu);
		snprintf(in.version, sizeof(in.version), "%s", k->version);
		w = image_name_warnings(k->path, &in);
		flagged += w != 0;
		if (w != release_lie(k->path))
			fail_msg("%s: warnings 0x%x, want 0x%x", k->path, w, release_lie(k->path));
	}
	assert_int_equal(flagged, sizeof(release_lies) / sizeof(release_lies[0]));
}

static void test_image_name_warning_strings(void **state)
{
	(void)state;
	for (unsigned i = 0; i < IMAGE_NAME_WARNING_COUNT; i++) {
		assert_string_not_equal(image_name_warning_name(1u << i), "unknown");
		assert_string_not_equal(image_name_warning_text(1u << i), "unknown");
	}
	assert_string_equal(image_name_warning_name(0), "unknown");
	assert_string_equal(image_name_warning_text(1u << IMAGE_NAME_WARNING_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_check_rules),
		cmocka_unit_test(test_image_check_before_entry),
		cmocka_unit_test(test_image_check_uf2_and_unknown_refused_everywhere),
		cmocka_unit_test(test_image_check_force_does_not_lift_r2),
		cmocka_unit_test(test_image_check_dfu_at_other_address_is_r1),
		cmocka_unit_test(test_image_check_known_table),
		cmocka_unit_test(test_image_check_known_lookup_and_r7),
		cmocka_unit_test(test_image_variant_tokens),
		cmocka_unit_test(test_image_check_variant_r8),
		cmocka_unit_test(test_image_check_variant_ht_by_clock),
		cmocka_unit_test(test_image_name_warnings),
		cmocka_unit_test(test_image_name_warnings_of_all_releases),
		cmocka_unit_test(test_image_name_warning_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
