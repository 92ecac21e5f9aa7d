// SPDX-License-Identifier: GPL-3.0-or-later
// Klipper API socket client: 0x03-framed JSON requests and replies, matched by id, with deadlines.
#include "klippy/klippy_api.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct call {
	bool used;
	json_int_t id;
	char method[48];
	uint64_t deadline_us;
	klippy_api_reply_fn cb;
	void *ctx;
};

struct klippy_api {
	struct loop *loop;
	int fd;
	char path[108];
	char *rx, *tx;
	size_t rx_len, rx_cap, tx_len, tx_cap;
	json_int_t next_id;
	struct call calls[KLIPPY_API_CALLS_MAX];
	int dead; /* the error that ended the connection, 0 while it lives */
	int depth; /* callbacks running: a close from inside one is finished afterwards */
	bool close_pending;
	struct loop_source src;
	struct loop_timer timer;
};

long klippy_api_frame_end(const char *buf, size_t len)
{
	const char *etx = memchr(buf, KLIPPY_API_ETX, len);

	return etx ? (long)(etx - buf) : -1;
}

void klippy_api_default_path(char *buf, size_t cap)
{
	const char *sudo_user = getenv("SUDO_USER");
	const char *home = NULL;
	const struct passwd *pw;

	/* under sudo $HOME is root's: the printer belongs to the user who typed sudo */
	if (geteuid() == 0 && sudo_user && sudo_user[0] && (pw = getpwnam(sudo_user)))
		home = pw->pw_dir;
	if (!home)
		home = getenv("HOME");
	if ((!home || !home[0]) && (pw = getpwuid(getuid())))
		home = pw->pw_dir;
	snprintf(buf, cap, "%s/printer_data/comms/klippy.sock", home ? home : "");
}

static bool grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	char *p;

	while (n < need)
		n *= 2;
	if (n == *cap)
		return true;
	p = realloc(*buf, n);
	if (!p)
		return false;
	*buf = p;
	*cap = n;
	return true;
}

static void call_end(struct klippy_api *a, struct call *c, int err, json_t *result,
		     const struct cf_failure *why)
{
	struct call copy = *c;

	c->used = false;
	a->depth++;
	copy.cb(copy.ctx, err, result, why);
	a->depth--;
}

/* The connection is over: every waiting call learns why, once. */
static void die(struct klippy_api *a, int err, const char *fmt, const char *arg)
{
	struct cf_failure why;

	if (a->dead)
		return;
	a->dead = err;
	cf_failure_clear(&why);
	cf_failure_set(&why, err, "klipper api", fmt, arg);
	cf_failure_set_device(&why, "Klipper API %s", a->path);
	for (size_t i = 0; i < KLIPPY_API_CALLS_MAX; i++)
		if (a->calls[i].used)
			call_end(a, &a->calls[i], err, NULL, &why);
}

static void dispatch(struct klippy_api *a, const char *msg, size_t len)
{
	json_t *root = json_loadb(msg, len, 0, NULL);
	const json_t *id = json_object_get(root, "id");
	struct cf_failure why;

	cf_failure_clear(&why);
	for (size_t i = 0; json_is_integer(id) && i < KLIPPY_API_CALLS_MAX; i++) {
		struct call *c = &a->calls[i];
		const json_t *err;

		if (!c->used || c->id != json_integer_value(id))
			continue;
		err = json_object_get(root, "error");
		if (err) {
			const char *m = json_string_value(json_object_get(err, "message"));

			cf_failure_set(&why, CF_ERR_PROTOCOL, "klipper api", "%s: %s", c->method,
				       m ? m : "error reply");
			cf_failure_set_device(&why, "Klipper API %s", a->path);
			call_end(a, c, CF_ERR_PROTOCOL, NULL, &why);
		} else {
			call_end(a, c, CF_OK, json_object_get(root, "result"), NULL);
		}
		break;
	}
	json_decref(root);
}

static void read_some(struct klippy_api *a)
{
	for (;;) {
		ssize_t n;
		long end;

		if (!grow(&a->rx, &a->rx_cap, a->rx_len + 4096)) {
			die(a, CF_ERR_NOMEM, "%s", "out of memory for a reply");
			return;
		}
		n = recv(a->fd, a->rx + a->rx_len, a->rx_cap - a->rx_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			die(a, CF_ERR_NO_DEVICE, "%s",
			    n == 0 ? "Klipper closed its API socket" : strerror(errno));
			return;
		}
		a->rx_len += (size_t)n;
		while (!a->dead && (end = klippy_api_frame_end(a->rx, a->rx_len)) >= 0) {
			dispatch(a, a->rx, (size_t)end);
			memmove(a->rx, a->rx + end + 1, a->rx_len - (size_t)end - 1);
			a->rx_len -= (size_t)end + 1;
		}
		if (a->rx_len > KLIPPY_API_MSG_MAX) {
			die(a, CF_ERR_PROTOCOL, "%s", "a message without 0x03 longer than 8 MiB");
			return;
		}
		if (a->dead || a->close_pending)
			return;
	}
}

static void write_some(struct klippy_api *a)
{
	while (a->tx_len && !a->dead) {
		const ssize_t n = send(a->fd, a->tx, a->tx_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			die(a, errno == EPIPE || errno == ECONNRESET ? CF_ERR_NO_DEVICE : CF_ERR_IO,
			    "%s", strerror(errno));
			return;
		}
		memmove(a->tx, a->tx + n, a->tx_len - (size_t)n);
		a->tx_len -= (size_t)n;
	}
}

