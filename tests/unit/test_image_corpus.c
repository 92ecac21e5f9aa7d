// SPDX-License-Identifier: GPL-3.0-or-later
// The real release images of ../shared/firmware against every field of their expected.json.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nettle/sha2.h>

#include "inspect_json.h"
#include "protocol/err.h"
#include "protocol/image.h"

/* README.md of the corpus: optional; the binary runs from the repository root. */
#define DEFAULT_DIR "../shared/firmware"

static uint8_t scratch[IMAGE_SCRATCH_SIZE];

struct corpus {
	const char *dir;
	json_t *expected; /* NULL when the folder is absent */
};

static struct corpus corpus;

static const char *corpus_dir(void)
{
	const char *env = getenv("CARTOFLASH_FIRMWARE_DIR");

	return env && env[0] ? env : DEFAULT_DIR;
}

static int setup(void **state)
{
	char path[4096];

	(void)state;
	corpus.dir = corpus_dir();
	snprintf(path, sizeof(path), "%s/expected.json", corpus.dir);
	corpus.expected = json_load_file(path, 0, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(corpus.expected);
	return 0;
}

static void need_corpus(void)
{
	if (!corpus.expected) {
		print_message("corpus %s/expected.json absent: set CARTOFLASH_FIRMWARE_DIR\n",
			      corpus.dir);
		skip();
	}
}

static uint8_t *load(const char *file, size_t *len)
{
	char path[4096];
	FILE *f;
	uint8_t *buf = malloc(IMAGE_MAX_SIZE);

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/%s", corpus.dir, file);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open", path);
	*len = fread(buf, 1, IMAGE_MAX_SIZE, f);
	fclose(f);
	return buf;
}

static const json_t *entry(const char *file)
{
	size_t i;
	const json_t *e;

	json_array_foreach(json_object_get(corpus.expected, "images"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "file")), file))
			return e;
	fail_msg("%s: not in expected.json", file);
	return NULL;
}

/* ---- comparisons that name the field ---- */

static void want_str(const char *file, const char *field, const json_t *want, const char *got)
{
	const char *w = json_is_string(want) ? json_string_value(want) : "";

	if (!json_is_string(want) && !json_is_null(want))
		fail_msg("%s: %s: expected.json value is neither string nor null", file, field);
	if (strcmp(w, got))
		fail_msg("%s: %s is '%s', expected '%s'", file, field, got, w);
}

static void want_int(const char *file, const char *field, const json_t *want, uint64_t got)
{
	const uint64_t w = json_is_integer(want) ? (uint64_t)json_integer_value(want) : 0;

	if (!json_is_integer(want) && !json_is_null(want))
		fail_msg("%s: %s: expected.json value is neither integer nor null", file, field);
	if (w != got)
		fail_msg("%s: %s is %llu, expected %llu", file, field, (unsigned long long)got,
			 (unsigned long long)w);
}

static void want_hex(const char *file, const char *field, const json_t *want, uint32_t got)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%08X", got);
	want_str(file, field, want, buf);
}

static void want_iface(const char *file, const char *field, const json_t *want,
		       enum image_iface got)
{
	want_str(file, field, want, got == IMAGE_IFACE_UNKNOWN ? "" : image_iface_name(got));
}

static void want_vectors(const char *file, const char *field, const json_t *v,
			 const struct image_vectors *got)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.sp", field);
	want_hex(file, name, json_object_get(v, "sp"), got->sp);
	snprintf(name, sizeof(name), "%s.reset", field);
	want_hex(file, name, json_object_get(v, "reset"), got->reset);
}

static void want_usb_id(const char *file, const json_t *want, uint16_t vid, uint16_t pid)
{
	char buf[16] = "";

	if (vid || pid)
		snprintf(buf, sizeof(buf), "%04x:%04x", vid, pid);
	want_str(file, "usb_id", want, buf);
}

static void check_katapult_part(const char *file, const json_t *k,
				const struct image_katapult_part *got)
{
	assert_true(got->present);
	want_int(file, "katapult.offset", json_object_get(k, "offset"), got->offset);
	want_int(file, "katapult.length", json_object_get(k, "length"), got->len);
	want_str(file, "katapult.mcu", json_object_get(k, "mcu"), got->mcu);
	want_iface(file, "katapult.interface", json_object_get(k, "interface"), got->iface);
	want_int(file, "katapult.can_bitrate", json_object_get(k, "can_bitrate"),
		 got->can_bitrate);
	want_str(file, "katapult.version", json_object_get(k, "version"), got->version);
	if (json_object_get(k, "vectors"))
		want_vectors(file, "katapult.vectors", json_object_get(k, "vectors"),
			     &got->vectors);
}

