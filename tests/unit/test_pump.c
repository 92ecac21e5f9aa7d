// SPDX-License-Identifier: GPL-3.0-or-later
// The one pump on the real loop with a scripted session: the end from the loop, deadlines, the
// whole-session limit, cancel at the safe point, a transport that completes inside the send.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "pump.h"

/* A session that sends `requests` requests, then waits `wait_us` once (a bwPollTimeout, a
 * reply timeout), then ends with `result`. cancel makes it end at the next request boundary. */
struct fake {
	unsigned requests, sent;
	uint64_t wait_us, wait_until;
	bool waited, cancelled, ended;
	int result;
	unsigned ticks, cancels;
	/* the binding */
	bool in_flight;
	bool sync;	       /* the transport completes inside the send */
	unsigned depth, max_depth; /* flush nesting */
	struct pump_core *p;
};

static void fake_advance(struct fake *f, uint64_t now)
{
	if (f->ended || f->in_flight)
		return;
	if (f->cancelled) {
		f->ended = true;
		f->result = CF_ERR_INTERRUPTED;
		return;
	}
	if (f->sent < f->requests)
		return; /* a request waits for flush */
	if (f->wait_us && !f->waited) {
		if (!f->wait_until)
			f->wait_until = now + f->wait_us;
		if (now < f->wait_until)
			return;
		f->waited = true;
	}
	f->ended = true;
}

static uint64_t fake_deadline(const void *s)
{
	const struct fake *f = s;

	return f->wait_until && !f->waited && !f->ended ? f->wait_until : UINT64_MAX;
}

static void fake_tick(void *s, uint64_t now)
{
	struct fake *f = s;

	f->ticks++;
	fake_advance(f, now);
}

static bool fake_ended(const void *s, int *result)
{
	const struct fake *f = s;

	*result = f->result;
	return f->ended;
}

static bool fake_progress(const void *s, struct pump_progress *out)
{
	const struct fake *f = s;

	*out = (struct pump_progress){ .stage = "write", .done = f->sent, .total = f->requests };
	return f->requests > 0;
}

static void fake_cancel(void *s, uint64_t now)
{
	struct fake *f = s;

	f->cancels++;
	f->cancelled = true;
	fake_advance(f, now);
}

static const struct pump_session_ops fake_ops = {
	.deadline = fake_deadline,
	.tick = fake_tick,
	.ended = fake_ended,
	.progress = fake_progress,
	.cancel = fake_cancel,
};

/* The transport's completion: the request is out; the session moves on. */
static void complete(struct fake *f, uint64_t now)
{
	f->in_flight = false;
	f->sent++;
	fake_advance(f, now);
	pump_drive(f->p, now);
}

static int flush(void *binding, uint64_t now)
{
	struct fake *f = binding;

	if (f->in_flight || f->ended || f->cancelled || f->sent >= f->requests)
		return CF_OK;
	f->in_flight = true;
	if (++f->depth > f->max_depth)
		f->max_depth = f->depth;
	if (f->sync)
		complete(f, now);
	f->depth--;
	return CF_OK;
}

/* What the pump reported. */
struct seen {
	unsigned done_calls, progress_calls;
	int err;
	size_t last_done;
	bool done_inside_drive; /* done came while the test was inside a pump call */
};

static bool Inside;

static void on_progress(void *ctx, const char *stage, size_t done, size_t total)
{
	struct seen *s = ctx;

	(void)total;
	assert_string_equal(stage, "write");
	s->progress_calls++;
	s->last_done = done;
}

static void on_done(void *ctx, int err, uint64_t now)
{
	struct seen *s = ctx;

	(void)now;
	s->done_calls++;
	s->err = err;
	s->done_inside_drive = s->done_inside_drive || Inside;
}

static void run(struct loop *loop, struct seen *s, struct fake *f, uint64_t limit_us)
{
	const uint64_t stop = cf_now_us() + limit_us;

	while (!s->done_calls && cf_now_us() < stop) {
		assert_true(loop_run_once(loop, 5000) >= 0);
		/* an asynchronous transport completes between loop turns */
		if (f->in_flight && !f->sync) {
			Inside = true;
			complete(f, cf_now_us());
			Inside = false;
		}
	}
}

static void start(struct pump_core *p, struct loop *loop, struct fake *f, struct seen *s,
		  uint64_t limit)
{
	f->p = p;
	pump_init(p, loop, on_progress, on_done, s);
	Inside = true;
	pump_start(p, &fake_ops, f, flush, f, limit);
	Inside = false;
}

