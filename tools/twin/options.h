/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin process's command line (tools/twin/main.c): options, faults, help text. */
#ifndef CARTOFLASH_TOOLS_TWIN_OPTIONS_H
#define CARTOFLASH_TOOLS_TWIN_OPTIONS_H

#include <stdbool.h>

#include "tools/twin/twin.h"

#define TWIN_OPTIONS_MAX_INITS 8

struct twin_options {
	struct twin_config cfg;
	const char *inits[TWIN_OPTIONS_MAX_INITS]; /* --init STATE, borrowed from argv */
	int ninit;
	const char *attach, *pty; /* --attach TARGET, --pty PATH; at least one */
	struct twin_faults faults;
	bool have_faults;
	long power_on_after_ms; /* after an injected power loss; < 0 = stay off */
};

/*
 * Fill o from argv (defaults: the spec's example UID, speed 1, power back after 500 ms). --help
 * prints the usage on stdout and exits 0. Returns 0, or CF_ERR_USAGE after printing one line and
 * "try --help" on stderr.
 */
int twin_options_parse(int argc, char **argv, struct twin_options *o, bool *boot0);

#endif
