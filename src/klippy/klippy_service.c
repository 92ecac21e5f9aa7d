// SPDX-License-Identifier: GPL-3.0-or-later
// systemctl as a child process: its stderr on a pipe the loop watches, its exit polled.
#include "klippy/klippy_service.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

extern char **environ;

#define SERVICE_POLL_US 20000u

struct child {
	struct loop_source src;
	struct loop_timer timer;
	int fd;	      /* read end of its stderr, -1 at EOF */
	pid_t pid;
	int status;
	bool exited;
	bool due;
	char err[256];
	size_t err_len;
};

static int src_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct child *c = (struct child *)src;

	if (max < 1 || c->fd < 0)
		return 0;
	fds[0] = (struct pollfd){.fd = c->fd, .events = POLLIN};
	return 1;
}

static void src_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct child *c = (struct child *)src;
	char buf[256];
	ssize_t n;

	(void)fds;
	(void)count;
	(void)now;
	n = read(c->fd, buf, sizeof(buf));
	if (n > 0) {
		const size_t take = (size_t)n < sizeof(c->err) - 1 - c->err_len ?
					    (size_t)n :
					    sizeof(c->err) - 1 - c->err_len;

		memcpy(c->err + c->err_len, buf, take);
		c->err_len += take;
		c->err[c->err_len] = '\0';
	} else if (n == 0 || errno != EINTR) {
		close(c->fd); /* EOF: it is exiting; the timer collects it */
		c->fd = -1;
	}
}

static void on_timer(struct loop_timer *t, uint64_t now)
{
	struct child *c = (struct child *)((char *)t - offsetof(struct child, timer));

	(void)now;
	c->due = true;
}

static int verdict(const char *action, const char *unit, struct child *c, struct cf_failure *why)
{
	const int code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
	char *nl = strchr(c->err, '\n');

	if (code == 0)
		return CF_OK;
	if (nl)
		*nl = '\0';
	if (code == 127)
		return cf_failure_set(why, CF_ERR_IO, "klipper service",
				      "cannot run systemctl to %s %s", action, unit);
	if (strstr(c->err, "authentication") || strstr(c->err, "Access denied") ||
	    strstr(c->err, "ermission"))
		return cf_failure_set(why, CF_ERR_ACCESS, "klipper service",
				      "systemctl %s %s: %s", action, unit, c->err);
	if (code == 5 || strstr(c->err, "not found") || strstr(c->err, "not loaded"))
		return cf_failure_set(why, CF_ERR_NO_DEVICE, "klipper service",
				      "systemctl %s %s: %s", action, unit,
				      c->err[0] ? c->err : "no such unit");
	return cf_failure_set(why, CF_ERR_IO, "klipper service", "systemctl %s %s failed (%d)%s%s",
			      action, unit, code, c->err[0] ? ": " : "", c->err);
}

static int spawn(struct child *c, const char *action, const char *unit)
{
	char *argv[] = {"systemctl", (char *)action, (char *)unit, NULL};
	posix_spawn_file_actions_t fa;
	int p[2], err;

	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(&c->pid, "systemctl", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (err) {
		close(p[0]);
		return err;
	}
	c->fd = p[0];
	return 0;
}

int klippy_service_run(struct loop *loop, const char *action, const char *unit,
		       uint64_t timeout_us, struct cf_failure *why)
{
	struct child c = {.fd = -1, .src = {.pollfds = src_pollfds, .ready = src_ready},
			  .timer = {.fire = on_timer}};
	const uint64_t end = cf_now_us() + timeout_us;
	int err = spawn(&c, action, unit);

	if (err)
		return cf_failure_set(why, CF_ERR_IO, "klipper service",
				      "cannot run systemctl %s %s: %s", action, unit, strerror(err));
	cf_log(CF_LOG_INFO, unit, "klipper", "systemctl %s %s", action, unit);
	loop_add_source(loop, &c.src);
	while (!c.exited) {
		const pid_t r = waitpid(c.pid, &c.status, WNOHANG);

		if (r == c.pid || (r < 0 && errno != EINTR)) {
			c.exited = true;
			break;
		}
		if (cf_now_us() >= end) {
			kill(c.pid, SIGTERM);
			waitpid(c.pid, &c.status, 0);
			loop_remove_source(loop, &c.src);
			if (c.fd >= 0)
				close(c.fd);
			return cf_failure_set(why, CF_ERR_TIMEOUT, "klipper service",
					      "systemctl %s %s did not return within %.0f s", action,
					      unit, (double)timeout_us / 1e6);
		}
		/* its stderr arrives on the loop; its exit is looked for every 20 ms */
		c.due = false;
		loop_arm(loop, &c.timer, cf_now_us() + SERVICE_POLL_US);
		while (!c.due)
			if (loop_run_once(loop, SERVICE_POLL_US) == CF_ERR_IO)
				break;
	}
	loop_disarm(loop, &c.timer);
	if (c.fd >= 0)
		src_ready(&c.src, NULL, 0, 0); /* the last words, if any are left */
	loop_remove_source(loop, &c.src);
	if (c.fd >= 0)
		close(c.fd);
	return verdict(action, unit, &c, why);
}
