// SPDX-License-Identifier: GPL-3.0-or-later
// tools/mkimage: the bytes it writes are the structures images.md describes, checked byte by byte.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "protocol/bytes.h"
#include "protocol/err.h"
#include "tools/mkimage/mkimage.h"

/* images.md §3.5: the shipped device descriptors. */
static const uint8_t katapult_usb_desc[18] = { 0x12, 0x01, 0x00, 0x02, 0x02, 0x00, 0x00, 0x10, 0x50,
					       0x1d, 0x77, 0x61, 0x00, 0x01, 0x01, 0x02, 0x03, 0x01 };
static const uint8_t app_usb_desc[18] = { 0x12, 0x01, 0x00, 0x02, 0x02, 0x00, 0x00, 0x10, 0x50,
					  0x1d, 0x4e, 0x61, 0x00, 0x01, 0x01, 0x02, 0x03, 0x01 };
/* "Cartographer" as a USB string descriptor: bLength 26, type 3, UTF-16LE. */
static const uint8_t cartographer_str[26] = { 26, 3, 'C', 0, 'a', 0, 'r', 0, 't', 0, 'o', 0, 'g', 0,
					      'r', 0, 'a', 0, 'p', 0, 'h', 0, 'e', 0, 'r', 0 };

static const uint8_t *find(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	return memmem(hay, len, needle, n);
}

static unsigned count_words(const uint8_t *p, size_t len, uint32_t w)
{
	unsigned n = 0;

	for (size_t o = 0; o + 4 <= len; o += 4)
		n += cf_get_le32(p + o) == w;
	return n;
}

static void test_mkimage_katapult_f042_layout(void **state)
{
	struct mkimage_katapult_opts o = { .pad_to = 8192 };
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_katapult(&o, &img, &len), 0);

	assert_int_equal(len, 8192);
	assert_int_equal(cf_get_le32(img), 0x200017F8);     /* §2.3 */
	assert_int_equal(cf_get_le32(img + 4), 0x080000C9); /* §2.3 */
	assert_memory_equal(img + 0xC0, "CanBoot!", 8);     /* §3.2: reset - 9 */
	/* §5: 1 Mbit/s = movs r0, #0x30 then a 32-bit BL. */
	assert_int_equal(img[0x6CC], 0x30);
	assert_int_equal(img[0x6CD], 0x20);
	assert_int_equal(img[0x6CF] & 0xF8, 0xF0);
	assert_int_equal(img[0x6D1] & 0xF8, 0xF8);
	assert_non_null(find(img, 4644, "stm32f042x6", 12));
	assert_int_equal(count_words(img, 4644, 0x08002000), 2); /* §3.4 */
	assert_null(find(img, len, katapult_usb_desc, 4));
	for (size_t i = 4644; i < len; i++)
		if (img[i] != 0xFF)
			fail_msg("padding byte 0x%zx is 0x%02x", i, img[i]);
	assert_int_not_equal(img[4643], 0xFF);
	free(img);
}

static void test_mkimage_katapult_bitrate_immediates(void **state)
{
	/* §5: bit_clocks = 48 MHz / bitrate as the movs immediate. */
	static const struct { uint32_t bitrate; uint8_t imm; } rows[] = {
		{ 1000000, 0x30 }, { 500000, 0x60 }, { 250000, 0xC0 },
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct mkimage_katapult_opts o = { .bitrate = rows[i].bitrate };
		unsigned hits = 0;
		uint8_t *img;
		size_t len;

		assert_int_equal(mkimage_katapult(&o, &img, &len), 0);
		for (size_t p = 0; p + 6 <= len; p += 2)
			if (img[p + 1] == 0x20 && (img[p + 3] & 0xF8) == 0xF0 &&
			    (img[p + 5] & 0xF8) == 0xF8 &&
			    (img[p] == 0x30 || img[p] == 0x60 || img[p] == 0xC0)) {
				assert_int_equal(img[p], rows[i].imm);
				hits++;
			}
		assert_int_equal(hits, 1);
		free(img);
	}
}

static void test_mkimage_katapult_usb_descriptor(void **state)
{
	struct mkimage_katapult_opts o = { .iface = IMAGE_IFACE_USB };
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_katapult(&o, &img, &len), 0);
	assert_non_null(find(img, len, katapult_usb_desc, sizeof(katapult_usb_desc)));
	assert_non_null(find(img, len, "k\0a\0t\0a\0p\0u\0l\0t\0", 16));
	free(img);
}

