// SPDX-License-Identifier: GPL-3.0-or-later
// protocol/catalog: firmware_list.csv rows, rows and paths against content, versions, variants
// and the choice of a build per probe, on tables of synthesised facts.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "protocol/catalog.h"
#include "protocol/err.h"

#include "image_fixture.h"

/* The header of Cartographer's firmware_list.csv (ecosystem.md §1), and with our sha256. */
static const char header[] = "filepath,filename,firmware_type,protocol,process,probe_version,"
			     "firmware_version,can_speed,is_lite,min_plugin_version\r\n";

static void parse_row(const char *hdr, const char *line, struct catalog_row *row)
{
	struct catalog_csv csv;

	assert_int_equal(catalog_csv_header(&csv, hdr, strlen(hdr)), 0);
	assert_int_equal(catalog_csv_row(&csv, line, strlen(line), row), 1);
}

static void test_catalog_csv_reads_cartographer_columns(void **state)
{
	struct catalog_row row;

	(void)state;
	parse_row(header,
		  "v4/firmware/6.2.0/X_CAN_1M_lite.bin,X_CAN_1M_lite.bin,Cartographer,CAN,Update,"
		  "v4,6.2.0,1000000,Yes,1.6.0\r\n",
		  &row);

	assert_string_equal(row.filepath, "v4/firmware/6.2.0/X_CAN_1M_lite.bin");
	assert_string_equal(row.firmware_type, "Cartographer");
	assert_string_equal(row.protocol, "CAN");
	assert_string_equal(row.process, "Update");
	assert_string_equal(row.probe_version, "v4");
	assert_string_equal(row.firmware_version, "6.2.0");
	assert_int_equal(row.can_speed, 1000000);
	assert_int_equal(row.is_lite, 1);
	assert_string_equal(row.min_plugin_version, "1.6.0");
	assert_string_equal(row.sha256, "");
}

