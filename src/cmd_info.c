// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash info`: CONNECT facts of probes already in Katapult; a running probe is left alone.
#include <stdio.h>

#include "cmd_run.h"
#include "fleet.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash info --can IFACE --uuid UUID [--uuid UUID...] [--timeout 1s]\n"
		"\n"
		"Connect to each probe's Katapult and print what it reports: MCU, protocol and\n"
		"bootloader version, application start, block size, and the bus bitrate. A probe\n"
		"running its application is not disturbed (no bootloader request), so it is not\n"
		"found: `cartoflash bootloader` enters Katapult first.\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first:\n"
		LIVERUN_HELP
		"\n"
		"Examples:\n"
		"  cartoflash info --can can0 --uuid e0ef270ca188\n"
		"  cartoflash info --can sim:/tmp/bus --uuid e0ef270ca188 --json\n"
		"  cartoflash info --serial /dev/ttyACM0   (a USB probe: --serial PATH|auto)\n");
}

int run_info(int argc, char **argv)
{
	static const enum updater_step steps[] = { UPDATER_IDENTIFY };
	struct cmd_targets t = { 0 };
	struct cmd_run run = { .steps = steps, .nsteps = 1, .in_katapult = true };
	int rc = cmd_parse_targets_only(argc, argv, "info", usage, false, &t, &run.opts);

	/* A probe in Katapult answers the first CONNECT round: no need to wait 5 s. */
	if (!rc && !run.opts.timeout_us)
		run.opts.timeout_us = 1000000u;
	if (!rc)
		rc = cmd_run_targets(&t, NULL, &run);
	cmd_targets_fini(&t);
	return rc < 0 ? 0 : rc;
}
