// SPDX-License-Identifier: GPL-3.0-or-later
// cartoflash: update and recover Katapult devices. Dispatches to one verb.
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jsonout.h"
#include "protocol/err.h"
#include "version.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: cartoflash <verb> [options] [targets]\n\nverbs:\n");
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		fprintf(out, "  %-11s %s\n", v->name, v->summary);
	fprintf(out, "\nEvery verb takes --help, -v (repeatable), -q and --json (docs/json.md;\n"
		     "cartoflash --version --json names the schema).\n"
		     "\nExamples:\n"
		     "  cartoflash inspect firmware.bin\n"
		     "  cartoflash scan --can can0\n"
		     "  cartoflash flash app.bin --can can0 --uuid e0ef270ca188\n");
}

/* docs/json.md: --json counts wherever it stands, also after a mistake getopt stops at. */
static void scan_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			cli_common.json = true;
}

int main(int argc, char **argv)
{
	/* Verbs report getopt's '?' themselves (cli_bad_option): one message, not glibc's too. */
	opterr = 0;
	scan_json(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return cf_err_exit_code(CF_ERR_USAGE);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		if (cli_common.json)
			jsonout_emit(json_pack("{s:s, s:s, s:s, s:i}", "event", "version", "program",
					       "cartoflash", "version", CARTOFLASH_VERSION,
					       "json_schema", JSONOUT_SCHEMA));
		else
			printf("cartoflash %s\n", CARTOFLASH_VERSION);
		return 0;
	}
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		if (!strcmp(argv[1], v->name))
			return v->run(argc - 1, argv + 1);
	return cli_usage_error(NULL, "unknown verb '%s'", argv[1]);
}
