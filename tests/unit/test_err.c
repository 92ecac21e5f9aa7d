// SPDX-License-Identifier: GPL-3.0-or-later
// enum cf_err: every code has a name, a sentence and the documented exit code.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "protocol/err.h"

static void test_err_every_code_has_strings(void **state)
{
	(void)state;
	for (int e = 0; e > -CF_ERR_COUNT; e--) {
		assert_non_null(cf_err_name(e));
		assert_non_null(cf_strerror(e));
		if (e != CF_ERR_OTHER)
			assert_string_not_equal(cf_err_name(e), "other");
	}
}

static void test_err_exit_codes_follow_sysexits(void **state)
{
	(void)state;
	assert_int_equal(cf_err_exit_code(CF_OK), 0);
	assert_int_equal(cf_err_exit_code(CF_ERR_USAGE), 64);
	assert_int_equal(cf_err_exit_code(CF_ERR_REFUSED), 65);
	assert_int_equal(cf_err_exit_code(CF_ERR_NOINPUT), 66);
	assert_int_equal(cf_err_exit_code(CF_ERR_NO_DEVICE), 69);
	assert_int_equal(cf_err_exit_code(CF_ERR_IO), 74);
	assert_int_equal(cf_err_exit_code(CF_ERR_BUSY), 75);
	assert_int_equal(cf_err_exit_code(CF_ERR_VERIFY), 76);
	assert_int_equal(cf_err_exit_code(CF_ERR_ACCESS), 77);
	assert_int_equal(cf_err_exit_code(CF_ERR_INTERRUPTED), 130);
}

static void test_err_out_of_range_is_other(void **state)
{
	(void)state;
	assert_string_equal(cf_err_name(-1000), "other");
	assert_string_equal(cf_err_name(5), "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_every_code_has_strings),
		cmocka_unit_test(test_err_exit_codes_follow_sysexits),
		cmocka_unit_test(test_err_out_of_range_is_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
