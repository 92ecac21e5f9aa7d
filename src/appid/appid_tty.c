// SPDX-License-Identifier: GPL-3.0-or-later
// The identify session over a tty: whole blocks out, bytes in, on the event loop.
#include "appid/appid_tty.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appid/appid.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "transport.h"
#include "transport/transports.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct appid_tty {
	struct loop *loop;
	struct transport *port;
	struct appid *session;
	char device[96];
	bool finished;
	int result;
	uint64_t end_us;
	struct cf_failure why;
	struct appdict facts;
	struct loop_source src;
	struct loop_timer timer;
	void (*done)(void *ctx, struct appid_tty *a);
	void *ctx;
};

static void finish(struct appid_tty *a, int err)
{
	if (a->finished)
		return;
	a->finished = true;
	a->result = err;
	loop_disarm(a->loop, &a->timer);
	loop_remove_source(a->loop, &a->src);
	/* closing now drops DTR at the current 250000 baud: no bootloader request (§3.3) */
	transport_close(a->port);
	a->port = NULL;
	if (err < 0) {
		if (!a->why.code)
			cf_failure_set(&a->why, err, "identify", "%s", cf_strerror(err));
		cf_failure_set_device(&a->why, "%s", a->device);
	}
	a->done(a->ctx, a);
}

static void drive(struct appid_tty *a, uint64_t now)
{
	const uint8_t *block;
	size_t len;
	uint64_t deadline;
	int err;

	(void)now;
	if (appid_state(a->session) == APPID_DONE) {
		const uint8_t *dict;

		err = appid_result(a->session);
		if (err < 0) {
			a->why = *appid_failure(a->session);
			finish(a, err);
			return;
		}
		dict = appid_dict(a->session, &len);
		err = appdict_read(dict, len, &a->facts);
		if (err < 0)
			cf_failure_set(&a->why, err, "identify", "the data dictionary does not decode");
		finish(a, err);
		return;
	}
	if (appid_poll_tx(a->session, &block, &len) > 0) {
		err = transport_send(a->port, block, len);
		if (err == CF_OK)
			appid_tx_done(a->session, cf_now_us());
		else if (err != CF_ERR_AGAIN) {
			finish(a, err);
			return;
		}
	}
	deadline = appid_deadline(a->session);
	loop_arm(a->loop, &a->timer, deadline < a->end_us ? deadline : a->end_us);
}

static int src_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct appid_tty *a = container(src, struct appid_tty, src);

	return a->port ? transport_pollfds(a->port, fds, max) : 0;
}

static void src_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct appid_tty *a = container(src, struct appid_tty, src);
	uint8_t buf[256];
	size_t n;
	int err;

	(void)fds;
	(void)count;
	while (!a->finished) {
		err = transport_recv(a->port, buf, sizeof(buf), &n);
		if (err == CF_ERR_AGAIN)
			break;
		if (err < 0) {
			cf_failure_set(&a->why, err, "identify", "the tty went away while reading");
			finish(a, err);
			return;
		}
		appid_feed(a->session, buf, n, now);
	}
	if (!a->finished)
		drive(a, now);
}

static void on_timer(struct loop_timer *t, uint64_t now)
{
	struct appid_tty *a = container(t, struct appid_tty, timer);

	if (now >= a->end_us) {
		cf_failure_set(&a->why, CF_ERR_TIMEOUT, "identify",
			       "the application did not finish identify in time");
		finish(a, CF_ERR_TIMEOUT);
		return;
	}
	appid_tick(a->session, now);
	drive(a, now);
}

int appid_tty_start(struct loop *loop, const char *tty, uint64_t timeout_us,
		    void (*done)(void *ctx, struct appid_tty *a), void *ctx, struct appid_tty **out,
		    struct cf_failure *why)
{
	struct appid_tty *a = calloc(1, sizeof(*a));
	struct appid_config cfg = {0};
	int err;

	if (!a)
		return CF_ERR_NOMEM;
	snprintf(a->device, sizeof(a->device), "%s", tty);
	cfg.device = a->device;
	err = transport_open(&tty_ops, tty, &a->port, why);
	if (!err)
		err = appid_new(&cfg, &a->session);
	if (err < 0) {
		transport_close(a->port);
		free(a);
		return err;
	}
	a->loop = loop;
	a->done = done;
	a->ctx = ctx;
	a->result = CF_ERR_AGAIN;
	a->end_us = cf_now_us() + timeout_us;
	cf_failure_clear(&a->why);
	a->src.pollfds = src_pollfds;
	a->src.ready = src_ready;
	a->timer.fire = on_timer;
	loop_add_source(loop, &a->src);
	loop_arm(loop, &a->timer, cf_now_us()); /* first block from the loop: done never runs here */
	*out = a;
	return CF_OK;
}

void appid_tty_free(struct appid_tty *a)
{
	if (!a)
		return;
	if (!a->finished) {
		loop_disarm(a->loop, &a->timer);
		loop_remove_source(a->loop, &a->src);
		transport_close(a->port);
	}
	appid_free(a->session);
	free(a);
}

int appid_tty_result(const struct appid_tty *a)
{
	return a->result;
}

const struct cf_failure *appid_tty_failure(const struct appid_tty *a)
{
	return &a->why;
}

const struct appdict *appid_tty_facts(const struct appid_tty *a)
{
	return &a->facts;
}
