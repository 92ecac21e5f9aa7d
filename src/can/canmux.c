// SPDX-License-Identifier: GPL-3.0-or-later
// The CAN bus mux: one transport per interface, an ordered frame queue, routing by CAN id.
#include "can/canmux.h"

#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buslock.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "transport.h"

#define CANMUX_RECV_BURST 256	   /* frames read per loop turn before others get a turn */
#define CANMUX_RETRY_US 1000	   /* ENOBUFS: POLLOUT does not track the qdisc (§2.4) */
#define CANMUX_NODE_FIRST CANBUS_NODEID_FLASHTOOL
/* Katapult sessions stop below APPID_CAN_NODE_FIRST (src/appid/appid_can.h): an application
 * identified there keeps its id, and a Katapult node answering on the same id would shut it
 * down (katapult.md §2.2, id conflict). */
#define CANMUX_NODE_LAST 223
#define CANMUX_NODE_BITMAP 256
#define CANMUX_MAX_IDS 64
#define CANMUX_CLOSE_FLUSH_US 1000000u

struct qframe {
	struct canbus_frame frame;
	struct canmux_listener *owner;
	bool last; /* last frame of its unit: on_sent goes to owner */
};

struct canmux {
	struct loop *loop;
	struct transport *t;
	char *spec;
	int refs;
	int error;
	struct loop_source source;
	struct loop_timer kick;	 /* pump the queue and deliver on_sent from the loop */
	struct canmux_listener *listeners;
	struct qframe *q;	 /* ring buffer */
	size_t q_cap, q_head, q_len;
	bool blocked;		 /* the transport refused the head frame; wait for POLLOUT/timer */
	unsigned seq;		 /* delivery round (dispatch, fail_bus) */
	uint8_t nodes[CANMUX_NODE_BITMAP / 8];
	struct canmux_stats stats;
	struct canmux *next;	 /* registry */
	struct buslock *lock;	 /* the bus's cross-process lock (canmux_acquire only) */
};

/* One mux per (loop, interface): sessions on the same bus must share the socket so the
 * queue keeps their frames in order and node ids stay distinct. */
static struct canmux *Registry;

static void trace_frame(const struct canmux *m, const char *dir, const struct canbus_frame *f)
{
	char hex[2 * CANBUS_FRAME_MAX + 1];

	if (!cf_log_enabled(CF_LOG_TRACE))
		return;
	for (unsigned i = 0; i < f->len && i < CANBUS_FRAME_MAX; i++)
		snprintf(hex + 2 * i, 3, "%02X", f->data[i]);
	hex[2 * (f->len < CANBUS_FRAME_MAX ? f->len : CANBUS_FRAME_MAX)] = '\0';
	/* style.md §2.8: candump notation, so the trace diffs against a candump log. */
	cf_log(CF_LOG_TRACE, m->spec, NULL, "%s %03X#%s", dir, (unsigned)f->id, hex);
}

static bool is_listening(const struct canmux *m, const struct canmux_listener *l)
{
	for (const struct canmux_listener *p = m->listeners; p; p = p->next)
		if (p == l)
			return true;
	return false;
}

static void update_filter(struct canmux *m)
{
	uint32_t ids[CANMUX_MAX_IDS];
	size_t n = 0;

	for (const struct canmux_listener *l = m->listeners; l; l = l->next) {
		bool dup = false;

		for (size_t i = 0; i < n; i++)
			dup |= ids[i] == l->id;
		if (!dup && n < CANMUX_MAX_IDS)
			ids[n++] = l->id;
	}
	/* A failure only costs receiving frames we route away anyway. */
	(void)transport_set_filter(m->t, ids, n);
}

/*
 * The next listener of this delivery round: id matches (any id when all), not yet reached.
 * Scanning from the head each time keeps delivery right whatever a callback (un)listens.
 */
static struct canmux_listener *next_in_round(struct canmux *m, uint32_t id, bool all)
{
	for (struct canmux_listener *l = m->listeners; l; l = l->next) {
		if (l->seq != m->seq && (all || l->id == id)) {
			l->seq = m->seq;
			return l;
		}
	}
	return NULL;
}

static void fail_bus(struct canmux *m, int err, uint64_t now)
{
	struct canmux_listener *l;

	if (m->error)
		return;
	m->error = err;
	cf_log(CF_LOG_DEBUG, m->spec, "canmux", "bus failed: %s", cf_strerror(err));
	m->seq++;
	while ((l = next_in_round(m, 0, true)))
		if (l->on_error)
			l->on_error(l, err, now);
}

/* Does the transport ask for POLLOUT now? If not (SocketCAN ENOBUFS: the qdisc is full but the
 * socket looks writable), only a timer brings the retry. */
static bool waits_for_pollout(struct canmux *m)
{
	struct pollfd fds[4];
	int n = transport_pollfds(m->t, fds, 4);

	for (int i = 0; i < n; i++)
		if (fds[i].events & POLLOUT)
			return true;
	return false;
}

