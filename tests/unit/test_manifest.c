// SPDX-License-Identifier: GPL-3.0-or-later
// The fleet manifest reader: what it accepts, and every refusal naming its line.
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

#include "failure.h"
#include "manifest.h"
#include "protocol/err.h"

static struct manifest m;

static void test_manifest_reads_sections_with_line_numbers_and_joined_paths(void **state)
{
	char err[300];
	const char *text = "; probes of the farm\n"
			   "[front]\n"
			   "interface = can0\n"
			   "uuid = E0EF270CA188   ; inline comment\n"
			   "image = fw/app.bin\n"
			   "\n"
			   "[rear]\n"
			   "can = sim:/tmp/bus\n"
			   "canbus_uuid = 0123456789ab\n"
			   "image = /abs/app.bin\n"
			   "switch_to = usb\n";

	(void)state;
	assert_int_equal(manifest_parse(text, "/srv/farm", &m, err, sizeof(err)), CF_OK);

	assert_int_equal(m.count, 2);
	assert_string_equal(m.v[0].name, "front");
	assert_int_equal(m.v[0].line, 2);
	assert_string_equal(m.v[0].uuid, "e0ef270ca188");
	assert_string_equal(m.v[0].image, "/srv/farm/fw/app.bin");
	assert_int_equal(m.v[0].switch_to, UPDATER_SWITCH_NONE);
	assert_string_equal(m.v[1].iface, "sim:/tmp/bus");
	assert_string_equal(m.v[1].image, "/abs/app.bin");
	assert_int_equal(m.v[1].switch_to, UPDATER_SWITCH_USB);
	assert_int_equal(m.v[1].line, 7);
}

/* Each row: a manifest and the exact start of the refusal ("line N: ..."). */
static void test_manifest_refusals_name_the_line(void **state)
{
	static char long_name[128], long_iface[128], long_line[1100];
	static const char ok[] = "interface = can0\nuuid = e0ef270ca188\nimage = a.bin\n";
	struct { const char *text, *want; } rows[] = {
		{ "[a]\ninterface = can0\nuuid = e0ef270ca188\nimage = a.bin\n[b]\nimage = b.bin\n[a]\n",
		  "line 7: [a] repeats the section of line 1" },
		{ long_name, "line 1: section name longer than 63 characters" },
		{ long_iface, "line 2: interface in [x] longer than 63 characters" },
		{ long_line, "line 2: longer than 1024 characters" },
		{ "x = 1\n", "line 1: 'x' outside a probe section" },
		{ "[a]\nfoo = 1\n", "line 2: unknown key 'foo' in [a]" },
		{ "[a]\ninterface = can0\ninterface = can1\n", "line 3: interface given twice in [a]" },
		{ "[a]\nuuid = xyz\n", "line 2: [a]: 'xyz' is not a CAN UUID" },
		{ "[a]\nswitch_to = wifi\n", "line 2: switch_to in [a] needs can or usb" },
		{ "[a]\njunk\n", "line 2: not INI syntax" },
		{ "[]\n", "line 1: a section needs a name" },
		{ "\n\n[a]\ninterface = can0\n", "line 3: [a] needs interface, uuid and image (missing: uuid image)" },
		{ "[a]\ninterface = can0\nuuid = e0ef270ca188\nimage = a\n[b]\ninterface = can0\n"
		  "uuid = E0EF270CA188\nimage = b\n",
		  "line 5: [b]: probe e0ef270ca188 on can0 is named twice (also [a], line 1)" },
		{ "; nothing\n", "no probe sections" },
	};
	char err[300];

	(void)state;
	snprintf(long_name, sizeof(long_name), "[%s%s]\n%s", "0123456789012345678901234567890",
		 "0123456789012345678901234567890123", ok);
	snprintf(long_iface, sizeof(long_iface), "[x]\ninterface = %.64s\n",
		 "sim:/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	memcpy(long_line, "[a]\n#", 5);
	memset(long_line + 5, 'c', 1030);
	long_line[1035] = '\0';
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const int rc = manifest_parse(rows[i].text, NULL, &m, err, sizeof(err));

		if (rc != CF_ERR_USAGE)
			fail_msg("row %zu: accepted (rc %d)", i, rc);
		if (strncmp(err, rows[i].want, strlen(rows[i].want)))
			fail_msg("row %zu: '%s', want '%s'", i, err, rows[i].want);
	}
}

