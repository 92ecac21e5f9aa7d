// SPDX-License-Identifier: GPL-3.0-or-later
// The stand-in's socket side: listener, connections, 0x03 framing both ways.
#include "tools/klippyd/klippyd.h"
#include "tools/klippyd/klippyd_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "protocol/err.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void conn_close(struct klippyd *k, size_t i)
{
	struct klippyd_conn *c = &k->conns[i];

	close(c->fd);
	free(c->rx);
	free(c->tx);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n > *cap) {
		size_t want = *cap ? *cap : 4096;
		char *p;

		while (want < *len + n)
			want *= 2;
		p = realloc(*buf, want);
		if (!p)
			return CF_ERR_NOMEM;
		*buf = p;
		*cap = want;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	return CF_OK;
}

void klippyd_send(struct klippyd_conn *c, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	const char etx = 0x03;

	if (!text)
		return;
	/* webhooks.py send(): json, then one 0x03 */
	if (!append(&c->tx, &c->tx_len, &c->tx_cap, text, strlen(text)))
		(void)append(&c->tx, &c->tx_len, &c->tx_cap, &etx, 1);
	free(text);
}

static void flush(struct klippyd *k, size_t i)
{
	struct klippyd_conn *c = &k->conns[i];

	while (c->tx_len) {
		const ssize_t n = send(c->fd, c->tx, c->tx_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			conn_close(k, i);
			return;
		}
		memmove(c->tx, c->tx + n, c->tx_len - (size_t)n);
		c->tx_len -= (size_t)n;
	}
}

/* webhooks.py process_received: split on 0x03, keep the partial tail for the next read. */
static void receive(struct klippyd *k, size_t i)
{
	struct klippyd_conn *c = &k->conns[i];
	char buf[4096];
	const ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	char *etx;

	if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK))
		return;
	if (n <= 0 || append(&c->rx, &c->rx_len, &c->rx_cap, buf, (size_t)n) < 0) {
		conn_close(k, i);
		return;
	}
	while ((etx = memchr(c->rx, 0x03, c->rx_len))) {
		const size_t len = (size_t)(etx - c->rx);

		klippyd_handle(k, c, c->rx, len);
		memmove(c->rx, etx + 1, c->rx_len - len - 1);
		c->rx_len -= len + 1;
	}
}

static int src_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct klippyd *k = container(src, struct klippyd, src);
	int n = 0;

	if (k->listen_fd >= 0 && n < max)
		fds[n++] = (struct pollfd){.fd = k->listen_fd, .events = POLLIN};
	for (size_t i = 0; i < KLIPPYD_CONNS_MAX && n < max; i++)
		if (k->conns[i].fd >= 0)
			fds[n++] = (struct pollfd){
				.fd = k->conns[i].fd,
				.events = (short)(POLLIN | (k->conns[i].tx_len ? POLLOUT : 0))};
	return n;
}

static void accept_one(struct klippyd *k)
{
	const int fd = accept4(k->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < KLIPPYD_CONNS_MAX; i++) {
		if (k->conns[i].fd < 0) {
			k->conns[i].fd = fd;
			return;
		}
	}
	close(fd);
}

static void src_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct klippyd *k = container(src, struct klippyd, src);

	(void)now;
	for (int j = 0; j < count; j++) {
		if (!fds[j].revents)
			continue;
		if (fds[j].fd == k->listen_fd) {
			accept_one(k);
			continue;
		}
		for (size_t i = 0; i < KLIPPYD_CONNS_MAX; i++) {
			if (k->conns[i].fd != fds[j].fd)
				continue;
			if (fds[j].revents & (POLLIN | POLLHUP | POLLERR))
				receive(k, i);
			if (k->conns[i].fd >= 0)
				flush(k, i);
		}
	}
}

int klippyd_start(struct klippyd *k)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const size_t n = strlen(k->path);
	int fd;

	if (k->listen_fd >= 0)
		return CF_OK;
	if (n >= sizeof(sa.sun_path))
		return CF_ERR_USAGE;
	memcpy(sa.sun_path, k->path, n + 1);
	(void)unlink(k->path); /* klippy removes a stale socket file before binding */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CF_ERR_IO;
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		close(fd);
		return CF_ERR_IO;
	}
	k->listen_fd = fd;
	return CF_OK;
}

void klippyd_stop(struct klippyd *k)
{
	for (size_t i = 0; i < KLIPPYD_CONNS_MAX; i++)
		if (k->conns[i].fd >= 0)
			conn_close(k, i);
	if (k->listen_fd >= 0) {
		close(k->listen_fd);
		k->listen_fd = -1;
		(void)unlink(k->path);
	}
}

bool klippyd_running(const struct klippyd *k)
{
	return k->listen_fd >= 0;
}

int klippyd_new(struct loop *loop, const struct klippyd_config *cfg, struct klippyd **out)
{
	struct klippyd *k = calloc(1, sizeof(*k));

	if (!k)
		return CF_ERR_NOMEM;
	k->loop = loop;
	k->cfg = *cfg;
	snprintf(k->path, sizeof(k->path), "%s", cfg->socket);
	k->listen_fd = -1;
	for (size_t i = 0; i < KLIPPYD_CONNS_MAX; i++)
		k->conns[i].fd = -1;
	k->scenario = json_object();
	k->loaded_us = cf_now_us();
	k->src.pollfds = src_pollfds;
	k->src.ready = src_ready;
	loop_add_source(loop, &k->src);
	*out = k;
	return CF_OK;
}

void klippyd_free(struct klippyd *k)
{
	if (!k)
		return;
	klippyd_stop(k);
	loop_remove_source(k->loop, &k->src);
	json_decref(k->scenario);
	free(k);
}

unsigned klippyd_requests(const struct klippyd *k)
{
	return k->requests;
}
