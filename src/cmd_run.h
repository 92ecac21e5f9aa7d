/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One run for every backend: the named targets, their images, one updater each, one report. */
#ifndef CARTOFLASH_SRC_CMD_RUN_H
#define CARTOFLASH_SRC_CMD_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd_target.h"
#include "image_file.h"
#include "updater.h"

struct fleet;

/* Load one image to write (image_file_load_one). On failure prints the one-line error and
 * returns its exit code (64, 65, 66); 0 on success. Free with image_file_fini. */
int cmd_image_load(struct image_file *img, const char *path);
/*
 * images.md R7 for an image about to be written, before any device is reached: a build that is
 * no known release is refused (one line, exit 65) unless force has UPDATER_FORCE_UNKNOWN; then
 * a warning says it goes on. Returns 0 or the exit code.
 */
int cmd_image_check_known(const struct image_file *img, unsigned force);

/* What one run of jobs does. */
struct cmd_run {
	const enum updater_step *steps;
	size_t nsteps;
	struct updater_options opts;
	bool in_katapult; /* the node is expected in Katapult already: no bootloader request */
	/* Optional per-finished-device hook (info prints the CONNECT facts). */
	void (*on_result)(const struct device_identity *id, int err, void *ctx);
	void *ctx;
	/* Optional, per target (NULL: none): true runs that target through identify, check,
	 * verify, finish (a read-back) instead of steps, in the same run (update
	 * --verify-current: Klipper stopped once for all). */
	const bool *verify_only;
	/* Optional: after the run, before the summary line (update's per-probe records). */
	void (*before_summary)(struct fleet *fleet, void *ctx);
};

/*
 * Run every target through run->steps at once on one loop, one updater each (the fleet):
 * one failure never stops the others. images[i] belongs to targets->v[i] (NULL entries: no
 * image). Prints progress, the table or JSON summary; returns the worst exit code.
 */
int cmd_run_targets(const struct cmd_targets *targets, struct image_file *const *images,
		    const struct cmd_run *run);

/* --dry-run: identify, check, then finish puts a probe taken out of its application back. */
extern const enum updater_step cmd_steps_dry_run[3];

/* The verbs of this family (cli.c's table): argv[0] is the verb, the result an exit code. */
int run_flash(int argc, char **argv);
int run_verify(int argc, char **argv);
int run_info(int argc, char **argv);
int run_bootloader(int argc, char **argv);
int run_reboot(int argc, char **argv);
int run_scan(int argc, char **argv);
int run_fleet(int argc, char **argv);

#endif