static void check_dictionary(const char *file, const json_t *d, const struct image_app_part *a)
{
	assert_true(a->has_dict);
	want_int(file, "dictionary.offset", json_object_get(d, "offset"), a->dict_offset);
	want_int(file, "dictionary.clock_freq", json_object_get(d, "clock_freq"), a->clock_freq);
	want_str(file, "dictionary.app", json_object_get(d, "app"), a->app_name);
	want_str(file, "dictionary.initial_pins", json_object_get(d, "initial_pins"),
		 a->initial_pins);
}

static void check_app_part(const char *file, const json_t *p, const struct image_app_part *a)
{
	assert_true(a->present);
	want_int(file, "app_part.offset", json_object_get(p, "offset"), a->offset);
	want_int(file, "app_part.length", json_object_get(p, "length"), a->len);
	want_hex(file, "app_part.link_base", json_object_get(p, "link_base"), a->link_base);
	want_vectors(file, "app_part.vectors", json_object_get(p, "vectors"), &a->vectors);
	want_int(file, "app_part.dictionary_offset_in_app_part",
		 json_object_get(p, "dictionary_offset_in_app_part"), a->dict_offset);
	want_int(file, "app_part.clock_freq", json_object_get(p, "clock_freq"), a->clock_freq);
}

static void check_transfer(const char *file, const json_t *t, const uint8_t *img, size_t len)
{
	size_t blocks, last;
	char sha1[41];

	inspect_katapult_transfer(img, len, &blocks, &last, sha1);
	want_int(file, "katapult_transfer.block_size", json_object_get(t, "block_size"), 64);
	want_int(file, "katapult_transfer.blocks", json_object_get(t, "blocks"), blocks);
	want_int(file, "katapult_transfer.last_block_data_bytes",
		 json_object_get(t, "last_block_data_bytes"), last);
	want_str(file, "katapult_transfer.sha1", json_object_get(t, "sha1_of_0xff_padded_blocks"),
		 sha1);
}

static void check_integrity(const char *file, const json_t *e, const uint8_t *img, size_t len)
{
	struct sha256_ctx sha;
	uint8_t digest[32];
	char hex[65];

	/* Size and hash first, so a damaged copy fails as such, not as a classifier bug. */
	want_int(file, "size", json_object_get(e, "size"), len);
	sha256_init(&sha);
	sha256_update(&sha, len, img);
	sha256_digest(&sha, sizeof(digest), digest);
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	want_str(file, "sha256 (damaged copy?)", json_object_get(e, "sha256"), hex);
}

static void check_summary(const char *file, const json_t *e, const struct image_info *in)
{
	const json_t *src = json_object_get(e, "can_bitrate_source");

	want_str(file, "kind", json_object_get(e, "kind"), image_kind_name(in->kind));
	want_hex(file, "load_address", json_object_get(e, "load_address"), in->load_address);
	want_str(file, "mcu", json_object_get(e, "mcu"), in->mcu);
	want_iface(file, "interface", json_object_get(e, "interface"), in->iface);
	want_int(file, "can_bitrate", json_object_get(e, "can_bitrate"), in->can_bitrate);
	want_str(file, "can_bitrate_source", src,
		 in->bitrate_source == IMAGE_BITRATE_NONE
			 ? ""
			 : image_bitrate_source_name(in->bitrate_source));
	want_str(file, "version", json_object_get(e, "version"), in->version);
	if (json_is_true(json_object_get(e, "fits")) != in->fits)
		fail_msg("%s: fits is %d", file, in->fits);
	want_int(file, "flash_size", json_object_get(e, "flash_size"), in->flash_size);
	want_int(file, "flash_end_offset", json_object_get(e, "flash_end_offset"),
		 in->flash_end_offset);
	want_vectors(file, "vectors", json_object_get(e, "vectors"), &in->vectors);
}

static void check_details(const char *file, const json_t *e, const uint8_t *img,
			  const struct image_info *in)
{
	const json_t *v;

	if ((v = json_object_get(e, "dictionary")))
		check_dictionary(file, v, &in->app);
	if ((v = json_object_get(e, "usb_id")))
		want_usb_id(file, v, in->kind == IMAGE_APP ? in->app.usb_vid : in->katapult.usb_vid,
			    in->kind == IMAGE_APP ? in->app.usb_pid : in->katapult.usb_pid);
	if ((v = json_object_get(e, "katapult_part")))
		check_katapult_part(file, v, &in->katapult);
	if ((v = json_object_get(e, "embedded_katapult")))
		check_katapult_part(file, v, &in->katapult);
	if ((v = json_object_get(e, "padding_to_0x2000_all_0xff")) &&
	    json_is_true(v) != in->gap_all_ff)
		fail_msg("%s: padding_to_0x2000_all_0xff is %d", file, in->gap_all_ff);
	if ((v = json_object_get(e, "app_part")))
		check_app_part(file, v, &in->app);
	if ((v = json_object_get(e, "katapult_transfer")))
		check_transfer(file, v, img, in->size);
}