/* Send queued frames in order until the queue is empty or the transport says wait. */
static void pump(struct canmux *m, uint64_t now)
{
	while (m->q_len && !m->error) {
		struct qframe *qf = &m->q[m->q_head];
		int rc = transport_send(m->t, &qf->frame, sizeof(qf->frame));

		if (rc == CF_ERR_AGAIN) {
			/* Rule 1: the same frame goes again, nothing behind it overtakes it. */
			m->blocked = true;
			m->stats.tx_again++;
			if (!waits_for_pollout(m))
				loop_arm(m->loop, &m->kick, now + CANMUX_RETRY_US);
			return;
		}
		if (rc < 0) {
			fail_bus(m, rc, now);
			return;
		}
		m->blocked = false;
		m->stats.tx_frames++;
		trace_frame(m, "TX", &qf->frame);
		m->q_head = (m->q_head + 1) % m->q_cap;
		m->q_len--;
		if (qf->last && qf->owner && qf->owner->on_sent && is_listening(m, qf->owner))
			qf->owner->on_sent(qf->owner, now);
	}
}

static void dispatch(struct canmux *m, const struct canbus_frame *f, uint64_t now)
{
	struct canmux_listener *l;

	trace_frame(m, "RX", f);
	m->seq++;
	while ((l = next_in_round(m, f->id, false)))
		l->on_frame(l, f, now);
}

static int src_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct canmux *m = (struct canmux *)((char *)src - offsetof(struct canmux, source));

	return m->error ? 0 : transport_pollfds(m->t, fds, max);
}

static void src_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct canmux *m = (struct canmux *)((char *)src - offsetof(struct canmux, source));
	bool readable = false, writable = false;

	for (int i = 0; i < count; i++) {
		readable |= (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
		writable |= (fds[i].revents & POLLOUT) != 0;
	}
	if (writable && m->blocked)
		pump(m, now);
	for (int i = 0; readable && i < CANMUX_RECV_BURST && !m->error; i++) {
		struct canbus_frame f;
		size_t len;
		int rc = transport_recv(m->t, &f, sizeof(f), &len);

		if (rc == CF_ERR_AGAIN)
			break;
		if (rc < 0) {
			fail_bus(m, rc, now);
			break;
		}
		m->stats.rx_frames++;
		dispatch(m, &f, now);
	}
}

static void kick_fire(struct loop_timer *timer, uint64_t now)
{
	struct canmux *m = (struct canmux *)((char *)timer - offsetof(struct canmux, kick));

	pump(m, now);
}

int canmux_open_ops(struct loop *loop, const struct transport_ops *ops, const char *spec,
		    struct canmux **out, struct cf_failure *why)
{
	struct canmux *m;
	int err;

	if (!ops)
		return cf_failure_set(why, CF_ERR_NOT_SUPPORTED, "open",
				      "this build cannot reach CAN target %s", spec);
	m = calloc(1, sizeof(*m));
	if (!m)
		return cf_failure_set(why, CF_ERR_NOMEM, "open", "out of memory");
	m->spec = strdup(spec);
	if (!m->spec) {
		err = cf_failure_set(why, CF_ERR_NOMEM, "open", "out of memory");
		goto err_free;
	}
	err = transport_open(ops, spec, &m->t, why);
	if (err < 0)
		goto err_free_spec;
	m->loop = loop;
	m->refs = 1;
	m->source.pollfds = src_pollfds;
	m->source.ready = src_ready;
	m->kick.fire = kick_fire;
	loop_add_source(loop, &m->source);
	update_filter(m);
	m->next = Registry;
	Registry = m;
	*out = m;
	return CF_OK;

err_free_spec:
	free(m->spec);
err_free:
	free(m);
	return err;
}

int canmux_acquire(struct loop *loop, const char *spec, struct canmux **out,
		   struct cf_failure *why)
{
	char name[BUSLOCK_NAME_MAX];
	const char *names[1] = {name};
	struct buslock *lock = NULL;
	int err;

	*out = NULL;
	for (struct canmux *m = Registry; m; m = m->next) {
		if (m->loop == loop && !strcmp(m->spec, spec)) {
			m->refs++;
			*out = m;
			return CF_OK;
		}
	}
	/* src/buslock.h: two runs never meet on one bus. No wait here (sessions on other buses
	 * may be running on this loop); a run that wants to wait locks its buses up front. */
	snprintf(name, sizeof(name), "can:%s", spec);
	err = buslock_acquire(loop, names, 1, 0, NULL, &lock, why);
	if (!err)
		err = canmux_open_ops(loop, transport_ops_for_can(spec), spec, out, why);
	if (err < 0) {
		buslock_release(lock);
		if (why && !why->device[0])
			cf_failure_set_device(why, "%s", spec);
		return err;
	}
	(*out)->lock = lock;
	return err;
}

/*
 * Rule 1 at exit: frames already queued belong to a command that has begun, so they go out
 * before the socket closes. Bounded, so a dead bus cannot hang the exit.
 */
