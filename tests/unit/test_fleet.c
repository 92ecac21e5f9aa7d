// SPDX-License-Identifier: GPL-3.0-or-later
// The fleet runner and the report against a fake backend: order of steps, isolation of
// failures, worst exit code, JSON events, cancellation at a safe point.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "fleet.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "report.h"

// A fake backend: each step takes 1 ms on a loop timer; fail_step makes one step fail.
struct fake {
	struct loop_timer timer;
	struct updater *self;
	int fail_step; /* enum updater_step + 1; 0 = never */
	int steps_run[8];
	int nrun;
	bool cancelled;
};

static struct fake *fake_of(struct updater *u)
{
	return updater_priv(u);
}

static void fake_fire(struct loop_timer *t, uint64_t now_us)
{
	struct fake *fk = (struct fake *)((char *)t - offsetof(struct fake, timer));
	int step = fk->steps_run[fk->nrun - 1];

	(void)now_us;
	if (fk->cancelled) {
		cf_failure_set(updater_failure(fk->self), CF_ERR_INTERRUPTED, "write", "cancelled");
		updater_step_done(fk->self, CF_ERR_INTERRUPTED);
		return;
	}
	if (fk->fail_step == step + 1) {
		cf_failure_set(updater_failure(fk->self), CF_ERR_VERIFY, "verify",
			       "block 0x08002400 differs");
		cf_failure_set_hint(updater_failure(fk->self), "left in Katapult, rerun flash");
		updater_step_done(fk->self, CF_ERR_VERIFY);
		return;
	}
	updater_progress(fk->self, "write", 64, 64);
	updater_set_summary(fk->self, "all good");
	updater_step_done(fk->self, 0);
}

static int fake_step(struct updater *u, enum updater_step step)
{
	struct fake *fk = fake_of(u);

	fk->self = u;
	fk->timer.fire = fake_fire;
	fk->steps_run[fk->nrun++] = (int)step;
	loop_arm(updater_get_config(u)->loop, &fk->timer, cf_now_us() + 1000);
	return 0;
}

static int op_identify(struct updater *u)
{
	strcpy(updater_identity(u)->can_uuid, "e0ef270ca188");
	return fake_step(u, UPDATER_IDENTIFY);
}
static int op_check(struct updater *u)
{
	return fake_step(u, UPDATER_CHECK_IMAGE);
}
static int op_write(struct updater *u)
{
	return fake_step(u, UPDATER_WRITE);
}
static int op_verify(struct updater *u)
{
	return fake_step(u, UPDATER_VERIFY);
}
static int op_finish(struct updater *u)
{
	return fake_step(u, UPDATER_FINISH);
}
static void op_cancel(struct updater *u)
{
	fake_of(u)->cancelled = true;
}
static void op_release(struct updater *u)
{
	loop_disarm(updater_get_config(u)->loop, &fake_of(u)->timer);
}

static const struct updater_ops fake_ops = {
	.name = "fake",
	.priv_size = sizeof(struct fake),
	.identify = op_identify,
	.check_image = op_check,
	.write = op_write,
	.verify = op_verify,
	.finish = op_finish,
	.cancel = op_cancel,
	.release = op_release,
};

struct world {
	struct loop *loop;
	struct report *report;
	struct fleet *fleet;
	char *out_text, *err_text;
	size_t out_len, err_len;
	FILE *out, *err;
};

static struct world *world_new(enum report_style style)
{
	struct world *w = calloc(1, sizeof(*w));

	w->out = open_memstream(&w->out_text, &w->out_len);
	w->err = open_memstream(&w->err_text, &w->err_len);
	w->loop = loop_new();
	w->report = report_new(style, w->out, w->err);
	w->fleet = fleet_new(w->loop, w->report);
	return w;
}

static void world_free(struct world *w)
{
	fleet_free(w->fleet);
	report_free(w->report);
	loop_free(w->loop);
	fclose(w->out);
	fclose(w->err);
	free(w->out_text);
	free(w->err_text);
	free(w);
}

