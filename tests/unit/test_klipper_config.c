// SPDX-License-Identifier: GPL-3.0-or-later
// canbus_uuid entries of Klipper configs: tolerant parsing, includes, canonical UUIDs.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "klipper_config.h"
#include "protocol/err.h"

struct dir {
	char path[64];
};

static void write_file(const struct dir *d, const char *name, const char *text)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int setup(void **state)
{
	static struct dir d;

	snprintf(d.path, sizeof(d.path), "/tmp/cf-kcfg-XXXXXX");
	assert_non_null(mkdtemp(d.path));
	*state = &d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	return system(cmd) == 0 ? 0 : -1;
}

static int read_cfg(const struct dir *d, const char *name, struct klipper_config *cfg)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	return klipper_config_read(cfg, path);
}

static void test_klipper_config_finds_uuid_with_colon_and_comment(void **state)
{
	struct klipper_config cfg = { 0 };

	write_file(*state, "printer.cfg",
		   "[mcu]\nserial: /dev/ttyACM0\n\n[scanner]\ncanbus_uuid: E0EF270CA188  # front\n");

	assert_int_equal(read_cfg(*state, "printer.cfg", &cfg), CF_OK);

	assert_int_equal(cfg.count, 1);
	/* katapult.md §2.2: the canonical form is 12 lower-case hex digits. */
	assert_string_equal(cfg.v[0].uuid, "e0ef270ca188");
	assert_string_equal(cfg.v[0].section, "scanner");
	klipper_config_fini(&cfg);
}

