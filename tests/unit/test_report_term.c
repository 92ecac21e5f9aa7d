// SPDX-License-Identifier: GPL-3.0-or-later
// Progress lines cut to the terminal: never wider than width - 1 at any width, colour bytes
// outside the count, what gives way first on a narrow terminal; and the bars of a report
// drawn into a file (every frame's lines fit, a failure goes above the bars).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_term.h"

static const char *const Label = "e0ef270ca188 (sim:/tmp/tmp.eNoytWVabc/bus)";

/* Visible columns of s: bytes outside ESC [ ... m sequences. */
static int visible(const char *s)
{
	int n = 0;

	while (*s) {
		if (*s == '\033') {
			while (*s && *s != 'm')
				s++;
			if (*s)
				s++;
			continue;
		}
		n++;
		s++;
	}
	return n;
}

static struct report_term_line progress(size_t done)
{
	return (struct report_term_line){ .label = Label, .stage = "write", .done = done,
					  .total = 12288, .rate_bps = 5734.4, .eta_s = 1.25 };
}

static void test_never_wider_than_the_terminal(void **state)
{
	char buf[512];
	const char *long_detail = "CARTOGRAPHER 5.1.0 written, 352 blocks verified, application "
				  "running, and a long tail of words to push past any terminal";

	(void)state;
	for (int w = 1; w <= 300; w++) {
		for (int c = 0; c < 2; c++) {
			struct report_term_line l = progress(6144);
			int cols = report_term_format(buf, sizeof(buf), w, c, &l);
			assert_int_equal(cols, visible(buf));
			assert_true(cols <= (w > 1 ? w - 1 : 1));
			l.finished = true;
			l.detail = long_detail;
			cols = report_term_format(buf, sizeof(buf), w, c, &l);
			assert_int_equal(cols, visible(buf));
			assert_true(cols <= (w > 1 ? w - 1 : 1));
		}
	}
}

static void test_80_columns_keep_label_bar_and_percent(void **state)
{
	char buf[512];
	struct report_term_line l = progress(6144);
	int cols = report_term_format(buf, sizeof(buf), 80, false, &l);

	(void)state;
	assert_true(cols <= 79);
	assert_non_null(strstr(buf, "e0ef270ca188"));
	assert_non_null(strstr(buf, "write"));
	assert_non_null(strstr(buf, "[#####"));
	assert_non_null(strstr(buf, " 50%"));
	assert_non_null(strstr(buf, "KiB/s")); /* rate fits at 80, ETA gives way first */
}

static void test_wide_terminal_shows_everything(void **state)
{
	char buf[512];
	struct report_term_line l = progress(12288);

	(void)state;
	report_term_format(buf, sizeof(buf), 160, false, &l);
	assert_int_equal(strncmp(buf, Label, 34), 0); /* 42 chars: cut to the 34-column label */
	assert_non_null(strstr(buf, "100%"));
	assert_non_null(strstr(buf, "ETA"));
	assert_null(strchr(buf, '\033'));
}

static void test_finished_lines_cut_detail_and_colour_status(void **state)
{
	char buf[512];
	struct report_term_line l = { .label = "front", .finished = true, .detail = "ok" };

	(void)state;
	report_term_format(buf, sizeof(buf), 80, true, &l);
	assert_non_null(strstr(buf, "\033[32mdone\033[0m"));
	l.failed = true;
	l.detail = "refused";
	report_term_format(buf, sizeof(buf), 80, true, &l);
	assert_non_null(strstr(buf, "\033[31mFAILED\033[0m"));
	report_term_format(buf, sizeof(buf), 80, false, &l);
	assert_null(strchr(buf, '\033'));
	l.detail = "a detail far too long for the twenty columns left";
	report_term_format(buf, sizeof(buf), 30, false, &l);
	assert_int_equal(strlen(buf), 29);
	assert_string_equal(buf + strlen(buf) - 3, "...");
}

static void test_control_bytes_never_reach_the_terminal(void **state)
{
	char buf[256];
	struct report_term_line l = { .label = "evil\033[2J\n", .stage = "write" };

	(void)state;
	report_term_format(buf, sizeof(buf), 80, false, &l);
	assert_null(strchr(buf, '\033'));
	assert_null(strchr(buf, '\n'));
}

/* A report drawing bars into a file with COLUMNS=60: every line of every frame fits. */
static void test_report_frames_fit_and_failure_goes_above(void **state)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *out = fopen("/dev/null", "w"), *err = open_memstream(&text, &len);
	struct report *r;
	int a, b, lines = 0;

	(void)state;
	setenv("COLUMNS", "60", 1);
	setenv("LINES", "24", 1);
	r = report_new(REPORT_BARS, out, err);
	a = report_add_device(r, Label);
	b = report_add_device(r, "90a4ae022dfc (sim:/tmp/a-rather-long-bus-path/bus)");
	report_stage(r, a, "write", 1000);
	for (size_t d = 0; d <= 12288; d += 1024)
		report_progress(r, b, "write", d, 12288, 1000 + d * 100);
	report_result(r, a, -5, NULL, NULL, NULL, 2000000);
	report_result(r, b, 0, NULL, NULL, "CARTOGRAPHER 5.1.0 written, verified", 2000000);
	report_free(r);
	fclose(err);
	fclose(out);
	/* Split on newlines and on cursor movement: each drawn piece must fit in 59 columns. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *piece = strrchr(line, 'J'); /* after "\033[J" the line itself */
		const char *shown = piece && piece > line && piece[-1] == '[' ? piece + 1 : line;
		if (!strncmp(shown, "cartoflash: ", 12))
			continue; /* the failure line itself is printed once, above the bars */
		assert_true(visible(shown) <= 59);
		lines++;
	}
	assert_true(lines > 4);
	free(text);
	unsetenv("COLUMNS");
	unsetenv("LINES");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_wider_than_the_terminal),
		cmocka_unit_test(test_80_columns_keep_label_bar_and_percent),
		cmocka_unit_test(test_wide_terminal_shows_everything),
		cmocka_unit_test(test_finished_lines_cut_detail_and_colour_status),
		cmocka_unit_test(test_control_bytes_never_reach_the_terminal),
		cmocka_unit_test(test_report_frames_fit_and_failure_goes_above),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