static int add_job(struct world *w, int fail_step)
{
	struct updater_config cfg = { .ops = &fake_ops };
	int job;

	identity_init(&cfg.target, IDENTITY_LINK_CAN);
	strcpy(cfg.target.iface, "sim:/tmp/bus");
	job = fleet_add(w->fleet, &cfg, fleet_steps_flash, 5, NULL);
	assert_true(job >= 0);
	fake_of(fleet_get_updater(w->fleet, job))->fail_step = fail_step;
	return job;
}

static void test_fleet_runs_every_step_in_order(void **state)
{
	struct world *w = world_new(REPORT_PLAIN);
	struct fake *fk;
	int job = add_job(w, 0);

	(void)state;
	assert_int_equal(fleet_run(w->fleet, true), 0);

	fk = fake_of(fleet_get_updater(w->fleet, job));
	assert_int_equal(fk->nrun, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fk->steps_run[i], (int)fleet_steps_flash[i]);
	assert_int_equal(fleet_get_result(w->fleet, job), 0);
	world_free(w);
}

static void test_fleet_failure_of_one_does_not_stop_others(void **state)
{
	struct world *w = world_new(REPORT_PLAIN);
	int bad = add_job(w, UPDATER_VERIFY + 1);
	int good = add_job(w, 0);

	(void)state;
	assert_int_equal(fleet_run(w->fleet, true), 76);

	assert_int_equal(fleet_get_result(w->fleet, bad), CF_ERR_VERIFY);
	assert_int_equal(fleet_get_result(w->fleet, good), 0);
	assert_int_equal(fake_of(fleet_get_updater(w->fleet, bad))->nrun, 4); /* no finish */
	assert_int_equal(fake_of(fleet_get_updater(w->fleet, good))->nrun, 5);
	fflush(w->err);
	assert_non_null(strstr(w->err_text, "probe e0ef270ca188 (sim:/tmp/bus): verify: block "
					    "0x08002400 differs; left in Katapult, rerun flash"));
	fflush(w->out);
	assert_non_null(strstr(w->out_text, "1 of 2 devices succeeded"));
	world_free(w);
}

static void test_fleet_json_events_are_one_object_per_line(void **state)
{
	struct world *w = world_new(REPORT_JSON);
	int lines = 0, results = 0, summaries = 0;
	char *save = NULL;

	(void)state;
	add_job(w, UPDATER_WRITE + 1);
	add_job(w, 0);
	assert_int_equal(fleet_run(w->fleet, true), 76);

	fflush(w->out);
	for (char *line = strtok_r(w->out_text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t jerr;
		json_t *obj = json_loads(line, 0, &jerr);
		const char *event;

		assert_non_null(obj);
		event = json_string_value(json_object_get(obj, "event"));
		assert_non_null(event);
		if (!strcmp(event, "result")) {
			results++;
			assert_string_equal(json_string_value(json_object_get(obj, "uuid")),
					    "e0ef270ca188");
		}
		if (!strcmp(event, "summary")) {
			summaries++;
			assert_int_equal(json_integer_value(json_object_get(obj, "failed")), 1);
			assert_int_equal(json_integer_value(json_object_get(obj, "exit_code")), 76);
		}
		json_decref(obj);
		lines++;
	}
	assert_int_equal(results, 2);
	assert_int_equal(summaries, 1);
	assert_true(lines > 3);
	world_free(w);
}

static void test_fleet_interrupt_cancels_and_exits_130(void **state)
{
	struct world *w = world_new(REPORT_PLAIN);
	int job = add_job(w, 0);

	(void)state;
	fake_of(fleet_get_updater(w->fleet, job))->cancelled = true;
	assert_int_equal(fleet_run(w->fleet, false), 130);
	assert_int_equal(fleet_get_result(w->fleet, job), CF_ERR_INTERRUPTED);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fleet_runs_every_step_in_order),
		cmocka_unit_test(test_fleet_failure_of_one_does_not_stop_others),
		cmocka_unit_test(test_fleet_json_events_are_one_object_per_line),
		cmocka_unit_test(test_fleet_interrupt_cancels_and_exits_130),
	};
	cf_log_set_level(CF_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