static void test_catalog_csv_quotes_order_and_extension(void **state)
{
	struct catalog_row row;
	const char *hdr = "\xef\xbb\xbfsha256,firmware_version,filepath,extra";

	(void)state;
	parse_row(hdr,
		  "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef, 5.1.0 ,"
		  "\"archive/for Klipper, old/\"\"x\"\".bin\",ignored",
		  &row);

	assert_string_equal(row.filepath, "archive/for Klipper, old/\"x\".bin");
	assert_string_equal(row.firmware_version, "5.1.0");
	assert_string_equal(row.sha256,
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_int_equal(row.is_lite, -1);
}

static void test_catalog_csv_refuses_malformed(void **state)
{
	static const char *bad[] = {
		"a.bin,a.bin,Cartographer,CAN,Update,v3,6.1.0,fast,No,",   /* can_speed */
		"\"a.bin,a.bin,Cartographer,CAN,Update,v3,6.1.0,,No,",	   /* open quote */
		",a.bin,Cartographer,CAN,Update,v3,6.1.0,,No,",		   /* no filepath */
		"a.bin,a.bin,Cartographer,CAN,Update,v3,6.1.0.0.0.0.0.0.0.0.0.0.0.1,,No,", /* long */
	};
	struct catalog_csv csv;
	struct catalog_row row;

	(void)state;
	assert_int_equal(catalog_csv_header(&csv, header, strlen(header)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (catalog_csv_row(&csv, bad[i], strlen(bad[i]), &row) != CF_ERR_IMAGE)
			fail_msg("row %zu accepted: %s", i, bad[i]);
	assert_int_equal(catalog_csv_row(&csv, "\r\n", 2, &row), 0);
	assert_int_equal(catalog_csv_header(&csv, "name,size", 9), CF_ERR_IMAGE);
}

static void test_catalog_csv_refuses_bad_sha(void **state)
{
	struct catalog_csv csv;
	struct catalog_row row;
	const char *hdr = "filepath,firmware_version,sha256";

	(void)state;
	assert_int_equal(catalog_csv_header(&csv, hdr, strlen(hdr)), 0);
	assert_int_equal(catalog_csv_row(&csv, "a.bin,1.0.0,abc", 15, &row), CF_ERR_IMAGE);
}

/* ---- versions and variants ---- */

static void test_catalog_version_numbers(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "CARTOGRAPHER V3 6.1.0 lite", "6.1.0" },
		{ "Cartographer 4.0.0", "4.0.0" },
		{ "CARTOGRAPHER K1 5.1.0", "5.1.0" },
		{ "CARTOGRAPHER v4 6.2.0", "6.2.0" },
		{ "CARTOGRAPHER V3", "" },
		{ "IDM 2.0.0", "2.0.0" },
		{ "v0.0.1-104-gfcb2f84-dirty", "0.0.1" },
		{ "10.20.30", "10.20.30" },
		{ "1.2", "" },
		{ "", "" },
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		catalog_version_format(catalog_version_number(cases[i].text), out, sizeof(out));
		if (strcmp(out, cases[i].want))
			fail_msg("'%s' -> '%s', want '%s'", cases[i].text, out, cases[i].want);
	}
	assert_true(catalog_version_number("6.1.0") > catalog_version_number("5.10.3"));
	assert_true(catalog_version_number("5.1.10") > catalog_version_number("5.1.9"));
}

static void test_catalog_variant_from_facts(void **state)
{
	static const struct {
		const char *version, *mcu;
		uint32_t clock;
		const char *want;
	} cases[] = {
		{ "CARTOGRAPHER 5.1.0", "stm32f042x6", 48000000, "full" },
		{ "CARTOGRAPHER K1 5.1.0", "stm32f042x6", 48000000, "k1" },
		{ "CARTOGRAPHER 5.0.0 K1", "stm32f042x6", 0, "k1" },
		{ "CARTOGRAPHER V3 6.1.0 lite", "stm32f042x6", 48000000, "lite" },
		{ "Cartographer V4 6.0.0 Lite", "stm32g431xx", 170000000, "lite" },
		/* images.md §1: the same version string at 150 MHz (HT) and 170 MHz (v4 5.1.0). */
		{ "Cartographer HT 5.1.0", "stm32g431xx", 150000000, "ht" },
		{ "Cartographer HT 5.1.0", "stm32g431xx", 170000000, "full" },
		{ "Cartographer HT 5.1.0", "stm32g431xx", 0, "ht" },
		{ "CARTOGRAPHER v4 6.2.0", "stm32g431xx", 150000000, "ht" },
		{ "IDM 2.0.0", "stm32f042x6", 48000000, "idm" },
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		catalog_variant_name(catalog_variant(cases[i].version, cases[i].mcu, cases[i].clock),
				     out, sizeof(out));
		if (strcmp(out, cases[i].want))
			fail_msg("row %zu: %s @%u -> %s, want %s", i, cases[i].version,
				 (unsigned)cases[i].clock, out, cases[i].want);
	}
}

static void test_catalog_variant_parse_round_trip(void **state)
{
	static const char *good[] = { "full", "lite", "k1", "ht", "idm", "ht+lite" };
	static const char *bad[] = { "", "Lite", "k2", "lite+", "lite+lite", "+k1" };
	unsigned v;
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(catalog_variant_parse(good[i], &v));
		catalog_variant_name(v, out, sizeof(out));
		assert_string_equal(out, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (catalog_variant_parse(bad[i], &v))
			fail_msg("'%s' accepted", bad[i]);
}

/* ---- rows and paths against content ---- */

static void test_catalog_row_check_table(void **state)
{
	struct mkimage_app_opts o = { .version = "CARTOGRAPHER V3 6.1.0", .bitrate = 1000000 };
	static const struct {
		const char *line;
		unsigned want;
	} cases[] = {
		{ "a.bin,a.bin,Cartographer,CAN,Update,v3,6.1.0,1000000,No,", 0 },
		{ "a.bin,a.bin,Cartographer + Katapult,CAN,DFU,v3,6.1.0,1000000,No,",
		  CATALOG_ROW_KIND },
		{ "a.bin,a.bin,Cartographer,USB,Update,v3,6.1.0,,No,", CATALOG_ROW_IFACE },
		{ "a.bin,a.bin,Cartographer,CAN,Update,v3,6.1.0,500000,No,", CATALOG_ROW_BITRATE },
		{ "a.bin,a.bin,Cartographer,CAN,Update,v4,6.1.0,1000000,No,", CATALOG_ROW_MCU },
		{ "a.bin,a.bin,Cartographer,CAN,Update,v3,6.2.0,1000000,No,", CATALOG_ROW_VERSION },
		{ "a.bin,a.bin,Cartographer,CAN,Update,v3,6.1.0,1000000,Yes,", CATALOG_ROW_VARIANT },
		{ "a.bin,a.bin,,,,,6.1.0,,,", 0 },
	};
	struct image_info in;
	struct catalog_row row;

	(void)state;
	assert_int_equal(app(&o, &in), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got;

		parse_row(header, cases[i].line, &row);
		got = catalog_row_check(&row, &in);
		if (got != cases[i].want)
			fail_msg("row %zu: mismatch 0x%x, want 0x%x", i, got, cases[i].want);
	}
}

static void test_catalog_row_k1_is_lite_and_sha(void **state)
{
	struct mkimage_app_opts o = { .version = "CARTOGRAPHER K1 5.1.0", .iface = IMAGE_IFACE_USB };
	const char *hdr = "filepath,protocol,firmware_version,is_lite,sha256";
	struct image_info in;
	struct catalog_row row;
	char line[160], hex[65], claim[80];

	(void)state;
	assert_int_equal(app(&o, &in), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", in.sha256[i]);
	/* Cartographer's list flags K1 builds is_lite=Yes. */
	snprintf(line, sizeof(line), "k1.bin,USB,5.1.0,Yes,%s", hex);
	parse_row(hdr, line, &row);
	assert_int_equal(catalog_row_check(&row, &in), 0);

	hex[0] = hex[0] == '0' ? '1' : '0';
	snprintf(line, sizeof(line), "k1.bin,USB,5.1.0,No,%s", hex);
	parse_row(hdr, line, &row);
	assert_int_equal(catalog_row_check(&row, &in), CATALOG_ROW_VARIANT | CATALOG_ROW_SHA256);
	catalog_row_claim(&row, CATALOG_ROW_VARIANT, claim, sizeof(claim));
	assert_string_equal(claim, "No");
	assert_string_equal(catalog_row_mismatch_name(CATALOG_ROW_SHA256), "sha256");
}

static void test_catalog_path_warnings_table(void **state)
{
	struct mkimage_app_opts ht = { .mcu = "stm32g431xx", .clock_freq = 150000000,
				       .version = "Cartographer HT 5.1.0" };
	struct mkimage_app_opts v4 = { .mcu = "stm32g431xx", .clock_freq = 170000000,
				       .version = "Cartographer HT 5.1.0" };
	struct mkimage_app_opts k1 = { .iface = IMAGE_IFACE_USB, .version = "CARTOGRAPHER 5.1.3" };
	struct image_info i_ht, i_v4, i_k1;

	(void)state;
	assert_int_equal(app(&ht, &i_ht), 0);
	assert_int_equal(app(&v4, &i_v4), 0);
	assert_int_equal(app(&k1, &i_k1), 0);

	assert_int_equal(catalog_path_warnings("fw/survey/5.1.0/HT/Survey_USB.bin", &i_ht), 0);
	assert_int_equal(catalog_path_warnings("fw/survey/5.1.0/HT/Survey_USB.bin", &i_v4),
			 CATALOG_PATH_HT);
	assert_int_equal(catalog_path_warnings("fw/survey/6.1.0/x.bin", &i_ht),
			 CATALOG_PATH_FOLDER_VERSION);
	assert_int_equal(catalog_path_warnings("5.1.3/carto_k1_5.1.3.bin", &i_k1), CATALOG_PATH_K1);
	assert_int_equal(catalog_path_warnings("Full_CrealityK1_USB.bin", &i_k1), CATALOG_PATH_K1);
	assert_int_equal(catalog_path_warnings("carto_USB_5.1.3.bin", &i_k1), 0);
	assert_string_equal(catalog_path_warning_name(CATALOG_PATH_K1), "k1");
}

/* ---- the choice ---- */

/* A candidate from facts alone: the choice reads info fields, version and variant. */
struct cand {
	struct image_info info;
	struct catalog_entry e;
};

static void make_cand(struct cand *c, const char *mcu, enum image_iface iface, uint32_t bitrate,
		      const char *version, uint32_t clock, enum catalog_known known, uint8_t dict)
{
	memset(c, 0, sizeof(*c));
	c->info.kind = IMAGE_APP;
	snprintf(c->info.mcu, sizeof(c->info.mcu), "%s", mcu);
	c->info.iface = iface;
	c->info.can_bitrate = bitrate;
	snprintf(c->info.version, sizeof(c->info.version), "%s", version);
	c->info.app.clock_freq = clock;
	c->e.path = c->info.version;
	c->e.info = &c->info;
	c->e.known = known;
	c->e.has_dict = true;
	memset(c->e.dict_sha256, dict, 32);
	c->e.version = catalog_version_number(version);
	c->e.variant = catalog_variant(version, mcu, clock);
}

#define F042 "stm32f042x6"
#define G431 "stm32g431xx"
#define CAN IMAGE_IFACE_CAN
#define USB IMAGE_IFACE_USB
#define REL CATALOG_KNOWN_RELEASE

enum { N_CANDS = 12 };
static struct cand cands[N_CANDS];
static struct catalog_entry entries[N_CANDS];

static void build_catalog(void)
{
	make_cand(&cands[0], F042, CAN, 1000000, "CARTOGRAPHER 5.1.0", 48000000, REL, 1);
	make_cand(&cands[1], F042, CAN, 1000000, "CARTOGRAPHER V3 6.1.0", 48000000, REL, 2);
	make_cand(&cands[2], F042, CAN, 1000000, "CARTOGRAPHER V3 6.1.0 lite", 48000000, REL, 3);
	make_cand(&cands[3], F042, CAN, 500000, "CARTOGRAPHER V3 6.1.0", 48000000, REL, 4);
	make_cand(&cands[4], F042, USB, 0, "CARTOGRAPHER V3 6.1.0", 48000000, REL, 5);
	make_cand(&cands[5], F042, USB, 0, "CARTOGRAPHER K1 5.1.0", 48000000, REL, 6);
	make_cand(&cands[6], G431, USB, 0, "Cartographer HT 5.1.0", 150000000, REL, 7);
	make_cand(&cands[7], G431, USB, 0, "CARTOGRAPHER v4 6.2.0", 170000000, REL, 8);
	/* A newer build that disagrees with its name: never chosen. */
	make_cand(&cands[8], F042, CAN, 1000000, "CARTOGRAPHER V3 6.3.0", 48000000, REL, 9);
	cands[8].e.rejected = CATALOG_REJECT_NAME;
	/* A newer USB build nobody released: only with --allow-unknown. */
	make_cand(&cands[9], F042, USB, 0, "CARTOGRAPHER V3 6.2.5", 48000000, CATALOG_KNOWN_NO, 10);
	/* The same version as [1] from a manifest: [1] (a release) is preferred. */
	make_cand(&cands[10], F042, CAN, 1000000, "CARTOGRAPHER V3 6.1.0", 48000000,
		  CATALOG_KNOWN_MANIFEST, 11);
	make_cand(&cands[11], G431, USB, 0, "Cartographer HT 5.1.0", 170000000, REL, 12);
	for (int i = 0; i < N_CANDS; i++)
		entries[i] = cands[i].e;
}

struct choose_case {
	const char *name;
	const char *mcu;
	enum image_iface iface;
	uint32_t bitrate;
	const char *version; /* running */
	uint32_t clock;
	int runs;	/* dictionary byte of the build it runs, 0 none */
	const char *want_version;
	const char *variant; /* --variant, NULL none */
	bool allow_unknown;
	enum catalog_verdict verdict;
	int index;
	const char *reason;
};

static const struct choose_case choose_cases[] = {
	{ "v3 CAN 1M on 5.1.0 -> 6.1.0 full", F042, CAN, 1000000, "CARTOGRAPHER 5.1.0", 48000000, 1,
	  NULL, NULL, false, CATALOG_FLASH, 1, "newest" },
	{ "lite stays lite", F042, CAN, 1000000, "CARTOGRAPHER V3 6.0.0 lite", 48000000, 0, NULL,
	  NULL, false, CATALOG_FLASH, 2, "newest" },
	{ "lite 6.1.0 without a dictionary: the lite build's version, unconfirmed", F042, CAN,
	  1000000, "CARTOGRAPHER V3 6.1.0 lite", 48000000, 0, NULL, NULL, false, CATALOG_CURRENT,
	  2, "same_version" },
	{ "already current", F042, CAN, 1000000, "CARTOGRAPHER V3 6.1.0", 48000000, 2, NULL, NULL,
	  false, CATALOG_CURRENT, 1, "current" },
	{ "current via manifest twin", F042, CAN, 1000000, "CARTOGRAPHER V3 6.1.0", 48000000, 11,
	  NULL, NULL, false, CATALOG_CURRENT, 10, "current" },
	{ "500k bus", F042, CAN, 500000, "CARTOGRAPHER 5.1.0", 48000000, 0, NULL, NULL, false,
	  CATALOG_FLASH, 3, "newest" },
	{ "250k bus: nothing", F042, CAN, 250000, "CARTOGRAPHER 5.1.0", 48000000, 0, NULL, NULL,
	  false, CATALOG_NONE, -1, "no_match" },
	{ "unknown bitrate", F042, CAN, 0, "CARTOGRAPHER 5.1.0", 48000000, 0, NULL, NULL, false,
	  CATALOG_NONE, -1, "bitrate_unknown" },
	{ "USB: unknown newer left out", F042, USB, 0, "CARTOGRAPHER 5.1.0", 48000000, 0, NULL, NULL,
	  false, CATALOG_FLASH, 4, "newest" },
	{ "USB with --allow-unknown", F042, USB, 0, "CARTOGRAPHER 5.1.0", 48000000, 0, NULL, NULL,
	  true, CATALOG_FLASH, 9, "newest" },
	{ "K1 probe gets K1 only", F042, USB, 0, "CARTOGRAPHER 5.0.0 K1", 48000000, 0, NULL, NULL,
	  false, CATALOG_FLASH, 5, "newest" },
	{ "--variant full moves K1 to full", F042, USB, 0, "CARTOGRAPHER 5.0.0 K1", 48000000, 0,
	  NULL, "full", false, CATALOG_FLASH, 4, "variant" },
	{ "--version picks an older one", F042, CAN, 1000000, "CARTOGRAPHER V3 6.1.0", 48000000, 2,
	  "5.1.0", NULL, false, CATALOG_FLASH, 0, "version" },
	{ "--version not there", F042, CAN, 1000000, "CARTOGRAPHER V3 6.1.0", 48000000, 2, "5.9.9",
	  NULL, false, CATALOG_NONE, -1, "no_version" },
	{ "runs newer than any: ahead", F042, CAN, 1000000, "CARTOGRAPHER V3 7.0.0", 48000000, 0,
	  NULL, NULL, false, CATALOG_AHEAD, -1, "ahead" },
	{ "HT probe at 150 MHz runs the HT build", G431, USB, 0, "Cartographer HT 5.1.0", 150000000,
	  7, NULL, NULL, false, CATALOG_CURRENT, 6, "current" },
	{ "HT probe, dictionary unknown: the HT build's version, never v4; unconfirmed", G431,
	  USB, 0, "Cartographer HT 5.1.0", 150000000, 0, NULL, NULL, false, CATALOG_CURRENT, 6,
	  "same_version" },
	{ "6.1.0, another dictionary: current, said to be another build", F042, CAN, 1000000,
	  "CARTOGRAPHER V3 6.1.0", 48000000, 99, NULL, NULL, false, CATALOG_CURRENT, 1,
	  "other_build" },
	{ "5.1.0, no dictionary, --version 5.1.0: same version, not rewritten", F042, CAN, 1000000,
	  "CARTOGRAPHER 5.1.0", 48000000, 0, "5.1.0", NULL, false, CATALOG_CURRENT, 0,
	  "same_version" },
	{ "K1 5.1.0 --variant full: the newest full build, written", F042, USB, 0,
	  "CARTOGRAPHER K1 5.1.0", 48000000, 0, NULL, "full", false, CATALOG_FLASH, 4, "variant" },
	{ "v4 5.1.0 (HT string, 170 MHz) -> 6.2.0", G431, USB, 0, "Cartographer HT 5.1.0",
	  170000000, 12, NULL, NULL, false, CATALOG_FLASH, 7, "newest" },
};

static void test_catalog_choose_table(void **state)
{
	(void)state;
	build_catalog();
	for (size_t i = 0; i < sizeof(choose_cases) / sizeof(choose_cases[0]); i++) {
		const struct choose_case *c = &choose_cases[i];
		struct catalog_probe p = { .iface = c->iface, .bitrate = c->bitrate,
					   .clock_freq = c->clock };
		struct catalog_want w = { .allow_unknown = c->allow_unknown };
		struct catalog_choice out;

		snprintf(p.mcu, sizeof(p.mcu), "%s", c->mcu);
		snprintf(p.version, sizeof(p.version), "%s", c->version);
		p.has_dict = c->runs != 0;
		memset(p.dict_sha256, c->runs, 32);
		if (c->want_version)
			w.version = catalog_version_number(c->want_version);
		if (c->variant) {
			w.variant_set = true;
			assert_true(catalog_variant_parse(c->variant, &w.variant));
		}
		assert_int_equal(catalog_choose(&p, &w, entries, N_CANDS, &out), 0);
		if (out.verdict != c->verdict || out.index != c->index ||
		    strcmp(out.reason, c->reason))
			fail_msg("%s: %s index %d reason %s (%s); want %s index %d reason %s",
				 c->name, catalog_verdict_name(out.verdict), out.index, out.reason,
				 out.why, catalog_verdict_name(c->verdict), c->index, c->reason);
		assert_true(out.why[0] != '\0');
	}
}

static void test_catalog_choose_counts_and_refusals(void **state)
{
	struct catalog_probe p = { .mcu = F042, .iface = CAN, .bitrate = 1000000,
				   .version = "CARTOGRAPHER 5.1.0", .clock_freq = 48000000 };
	struct catalog_want w = { 0 };
	struct catalog_choice out;
	struct catalog_entry only[1];

	(void)state;
	build_catalog();
	assert_int_equal(catalog_choose(&p, &w, entries, N_CANDS, &out), 0);
	assert_int_equal(out.matched, 3); /* 5.1.0, 6.1.0 and its manifest twin */
	assert_int_equal(out.rejected, 1);
	assert_non_null(strstr(out.why, "6.1.0"));

	only[0] = entries[8]; /* the rejected 6.3.0 alone */
	assert_int_equal(catalog_choose(&p, &w, only, 1, &out), 0);
	assert_int_equal(out.verdict, CATALOG_NONE);
	assert_string_equal(out.reason, "rejected_only");
	assert_non_null(strstr(out.why, "stm32f042x6 can 1000000 full"));

	p.mcu[0] = '\0';
	assert_int_equal(catalog_choose(&p, &w, entries, N_CANDS, &out), CF_ERR_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_csv_reads_cartographer_columns),
		cmocka_unit_test(test_catalog_csv_quotes_order_and_extension),
		cmocka_unit_test(test_catalog_csv_refuses_malformed),
		cmocka_unit_test(test_catalog_csv_refuses_bad_sha),
		cmocka_unit_test(test_catalog_version_numbers),
		cmocka_unit_test(test_catalog_variant_from_facts),
		cmocka_unit_test(test_catalog_variant_parse_round_trip),
		cmocka_unit_test(test_catalog_row_check_table),
		cmocka_unit_test(test_catalog_row_k1_is_lite_and_sha),
		cmocka_unit_test(test_catalog_path_warnings_table),
		cmocka_unit_test(test_catalog_choose_table),
		cmocka_unit_test(test_catalog_choose_counts_and_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