static void flush_before_close(struct canmux *m)
{
	uint64_t start = cf_now_us(), now = start;

	while (m->q_len && !m->error && now - start < CANMUX_CLOSE_FLUSH_US) {
		struct pollfd fds[4];
		int n;

		pump(m, now);
		if (!m->q_len)
			break;
		n = transport_pollfds(m->t, fds, 4);
		(void)poll(fds, (nfds_t)n, 1);
		now = cf_now_us();
	}
}

void canmux_release(struct canmux *m)
{
	if (!m || --m->refs > 0)
		return;
	for (struct canmux **p = &Registry; *p; p = &(*p)->next) {
		if (*p == m) {
			*p = m->next;
			break;
		}
	}
	flush_before_close(m);
	if (m->q_len)
		cf_log(CF_LOG_WARN, m->spec, NULL, "closing with %zu CAN frames unsent", m->q_len);
	loop_remove_source(m->loop, &m->source);
	loop_disarm(m->loop, &m->kick);
	transport_close(m->t);
	buslock_release(m->lock);
	free(m->q);
	free(m->spec);
	free(m);
}

void canmux_listen(struct canmux *m, struct canmux_listener *l)
{
	if (is_listening(m, l))
		return;
	l->next = m->listeners;
	m->listeners = l;
	l->listening = true;
	l->seq = m->seq; /* a listener added by a callback does not hear the frame in hand */
	update_filter(m);
}

void canmux_unlisten(struct canmux *m, struct canmux_listener *l)
{
	for (struct canmux_listener **p = &m->listeners; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	l->next = NULL;
	l->listening = false;
	/* Its queued frames still go out whole (rule 1), nobody hears on_sent. */
	for (size_t i = 0; i < m->q_len; i++) {
		struct qframe *qf = &m->q[(m->q_head + i) % m->q_cap];
		if (qf->owner == l)
			qf->owner = NULL;
	}
	update_filter(m);
}

static int grow(struct canmux *m, size_t need)
{
	size_t cap = m->q_cap ? m->q_cap : 64;
	struct qframe *q;

	while (cap < m->q_len + need)
		cap *= 2;
	if (cap == m->q_cap)
		return CF_OK;
	q = malloc(cap * sizeof(*q));
	if (!q)
		return CF_ERR_NOMEM;
	for (size_t i = 0; i < m->q_len; i++)
		q[i] = m->q[(m->q_head + i) % m->q_cap];
	free(m->q);
	m->q = q;
	m->q_cap = cap;
	m->q_head = 0;
	return CF_OK;
}

int canmux_send(struct canmux *m, struct canmux_listener *owner, const struct canbus_frame *frames,
		size_t count)
{
	int err;

	if (m->error)
		return m->error;
	if (!count)
		return CF_OK;
	err = grow(m, count);
	if (err < 0)
		return err;
	for (size_t i = 0; i < count; i++) {
		struct qframe *qf = &m->q[(m->q_head + m->q_len++) % m->q_cap];

		qf->frame = frames[i];
		qf->owner = owner;
		qf->last = i + 1 == count;
	}
	if (m->q_len > m->stats.peak_queued)
		m->stats.peak_queued = m->q_len;
	if (!m->blocked)
		loop_arm(m->loop, &m->kick, 0);
	return CF_OK;
}

int canmux_send_stream(struct canmux *m, struct canmux_listener *owner, uint32_t id,
		       const uint8_t *data, size_t len)
{
	struct canbus_frame frames[CANBUS_FRAMES_FOR(256)];
	size_t n = canbus_stream_to_frames(id, data, len, frames, sizeof(frames) / sizeof(*frames));

	if (!n)
		return len ? CF_ERR_NOSPACE : CF_OK;
	return canmux_send(m, owner, frames, n);
}

int canmux_alloc_node(struct canmux *m, uint8_t *node)
{
	for (unsigned n = CANMUX_NODE_FIRST; n <= CANMUX_NODE_LAST; n++) {
		if (!(m->nodes[n / 8] & (1u << (n % 8)))) {
			m->nodes[n / 8] |= (uint8_t)(1u << (n % 8));
			*node = (uint8_t)n;
			return CF_OK;
		}
	}
	return CF_ERR_BUSY;
}

void canmux_free_node(struct canmux *m, uint8_t node)
{
	m->nodes[node / 8] &= (uint8_t)~(1u << (node % 8));
}

int canmux_get_bitrate(struct canmux *m, uint32_t *bitrate)
{
	return transport_get_bitrate(m->t, bitrate);
}

const char *canmux_spec(const struct canmux *m)
{
	return m->spec;
}

struct transport *canmux_transport(struct canmux *m)
{
	return m->t;
}

int canmux_error(const struct canmux *m)
{
	return m->error;
}

void canmux_get_stats(const struct canmux *m, struct canmux_stats *st)
{
	*st = m->stats;
}