static void test_klipper_config_tolerates_duplicates_gcode_and_junk(void **state)
{
	struct klipper_config cfg = { 0 };
	char long_line[600];

	memset(long_line, 'x', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	write_file(*state, "printer.cfg", "");
	{
		char text[2048];

		snprintf(text, sizeof(text),
			 "[mcu probe]\ncanbus_uuid = 90a4ae022dfc\ncanbus_uuid = 90a4ae022dfc\n"
			 "[gcode_macro X]\ngcode:\n  M117 %s\n  G28\n"
			 "this line has no separator\n"
			 "[mcu bad]\ncanbus_uuid: not-a-uuid\n"
			 "#*# <---------------------- SAVE_CONFIG ---------------------->\n"
			 "#*# [probe]\n#*# z_offset = 1.0\n",
			 long_line);
		write_file(*state, "printer.cfg", text);
	}

	assert_int_equal(read_cfg(*state, "printer.cfg", &cfg), CF_OK);

	assert_int_equal(cfg.count, 1);
	assert_string_equal(cfg.v[0].uuid, "90a4ae022dfc");
	assert_string_equal(cfg.v[0].section, "mcu probe");
	assert_int_equal(cfg.files, 1);
	klipper_config_fini(&cfg);
}

static void test_klipper_config_follows_include_globs(void **state)
{
	struct dir *d = *state;
	struct klipper_config cfg = { 0 };
	char sub[96];

	snprintf(sub, sizeof(sub), "%s/probes", d->path);
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file(d, "printer.cfg", "[include probes/*.cfg]\n[printer]\nkinematics: corexy\n");
	write_file(d, "probes/a.cfg", "[scanner]\ncanbus_uuid: 0123456789ab\n");
	write_file(d, "probes/b.cfg", "[mcu tool]\ncanbus_uuid: abcdef012345\n");

	assert_int_equal(read_cfg(d, "printer.cfg", &cfg), CF_OK);

	assert_int_equal(cfg.count, 2);
	assert_int_equal(cfg.files, 3);
	assert_non_null(klipper_config_find(&cfg, "0123456789ab"));
	assert_string_equal(klipper_config_find(&cfg, "abcdef012345")->section, "mcu tool");
	assert_null(klipper_config_find(&cfg, "e0ef270ca188"));
	klipper_config_fini(&cfg);
}

static void test_klipper_config_include_loop_stops(void **state)
{
	struct klipper_config cfg = { 0 };

	write_file(*state, "printer.cfg", "[include printer.cfg]\n[scanner]\ncanbus_uuid: 0123456789ab\n");

	assert_int_equal(read_cfg(*state, "printer.cfg", &cfg), CF_OK);

	/* Each level finds the same entry in the same file and section: kept once. */
	assert_int_equal(cfg.count, 1);
	klipper_config_fini(&cfg);
}

/* A gcode line far past any inih buffer, with '[' and 'canbus_uuid:' text at the 200-byte
 * boundary of upstream inih's default buffer: the rest is dropped, never parsed as a line. */
static void test_klipper_config_long_lines_never_split(void **state)
{
	struct dir *d = *state;
	struct klipper_config cfg = { 0 };
	size_t len = 70000;
	char *text = malloc(len + 512), *p = text;

	assert_non_null(text);
	p += sprintf(p, "[gcode_macro BIG]\ngcode: M117 ");
	while ((size_t)(p - text) < 199)
		*p++ = 'x';
	p += sprintf(p, "[fake]canbus_uuid: 111111111111");
	while ((size_t)(p - text) < len)
		*p++ = 'y';
	p += sprintf(p, "\n[mcu tool]  ; the tool board\ncanbus_uuid: 0123456789ab  # spare: ffffffffffff\n"
			"orphan line without a value\n");
	write_file(d, "long.cfg", text);
	free(text);
	assert_int_equal(read_cfg(d, "long.cfg", &cfg), 0);
	assert_int_equal(cfg.count, 1);
	assert_string_equal(cfg.v[0].uuid, "0123456789ab");
	assert_string_equal(cfg.v[0].section, "mcu tool");
	assert_int_equal(cfg.bad_lines, 1);
	klipper_config_fini(&cfg);
}

static void test_klipper_config_missing_file_is_noinput(void **state)
{
	struct klipper_config cfg = { 0 };

	assert_int_equal(read_cfg(*state, "nope.cfg", &cfg), CF_ERR_NOINPUT);
	assert_int_equal(cfg.count, 0);
	klipper_config_fini(&cfg);
}

static void test_klipper_config_device_or_fifo_is_refused_not_read(void **state)
{
	struct dir *d = *state;
	struct klipper_config cfg = { 0 };
	char fifo[128];

	snprintf(fifo, sizeof(fifo), "%s/fifo.cfg", d->path);
	assert_int_equal(mkfifo(fifo, 0600), 0);

	/* /dev/zero would never end; a FIFO without a writer would never open. */
	assert_int_equal(klipper_config_read(&cfg, "/dev/zero"), CF_ERR_NOINPUT);
	assert_non_null(strstr(cfg.fail.detail, "a character device"));
	assert_string_equal(cfg.fail.device, "/dev/zero");
	assert_int_equal(klipper_config_read(&cfg, fifo), CF_ERR_NOINPUT);
	assert_non_null(strstr(cfg.fail.detail, "a FIFO"));
	assert_int_equal(cfg.files, 0);
	klipper_config_fini(&cfg);
}

static void test_klipper_config_fifo_include_is_skipped_and_counted(void **state)
{
	struct dir *d = *state;
	struct klipper_config cfg = { 0 };
	char fifo[128];

	snprintf(fifo, sizeof(fifo), "%s/a-fifo.cfg", d->path);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	write_file(d, "b.cfg", "[scanner]\ncanbus_uuid: 0123456789ab\n");
	write_file(d, "printer.cfg", "[include *.cfg]\n");

	assert_int_equal(read_cfg(d, "printer.cfg", &cfg), CF_OK);

	assert_int_equal(cfg.unread_files, 1);
	assert_int_equal(cfg.files, 2);
	assert_non_null(klipper_config_find(&cfg, "0123456789ab"));
	klipper_config_fini(&cfg);
}

static void test_klipper_config_include_only_at_line_start_of_long_lines(void **state)
{
	struct dir *d = *state;
	struct klipper_config cfg = { 0 };
	static char text[8192];
	size_t n;

	/* An old fgets(1024) reader saw "[include" where a long gcode line crossed 1023 bytes. */
	n = (size_t)snprintf(text, sizeof(text), "[gcode_macro M]\ngcode:\n  M117 ");
	memset(text + n, 'x', 1023 - n + 1000);
	n += 1023 - n + 1000;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "[include other.cfg]\n");
	write_file(d, "other.cfg", "[scanner]\ncanbus_uuid: 0123456789ab\n");
	write_file(d, "printer.cfg", text);

	assert_int_equal(read_cfg(d, "printer.cfg", &cfg), CF_OK);

	assert_int_equal(cfg.files, 1);
	assert_null(klipper_config_find(&cfg, "0123456789ab"));
	klipper_config_fini(&cfg);
}

static void test_klipper_config_next_include_rows(void **state)
{
	static const struct { const char *text, *want; } rows[] = {
		{ "[include a.cfg]\n", "a.cfg" },
		{ "x\n[include   sub/*.cfg  ]  # c\n", "sub/*.cfg" },
		{ "[include ]\n", NULL },
		{ "[include no-close\n", NULL },
		{ " [include indented.cfg]\n", NULL },
		{ "[include last.cfg]", "last.cfg" },
	};
	char pattern[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *next = klipper_config_next_include(rows[i].text, pattern, sizeof(pattern));

		if (!rows[i].want && next)
			fail_msg("row %zu: found '%s'", i, pattern);
		if (rows[i].want && (!next || strcmp(pattern, rows[i].want)))
			fail_msg("row %zu: want '%s'", i, rows[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_klipper_config_finds_uuid_with_colon_and_comment,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_klipper_config_tolerates_duplicates_gcode_and_junk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_klipper_config_follows_include_globs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_klipper_config_include_loop_stops, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_klipper_config_long_lines_never_split, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_klipper_config_device_or_fifo_is_refused_not_read,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_klipper_config_fifo_include_is_skipped_and_counted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_klipper_config_include_only_at_line_start_of_long_lines, setup, teardown),
		cmocka_unit_test(test_klipper_config_next_include_rows),
		cmocka_unit_test_setup_teardown(test_klipper_config_missing_file_is_noinput, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