static void test_the_end_comes_from_the_loop_never_from_inside(void **state)
{
	struct loop *loop = loop_new();
	struct pump_core p;
	struct fake f = { .requests = 3, .result = CF_OK };
	struct seen s = { 0 };

	(void)state;
	start(&p, loop, &f, &s, UINT64_MAX);
	run(loop, &s, &f, 1000000);
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.err, CF_OK);
	assert_false(s.done_inside_drive);
	assert_int_equal(f.sent, 3);
	/* progress once per change: 0, 1, 2, 3 */
	assert_int_equal(s.progress_calls, 4);
	assert_int_equal(s.last_done, 3);
	assert_false(pump_active(&p));
	/* nothing more comes */
	assert_int_equal(loop_run_once(loop, 20000), CF_OK);
	assert_int_equal(s.done_calls, 1);
	loop_free(loop);
}

static void test_the_session_deadline_is_a_loop_timer(void **state)
{
	struct loop *loop = loop_new();
	struct pump_core p;
	struct fake f = { .requests = 1, .wait_us = 30000, .result = CF_ERR_VERIFY };
	struct seen s = { 0 };
	uint64_t t0 = cf_now_us();

	(void)state;
	start(&p, loop, &f, &s, UINT64_MAX);
	run(loop, &s, &f, 2000000);
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.err, CF_ERR_VERIFY);
	assert_true(f.ticks >= 1);
	assert_true(cf_now_us() - t0 >= 30000); /* not before the session's own deadline */
	loop_free(loop);
}

static void test_the_limit_ends_a_session_that_waits_for_ever(void **state)
{
	struct loop *loop = loop_new();
	struct pump_core p;
	struct fake f = { .requests = 1, .wait_us = 60000000 };
	struct seen s = { 0 };

	(void)state;
	start(&p, loop, &f, &s, cf_now_us() + 30000);
	run(loop, &s, &f, 2000000);
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.err, CF_ERR_TIMEOUT);
	assert_false(f.ended); /* the pump ended it, between requests */
	assert_false(f.in_flight);
	loop_free(loop);
}

static void test_cancel_stops_at_the_safe_point(void **state)
{
	struct loop *loop = loop_new();
	struct pump_core p;
	struct fake f = { .requests = 100 };
	struct seen s = { 0 };

	(void)state;
	start(&p, loop, &f, &s, UINT64_MAX);
	assert_true(f.in_flight); /* the first request is out */
	Inside = true;
	pump_cancel(&p, cf_now_us());
	Inside = false;
	assert_int_equal(f.cancels, 1);
	assert_true(f.in_flight); /* never mid-request: it ends when that one completes */
	run(loop, &s, &f, 1000000);
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.err, CF_ERR_INTERRUPTED);
	assert_int_equal(f.sent, 1);
	assert_false(s.done_inside_drive);
	loop_free(loop);
}

static void test_a_transport_that_completes_inside_the_send_loops(void **state)
{
	struct loop *loop = loop_new();
	struct pump_core p;
	struct fake f = { .requests = 5000, .sync = true };
	struct seen s = { 0 };

	(void)state;
	start(&p, loop, &f, &s, UINT64_MAX);
	assert_int_equal(f.sent, 5000); /* all of it inside pump_start */
	assert_int_equal(f.max_depth, 1); /* one flush at a time: a loop, not a recursion */
	assert_int_equal(s.done_calls, 0); /* ... and the end still from the loop */
	run(loop, &s, &f, 1000000);
	assert_int_equal(s.done_calls, 1);
	assert_false(s.done_inside_drive);
	loop_free(loop);
}

static void test_fail_and_stop(void **state)
{
	struct loop *loop = loop_new();
	struct pump_core p;
	struct fake f = { .requests = 10 };
	struct seen s = { 0 };

	(void)state;
	start(&p, loop, &f, &s, UINT64_MAX);
	pump_fail(&p, CF_ERR_NO_DEVICE, cf_now_us());
	assert_false(pump_active(&p)); /* no more events wanted */
	pump_fail(&p, CF_ERR_IO, cf_now_us()); /* the first failure is the one reported */
	run(loop, &s, &f, 1000000);
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.err, CF_ERR_NO_DEVICE);

	memset(&f, 0, sizeof(f));
	f.requests = 10;
	memset(&s, 0, sizeof(s));
	start(&p, loop, &f, &s, UINT64_MAX);
	pump_stop(&p);
	assert_int_equal(loop_run_once(loop, 20000), CF_OK);
	assert_int_equal(s.done_calls, 0); /* stopped: no callback */
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_end_comes_from_the_loop_never_from_inside),
		cmocka_unit_test(test_the_session_deadline_is_a_loop_timer),
		cmocka_unit_test(test_the_limit_ends_a_session_that_waits_for_ever),
		cmocka_unit_test(test_cancel_stops_at_the_safe_point),
		cmocka_unit_test(test_a_transport_that_completes_inside_the_send_loops),
		cmocka_unit_test(test_fail_and_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
