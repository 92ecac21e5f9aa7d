// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash verify IMAGE`: read every block back from each probe and compare with IMAGE.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd_run.h"
#include "fleet.h"
#include "protocol/err.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash verify IMAGE --can IFACE --uuid UUID [--uuid UUID...] [options]\n"
		"\n"
		"Bring each probe into Katapult, read back every block of IMAGE's range and compare\n"
		"byte for byte; the first differing block is named with both contents. A probe that\n"
		"matches is rebooted into its application (unless --no-reboot); one that differs\n"
		"stays in Katapult for a flash.\n"
		"\n"
		"  -i, --can IFACE      CAN interface or sim:PATH      --uuid UUID   (repeatable)\n"
		"      --no-reboot      stay in Katapult               --timeout DURATION\n"
		"      --json, -v, -q\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first:\n"
		LIVERUN_HELP
		"\n"
		"Examples:\n"
		"  cartoflash verify app.bin --can can0 --uuid e0ef270ca188\n"
		"  cartoflash verify app.bin --serial auto   (a USB probe: --serial PATH|auto)\n");
}

static int parse_verify(int argc, char **argv, struct cmd_targets *t, struct updater_options *o,
			const char **image)
{
	static const struct option longopts[] = {
		CMD_TARGET_OPTIONS,
		{ "no-reboot", no_argument, NULL, CMD_OPT_NO_REBOOT },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
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
		rc = cmd_targets_option(t, "verify", c, optarg);
		if (!rc)
			rc = cmd_updater_option(o, "verify", c, optarg);
		if (rc == 1)
			continue;
		return rc ? rc : cli_bad_option("verify", argc, argv, "hi:qv");
	}
	if (optind + 1 != argc)
		return cli_usage_error("verify", "name one IMAGE file");
	*image = argv[optind];
	return cmd_targets_require(t, "verify");
}

int run_verify(int argc, char **argv)
{
	static const enum updater_step steps[] = { UPDATER_IDENTIFY, UPDATER_CHECK_IMAGE,
						   UPDATER_VERIFY, UPDATER_FINISH };
	struct cmd_targets t = { 0 };
	struct cmd_run run = { .steps = steps, .nsteps = 4 };
	struct image_file img, **images = NULL;
	const char *path = NULL;
	int rc = parse_verify(argc, argv, &t, &run.opts, &path);

	if (rc)
		goto out_targets;
	rc = cmd_image_load(&img, path);
	if (rc)
		goto out_image;
	images = calloc(t.count, sizeof(*images));
	if (!images) {
		rc = cf_err_exit_code(CF_ERR_NOMEM);
		goto out_image;
	}
	for (size_t i = 0; i < t.count; i++)
		images[i] = &img;
	rc = cmd_run_targets(&t, images, &run);
	free(images);
out_image:
	image_file_fini(&img);
out_targets:
	cmd_targets_fini(&t);
	return rc < 0 ? 0 : rc;
}
