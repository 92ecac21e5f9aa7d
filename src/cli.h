/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Command-line plumbing shared by every verb (style.md §2.10). */
#ifndef CARTOFLASH_SRC_CLI_H
#define CARTOFLASH_SRC_CLI_H

#include <stdbool.h>
#include <stdint.h>

struct cf_failure;

/* One verb: run_<verb>(argc, argv) gets argv[0] == the verb name and returns an exit code. */
struct cli_verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for `cartoflash --help` */
};

/* The verb table (src/cli.c), terminated by a NULL name. */
extern const struct cli_verb cli_verbs[];

/*
 * Options every verb accepts: -v/--verbose (repeatable), -q/--quiet, --json.
 * Verbs merge these into their getopt_long tables with these values and call
 * cli_common_option(c) from their option switch; it returns true when it handled c.
 */
enum {
	CLI_OPT_JSON = 0x1000,
	CLI_OPT_COMMON_END = 0x1010, /* verbs number their own long-only options above this */
};
struct cli_common {
	bool json;
	int verbosity; /* -q = -1, default 0, -v = 1 ... */
};
extern struct cli_common cli_common;
bool cli_common_option(int c);

/* "try --help" usage error on stderr; returns 64. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the failure line and return its exit code. */
int cli_fail(const struct cf_failure *f);
/*
 * The usage error for getopt's '?' (opterr is 0: getopt prints nothing itself): names the
 * unknown option, the option missing its value, the value given to a flag, or a negative number
 * getopt took for an option. shortopts is the verb's getopt optstring. Returns 64.
 */
int cli_bad_option(const char *verb, int argc, char **argv, const char *shortopts);

/* Longest duration a verb accepts: one day. */
#define CLI_DURATION_MAX_US (24ull * 3600ull * 1000000ull)
/*
 * Parse a duration with a unit: "500ms", "2s", "1m", "250us". Returns 0 or CF_ERR_USAGE for no
 * number, no known unit, a negative, non-finite (nan, inf) or longer-than-a-day value.
 */
int cli_parse_duration_us(const char *text, uint64_t *us);

#endif
