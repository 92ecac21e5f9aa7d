// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash update --firmware SRC... [--all | --uuid UUID... | --serial SERIAL...]`: the right
// build for every probe, chosen by content; the plan first, then the writes (issue 12).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buslock.h"
#include "cli.h"
#include "cmd_run.h"
#include "discover/discover.h"
#include "failure.h"
#include "firmware_source.h"
#include "fleet.h"
#include "jsonout.h"
#include "liverun.h"
#include "loop.h"
#include "protocol/err.h"
#include "update_plan.h"

enum {
	OPT_FIRMWARE = CMD_OPT_VERB_FIRST,
	OPT_ALL,
	OPT_LIST,
	OPT_VERSION,
	OPT_VARIANT,
	OPT_KLIPPER_CONFIG,
	OPT_NO_USB,
	OPT_PICK_SERIAL,
	OPT_VERIFY_CURRENT,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash update --firmware DIR|CSV|FILE [--firmware ...]\n"
		"                         [--all | --uuid UUID... | --serial SERIAL...] [options]\n"
		"\n"
		"Choose, for every probe, the build it should run from a firmware source, by\n"
		"content: a directory tree as Cartographer ships it, firmware_list.csv, or files.\n"
		"Per probe: the newest release for its MCU, interface, CAN bus bitrate and variant\n"
		"(full, lite, K1, HT, as it runs today), or --version. The plan (probe, running\n"
		"version -> file and version, why) comes first; a probe that runs the chosen build\n"
		"(same identify dictionary) is up to date and left alone.\n"
		"\n"
		"      --firmware SRC        a firmware source (repeatable)\n"
		"      --list                judge the source and list it; no probe is asked\n"
		"      --all                 every Cartographer probe found (Klipper, CAN, USB):\n"
		"                            an application whose firmware names Cartographer\n"
		"      --uuid UUID           the probe with this CAN UUID (repeatable)\n"
		"      --serial SERIAL       the probe with this chip UID / USB serial (repeatable)\n"
		"  -i, --can IFACE           also ask this CAN interface or sim:PATH (repeatable)\n"
		"      --klipper-config PATH Klipper config file (repeatable)\n"
		"      --no-usb              leave USB probes out\n"
		"      --version X.Y.Z       that version instead of the newest\n"
		"      --variant NAME        full, lite, k1, ht...: move the probe to that variant\n"
		"                            (lifts R8 for it; a probe in Katapult is written\n"
		"                            only with it)\n"
		"      --allow-unknown       builds that are no known release may be chosen (R7)\n"
		"      --verify-current      read a current probe back against the chosen build\n"
		"                            (reboots it into Katapult and back) instead of\n"
		"                            leaving it alone\n"
		"      --dry-run             the plan only: nothing rebooted, nothing written\n"
		"      --timeout DURATION    how long to wait for Katapult (default 11s)\n"
		"      --json  -v  -q\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first,\n"
		"as for flash; Klipper is stopped and started once for all probes:\n"
		LIVERUN_HELP
		"\n"
		"A release that needs a newer host plugin (min_plugin_version) or a recalibration\n"
		"(into 6.x, past 6.2.0) is warned about before anything is written. The run ends\n"
		"with a table: probe, version before -> after, result. Exit codes as for flash;\n"
		"65 when a probe has no build, 69 when a named probe does not answer.\n"
		"\n"
		"Examples:\n"
		"  cartoflash update --firmware cartographer_firmware/ --all --dry-run\n"
		"  cartoflash update --firmware firmware_list.csv --uuid e0ef270ca188\n"
		"  cartoflash update --firmware fw/ --list\n");
}

static int add_to(const char **v, size_t *n, const char *arg, const char *what)
{
	if (*n == UPDATE_MAX)
		return cli_usage_error("update", "at most %d %s", UPDATE_MAX, what);
	v[(*n)++] = arg;
	return 1;
}

