// SPDX-License-Identifier: GPL-3.0-or-later
// src/firmware_source: synthesised firmware trees in both of Cartographer's layouts, a
// firmware_list.csv, and plain files, judged by content.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failure.h"
#include "firmware_source.h"
#include "protocol/err.h"
#include "tools/mkimage/mkimage.h"

static char root[64];

static void mkdirs(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
}

static void put(const char *rel, const uint8_t *data, size_t len)
{
	char path[512];
	FILE *fp;

	mkdirs(rel);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

/* An app; keep (0 = all) bytes of it. Returns its SHA-256 as hex in sha (may be NULL). */
static void put_app(const char *rel, const struct mkimage_app_opts *o, size_t keep, char *sha)
{
	uint8_t *img, d[32];
	size_t len;

	assert_int_equal(mkimage_app(o, &img, &len), 0);
	if (keep)
		len = keep;
	put(rel, img, len);
	fwsource_sha256(img, len, d);
	for (int i = 0; sha && i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", d[i]);
	free(img);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/cf-fwsource-XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const struct catalog_entry *find(const struct fwsource *s, const char *suffix)
{
	size_t n;
	const struct catalog_entry *e = fwsource_entries(s, &n);

	for (size_t i = 0; i < n; i++)
		if (strlen(e[i].path) >= strlen(suffix) &&
		    !strcmp(e[i].path + strlen(e[i].path) - strlen(suffix), suffix))
			return &e[i];
	return NULL;
}

static int add(struct fwsource *s, const char *rel)
{
	char path[512];
	struct cf_failure f;

	cf_failure_clear(&f);
	snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
	return fwsource_add(s, path, &f);
}

/* cartographer-klipper: firmware/v2-v3/{survey/<ver>/[HT/], combined-firmware/<ver>/}. */
static void test_fwsource_walks_klipper_layout(void **state)
{
	struct mkimage_app_opts can510 = { .version = "CARTOGRAPHER 5.1.0" };
	struct mkimage_app_opts usb510 = { .version = "CARTOGRAPHER 5.1.0", .iface = IMAGE_IFACE_USB };
	struct mkimage_app_opts ht = { .version = "Cartographer HT 5.1.0", .mcu = "stm32g431xx",
				       .clock_freq = 150000000, .iface = IMAGE_IFACE_USB };
	struct mkimage_app_opts k1 = { .version = "CARTOGRAPHER K1 5.1.0", .iface = IMAGE_IFACE_USB };
	struct mkimage_full_opts full = { .app = { .version = "CARTOGRAPHER 5.1.0" } };
	struct fwsource *s = fwsource_new();
	const struct catalog_entry *e;
	uint8_t *img;
	size_t len, n;

	(void)state;
	put_app("firmware/v2-v3/survey/5.1.0/Survey_Cartographer_CAN_1000000_8kib_offset.bin",
		&can510, 0, NULL);
	/* Mislabelled: a USB build under a CAN name (images.md §2.2, blob e8dc98812e). */
	put_app("firmware/v2-v3/survey/5.1.0/Survey_Cartographer_CAN_500000_8kib_offset.bin",
		&usb510, 0, NULL);
	put_app("firmware/v2-v3/survey/5.1.0/HT/Survey_Cartographer_USB_8kib_offset.bin", &ht, 0,
		NULL);
	put_app("firmware/v2-v3/survey/5.1.0/Survey_Cartographer_K1_USB_8kib_offset.bin", &k1, 0,
		NULL);
	/* Truncated before its dictionary: firmware-shaped, not firmware. */
	put_app("firmware/v2-v3/survey/5.1.0/Survey_Cartographer_USB_8kib_offset.bin", &usb510, 64,
		NULL);
	assert_int_equal(mkimage_full(&full, &img, &len), 0);
	put("firmware/v2-v3/combined-firmware/5.1.0/Full_Survey_Cartographer_CAN_1M_5_1_0.bin",
	    img, len);
	free(img);
	put("firmware/v2-v3/README.md", (const uint8_t *)"# notes\n", 8);
	put_app("firmware/v2-v3/survey/6.1.0/copy_of_5.1.0.bin", &can510, 0, NULL); /* duplicate */

	assert_int_equal(add(s, ""), 0);
	fwsource_entries(s, &n);

	assert_int_equal(n, 6);
	assert_int_equal(fwsource_get_stats(s)->duplicates, 1);
	assert_int_equal(fwsource_get_stats(s)->other, 2); /* README, truncated file */
	e = find(s, "5.1.0/Survey_Cartographer_CAN_1000000_8kib_offset.bin");
	assert_non_null(e);
	assert_int_equal(e->rejected, 0);
	assert_int_equal(e->known, CATALOG_KNOWN_NO);
	assert_true(e->has_dict);
	assert_int_equal(e->version, catalog_version_number("5.1.0"));
	e = find(s, "Survey_Cartographer_CAN_500000_8kib_offset.bin");
	assert_int_equal(e->rejected, CATALOG_REJECT_NAME);
	assert_true(e->name_warnings & IMAGE_NAME_IFACE);
	e = find(s, "HT/Survey_Cartographer_USB_8kib_offset.bin");
	assert_int_equal(e->rejected, 0);
	assert_int_equal(e->variant, IMAGE_VARIANT_HT);
	assert_int_equal(find(s, "K1_USB_8kib_offset.bin")->variant, IMAGE_VARIANT_K1);
	e = find(s, "5.1.0/Survey_Cartographer_USB_8kib_offset.bin");
	assert_int_equal(e->rejected, CATALOG_REJECT_NOT_FIRMWARE);
	assert_int_equal(find(s, "Full_Survey_Cartographer_CAN_1M_5_1_0.bin")->info->kind,
			 IMAGE_FULL);
	assert_null(find(s, "copy_of_5.1.0.bin"));
	assert_null(find(s, "README.md"));
	fwsource_free(s);
}

/* cartographer_firmware: firmware_list.csv at the top, paths under firmware/. */
static void test_fwsource_reads_list_layout(void **state)
{
	struct mkimage_app_opts v610 = { .version = "CARTOGRAPHER V3 6.1.0" };
	struct mkimage_app_opts lite = { .version = "CARTOGRAPHER V3 6.1.0 lite" };
	char sha[65], csv[2048];
	struct fwsource *s = fwsource_new();
	const struct catalog_entry *e;
	uint8_t *data;
	size_t len;
	struct cf_failure f;

	(void)state;
	put_app("firmware/v2-v3/survey/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin",
		&v610, 0, sha);
	put_app("firmware/v2-v3/survey/6.1.0/CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin",
		&lite, 0, NULL);
	snprintf(csv, sizeof(csv),
		 "filepath,filename,firmware_type,protocol,process,probe_version,firmware_version,"
		 "can_speed,is_lite,min_plugin_version,sha256\n"
		 "v2-v3/survey/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin,x,Cartographer,"
		 "CAN,Update,v3,6.1.0,1000000,No,,%s\n"
		 "v2-v3/survey/6.1.0/CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin,x,Cartographer,"
		 "CAN,Update,v3,6.1.0,500000,Yes,1.6.0,\n"
		 "v2-v3/survey/6.1.0/gone.bin,gone.bin,Cartographer,CAN,Update,v3,6.1.0,1000000,No,,\n",
		 sha);
	put("firmware_list.csv", (const uint8_t *)csv, strlen(csv));

	assert_int_equal(add(s, ""), 0);

	e = find(s, "CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin");
	assert_non_null(e->row);
	assert_int_equal(e->rejected, 0);
	assert_int_equal(e->known, CATALOG_KNOWN_MANIFEST);
	e = find(s, "CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin");
	assert_int_equal(e->rejected, CATALOG_REJECT_ROW);
	assert_int_equal(e->row_mismatch, CATALOG_ROW_BITRATE);
	assert_string_equal(e->row->min_plugin_version, "1.6.0");
	e = find(s, "gone.bin");
	assert_int_equal(e->rejected, CATALOG_REJECT_MISSING);
	assert_null(e->info);
	assert_int_equal(fwsource_get_stats(s)->rows, 3);
	assert_int_equal(fwsource_get_stats(s)->rows_missing, 1);

	e = find(s, "CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin");
	cf_failure_clear(&f);
	assert_int_equal(fwsource_read_entry(e, &data, &len, &f), 0);
	assert_int_equal(len, e->info->size);
	free(data);
	put_app("firmware/v2-v3/survey/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin",
		&v610, 1000, NULL); /* changed after judging */
	assert_int_equal(fwsource_read_entry(e, &data, &len, &f), CF_ERR_IMAGE);
	assert_non_null(strstr(f.detail, "changed"));
	fwsource_free(s);
}

static void test_fwsource_csv_alone_and_plain_file(void **state)
{
	struct mkimage_app_opts o = { .version = "CARTOGRAPHER 5.1.1" };
	struct fwsource *s = fwsource_new();
	const char *csv = "filepath,firmware_version\nplain.bin,5.1.1\n";
	const char *broken = "filepath,firmware_version\nplain.bin,5.1.1\n\"open,1.0.0\n";
	struct cf_failure f;
	char path[512];
	size_t n;

	(void)state;
	put_app("plain.bin", &o, 0, NULL);
	put("list.csv", (const uint8_t *)csv, strlen(csv));
	put("broken.csv", (const uint8_t *)broken, strlen(broken));
	put("notes.txt", (const uint8_t *)"hello", 5);

	assert_int_equal(add(s, "list.csv"), 0);
	assert_int_equal(add(s, "plain.bin"), 0); /* the same bytes: one entry */
	fwsource_entries(s, &n);
	assert_int_equal(n, 1);
	assert_non_null(find(s, "plain.bin")->row);
	assert_int_equal(add(s, "notes.txt"), 0); /* named: listed as no firmware */
	assert_int_equal(find(s, "notes.txt")->rejected, CATALOG_REJECT_NOT_FIRMWARE);

	cf_failure_clear(&f);
	snprintf(path, sizeof(path), "%s/broken.csv", root);
	assert_int_equal(fwsource_add(s, path, &f), CF_ERR_IMAGE);
	assert_non_null(strstr(f.detail, "line 3"));
	snprintf(path, sizeof(path), "%s/nothing-here", root);
	assert_int_equal(fwsource_add(s, path, &f), CF_ERR_NOINPUT);
	assert_string_equal(f.stage, "firmware source");
	fwsource_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fwsource_walks_klipper_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwsource_reads_list_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwsource_csv_alone_and_plain_file, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
