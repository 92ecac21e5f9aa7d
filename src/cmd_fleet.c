// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash fleet MANIFEST`: update every probe a manifest names, all at once.
#include <getopt.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_run.h"
#include "failure.h"
#include "fleet.h"
#include "katapult/iface_switch.h"
#include "protocol/err.h"

#define FLEET_MAX_PROBES 64

/* One manifest section while it is read; checked and turned into a target at the end. */
struct probe_entry {
	char name[64];
	char iface[64];
	char uuid[64];
	char image[256];
	enum updater_switch switch_to;
};

struct manifest {
	char dir[256];
	struct probe_entry v[FLEET_MAX_PROBES];
	int count;
	char error[200];
};

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
		"--switch-to can|usb --timeout DURATION --json -v -q. A section's optional\n"
		"switch_to = can|usb lets its deployer change that probe's interface (R4).\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first:\n"
		LIVERUN_HELP
		"\n"
		"Examples:\n"
		"  cartoflash fleet probes.ini\n"
		"  cartoflash fleet probes.ini --dry-run --json\n");
}

static struct probe_entry *section(struct manifest *m, const char *name)
{
	for (int i = 0; i < m->count; i++)
		if (!strcmp(m->v[i].name, name))
			return &m->v[i];
	if (m->count == FLEET_MAX_PROBES)
		return NULL;
	snprintf(m->v[m->count].name, sizeof(m->v[0].name), "%.63s", name);
	return &m->v[m->count++];
}

static int on_pair(void *user, const char *sect, const char *name, const char *value)
{
	struct manifest *m = user;
	struct probe_entry *p;

	if (!name || !value)
		return 1;
	p = sect[0] ? section(m, sect) : NULL;
	if (!p) {
		snprintf(m->error, sizeof(m->error), "'%s' outside a probe section or too many "
			 "sections (at most %d)", name, FLEET_MAX_PROBES);
		return 0;
	}
	if (!strcmp(name, "interface") || !strcmp(name, "can"))
		snprintf(p->iface, sizeof(p->iface), "%.63s", value);
	else if (!strcmp(name, "uuid") || !strcmp(name, "canbus_uuid"))
		snprintf(p->uuid, sizeof(p->uuid), "%.63s", value);
	else if (!strcmp(name, "image"))
		snprintf(p->image, sizeof(p->image), "%.255s", value);
	else if (!strcmp(name, "switch_to")) {
		if (!iface_switch_from_name(value, &p->switch_to))
			snprintf(m->error, sizeof(m->error),
				 "switch_to in [%.60s] needs can or usb, not '%.60s'", sect, value);
	} else
		snprintf(m->error, sizeof(m->error), "unknown key '%s' in [%s]", name, sect);
	return !m->error[0];
}

static int manifest_fail(const char *path, const char *what)
{
	struct cf_failure f;

	cf_failure_clear(&f);
	cf_failure_set(&f, CF_ERR_USAGE, "manifest", "%s: %s", path, what);
	cf_failure_set_hint(&f, "see `cartoflash fleet --help` for the format");
	return cli_fail(&f);
}

/* Read the manifest into targets; image paths are made relative to its directory. */
static int read_manifest(const char *path, struct cmd_targets *t)
{
	struct manifest *m = calloc(1, sizeof(*m));
	char dirbuf[256], image[600], text[300];
	int rc;

	if (!m)
		return cf_err_exit_code(CF_ERR_NOMEM);
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	snprintf(m->dir, sizeof(m->dir), "%s", dirname(dirbuf));
	rc = ini_parse(path, on_pair, m);
	if (rc < 0) {
		free(m);
		return manifest_fail(path, "cannot open it");
	}
	if (rc > 0 || m->error[0]) {
		snprintf(text, sizeof(text), "line %d: %s", rc, m->error[0] ? m->error :
									       "not INI syntax");
		free(m);
		return manifest_fail(path, text);
	}
	rc = m->count ? 0 : manifest_fail(path, "no probe sections");
	for (int i = 0; !rc && i < m->count; i++) {
		const struct probe_entry *p = &m->v[i];

		if (!p->iface[0] || !p->uuid[0] || !p->image[0]) {
			snprintf(text, sizeof(text), "[%s] needs interface, uuid and image", p->name);
			rc = manifest_fail(path, text);
			break;
		}
		snprintf(image, sizeof(image), "%s%s%s", p->image[0] == '/' ? "" : m->dir,
			 p->image[0] == '/' ? "" : "/", p->image);
		switch (cmd_targets_add(t, p->iface, p->uuid, p->name, image)) {
		case CF_OK:
			t->v[t->count - 1].switch_to = p->switch_to;
			break;
		case CF_ERR_BUSY:
			snprintf(text, sizeof(text), "[%s]: probe %s on %s is named twice", p->name,
				 p->uuid, p->iface);
			rc = manifest_fail(path, text);
			break;
		default:
			snprintf(text, sizeof(text), "[%s]: '%s' is not a CAN UUID", p->name, p->uuid);
			rc = manifest_fail(path, text);
			break;
		}
	}
	free(m);
	return rc;
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
		return rc ? rc : cli_usage_error("fleet", "unknown option");
	}
	if (optind + 1 != argc)
		return cli_usage_error("fleet", "name one MANIFEST file");
	*path = argv[optind];
	return 0;
}

/* Each distinct image file is loaded once; images[i] points into loaded[]. */
static int load_images(const struct cmd_targets *t, struct image_file *loaded,
		       struct image_file **images, size_t *nloaded)
{
	for (size_t i = 0; i < t->count; i++) {
		size_t j;

		for (j = 0; j < *nloaded; j++)
			if (!strcmp(loaded[j].path, t->v[i].image))
				break;
		if (j == *nloaded) {
			int rc = cmd_image_load(&loaded[j], t->v[i].image);

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
		rc = loaded && images ? load_images(&t, loaded, images, &nloaded) :
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
