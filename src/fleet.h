/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Runs many updaters at once on one loop; one device's failure never stops the others. */
#ifndef CARTOFLASH_SRC_FLEET_H
#define CARTOFLASH_SRC_FLEET_H

#include <stddef.h>

#include "updater.h"

struct fleet;
struct loop;
struct report;

/* Borrowed loop and report must outlive the fleet. Caller frees with fleet_free. */
struct fleet *fleet_new(struct loop *loop, struct report *report);
/* Frees every updater the fleet created; NULL-safe. */
void fleet_free(struct fleet *f);

/*
 * Add one device job: an updater is created from cfg (its events are the fleet's; cfg->loop is
 * set to the fleet's loop) and will run steps[0..nsteps) in order. label names the device in the
 * report until identify fills the identity (NULL: derived from cfg->target). Returns the job
 * index, or a negative cf_err (CF_ERR_NOMEM).
 */
int fleet_add(struct fleet *f, const struct updater_config *cfg, const enum updater_step *steps,
	      size_t nsteps, const char *label);

/*
 * Run every job to its end. SIGINT/SIGTERM cancel all jobs at their next safe point (never
 * mid-frame; devices stay in their bootloader). Prints the summary table / JSON summary when
 * summary is true. Returns the worst exit code (0 when every device succeeded).
 */
int fleet_run(struct fleet *f, bool summary);

/* Borrowed, valid until fleet_free. */
struct updater *fleet_get_updater(struct fleet *f, int job);
/* The job's final result: 0 or negative cf_err (CF_ERR_OTHER while unfinished). */
int fleet_get_result(const struct fleet *f, int job);
int fleet_count(const struct fleet *f);

/* Steps for the common verbs. */
extern const enum updater_step fleet_steps_flash[5];  /* identify check write verify finish */
extern const enum updater_step fleet_steps_check[2];  /* identify check (--dry-run) */
extern const enum updater_step fleet_steps_verify[3]; /* identify check verify */

#endif
