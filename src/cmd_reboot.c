// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash reboot`: COMPLETE for probes in Katapult, then wait for their application.
#include <stdio.h>

#include "cmd_run.h"
#include "fleet.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash reboot --can IFACE --uuid UUID [--uuid UUID...] [--timeout 1s]\n"
		"\n"
		"Send COMPLETE to each probe's Katapult (it jumps to its application) and wait until\n"
		"the application answers the admin query. Katapult starts the application whatever\n"
		"it holds: reboot only probes whose last flash verified.\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first:\n"
		LIVERUN_HELP
		"\n"
		"Examples:\n"
		"  cartoflash reboot --can can0 --uuid e0ef270ca188\n"
		"  cartoflash reboot --serial auto   (a USB probe: --serial PATH|auto)\n");
}

int run_reboot(int argc, char **argv)
{
	static const enum updater_step steps[] = { UPDATER_IDENTIFY, UPDATER_FINISH };
	struct cmd_targets t = { 0 };
	struct cmd_run run = { .steps = steps, .nsteps = 2, .in_katapult = true };
	int rc = cmd_parse_targets_only(argc, argv, "reboot", usage, false, &t, &run.opts);

	if (!rc && !run.opts.timeout_us)
		run.opts.timeout_us = 1000000u;
	if (!rc)
		rc = cmd_run_targets(&t, NULL, &run);
	cmd_targets_fini(&t);
	return rc < 0 ? 0 : rc;
}
