/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The event loop: ppoll(2) over watched fds plus deadline timers. Nothing else waits. */
#ifndef CARTOFLASH_SRC_LOOP_H
#define CARTOFLASH_SRC_LOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct loop;

/*
 * A source of file descriptors, embedded by its owner (a transport user, a session).
 * Before every poll the loop asks each source for its pollfds (rebuilt from live objects
 * each turn, style.md §2.4), then hands back the revents of that same slice.
 */
struct loop_source {
	/* Fill at most max entries; return how many. */
	int (*pollfds)(struct loop_source *src, struct pollfd *fds, int max);
	/* Called with the revents of the entries this source filled; now_us is the loop time. */
	void (*ready)(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now_us);
	struct loop_source *next; /* owned by the loop */
};

/* A one-shot deadline, embedded by its owner. Re-arm from the callback if needed. */
struct loop_timer {
	uint64_t deadline_us;
	void (*fire)(struct loop_timer *timer, uint64_t now_us);
	struct loop_timer *next; /* owned by the loop */
	bool armed;
};

/* Caller frees with loop_free. Returns NULL on allocation failure. */
struct loop *loop_new(void);
/* NULL-safe. Sources and timers are not freed (their owners embed them). */
void loop_free(struct loop *loop);

void loop_add_source(struct loop *loop, struct loop_source *src);
void loop_remove_source(struct loop *loop, struct loop_source *src);
/* Arm (or re-arm) timer to fire at deadline_us (monotonic, cf_now_us()). */
void loop_arm(struct loop *loop, struct loop_timer *timer, uint64_t deadline_us);
void loop_disarm(struct loop *loop, struct loop_timer *timer);

/*
 * One turn: poll until an fd is ready, the earliest timer is due or max_wait_us passes, then
 * dispatch. Returns 0, or CF_ERR_INTERRUPTED when a signal interrupted poll (the caller checks
 * its own flags), or CF_ERR_IO for a poll failure.
 */
int loop_run_once(struct loop *loop, uint64_t max_wait_us);

#endif