static void check_known(const char *file, const json_t *e, const struct image_info *in)
{
	const json_t *src = json_object_get(e, "source");
	const struct image_known *k = image_known_build(in->sha256);
	char path[256];

	if (!k)
		fail_msg("%s: not in the Appendix A table", file);
	assert_int_equal(k->size, in->size);
	assert_int_equal(k->kind, in->kind);
	assert_string_equal(k->version, in->version);
	assert_string_equal(k->mcu, in->mcu);
	assert_int_equal(k->iface, in->iface);
	assert_int_equal(k->can_bitrate, in->can_bitrate);
	assert_int_equal(k->load_address, in->load_address);
	assert_int_equal(k->repo, 'k');
	snprintf(path, sizeof(path), "firmware/%s", k->path);
	want_str(file, "source.path", json_object_get(src, "path"), path);
	assert_int_equal(image_check_known(in, 0, NULL), 0);
}

/* One test per file: state is the file name. */
static void test_image_corpus_file(void **state)
{
	const char *file = *state;
	const json_t *e;
	struct image_info in;
	uint8_t *img;
	size_t len;

	need_corpus();
	e = entry(file);
	img = load(file, &len);
	check_integrity(file, e, img, len);

	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), &in), 0);

	check_summary(file, e, &in);
	check_details(file, e, img, &in);
	/* Every corpus file is an Appendix A release build at its recorded path (R7). */
	check_known(file, e, &in);
	/* The corpus names agree with the content (README table). */
	assert_int_equal(image_name_warnings(file, &in), 0);
	free(img);
}

static void test_image_corpus_lists_exactly_these_files(void **state)
{
	const json_t *images;

	(void)state;
	need_corpus();
	images = json_object_get(corpus.expected, "images");
	assert_true(json_is_array(images));
	assert_int_equal(json_array_size(images), 10);
}

/* ---- refusal rules with real data (corpus README) ---- */

static void classify_file(const char *file, struct image_info *in)
{
	size_t len;
	uint8_t *img = load(file, &len);

	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), in), 0);
	free(img);
}

static void test_image_corpus_refusals(void **state)
{
	static const struct image_target can1m = {
		.path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
		.iface = IMAGE_IFACE_CAN, .bus_bitrate = 1000000,
	};
	static const struct image_target dfu = { .path = IMAGE_PATH_DFU, .flash_size = 32768 };
	static const struct { const char *file; const struct image_target *t; const char *rule; }
	rows[] = {
		{ "Full_Survey_Cartographer_CAN_1M_5_1_0.bin", &can1m, "R1" },
		{ "Survey_Cartographer_CAN_1000000_8kib_offset_5.1.0.bin", &dfu, "R1" },
		{ "Survey_Cartographer_CAN_1000000_8kib_offset_HT_5.1.0.bin", &can1m, "R2" },
		{ "Survey_Cartographer_CAN_250000_8kib_offset.bin", &can1m, "R3" },
		{ "Survey_Cartographer_USB_8kib_offset.bin", &can1m, "R4" },
		{ "katapult-deployer-usb.bin", &can1m, "R4" },
		{ "Survey_Cartographer_CAN_1000000_8kib_offset_5.1.0.bin", &can1m, NULL },
		{ "katapult-deployer-1m.bin", &can1m, NULL },
		{ "Katapult_1m.bin", &dfu, NULL },
		{ "Full_Survey_Cartographer_USB_5_1_0.bin", &dfu, NULL },
	};

	(void)state;
	need_corpus();
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct image_info in;
		struct image_refusal why;
		int rc;

		classify_file(rows[i].file, &in);
		rc = image_check_against(&in, rows[i].t, 0, &why);
		if (!rows[i].rule && rc)
			fail_msg("%s: refused by %s", rows[i].file, why.rule);
		if (rows[i].rule && (rc != CF_ERR_REFUSED || strcmp(why.rule, rows[i].rule)))
			fail_msg("%s: rule '%s', want %s", rows[i].file, why.rule, rows[i].rule);
	}
}

#define FILE_TEST(name) \
	{ "test_image_corpus_" name, test_image_corpus_file, NULL, NULL, (void *)(name) }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_corpus_lists_exactly_these_files),
		FILE_TEST("Survey_Cartographer_CAN_1000000_8kib_offset_5.1.0.bin"),
		FILE_TEST("Survey_Cartographer_CAN_250000_8kib_offset.bin"),
		FILE_TEST("Survey_Cartographer_USB_8kib_offset.bin"),
		FILE_TEST("Survey_Cartographer_CAN_1000000_8kib_offset_HT_5.1.0.bin"),
		FILE_TEST("Katapult_1m.bin"),
		FILE_TEST("Katapult_USB.bin"),
		FILE_TEST("katapult-deployer-1m.bin"),
		FILE_TEST("katapult-deployer-usb.bin"),
		FILE_TEST("Full_Survey_Cartographer_CAN_1M_5_1_0.bin"),
		FILE_TEST("Full_Survey_Cartographer_USB_5_1_0.bin"),
		cmocka_unit_test(test_image_corpus_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
