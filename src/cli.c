// SPDX-License-Identifier: GPL-3.0-or-later
// The verb table and the options every verb shares.
#include "cli.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_run.h"
#include "failure.h"
#include "jsonout.h"
#include "log.h"
#include "protocol/err.h"

int run_inspect(int argc, char **argv);
int run_recover(int argc, char **argv); /* src/cmd_recover.c */
int run_dfu(int argc, char **argv);     /* src/cmd_dfu.c */
int run_status(int argc, char **argv);  /* src/cmd_status.c */
int run_update(int argc, char **argv);  /* src/cmd_update.c */

const struct cli_verb cli_verbs[] = {
	{ "inspect", run_inspect, "classify firmware files: kind, address, MCU, interface, fit" },
	{ "update", run_update, "the right build for every probe, chosen by content, in one run" },
	{ "status", run_status, "every probe and what it runs, rebooting none (Klipper, CAN, USB)" },
	{ "scan", run_scan, "list CAN nodes (UUID, application or Katapult) and config entries" },
	{ "flash", run_flash, "check, write, verify and reboot probes over CAN (several at once)" },
	{ "verify", run_verify, "read probes back and compare with an image" },
	{ "info", run_info, "show the Katapult CONNECT facts of probes in their bootloader" },
	{ "bootloader", run_bootloader, "enter Katapult and stay there" },
	{ "reboot", run_reboot, "leave Katapult for the application (COMPLETE) and confirm it" },
	{ "fleet", run_fleet, "update every probe of an INI manifest at once" },
	{ "recover", run_recover, "rewrite a probe through the STM32 ROM DFU bootloader (BOOT0)" },
	{ "dfu", run_dfu, "ROM DFU tools: dfu read ADDRESS LENGTH FILE" },
	{ NULL, NULL, NULL },
};

struct cli_common cli_common;

static void apply_verbosity(void)
{
	int level = CF_LOG_WARN + cli_common.verbosity;

	if (level < CF_LOG_ERROR)
		level = CF_LOG_ERROR;
	if (level > CF_LOG_TRACE)
		level = CF_LOG_TRACE;
	cf_log_set_level((enum cf_log_level)level);
}

bool cli_common_option(int c)
{
	switch (c) {
	case 'v':
		cli_common.verbosity++;
		break;
	case 'q':
		cli_common.verbosity = -1;
		break;
	case CLI_OPT_JSON:
		cli_common.json = true;
		break;
	default:
		return false;
	}
	apply_verbosity();
	return true;
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	struct cf_failure f;
	va_list ap;

	cf_failure_clear(&f);
	f.code = CF_ERR_USAGE;
	va_start(ap, fmt);
	vsnprintf(f.detail, sizeof(f.detail), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cartoflash%s%s: %s; try 'cartoflash %s%s--help'\n", verb ? " " : "",
		verb ? verb : "", f.detail, verb ? verb : "", verb ? " " : "");
	if (cli_common.json) {
		snprintf(f.stage, sizeof(f.stage), "usage");
		snprintf(f.device, sizeof(f.device), "cartoflash%s%.80s", verb ? " " : "",
			 verb ? verb : "");
		cf_failure_set_hint(&f, "try 'cartoflash %s%s--help'", verb ? verb : "",
				    verb ? " " : "");
		jsonout_error(&f);
	}
	return cf_err_exit_code(CF_ERR_USAGE);
}

int cli_fail(const struct cf_failure *f)
{
	cf_failure_print(f);
	if (cli_common.json)
		jsonout_error(f);
	return cf_err_exit_code(f->code);
}

int cli_bad_option(const char *verb, int argc, char **argv, const char *shortopts)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	const char *eq = strchr(arg, '=');
	const char *colon = optopt > 0 && optopt < 0x100 ? strchr(shortopts, optopt) : NULL;

	/* getopt stops at "-5" as if it were an option: say what it really is. */
	if (arg[0] == '-' && (isdigit((unsigned char)arg[1]) || arg[1] == '.'))
		return cli_usage_error(verb, "'%s': negative values are not accepted", arg);
	if (arg[0] == '-' && arg[1] == '-' && optopt && eq)
		return cli_usage_error(verb, "option '%.*s' takes no value", (int)(eq - arg), arg);
	/* optopt is the option's value when its argument is missing, 0 for an unknown long one. */
	if (optopt >= 0x100 || (colon && colon[1] == ':'))
		return cli_usage_error(verb, "option '%s' needs a value", arg);
	if (optopt > 0 && !(arg[0] == '-' && arg[1] == '-'))
		return cli_usage_error(verb, "unknown option '-%c'", optopt);
	return cli_usage_error(verb, "unknown option '%s'", arg);
}

int cli_parse_duration_us(const char *text, uint64_t *us)
{
	char *end;
	const double v = strtod(text, &end);
	double scale;

	/* nan/inf parse as numbers; a cast of either, or of anything past 2^64, is undefined. */
	if (end == text || !isfinite(v) || v < 0)
		return CF_ERR_USAGE;
	if (!strcmp(end, "us"))
		scale = 1;
	else if (!strcmp(end, "ms"))
		scale = 1e3;
	else if (!strcmp(end, "s"))
		scale = 1e6;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		scale = 60e6;
	else
		return CF_ERR_USAGE;
	if (v * scale > (double)CLI_DURATION_MAX_US)
		return CF_ERR_USAGE;
	*us = (uint64_t)(v * scale);
	return CF_OK;
}
