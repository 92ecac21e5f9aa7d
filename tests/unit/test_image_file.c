// SPDX-License-Identifier: GPL-3.0-or-later
// The one image loader: whatever fails, the caller's image holds nothing to free.
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
#include "image_file.h"
#include "protocol/err.h"

/* flash and verify fini their image on every path, the failed load included: a load that
 * fails must leave no pointer behind (it did: free() of stack garbage, a crash after the
 * message under some stack layouts). */
static void test_image_file_load_one_failure_leaves_nothing_to_free(void **state)
{
	char dir[] = "/tmp/cf-imgfile-XXXXXX", path[128];
	static const struct { const char *name; size_t len; int err; } rows[] = {
		{ "missing.bin", 0, CF_ERR_NOINPUT },
		{ "", 0, CF_ERR_NOINPUT },		  /* the folder itself */
		{ "big.bin", 1024 * 1024 + 1, CF_ERR_IMAGE }, /* past the 1 MiB bound */
		{ "junk.bin", 4096, CF_ERR_IMAGE },	  /* no firmware image we know */
	};
	struct image_file img;
	struct cf_failure why;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, rows[i].name);
		if (rows[i].len) {
			FILE *fp = fopen(path, "w");

			assert_non_null(fp);
			for (size_t n = 0; n < rows[i].len; n++)
				fputc((int)(n * 7 % 251), fp);
			fclose(fp);
		}
		memset(&img, 0xa5, sizeof(img));
		cf_failure_clear(&why);
		if (image_file_load_one(path, &img, &why) != rows[i].err)
			fail_msg("row %zu (%s): want %d", i, rows[i].name, rows[i].err);
		if (img.data != NULL || img.len != 0)
			fail_msg("row %zu (%s): a failed load left data %p len %zu", i, rows[i].name,
				 (void *)img.data, img.len);
		image_file_fini(&img);
		if (rows[i].len)
			unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_file_load_one_failure_leaves_nothing_to_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
