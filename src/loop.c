// SPDX-License-Identifier: GPL-3.0-or-later
// ppoll(2) loop with caller-embedded sources and timers; allocates only its pollfd array.
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "protocol/err.h"

#define LOOP_MAX_FDS 256

struct loop {
	struct loop_source *sources;
	struct loop_timer *timers;
	struct pollfd fds[LOOP_MAX_FDS];
};

struct loop *loop_new(void)
{
	return calloc(1, sizeof(struct loop));
}

void loop_free(struct loop *loop)
{
	free(loop);
}

void loop_add_source(struct loop *loop, struct loop_source *src)
{
	src->next = loop->sources;
	loop->sources = src;
}

void loop_remove_source(struct loop *loop, struct loop_source *src)
{
	for (struct loop_source **p = &loop->sources; *p; p = &(*p)->next) {
		if (*p == src) {
			*p = src->next;
			src->next = NULL;
			return;
		}
	}
}

void loop_disarm(struct loop *loop, struct loop_timer *timer)
{
	for (struct loop_timer **p = &loop->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = timer->next;
			break;
		}
	}
	timer->next = NULL;
	timer->armed = false;
}

void loop_arm(struct loop *loop, struct loop_timer *timer, uint64_t deadline_us)
{
	if (timer->armed)
		loop_disarm(loop, timer);
	timer->deadline_us = deadline_us;
	timer->armed = true;
	timer->next = loop->timers;
	loop->timers = timer;
}

static uint64_t earliest_deadline(const struct loop *loop)
{
	uint64_t best = UINT64_MAX;

	for (const struct loop_timer *t = loop->timers; t; t = t->next)
		if (t->deadline_us < best)
			best = t->deadline_us;
	return best;
}

// Fire every due timer. A callback may arm or disarm timers, so restart the scan each time.
static void fire_due_timers(struct loop *loop, uint64_t now)
{
	for (;;) {
		struct loop_timer *due = NULL;

		for (struct loop_timer *t = loop->timers; t; t = t->next)
			if (t->deadline_us <= now && (!due || t->deadline_us < due->deadline_us))
				due = t;
		if (!due)
			return;
		loop_disarm(loop, due);
		due->fire(due, now);
	}
}

/*
 * The wait until the earliest timer, at microsecond precision: ppoll() takes a timespec, and a
 * timer on Linux (hrtimer) never expires early, so nothing is polled for early and spun on.
 * poll()'s milliseconds rounded every wait up to the next whole millisecond: a timer 1.7 ms
 * out fired after 2 ms or more (the twin's per-block program time, our own poll periods).
 */
static struct timespec wait_until(uint64_t now, uint64_t deadline, uint64_t max_wait_us)
{
	uint64_t wait = deadline > now ? deadline - now : 0;

	if (wait > max_wait_us)
		wait = max_wait_us;
	if (wait > 3600000000u) // an hour
		wait = 3600000000u;
	return (struct timespec){.tv_sec = (time_t)(wait / 1000000u),
				 .tv_nsec = (long)(wait % 1000000u) * 1000};
}

int loop_run_once(struct loop *loop, uint64_t max_wait_us)
{
	struct loop_source *order[LOOP_MAX_FDS];
	int counts[LOOP_MAX_FDS];
	int nsrc = 0, nfds = 0, rc;
	uint64_t now = cf_now_us();
	struct timespec ts;

	for (struct loop_source *s = loop->sources; s && nsrc < LOOP_MAX_FDS; s = s->next) {
		int n = s->pollfds(s, loop->fds + nfds, LOOP_MAX_FDS - nfds);
		order[nsrc] = s;
		counts[nsrc++] = n;
		nfds += n;
	}
	ts = wait_until(now, earliest_deadline(loop), max_wait_us);
	rc = ppoll(loop->fds, (nfds_t)nfds, &ts, NULL);
	if (rc < 0)
		return errno == EINTR ? CF_ERR_INTERRUPTED : CF_ERR_IO;
	now = cf_now_us();
	if (rc > 0) {
		int off = 0;
		// Sources removed by an earlier callback in this turn are skipped by membership.
		for (int i = 0; i < nsrc; off += counts[i++]) {
			bool live = false;
			for (struct loop_source *s = loop->sources; s; s = s->next)
				live |= s == order[i];
			if (live && counts[i] > 0)
				order[i]->ready(order[i], loop->fds + off, counts[i], now);
		}
	}
	fire_due_timers(loop, cf_now_us());
	return CF_OK;
}