static void arm(struct klippy_api *a)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < KLIPPY_API_CALLS_MAX; i++)
		if (a->calls[i].used && a->calls[i].deadline_us < next)
			next = a->calls[i].deadline_us;
	if (next == UINT64_MAX)
		loop_disarm(a->loop, &a->timer);
	else
		loop_arm(a->loop, &a->timer, next);
}

static void release(struct klippy_api *a);

static int src_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct klippy_api *a = container(src, struct klippy_api, src);

	if (max < 1 || a->dead)
		return 0;
	fds[0].fd = a->fd;
	fds[0].events = (short)(POLLIN | (a->tx_len ? POLLOUT : 0));
	fds[0].revents = 0;
	return 1;
}

static void src_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct klippy_api *a = container(src, struct klippy_api, src);

	(void)count;
	(void)now;
	a->depth++;
	if (fds[0].revents & POLLOUT)
		write_some(a);
	if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
		read_some(a);
	a->depth--;
	if (a->close_pending) {
		release(a);
		return;
	}
	arm(a);
}

static void on_timer(struct loop_timer *t, uint64_t now)
{
	struct klippy_api *a = container(t, struct klippy_api, timer);
	struct cf_failure why;

	a->depth++;
	for (size_t i = 0; i < KLIPPY_API_CALLS_MAX && !a->close_pending; i++) {
		struct call *c = &a->calls[i];

		if (!c->used || now < c->deadline_us)
			continue;
		cf_failure_clear(&why);
		cf_failure_set(&why, CF_ERR_TIMEOUT, "klipper api",
			       "no answer to %s within the deadline: Klipper accepted the "
			       "connection but did not reply",
			       c->method);
		cf_failure_set_device(&why, "Klipper API %s", a->path);
		call_end(a, c, CF_ERR_TIMEOUT, NULL, &why);
	}
	a->depth--;
	if (a->close_pending)
		release(a);
	else
		arm(a);
}

int klippy_api_call(struct klippy_api *a, const char *method, json_t *params, uint64_t timeout_us,
		    klippy_api_reply_fn cb, void *ctx)
{
	struct call *slot = NULL;
	json_t *req;
	char *text;
	size_t n;

	for (size_t i = 0; i < KLIPPY_API_CALLS_MAX && !slot; i++)
		if (!a->calls[i].used)
			slot = &a->calls[i];
	if (a->dead || !slot) {
		json_decref(params);
		return a->dead ? a->dead : CF_ERR_BUSY;
	}
	req = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)++a->next_id, "method", method,
			"params", params ? params : json_object());
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	n = text ? strlen(text) : 0;
	if (!text || !grow(&a->tx, &a->tx_cap, a->tx_len + n + 1)) {
		free(text);
		return CF_ERR_NOMEM;
	}
	memcpy(a->tx + a->tx_len, text, n);
	a->tx[a->tx_len + n] = KLIPPY_API_ETX;
	a->tx_len += n + 1;
	free(text);
	*slot = (struct call){.used = true, .id = a->next_id, .cb = cb, .ctx = ctx,
			      .deadline_us = cf_now_us() + timeout_us};
	snprintf(slot->method, sizeof(slot->method), "%s", method);
	cf_log(CF_LOG_DEBUG, a->path, "klippy", "-> %s (id %lld)", method, (long long)slot->id);
	a->depth++; /* a failed write reports to callbacks, which may close us */
	write_some(a);
	a->depth--;
	if (a->close_pending) {
		if (!a->depth)
			release(a);
		return CF_OK;
	}
	arm(a);
	return CF_OK;
}

static int connect_error(const char *path, int e, struct cf_failure *why)
{
	const int code = e == ENOENT || e == ECONNREFUSED || e == ENOTDIR ? CF_ERR_NO_DEVICE :
			 e == EACCES || e == EPERM		      ? CF_ERR_ACCESS :
			 e == EAGAIN				      ? CF_ERR_BUSY :
								      CF_ERR_IO;

	if (e == ENOENT || e == ENOTDIR)
		cf_failure_set(why, code, "klipper api", "no Klipper API socket at %s", path);
	else if (e == ECONNREFUSED)
		cf_failure_set(why, code, "klipper api",
			       "nothing listens on %s: Klipper is not running", path);
	else
		cf_failure_set(why, code, "klipper api", "cannot connect to %s: %s", path,
			       strerror(e));
	if (code == CF_ERR_ACCESS)
		cf_failure_set_hint(why, "run as the user Klipper runs as, or with sudo");
	return code;
}

int klippy_api_open(struct loop *loop, const char *path, struct klippy_api **out,
		    struct cf_failure *why)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct klippy_api *a;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return cf_failure_set(why, CF_ERR_USAGE, "klipper api", "socket path too long: %s",
				      path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return connect_error(path, errno, why);
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		const int e = errno;

		close(fd);
		return connect_error(path, e, why);
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		return CF_ERR_NOMEM;
	}
	a->loop = loop;
	a->fd = fd;
	snprintf(a->path, sizeof(a->path), "%s", path);
	a->src.pollfds = src_pollfds;
	a->src.ready = src_ready;
	a->timer.fire = on_timer;
	loop_add_source(loop, &a->src);
	cf_log(CF_LOG_DEBUG, path, "klippy", "connected");
	*out = a;
	return CF_OK;
}

static void release(struct klippy_api *a)
{
	loop_remove_source(a->loop, &a->src);
	loop_disarm(a->loop, &a->timer);
	close(a->fd);
	free(a->rx);
	free(a->tx);
	free(a);
}

void klippy_api_close(struct klippy_api *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < KLIPPY_API_CALLS_MAX; i++)
		a->calls[i].used = false;
	if (a->depth) {
		a->close_pending = true; /* inside one of our callbacks: finish on the way out */
		return;
	}
	release(a);
}
