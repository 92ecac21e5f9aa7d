// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash flash IMAGE --can IFACE --uuid UUID...`: check, write, verify, reboot each probe.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cmd_run.h"
#include "fleet.h"
#include "protocol/err.h"

struct flash_opts {
	const char *image;
	struct cmd_targets targets;
	struct updater_options opts;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash flash IMAGE --can IFACE --uuid UUID [--uuid UUID...] [options]\n"
		"\n"
		"Check IMAGE against each probe (refusal rules R1-R8), bring the probe into Katapult,\n"
		"write it in the safe order, verify every block, then reboot it and wait until its\n"
		"application answers. All probes update at once; one failure never stops the others.\n"
		"Each --uuid belongs to the --can before it, so one command can span several buses.\n"
		"\n"
		"  -i, --can, --interface IFACE  CAN interface (can0) or simulated bus (sim:PATH)\n"
		"      --uuid UUID               probe CAN UUID, 12 hex digits (repeatable)\n"
		"      --serial PATH|auto        a probe on USB (/dev/ttyACM0, a by-id link, or the\n"
		"                                one probe found) or on a UART (docs/serial.md)\n"
		"      --baud N                  UART rate (default 250000; USB ignores it)\n"
		"      --request-bootloader      UART: send Klipper's bootloader request first\n"
		"      --dry-run                 every check against what the probe runs now\n"
		"                                (identify, Klipper or CONNECT), nothing written,\n"
		"                                never rebooted\n"
		"      --no-reboot               leave the probe in Katapult after the verify\n"
		"      --allow-bitrate-mismatch  lift R3 (image bitrate differs from the bus)\n"
		"      --allow-unknown           lift R7: write a build that is no known release\n"
		"                                (your own or a changed file), with a warning\n"
		"      --allow-variant-change    lift R8 (K1, HT, lite differ from what runs)\n"
		"      --switch-to can|usb       a deployer may change the probe's interface (R4);\n"
		"                                then says where it comes back (docs/switch.md);\n"
		"                                with --serial, --can IFACE waits for it there\n"
		"      --force                   lift the refusals that can be sane (R3 only) and\n"
		"                                name them\n"
		"      --timeout DURATION        how long to wait for Katapult (default 11s)\n"
		"      --json                    one JSON object per line on stdout, summary last\n"
		"  -v, --verbose                 the Katapult exchange; -vv decisions, -vvv CAN frames\n"
		"  -q, --quiet                   errors only\n"
		"\n"
		"Exit codes: 0 all verified, 65 image refused, 66 image unreadable, 69 probe not\n"
		"found, 74 bus I/O, 76 device protocol (verify mismatch, wedged), 130 interrupted.\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first:\n"
		LIVERUN_HELP
		"\n"
		"Examples:\n"
		"  cartoflash flash app.bin --can can0 --uuid e0ef270ca188\n"
		"  cartoflash flash app.bin --can can0 --uuid e0ef270ca188 --uuid 90a4ae022dfc --json\n"
		"  cartoflash flash app.bin --can can0 --uuid e0ef270ca188 --dry-run\n"
		"  cartoflash flash app.bin --serial /dev/serial/by-id/usb-Cartographer_614e_"
		"16000C000F43304253373820-if00\n"
		"  cartoflash flash app.bin --serial auto\n");
}

static int parse_flash(int argc, char **argv, struct flash_opts *o)
{
	static const struct option longopts[] = {
		{ "allow-bitrate-mismatch", no_argument, NULL, CMD_OPT_ALLOW_BITRATE },
		CMD_TARGET_OPTIONS,
		{ "dry-run", no_argument, NULL, CMD_OPT_DRY_RUN },
		{ "force", no_argument, NULL, CMD_OPT_FORCE },
		{ "no-reboot", no_argument, NULL, CMD_OPT_NO_REBOOT },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
		CMD_SWITCH_OPTION,
		CMD_RELEASE_OPTIONS,
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
		rc = cmd_targets_option(&o->targets, "flash", c, optarg);
		if (!rc)
			rc = cmd_updater_option(&o->opts, "flash", c, optarg);
		if (rc == 1)
			continue;
		return rc ? rc : cli_bad_option("flash", argc, argv, "hi:qv");
	}
	if (optind + 1 != argc)
		return cli_usage_error("flash", optind == argc ? "name one IMAGE file" :
								 "one IMAGE only (got '%s')",
				       optind < argc ? argv[optind + 1] : "");
	o->image = argv[optind];
	return cmd_targets_require(&o->targets, "flash");
}

int run_flash(int argc, char **argv)
{
	struct flash_opts o = { 0 };
	struct image_file img;
	struct image_file **images = NULL;
	struct cmd_run run = { .steps = fleet_steps_flash, .nsteps = 5 };
	int rc = parse_flash(argc, argv, &o);

	if (rc)
		goto out_targets;
	rc = cmd_image_load(&img, o.image);
	if (!rc)
		rc = cmd_image_check_known(&img, o.opts.force); /* R7 before any probe */
	if (rc)
		goto out_image;
	images = calloc(o.targets.count, sizeof(*images));
	if (!images) {
		rc = cf_err_exit_code(CF_ERR_NOMEM);
		goto out_image;
	}
	for (size_t i = 0; i < o.targets.count; i++)
		images[i] = &img;
	run.opts = o.opts;
	if (o.opts.dry_run) {
		run.steps = cmd_steps_dry_run;
		run.nsteps = 3;
	}
	rc = cmd_run_targets(&o.targets, images, &run);
	free(images);
out_image:
	image_file_fini(&img);
out_targets:
	cmd_targets_fini(&o.targets);
	return rc < 0 ? 0 : rc;
}