static void test_mkimage_katapult_g431_vectors(void **state)
{
	struct mkimage_katapult_opts o = { .mcu = "stm32g431xx" };
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_katapult(&o, &img, &len), 0);
	assert_int_equal(cf_get_le32(img), 0x20007FF8);
	assert_int_equal(cf_get_le32(img + 4), 0x080000A1);
	assert_memory_equal(img + 0x98, "CanBoot!", 8);
	free(img);
}

static void test_mkimage_app_layout(void **state)
{
	struct mkimage_app_opts o = { .iface = IMAGE_IFACE_USB };
	const uint8_t *z;
	uint8_t *img;
	size_t len, dict_off;

	(void)state;
	assert_int_equal(mkimage_app(&o, &img, &len), 0);

	assert_int_equal(cf_get_le32(img), 0x20001800);
	assert_int_equal(cf_get_le32(img + 4), 0x080021B9);
	z = find(img, len, "\x78\xda", 2); /* §2.3: zlib header 78 da */
	assert_non_null(z);
	dict_off = (size_t)(z - img);
	/* §3.4: base once, base + dict_off at least once. */
	assert_int_equal(count_words(img, len, 0x08002000), 1);
	assert_true(count_words(img, len, 0x08002000 + (uint32_t)dict_off) >= 1);
	assert_non_null(find(img, len, app_usb_desc, sizeof(app_usb_desc)));
	assert_non_null(find(img, len, cartographer_str, sizeof(cartographer_str)));
	free(img);
}

static void test_mkimage_app_can_has_no_usb_descriptor(void **state)
{
	struct mkimage_app_opts o = { .bitrate = 500000 };
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_app(&o, &img, &len), 0);
	assert_null(find(img, len, "\x12\x01\x00\x02", 4));
	free(img);
}

static void test_mkimage_dictionary_contents(void **state)
{
	struct mkimage_app_opts o = { .bitrate = 250000, .version = "CARTOGRAPHER 5.1.0",
				      .app_name = "Cartographer" };
	uint8_t *z, out[65536];
	uLongf out_len = sizeof(out);
	size_t zlen;
	json_t *root, *config;

	(void)state;
	assert_int_equal(mkimage_dictionary(&o, &z, &zlen), 0);
	assert_int_equal(z[0], 0x78);
	assert_int_equal(z[1], 0xDA);
	assert_int_equal(uncompress(out, &out_len, z, zlen), Z_OK);
	free(z);
	root = json_loadb((const char *)out, out_len, 0, NULL);
	assert_non_null(root);
	config = json_object_get(root, "config");

	assert_string_equal(json_string_value(json_object_get(root, "version")),
			    "CARTOGRAPHER 5.1.0");
	assert_string_equal(json_string_value(json_object_get(root, "app")), "Cartographer");
	assert_string_equal(json_string_value(json_object_get(config, "MCU")), "stm32f042x6");
	assert_int_equal(json_integer_value(json_object_get(config, "CLOCK_FREQ")), 48000000);
	assert_int_equal(json_integer_value(json_object_get(config, "CANBUS_FREQUENCY")), 250000);
	assert_string_equal(json_string_value(json_object_get(config, "RESERVE_PINS_CAN")),
			    "PA11,PA12");
	assert_null(json_object_get(config, "RESERVE_PINS_USB"));
	/* katapult.md §8.2: the two hard-coded message ids. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "commands"),
							    "identify offset=%u count=%c")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "responses"),
							    "identify_response offset=%u data=%.*s")),
			 0);
	assert_non_null(json_object_get(json_object_get(root, "commands"), "get_canbus_id"));
	json_decref(root);
}

static void test_mkimage_dictionary_json_is_sorted_compact(void **state)
{
	struct mkimage_app_opts o = { .iface = IMAGE_IFACE_USB };
	char *json;

	(void)state;
	assert_int_equal(mkimage_dictionary_json(&o, &json), 0);
	/* Klipper: separators (',', ':') and sort_keys, so "build_versions" comes first. */
	assert_int_equal(strncmp(json, "{\"build_versions\":", 18), 0);
	assert_null(strstr(json, "\": "));
	assert_null(strstr(json, ", \""));
	assert_non_null(strstr(json, "\"RESERVE_PINS_USB\":\"PA11,PA12\""));
	assert_null(strstr(json, "CANBUS_FREQUENCY"));
	free(json);
}

