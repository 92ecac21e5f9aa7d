/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The update verb's plan and run: per probe the build catalog_choose picks, the plan, the
 * warnings before writing, one run for the writes and read-backs, the final table. */
#ifndef CARTOFLASH_SRC_UPDATE_PLAN_H
#define CARTOFLASH_SRC_UPDATE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "discover/discover.h"
#include "protocol/catalog.h"
#include "updater.h"

#define UPDATE_MAX 32 /* firmware sources, named probes, probes in one plan */

/* What the command line asked (src/cmd_update.c parses it). */
struct update_opts {
	const char *sources[UPDATE_MAX];
	size_t nsources;
	const char *picks[UPDATE_MAX]; /* --uuid / --serial values: which probes */
	size_t npicks;
	bool all, list;
	bool verify_current; /* read a current probe back instead of leaving it alone */
	struct catalog_want want;
	struct discover_opts disc;
	struct updater_options opts;
};

/*
 * Discover the probes (nothing rebooted), choose for each picked one among v[0..n), print the
 * plan and the warnings (min_plugin_version, recalibration); with --dry-run stop there. Else
 * write the probes to write and read back the current ones (--verify-current) in one run of
 * cmd_run_targets (print guard, --stop-klipper once), then the final table (JSON:
 * update_result lines) before the summary. Returns the exit code (as for flash).
 */
int update_plan_run(const struct update_opts *o, const struct catalog_entry *v, size_t n);

#endif
