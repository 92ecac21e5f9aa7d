// SPDX-License-Identifier: GPL-3.0-or-later
// The bounded input-file reader: regular files only, stdin where allowed, never past the bound.
#include <errno.h>
#include <fcntl.h>
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
#include "infile.h"
#include "protocol/err.h"

static const struct infile_rules image_rules = {
	.what = "firmware image", .max_len = 1024, .too_big = CF_ERR_IMAGE, .stdin_ok = true
};
static const struct infile_rules config_rules = {
	.what = "Klipper config", .max_len = 4096, .too_big = CF_ERR_NOINPUT, .stdin_ok = false
};

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cf-infile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void make_file(const char *name, size_t len, char *path, size_t cap)
{
	FILE *fp;

	snprintf(path, cap, "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < len; i++)
		fputc('a' + (int)(i % 26), fp);
	fclose(fp);
}

static void test_infile_reads_a_regular_file_whole_and_terminated(void **state)
{
	struct infile f;
	struct cf_failure why;
	char path[128];

	(void)state;
	make_file("img.bin", 1024, path, sizeof(path));

	assert_int_equal(infile_read(path, &image_rules, &f, &why), CF_OK);

	assert_int_equal(f.len, 1024);
	assert_int_equal(f.data[0], 'a');
	assert_int_equal(f.data[1023], 'a' + 1023 % 26);
	assert_int_equal(f.data[1024], '\0');
	infile_fini(&f);
	assert_null(f.data);
}

static void test_infile_refuses_one_byte_past_the_bound_with_its_code(void **state)
{
	struct infile f;
	struct cf_failure why;
	char path[128];

	(void)state;
	make_file("big.bin", 1025, path, sizeof(path));

	assert_int_equal(infile_read(path, &image_rules, &f, &why), CF_ERR_IMAGE);

	assert_null(f.data);
	assert_int_equal(why.code, CF_ERR_IMAGE);
	assert_string_equal(why.device, path);
	assert_non_null(strstr(why.detail, "larger than 1 KiB"));
	assert_non_null(strstr(why.detail, "firmware image"));
}

static void test_infile_refuses_a_fifo_without_blocking(void **state)
{
	struct infile f;
	struct cf_failure why;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);

	/* No writer: an open without O_NONBLOCK would never return. */
	assert_int_equal(infile_read(path, &config_rules, &f, &why), CF_ERR_NOINPUT);

	assert_non_null(strstr(why.detail, "a FIFO, not a regular file"));
	assert_non_null(strstr(why.hint, "Klipper config file itself"));
	assert_null(strstr(why.hint, "pipe"));
}

static void test_infile_refuses_devices_and_directories(void **state)
{
	static const struct { const char *path, *kind; } cases[] = {
		{ "/dev/zero", "a character device" },
		{ "/dev/null", "a character device" },
		{ "/tmp", "a directory" },
	};
	struct infile f;
	struct cf_failure why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (infile_read(cases[i].path, &image_rules, &f, &why) != CF_ERR_NOINPUT)
			fail_msg("%s was read", cases[i].path);
		if (!strstr(why.detail, cases[i].kind))
			fail_msg("%s: '%s' does not say %s", cases[i].path, why.detail, cases[i].kind);
		assert_non_null(strstr(why.hint, "pipe it in as -"));
	}
}

static void test_infile_missing_file_names_errno(void **state)
{
	struct infile f;
	struct cf_failure why;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent", dir);

	assert_int_equal(infile_read(path, &image_rules, &f, &why), CF_ERR_NOINPUT);

	assert_non_null(strstr(why.detail, "No such file"));
	assert_int_equal(why.sys_errno, ENOENT);
}

/* Replace stdin with fd for one call. */
static int read_stdin_from(int fd, const struct infile_rules *r, struct infile *f,
			   struct cf_failure *why)
{
	const int saved = dup(STDIN_FILENO);
	int rc;

	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	rc = infile_read("-", r, f, why);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	return rc;
}

static void test_infile_reads_stdin_from_a_pipe_only_where_allowed(void **state)
{
	struct infile f;
	struct cf_failure why;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "hello", 5), 5);
	close(p[1]);

	assert_int_equal(read_stdin_from(p[0], &image_rules, &f, &why), CF_OK);

	assert_int_equal(f.len, 5);
	assert_string_equal((const char *)f.data, "hello");
	assert_string_equal(why.device, "standard input");
	infile_fini(&f);
	/* Without stdin_ok, "-" is a file name like any other. */
	assert_int_equal(read_stdin_from(p[0], &config_rules, &f, &why), CF_ERR_NOINPUT);
	assert_string_equal(why.device, "-");
	close(p[0]);
}

static void test_infile_stdin_device_is_refused_and_endless_pipe_is_bounded(void **state)
{
	struct infile f;
	struct cf_failure why;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int p[2];
	static char chunk[2048];

	(void)state;
	assert_true(zero >= 0);
	assert_int_equal(read_stdin_from(zero, &image_rules, &f, &why), CF_ERR_NOINPUT);
	assert_non_null(strstr(why.detail, "a character device"));
	close(zero);

	/* A pipe holding more than the bound: refused after max + 1 bytes, never read to its end. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
	assert_int_equal(read_stdin_from(p[0], &image_rules, &f, &why), CF_ERR_IMAGE);
	close(p[1]);
	close(p[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_infile_reads_a_regular_file_whole_and_terminated),
		cmocka_unit_test(test_infile_refuses_one_byte_past_the_bound_with_its_code),
		cmocka_unit_test(test_infile_refuses_a_fifo_without_blocking),
		cmocka_unit_test(test_infile_refuses_devices_and_directories),
		cmocka_unit_test(test_infile_missing_file_names_errno),
		cmocka_unit_test(test_infile_reads_stdin_from_a_pipe_only_where_allowed),
		cmocka_unit_test(test_infile_stdin_device_is_refused_and_endless_pipe_is_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