/* Lines past upstream inih's 200-byte buffer (a compile-time constant) reach the parser whole:
 * an image path of 255 characters, a value after 180 blanks, a comment to 1024 characters. */
static void test_manifest_long_lines_are_whole_not_cut(void **state)
{
	static char text[4096], image[256], pad[181], comment[1001];
	char err[300];

	(void)state;
	memset(image, 'i', 251);
	memcpy(image + 251, ".bin", 5);
	memset(pad, ' ', 180);
	memset(comment, 'c', 1000);
	snprintf(text, sizeof(text),
		 "[front]\n"
		 "image = /%s\n"
		 "interface =%scan0\n"
		 "uuid = e0ef270ca188 ;%.998s\n"
		 "#%.1023s\n",
		 image + 1, pad, comment, comment);
	assert_int_equal(manifest_parse(text, NULL, &m, err, sizeof(err)), CF_OK);

	assert_int_equal(strlen(m.v[0].image), 255);
	assert_int_equal(m.v[0].image[0], '/');
	assert_string_equal(m.v[0].image + 252, "bin");
	assert_string_equal(m.v[0].iface, "can0");
	assert_string_equal(m.v[0].uuid, "e0ef270ca188");
}

/* The syntax inih accepted with the manifest's options, row by row: what each line yields. */
static void test_manifest_syntax_as_inih_read_it(void **state)
{
	static const struct { const char *text, *iface, *image; } rows[] = {
		{ "[a]\ninterface: can0\nuuid: e0ef270ca188\nimage: x.bin\n", "can0", "x.bin" },
		{ "\xEF\xBB\xBF[a]\ninterface=can0\nuuid=e0ef270ca188\nimage=x.bin\n", "can0", "x.bin" },
		{ "[a] ; the front one\r\n  interface = can0\r\n\tuuid = e0ef270ca188\r\n"
		  "image = x.bin\r\n",
		  "can0", "x.bin" },
		{ "# farm\n[a]\ninterface = can0 # bus\nuuid = e0ef270ca188\nimage = fw#2.bin;v1 ;c\n",
		  "can0", "fw#2.bin;v1" },
		{ "[a]\ninterface = sim:/tmp/x=y\nuuid = e0ef270ca188\nimage = x.bin", "sim:/tmp/x=y",
		  "x.bin" },
	};
	char err[300];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (manifest_parse(rows[i].text, NULL, &m, err, sizeof(err)) != CF_OK)
			fail_msg("row %zu: refused: %s", i, err);
		if (m.count != 1 || strcmp(m.v[0].name, "a") || strcmp(m.v[0].iface, rows[i].iface) ||
		    strcmp(m.v[0].image, rows[i].image))
			fail_msg("row %zu: [%s] '%s' '%s'", i, m.v[0].name, m.v[0].iface, m.v[0].image);
	}
}

static void test_manifest_more_than_64_sections_refused(void **state)
{
	static char text[64 * 80 + 100];
	char err[300];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "[p%d]\n", i);

	assert_int_equal(manifest_parse(text, NULL, &m, err, sizeof(err)), CF_ERR_USAGE);
	assert_string_equal(err, "line 65: more than 64 probe sections");
}

static void test_manifest_read_refuses_fifo_and_joins_its_folder(void **state)
{
	char dir[] = "/tmp/cf-manifest-XXXXXX", path[128], cmd[160];
	struct cf_failure why;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo.ini", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(manifest_read(path, &m, &why), CF_ERR_NOINPUT);
	assert_non_null(strstr(why.detail, "a FIFO"));

	snprintf(path, sizeof(path), "%s/probes.ini", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[a]\ninterface = can0\nuuid = e0ef270ca188\nimage = a.bin\n", fp);
	fclose(fp);
	assert_int_equal(manifest_read(path, &m, &why), CF_OK);
	snprintf(cmd, sizeof(cmd), "%s/a.bin", dir);
	assert_string_equal(m.v[0].image, cmd);

	assert_int_equal(manifest_read("/dev/zero", &m, &why), CF_ERR_NOINPUT);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_reads_sections_with_line_numbers_and_joined_paths),
		cmocka_unit_test(test_manifest_refusals_name_the_line),
		cmocka_unit_test(test_manifest_long_lines_are_whole_not_cut),
		cmocka_unit_test(test_manifest_syntax_as_inih_read_it),
		cmocka_unit_test(test_manifest_more_than_64_sections_refused),
		cmocka_unit_test(test_manifest_read_refuses_fifo_and_joins_its_folder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