static int verb_option(struct update_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_FIRMWARE:
		return add_to(o->sources, &o->nsources, arg, "--firmware");
	case OPT_ALL:
		o->all = true;
		return 1;
	case OPT_LIST:
		o->list = true;
		return 1;
	case OPT_VERSION:
		o->want.version = catalog_version_number(arg);
		return o->want.version ? 1 : cli_usage_error("update", "--version needs X.Y.Z");
	case OPT_VARIANT:
		o->want.variant_set = catalog_variant_parse(arg, &o->want.variant);
		return o->want.variant_set ? 1 : cli_usage_error("update", "unknown --variant '%s'", arg);
	case OPT_KLIPPER_CONFIG:
		return add_to(o->disc.configs, &o->disc.nconfigs, arg, "--klipper-config");
	case OPT_VERIFY_CURRENT:
		o->verify_current = true;
		return 1;
	case OPT_NO_USB:
		o->disc.usb = o->disc.dfu = false;
		return 1;
	case CMD_OPT_UUID:
	case OPT_PICK_SERIAL:
		return add_to(o->picks, &o->npicks, arg, "probes");
	case 'i':
	case CMD_OPT_CAN:
		return add_to(o->disc.cans, &o->disc.ncans, arg, "--can");
	default:
		return 0;
	}
}

static int parse_update(int argc, char **argv, struct update_opts *o)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		{ "allow-unknown", no_argument, NULL, CMD_OPT_ALLOW_UNKNOWN },
		{ "can", required_argument, NULL, CMD_OPT_CAN },
		{ "dry-run", no_argument, NULL, CMD_OPT_DRY_RUN },
		{ "firmware", required_argument, NULL, OPT_FIRMWARE },
		{ "interface", required_argument, NULL, 'i' },
		{ "klipper-config", required_argument, NULL, OPT_KLIPPER_CONFIG },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "no-usb", no_argument, NULL, OPT_NO_USB },
		{ "serial", required_argument, NULL, OPT_PICK_SERIAL },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
		{ "uuid", required_argument, NULL, CMD_OPT_UUID },
		{ "variant", required_argument, NULL, OPT_VARIANT },
		{ "verify-current", no_argument, NULL, OPT_VERIFY_CURRENT },
		{ "version", required_argument, NULL, OPT_VERSION },
		LIVERUN_OPTIONS,
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "hi:qv", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		if (cli_common_option(c))
			continue;
		rc = verb_option(o, c, optarg);
		if (!rc)
			rc = cmd_updater_option(&o->opts, "update", c, optarg);
		if (rc == 1)
			continue;
		return rc ? rc : cli_usage_error("update", "unknown option");
	}
	if (optind != argc)
		return cli_usage_error("update", "unexpected argument '%s'", argv[optind]);
	if (!o->nsources)
		return cli_usage_error("update", "name a firmware source: --firmware DIR|CSV|FILE");
	if (!o->list && !o->all && !o->npicks)
		return cli_usage_error("update", "name probes (--uuid, --serial) or --all");
	o->want.allow_unknown = o->opts.force & UPDATER_FORCE_UNKNOWN;
	/* discovery asks the same Klipper and waits as long for a bus as the run after it */
	o->disc.klippy_socket = liverun_cli.klippy_socket;
	if (liverun_cli.lock_wait_set)
		o->disc.lock_wait_us = liverun_cli.lock_wait_us;
	return 0;
}

/* ---- the source ---- */

static void list_reasons(const struct catalog_entry *e, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (unsigned b = 1; b < 1u << CATALOG_REJECT_COUNT; b <<= 1)
		if (e->rejected & b)
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "",
					      catalog_reject_name(b));
	for (unsigned b = 1; b < 1u << IMAGE_NAME_WARNING_COUNT; b <<= 1)
		if (e->name_warnings & b)
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, ",%s",
					      image_name_warning_name(b));
	for (unsigned b = 1; b < 1u << CATALOG_ROW_MISMATCH_COUNT; b <<= 1)
		if (e->row_mismatch & b)
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, ",row %s",
					      catalog_row_mismatch_name(b));
}