static void test_mkimage_full_is_katapult_plus_app(void **state)
{
	struct mkimage_full_opts o = { .app.bitrate = 1000000 };
	struct mkimage_katapult_opts k = { 0 };
	uint8_t *img, *kat, *app;
	size_t len, klen, alen;

	(void)state;
	assert_int_equal(mkimage_full(&o, &img, &len), 0);
	assert_int_equal(mkimage_katapult(&k, &kat, &klen), 0);
	assert_int_equal(mkimage_app(&o.app, &app, &alen), 0);

	/* §2.3: Katapult, 0xFF up to 0x2000, then the standalone app byte for byte. */
	assert_int_equal(len, 0x2000 + alen);
	assert_memory_equal(img, kat, klen);
	for (size_t i = klen; i < 0x2000; i++)
		if (img[i] != 0xFF)
			fail_msg("gap byte 0x%zx is 0x%02x", i, img[i]);
	assert_memory_equal(img + 0x2000, app, alen);
	free(img);
	free(kat);
	free(app);
}

static void test_mkimage_full_gap_and_missing_vectors(void **state)
{
	struct mkimage_full_opts o = { .gap_not_ff = true, .no_app_vectors = true };
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_full(&o, &img, &len), 0);
	assert_int_equal(cf_get_le32(img + 0x2000), 0xFFFFFFFF);
	assert_int_not_equal(img[0x1FF0] & img[0x1FF1] & img[0x1FF2] & img[0x1FF3], 0xFF);
	free(img);
}

static void test_mkimage_deployer_layout(void **state)
{
	struct mkimage_deployer_opts o = { .katapult.iface = IMAGE_IFACE_USB };
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_deployer(&o, &img, &len), 0);

	/* katapult.md §4: own vectors, embedded Katapult at 0x538 with its own vectors. */
	assert_int_equal(cf_get_le32(img), 0x20001800);
	assert_int_equal(cf_get_le32(img + 4), 0x08002071);
	assert_int_equal(cf_get_le32(img + 0x538), 0x200017F8);
	assert_int_equal(cf_get_le32(img + 0x538 + 4), 0x080000C9);
	assert_memory_equal(img + 0x538 + 0xC0, "CanBoot!", 8);
	/* images.md §3.4: three times in all, once outside the embedded Katapult. */
	assert_int_equal(count_words(img, 0x538, 0x08002000), 1);
	assert_int_equal(count_words(img, len, 0x08002000), 3);
	assert_non_null(find(img + 0x538, len - 0x538, katapult_usb_desc, 18));
	assert_null(find(img, len, "\x78\xda", 2));
	free(img);
}

static void test_mkimage_rejects_impossible_options(void **state)
{
	struct mkimage_app_opts small = { .size = 1024 };
	struct mkimage_katapult_opts rate = { .bitrate = 125000 };
	struct mkimage_katapult_opts tiny = { .code_len = 512 };
	struct mkimage_deployer_opts odd = { .embed_offset = 0x539 };
	uint8_t *img = NULL;
	size_t len;

	(void)state;
	assert_int_equal(mkimage_app(&small, &img, &len), CF_ERR_NOSPACE);
	assert_int_equal(mkimage_katapult(&rate, &img, &len), CF_ERR_USAGE);
	assert_int_equal(mkimage_katapult(&tiny, &img, &len), CF_ERR_USAGE);
	assert_int_equal(mkimage_deployer(&odd, &img, &len), CF_ERR_USAGE);
	assert_null(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkimage_katapult_f042_layout),
		cmocka_unit_test(test_mkimage_katapult_bitrate_immediates),
		cmocka_unit_test(test_mkimage_katapult_usb_descriptor),
		cmocka_unit_test(test_mkimage_katapult_g431_vectors),
		cmocka_unit_test(test_mkimage_app_layout),
		cmocka_unit_test(test_mkimage_app_can_has_no_usb_descriptor),
		cmocka_unit_test(test_mkimage_dictionary_contents),
		cmocka_unit_test(test_mkimage_dictionary_json_is_sorted_compact),
		cmocka_unit_test(test_mkimage_full_is_katapult_plus_app),
		cmocka_unit_test(test_mkimage_full_gap_and_missing_vectors),
		cmocka_unit_test(test_mkimage_deployer_layout),
		cmocka_unit_test(test_mkimage_rejects_impossible_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
