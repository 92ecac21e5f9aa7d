// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash fleet MANIFEST`: update every probe a manifest names, all at once.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_run.h"
#include "failure.h"
#include "fleet.h"
#include "manifest.h"
#include "protocol/err.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash fleet MANIFEST [--dry-run] [--no-reboot] [--force] [options]\n"
		"\n"
		"Update every probe MANIFEST names, all at once: one node id each, on one bus or\n"
		"several; one probe's failure never stops the others. The exit code is the worst\n"
		"probe's. MANIFEST is an INI file with one section per probe:\n"
		"\n"
		"  [front-probe]\n"
		"  interface = can0\n"
		"  uuid = e0ef270ca188\n"
		"  image = firmware/Cartographer_CAN_1M.bin   ; relative to the manifest\n"
		"\n"
		"Options as for flash: --dry-run --no-reboot --force --allow-bitrate-mismatch\n"
		"--allow-unknown --allow-variant-change --switch-to can|usb --timeout DURATION\n"
		"--json -v -q. A section's optional\n"
		"switch_to = can|usb lets its deployer change that probe's interface (R4).\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first:\n"
		LIVERUN_HELP
		"\n"
		"Examples:\n"
		"  cartoflash fleet probes.ini\n"
		"  cartoflash fleet probes.ini --dry-run --json\n");
}

/* Read the manifest (src/manifest.c checks it line by line) into targets. */
static int read_manifest(const char *path, struct cmd_targets *t)
{
	struct manifest *m = calloc(1, sizeof(*m));
	struct cf_failure why;
	int rc;

	if (!m)
		return cf_err_exit_code(CF_ERR_NOMEM);
	rc = manifest_read(path, m, &why);
	for (int i = 0; !rc && i < m->count; i++) {
		const struct manifest_probe *p = &m->v[i];

		rc = cmd_targets_add(t, p->iface, p->uuid, p->name, p->image);
		if (!rc)
			t->v[t->count - 1].switch_to = p->switch_to;
		else
			cf_failure_set(&why, rc, "manifest", "line %d: [%s] cannot be a target",
				       p->line, p->name);
	}
	free(m);
	return rc ? cli_fail(&why) : 0;
}

static int parse_fleet(int argc, char **argv, struct updater_options *o, const char **path)
{
	static const struct option longopts[] = {
		{ "allow-bitrate-mismatch", no_argument, NULL, CMD_OPT_ALLOW_BITRATE },
		{ "dry-run", no_argument, NULL, CMD_OPT_DRY_RUN },
		{ "force", no_argument, NULL, CMD_OPT_FORCE },
		{ "no-reboot", no_argument, NULL, CMD_OPT_NO_REBOOT },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
		CMD_SWITCH_OPTION,
		LIVERUN_OPTIONS,
		CMD_RELEASE_OPTIONS,
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		if (cli_common_option(c))
			continue;
		rc = cmd_updater_option(o, "fleet", c, optarg);
		if (rc == 1)
			continue;
		return rc ? rc : cli_bad_option("fleet", argc, argv, "hqv");
	}
	if (optind + 1 != argc)
		return cli_usage_error("fleet", "name one MANIFEST file");
	*path = argv[optind];
	return 0;
}

/* Each distinct image file is loaded once; images[i] points into loaded[]. */
static int load_images(const struct cmd_targets *t, unsigned force, struct image_file *loaded,
		       struct image_file **images, size_t *nloaded)
{
	for (size_t i = 0; i < t->count; i++) {
		size_t j;

		for (j = 0; j < *nloaded; j++)
			if (!strcmp(loaded[j].path, t->v[i].image))
				break;
		if (j == *nloaded) {
			int rc = cmd_image_load(&loaded[j], t->v[i].image);

			if (!rc) /* R7 before any probe is reached */
				rc = cmd_image_check_known(&loaded[j], force);
			if (rc) {
				image_file_fini(&loaded[j]);
				return rc;
			}
			(*nloaded)++;
		}
		images[i] = &loaded[j];
	}
	return 0;
}

int run_fleet(int argc, char **argv)
{
	struct cmd_targets t = { 0 };
	struct cmd_run run = { .steps = fleet_steps_flash, .nsteps = 5 };
	struct image_file *loaded = NULL, **images = NULL;
	size_t nloaded = 0;
	const char *path = NULL;
	int rc = parse_fleet(argc, argv, &run.opts, &path);

	if (!rc)
		rc = read_manifest(path, &t);
	if (!rc) {
		loaded = calloc(t.count, sizeof(*loaded));
		images = calloc(t.count, sizeof(*images));
		rc = loaded && images ? load_images(&t, run.opts.force, loaded, images, &nloaded) :
					cf_err_exit_code(CF_ERR_NOMEM);
	}
	if (!rc && run.opts.dry_run) {
		run.steps = cmd_steps_dry_run;
		run.nsteps = 3;
	}
	if (!rc)
		rc = cmd_run_targets(&t, images, &run);
	for (size_t i = 0; i < nloaded; i++)
		image_file_fini(&loaded[i]);
	free(loaded);
	free(images);
	cmd_targets_fini(&t);
	return rc < 0 ? 0 : rc;
}
