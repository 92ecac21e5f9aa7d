// SPDX-License-Identifier: GPL-3.0-or-later
// flock(2) per bus in a shared directory; waits on loop timers, never in a sleep.
#include "buslock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

#define BUSLOCK_RETRY_US 50000u

/*
 * flock conflicts between two open file descriptions even in one process, so the locks this
 * process holds are kept once, counted: a run that locked its buses up front and the CAN mux
 * that locks each bus it opens share them.
 */
struct held {
	char name[BUSLOCK_NAME_MAX];
	int fd;
	unsigned refs;
};
static struct held Held[BUSLOCK_MAX];

struct buslock {
	size_t count;
	struct held *h[BUSLOCK_MAX];
};

const char *buslock_dir(void)
{
	const char *env = getenv("CARTOFLASH_LOCK_DIR");

	if (env && env[0])
		return env;
	/* Debian: /run/lock is tmpfs, mode 1777, for exactly this */
	return access("/run/lock", W_OK) == 0 ? "/run/lock" : "/tmp";
}

/* One file per name; every byte outside [A-Za-z0-9.-] becomes _XX, so names never collide. */
void buslock_path(const char *name, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "%s/cartoflash-", buslock_dir());

	for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < cap; p++) {
		const bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				   (*p >= '0' && *p <= '9') || *p == '.' || *p == '-';

		n += (size_t)snprintf(buf + n, cap - n, plain ? "%c" : "_%02x", *p);
	}
	snprintf(buf + n, n < cap ? cap - n : 0, ".lock");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void unlock_all(struct buslock *l)
{
	while (l->count) {
		struct held *h = l->h[--l->count];

		if (--h->refs == 0) {
			close(h->fd); /* closing the last fd drops the flock */
			memset(h, 0, sizeof(*h));
		}
	}
}

static struct held *find_held(const char *name)
{
	for (size_t i = 0; i < BUSLOCK_MAX; i++)
		if (Held[i].refs && !strcmp(Held[i].name, name))
			return &Held[i];
	return NULL;
}

static struct held *free_slot(void)
{
	for (size_t i = 0; i < BUSLOCK_MAX; i++)
		if (!Held[i].refs)
			return &Held[i];
	return NULL;
}

/* The verb for the lock file when the caller gave none: argv[1] of this process. */
static void own_verb(char *buf, size_t cap)
{
	char cmd[256];
	FILE *f = fopen("/proc/self/cmdline", "re");
	size_t n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
	size_t first;

	if (f)
		fclose(f);
	cmd[n] = '\0';
	first = strlen(cmd) + 1;
	snprintf(buf, cap, "%s", first < n && cmd[first] ? cmd + first : "run");
	for (char *p = buf; *p; p++)
		if (*p == ' ' || *p == '\n')
			*p = '_';
}

/* "cartoflash flash, pid 812, for 4 s" from what the holder wrote into the file. */
static void describe_holder(int fd, char *buf, size_t cap)
{
	char text[128] = "";
	const ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	char verb[32] = "";
	long pid = 0;
	long long since = 0;

	if (n > 0)
		text[n] = '\0';
	if (n <= 0 || sscanf(text, "%ld %31s %lld", &pid, verb, &since) != 3) {
		snprintf(buf, cap, "another program");
		return;
	}
	snprintf(buf, cap, "cartoflash %s, pid %ld, for %lld s", verb, pid,
		 (long long)time(NULL) - since);
}

static int open_lock(const char *name, char *path, size_t cap, struct cf_failure *why)
{
	int fd;

	buslock_path(name, path, cap);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* flock works read-only too */
	if (fd < 0)
		return cf_failure_set(why, CF_ERR_IO, "lock", "cannot open the lock file %s: %s",
				      path, strerror(errno));
	/* another user's run (root via sudo, the klipper user) must be able to open it too */
	(void)fchmod(fd, 0666);
	return fd;
}

