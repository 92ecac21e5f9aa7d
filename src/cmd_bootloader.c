// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash bootloader`: bring probes into Katapult and leave them there.
#include <stdio.h>

#include "cmd_run.h"
#include "fleet.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash bootloader --can IFACE --uuid UUID [--uuid UUID...] [--timeout 11s]\n"
		"\n"
		"Send the bootloader request to each probe and wait until its Katapult answers\n"
		"CONNECT (unlike flashtool -r, which only sends the request). The probe stays in\n"
		"Katapult until `cartoflash reboot`, a flash, or a power cycle.\n"
		"\n"
		"Klipper (a print, a probe it holds) and other runs on the bus are asked first:\n"
		LIVERUN_HELP
		"\n"
		"Examples:\n"
		"  cartoflash bootloader --can can0 --uuid e0ef270ca188\n"
		"  cartoflash bootloader --can can0 --uuid e0ef270ca188 --uuid 90a4ae022dfc --json\n"
		"  cartoflash bootloader --serial auto   (a USB probe: 1200-baud request)\n");
}

int run_bootloader(int argc, char **argv)
{
	static const enum updater_step steps[] = { UPDATER_IDENTIFY };
	struct cmd_targets t = { 0 };
	struct cmd_run run = { .steps = steps, .nsteps = 1 };
	int rc = cmd_parse_targets_only(argc, argv, "bootloader", usage, false, &t, &run.opts);

	if (!rc)
		rc = cmd_run_targets(&t, NULL, &run);
	cmd_targets_fini(&t);
	return rc < 0 ? 0 : rc;
}