static void print_entry(const struct catalog_entry *e)
{
	char why[256], var[32], ver[16], bps[12];

	list_reasons(e, why, sizeof(why));
	catalog_variant_name(e->variant, var, sizeof(var));
	catalog_version_format(e->version, ver, sizeof(ver));
	if (cli_common.json) {
		json_t *o = json_pack("{s:s, s:s, s:b}", "event", "candidate", "file", e->path,
				      "usable", !e->rejected);

		if (e->info && e->info->kind != IMAGE_UNKNOWN) {
			char sha[65];

			for (int i = 0; i < 32; i++)
				snprintf(sha + 2 * i, 3, "%02x", e->info->sha256[i]);
			json_object_set_new(o, "sha256", json_string(sha));
			json_object_set_new(o, "kind", json_string(image_kind_name(e->info->kind)));
			json_object_set_new(o, "mcu", json_string(e->info->mcu));
			json_object_set_new(o, "interface",
					    json_string(image_iface_name(e->info->iface)));
			if (e->info->can_bitrate)
				json_object_set_new(o, "can_bitrate",
						    json_integer(e->info->can_bitrate));
			json_object_set_new(o, "version", json_string(e->info->version));
			json_object_set_new(o, "variant", json_string(var));
			json_object_set_new(o, "known", json_string(catalog_known_name(e->known)));
		}
		if (e->row)
			json_object_set_new(o, "csv_line", json_integer(e->row->line));
		if (why[0])
			json_object_set_new(o, "rejected", json_string(why));
		jsonout_emit(o);
		return;
	}
	snprintf(bps, sizeof(bps), "%u", e->info ? (unsigned)e->info->can_bitrate : 0u);
	printf("%-8s %-8s %-4s %-8s %-7s %-8s %s%s%s\n",
	       e->info ? image_kind_name(e->info->kind) : "missing", ver[0] ? ver : "-",
	       e->info ? image_iface_name(e->info->iface) : "-",
	       e->info && e->info->can_bitrate ? bps : "-", var, catalog_known_name(e->known),
	       e->path, why[0] ? "  REJECTED: " : "", why);
}

static int load_sources(const struct update_opts *o, struct fwsource *s)
{
	struct cf_failure f;

	for (size_t i = 0; i < o->nsources; i++) {
		cf_failure_clear(&f);
		if (fwsource_add(s, o->sources[i], &f) < 0)
			return cli_fail(&f);
	}
	return 0;
}

int run_update(int argc, char **argv); /* the verb table in src/cli.c */

int run_update(int argc, char **argv)
{
	struct update_opts o = { .disc = { .auto_cans = true, .usb = true, .dfu = false,
					   .default_config = true, .lock_wait_us = BUSLOCK_WAIT_US,
					   .verb = "update" } };
	struct fwsource *s = NULL;
	const struct catalog_entry *v;
	size_t n;
	int rc = parse_update(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	s = fwsource_new();
	if (!s)
		return cf_err_exit_code(CF_ERR_NOMEM);
	rc = load_sources(&o, s);
	if (rc)
		goto out;
	v = fwsource_entries(s, &n);
	if (o.list) {
		if (!cli_common.json)
			printf("%-8s %-8s %-4s %-8s %-7s %-8s %s\n", "KIND", "VERSION", "LINK",
			       "BITRATE", "VARIANT", "KNOWN", "FILE");
		for (size_t i = 0; i < n; i++)
			print_entry(&v[i]);
		if (cli_common.json)
			jsonout_emit(json_pack("{s:s, s:i, s:i}", "event", "summary", "candidates",
					       (int)n, "exit_code", 0));
		goto out;
	}
	rc = update_plan_run(&o, v, n);
out:
	fwsource_free(s);
	return rc;
}
