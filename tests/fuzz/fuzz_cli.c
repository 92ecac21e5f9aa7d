// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the command-line parsers: durations, UUIDs, target lists (getopt and all),
// getopt's error text, and the cgroup line that names a port's holder.
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_target.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "usb/inuse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 24

static void no_usage(FILE *out)
{
	(void)out;
}

static void check_text_parsers(const char *text)
{
	uint8_t raw[CANBUS_UUID_LEN], again[CANBUS_UUID_LEN];
	char canon[2 * CANBUS_UUID_LEN + 1], unit[128];
	uint64_t us = 0;

	if (cli_parse_duration_us(text, &us) == CF_OK && us > CLI_DURATION_MAX_US)
		abort();
	if (canbus_uuid_parse(text, raw) == CF_OK) {
		canbus_uuid_format(raw, canon);
		if (strlen(canon) != 12 || canbus_uuid_parse(canon, again) != CF_OK ||
		    memcmp(raw, again, sizeof(raw)))
			abort();
	}
	inuse_unit_from_cgroup(text, unit, sizeof(unit));
	if (strlen(unit) >= sizeof(unit))
		abort();
}

/* argv from the input: arguments split at NUL bytes, after the verb. */
static int split_args(char *buf, size_t size, char **argv)
{
	int argc = 0;

	argv[argc++] = "verify";
	for (size_t i = 0; i < size && argc < MAX_ARGS - 1;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

static void check_targets(char **argv, int argc)
{
	struct cmd_targets t = { 0 };
	struct updater_options o = { 0 };
	int rc;

	optind = 0; /* glibc: a full restart of getopt's state */
	rc = cmd_parse_targets_only(argc, argv, "verify", no_usage, true, &t, &o);
	if (rc == 0) {
		if (!t.count)
			abort();
		for (size_t i = 0; i < t.count; i++) {
			const struct cmd_target *tg = &t.v[i];

			if (tg->tty[0])
				continue;
			if (!tg->iface[0] || strlen(tg->can_uuid) != 12 ||
			    strspn(tg->can_uuid, "0123456789abcdef") != 12)
				abort();
		}
		if (o.timeout_us > CLI_DURATION_MAX_US)
			abort();
	} else if (rc != -1 && rc != 64) {
		abort();
	}
	cmd_targets_fini(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy plus the terminator, so ASan sees every read past the end. */
	char *buf = malloc(size + 1);
	char *argv[MAX_ARGS];

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	check_text_parsers(buf);
	check_targets(argv, split_args(buf, size, argv));
	free(buf);
	return 0;
}
