// SPDX-License-Identifier: GPL-3.0-or-later
// The fleet runner: drives each updater through its steps on one loop and reports results.
#include "fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "report.h"

const enum updater_step fleet_steps_flash[5] = { UPDATER_IDENTIFY, UPDATER_CHECK_IMAGE,
						 UPDATER_WRITE, UPDATER_VERIFY, UPDATER_FINISH };
const enum updater_step fleet_steps_check[2] = { UPDATER_IDENTIFY, UPDATER_CHECK_IMAGE };
const enum updater_step fleet_steps_verify[3] = { UPDATER_IDENTIFY, UPDATER_CHECK_IMAGE,
						  UPDATER_VERIFY };

#define FLEET_MAX_STEPS 8

struct fleet_job {
	struct fleet *fleet;
	struct updater *updater;
	enum updater_step steps[FLEET_MAX_STEPS];
	size_t nsteps, next;
	int report_dev;
	int result;
	bool finished;
	bool label_fixed; /* the caller named the device; keep its label */
	/* Starting the next step from a timer keeps backends from being re-entered from their own
	 * step_done callback. */
	struct loop_timer kick;
	int pending_err;
};

struct fleet {
	struct loop *loop;
	struct report *report;
	struct fleet_job **jobs;
	int count, cap;
	int unfinished;
};

static volatile sig_atomic_t Interrupted;

static void on_signal(int sig)
{
	(void)sig;
	Interrupted++;
}

struct fleet *fleet_new(struct loop *loop, struct report *report)
{
	struct fleet *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->loop = loop;
	f->report = report;
	return f;
}

void fleet_free(struct fleet *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->count; i++) {
		loop_disarm(f->loop, &f->jobs[i]->kick);
		updater_free(f->jobs[i]->updater);
		free(f->jobs[i]);
	}
	free(f->jobs);
	free(f);
}

static void finish_job(struct fleet_job *job, int err)
{
	struct fleet *f = job->fleet;
	struct cf_failure *why = updater_failure(job->updater);
	char label[96];

	job->finished = true;
	job->result = err;
	f->unfinished--;
	if (err) {
		if (!why->code)
			why->code = err;
		if (!why->device[0]) {
			identity_label(updater_identity(job->updater), label, sizeof(label));
			cf_failure_set_device(why, "%s", label);
		}
	}
	report_result(f->report, job->report_dev, err, err ? why : NULL,
		      updater_identity(job->updater), updater_get_summary(job->updater), cf_now_us());
}

static void start_next_step(struct fleet_job *job)
{
	struct fleet *f = job->fleet;
	enum updater_step step;
	int err;

	if (job->next == job->nsteps) {
		finish_job(job, CF_OK);
		return;
	}
	if (Interrupted) {
		cf_failure_set(updater_failure(job->updater), CF_ERR_INTERRUPTED, "interrupted",
			       "stopped before %s", updater_step_name(job->steps[job->next]));
		finish_job(job, CF_ERR_INTERRUPTED);
		return;
	}
	step = job->steps[job->next++];
	report_stage(f->report, job->report_dev, updater_step_name(step), cf_now_us());
	err = updater_start_step(job->updater, step);
	if (err < 0)
		finish_job(job, err);
}

static void on_kick(struct loop_timer *timer, uint64_t now_us)
{
	struct fleet_job *job = (struct fleet_job *)((char *)timer - offsetof(struct fleet_job, kick));
	char label[96];

	(void)now_us;
	if (job->pending_err) {
		finish_job(job, job->pending_err);
		return;
	}
	if (!job->label_fixed) {
		identity_label(updater_identity(job->updater), label, sizeof(label));
		report_set_label(job->fleet->report, job->report_dev, label);
	}
	start_next_step(job);
}

static void on_step_done(void *ctx, struct updater *u, int err)
{
	struct fleet_job *job = ctx;

	(void)u;
	job->pending_err = err;
	loop_arm(job->fleet->loop, &job->kick, 0);
}

static void on_progress(void *ctx, struct updater *u, const char *stage, size_t done, size_t total)
{
	struct fleet_job *job = ctx;

	(void)u;
	report_progress(job->fleet->report, job->report_dev, stage, done, total, cf_now_us());
}

static int grow(struct fleet *f)
{
	struct fleet_job **jobs;
	int cap = f->cap ? f->cap * 2 : 8;

	jobs = realloc(f->jobs, (size_t)cap * sizeof(*jobs));
	if (!jobs)
		return CF_ERR_NOMEM;
	f->jobs = jobs;
	f->cap = cap;
	return CF_OK;
}

int fleet_add(struct fleet *f, const struct updater_config *cfg, const enum updater_step *steps,
	      size_t nsteps, const char *label)
{
	struct updater_config c = *cfg;
	struct fleet_job *job;
	char auto_label[96];

	if (nsteps > FLEET_MAX_STEPS)
		return CF_ERR_USAGE;
	if (f->count == f->cap && grow(f) < 0)
		return CF_ERR_NOMEM;
	job = calloc(1, sizeof(*job));
	if (!job)
		return CF_ERR_NOMEM;
	job->fleet = f;
	c.loop = f->loop;
	c.events = (struct updater_events){ .ctx = job, .progress = on_progress,
					    .step_done = on_step_done };
	job->updater = updater_new(&c);
	if (!job->updater) {
		free(job);
		return CF_ERR_NOMEM;
	}
	memcpy(job->steps, steps, nsteps * sizeof(*steps));
	job->nsteps = nsteps;
	job->kick.fire = on_kick;
	job->label_fixed = label != NULL;
	identity_label(&cfg->target, auto_label, sizeof(auto_label));
	job->report_dev = report_add_device(f->report, label ? label : auto_label);
	if (job->report_dev < 0) {
		updater_free(job->updater);
		free(job);
		return CF_ERR_NOMEM;
	}
	f->jobs[f->count] = job;
	return f->count++;
}

static void cancel_all(struct fleet *f)
{
	for (int i = 0; i < f->count; i++)
		if (!f->jobs[i]->finished)
			updater_cancel(f->jobs[i]->updater);
}

int fleet_run(struct fleet *f, bool summary)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	int seen_interrupts = 0;

	// No SA_RESTART: poll must return EINTR so the loop notices at once.
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	Interrupted = 0;
	f->unfinished = f->count;
	for (int i = 0; i < f->count; i++)
		loop_arm(f->loop, &f->jobs[i]->kick, 0);
	while (f->unfinished > 0) {
		if (loop_run_once(f->loop, 1000000u) == CF_ERR_IO)
			break;
		report_tick(f->report, cf_now_us());
		if (Interrupted != seen_interrupts) {
			if (!seen_interrupts)
				cf_log(CF_LOG_WARN, NULL, NULL,
				       "interrupted: finishing the command in flight; devices stay "
				       "in their bootloader");
			seen_interrupts = Interrupted;
			cancel_all(f);
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (summary)
		report_summary(f->report);
	return report_exit_code(f->report);
}

struct updater *fleet_get_updater(struct fleet *f, int job)
{
	return f->jobs[job]->updater;
}

int fleet_get_result(const struct fleet *f, int job)
{
	return f->jobs[job]->finished ? f->jobs[job]->result : CF_ERR_OTHER;
}

int fleet_count(const struct fleet *f)
{
	return f->count;
}