/* One round: all or nothing. Returns 0, CF_ERR_BUSY (*busy names the bus, holder filled). */
static int try_all(struct buslock *l, const char *const *sorted, size_t count, const char *verb,
		   const char **busy, char *holder, size_t cap, struct cf_failure *why)
{
	char path[512], text[96];

	for (size_t i = 0; i < count; i++) {
		struct held *h;
		int fd;

		if (i && !strcmp(sorted[i], sorted[i - 1]))
			continue;
		h = find_held(sorted[i]);
		if (h) {
			h->refs++;
			l->h[l->count++] = h;
			continue;
		}
		h = free_slot();
		if (!h) {
			unlock_all(l);
			return cf_failure_set(why, CF_ERR_NOSPACE, "lock", "more than %d buses",
					      BUSLOCK_MAX);
		}
		fd = open_lock(sorted[i], path, sizeof(path), why);
		if (fd < 0) {
			/* no writable lock directory (a read-only rescue system): go on unlocked
			 * rather than refuse every run; say so once */
			cf_log(CF_LOG_WARN, sorted[i], NULL, "%s; going on without a bus lock",
			       why ? why->detail : "cannot open the lock file");
			cf_failure_clear(why);
			continue;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			describe_holder(fd, holder, cap);
			close(fd);
			unlock_all(l);
			*busy = sorted[i];
			return CF_ERR_BUSY;
		}
		snprintf(text, sizeof(text), "%ld %s %lld\n", (long)getpid(), verb,
			 (long long)time(NULL));
		if (ftruncate(fd, 0) == 0 && pwrite(fd, text, strlen(text), 0) < 0)
			cf_log(CF_LOG_DEBUG, path, "lock", "cannot note the holder: %s",
			       strerror(errno));
		snprintf(h->name, sizeof(h->name), "%s", sorted[i]);
		h->fd = fd;
		h->refs = 1;
		l->h[l->count++] = h;
	}
	return CF_OK;
}

struct waiter {
	struct loop_timer timer;
	bool due;
};

static void on_retry(struct loop_timer *t, uint64_t now)
{
	(void)now;
	((struct waiter *)t)->due = true;
}

int buslock_acquire(struct loop *loop, const char *const *names, size_t count, uint64_t wait_us,
		    const char *verb, struct buslock **out, struct cf_failure *why)
{
	const char *sorted[BUSLOCK_MAX], *busy = NULL;
	const uint64_t end = cf_now_us() + wait_us;
	char verb_buf[32];
	bool said = false;
	struct waiter w = {.timer.fire = on_retry};
	struct buslock *l;
	char holder[160];
	int err;

	if (count > BUSLOCK_MAX)
		return cf_failure_set(why, CF_ERR_USAGE, "lock", "more than %d buses",
				      BUSLOCK_MAX);
	l = calloc(1, sizeof(*l));
	if (!l)
		return CF_ERR_NOMEM;
	if (!verb) {
		own_verb(verb_buf, sizeof(verb_buf));
		verb = verb_buf;
	}
	memcpy(sorted, names, count * sizeof(*names));
	qsort(sorted, count, sizeof(*sorted), cmp_names);
	while ((err = try_all(l, sorted, count, verb, &busy, holder, sizeof(holder), why)) ==
		       CF_ERR_BUSY &&
	       cf_now_us() < end) {
		/* once at the default level, so a run that stands still says why */
		cf_log(said ? CF_LOG_DEBUG : CF_LOG_WARN, NULL, NULL,
		       "%s is in use by %s; waiting up to %.0f s", busy, holder,
		       (double)wait_us / 1e6);
		said = true;
		w.due = false;
		loop_arm(loop, &w.timer, cf_now_us() + BUSLOCK_RETRY_US);
		while (!w.due)
			if (loop_run_once(loop, BUSLOCK_RETRY_US) == CF_ERR_INTERRUPTED) {
				loop_disarm(loop, &w.timer);
				free(l);
				return cf_failure_set(why, CF_ERR_INTERRUPTED, "lock",
						      "interrupted while waiting for %s", busy);
			}
	}
	if (err == CF_ERR_BUSY) {
		cf_failure_set(why, err, "lock", "%s is in use by %s", busy, holder);
		cf_failure_set_hint(why, "nothing was sent on %s; rerun when it has finished (flash, "
					 "verify, fleet, status wait by themselves: --lock-wait 60s)",
				    busy);
	}
	if (err < 0) {
		free(l);
		return err;
	}
	*out = l;
	return CF_OK;
}

void buslock_release(struct buslock *l)
{
	if (!l)
		return;
	unlock_all(l);
	free(l);
}
