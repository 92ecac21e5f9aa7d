// SPDX-License-Identifier: GPL-3.0-or-later
// One CAN bus: admin query, sweep of the identify ids, identify or CONNECT of what answered.
#include "discover/discover_priv.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appid/appid_can.h"
#include "buslock.h"
#include "can/canmux.h"
#include "can/canquery.h"
#include "katapult/katapult.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/katapult.h"
#include "updater.h"
#include "usb/sysfs.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define CAN_NODES_MAX	       (CANQUERY_MAX_NODES + APPID_CAN_NODES)
#define CAN_KATAPULT_TIMEOUT_US 1000000u

struct can_node {
	struct can_job *job;
	size_t row;
	struct appid_can *app;
	struct updater *kp;
};

struct can_job {
	struct dsc *d;
	size_t bus;
	struct buslock *lock;
	struct canmux *mux;
	struct canquery query;
	bool query_started;
	struct appid_sweep *sweep;
	bool query_over, sweep_over; /* the census: both run at once, sessions start after both */
	int query_err;
	struct loop_timer early; /* every wanted UUID answered: the query ends (discover.h) */
	struct can_node nodes[CAN_NODES_MAX];
	size_t nnodes;
	int running;
	bool katapult_asked;
	bool finished;
	unsigned next_id; /* allocation cursor in the identify id range */
	bool used[APPID_CAN_NODES];
};

static struct discover_bus *bus_of(struct can_job *j)
{
	return &j->d->r->buses[j->bus];
}

static struct discover_probe *row_of(struct can_node *n)
{
	return &n->job->d->r->v[n->row];
}

static void job_done(struct can_job *j)
{
	struct canbus_frame f;

	if (j->finished)
		return;
	j->finished = true;
	/* CONNECTed Katapult nodes keep their id and would not answer the next query */
	if (j->katapult_asked && j->mux) {
		canbus_build_clear_katapult_nodeid(&f);
		(void)canmux_send(j->mux, NULL, &f, 1);
	}
	j->d->pending--;
}

static void node_finished(struct can_job *j)
{
	if (--j->running == 0)
		job_done(j);
}

static void app_done(void *ctx, struct appid_can *c)
{
	struct can_node *n = ctx;
	struct discover_probe *p = row_of(n);
	uint8_t uuid[6];

	if (appid_can_result(c) == CF_OK) {
		discover_set_app(p, appid_can_facts(c), DISCOVER_SRC_IDENTIFY);
		appid_can_uuid(c, uuid);
		canbus_uuid_format(uuid, p->uuid);
		p->node_id = appid_can_node(c);
	} else {
		const struct cf_failure *f = appid_can_failure(c);

		snprintf(p->note, sizeof(p->note), "identify failed: %.200s", f->detail);
	}
	node_finished(n->job);
}

static void katapult_done(void *ctx, struct updater *u, int err)
{
	struct can_node *n = ctx;

	discover_set_katapult(row_of(n), u, err);
	node_finished(n->job);
}

static uint64_t left(const struct can_job *j)
{
	const uint64_t now = cf_now_us();

	return j->d->end_us > now + 100000 ? j->d->end_us - now : 100000;
}

/* The next identify id nobody sits on (the sweep's answer) and this run has not given out. */
static int alloc_id(struct can_job *j, uint8_t *node)
{
	for (unsigned i = 0; i < APPID_CAN_NODES; i++) {
		const unsigned k = (j->next_id + i) % APPID_CAN_NODES;
		const uint8_t id = (uint8_t)(APPID_CAN_NODE_FIRST + k);

		if (j->used[k] || appid_sweep_taken(j->sweep, id))
			continue;
		j->used[k] = true;
		j->next_id = k + 1;
		*node = id;
		return CF_OK;
	}
	return CF_ERR_BUSY;
}

static struct can_node *new_node(struct can_job *j, enum discover_mode mode, const char *uuid)
{
	struct can_node *n;
	struct discover_probe *p;
	size_t row;

	if (j->nnodes == CAN_NODES_MAX || discover_add(j->d->r, &row) < 0)
		return NULL;
	n = &j->nodes[j->nnodes++];
	n->job = j;
	n->row = row;
	p = row_of(n);
	p->link = DISCOVER_LINK_CAN;
	p->mode = mode;
	snprintf(p->iface, sizeof(p->iface), "%s", bus_of(j)->iface);
	snprintf(p->uuid, sizeof(p->uuid), "%s", uuid);
	return n;
}

static void start_app(struct can_job *j, const struct canquery_node *q)
{
	const struct klippy_state *ks = &j->d->r->klipper_state;
	char uuid[13];
	struct can_node *n;
	uint8_t id;

	canbus_uuid_format(q->uuid, uuid);
	n = new_node(j, DISCOVER_MODE_APPLICATION, uuid);
	if (!n)
		return;
	/* klippy in startup may be assigning this very node: a second id would cut it off */
	if (j->d->r->klipper && !strcmp(ks->state, "startup") && klippy_state_find_uuid(ks, uuid)) {
		snprintf(row_of(n)->note, sizeof(row_of(n)->note),
			 "not identified: Klipper is connecting to it");
		return;
	}
	if (alloc_id(j, &id) < 0) {
		snprintf(row_of(n)->note, sizeof(row_of(n)->note),
			 "not identified: every identify node id (%d-%d) is taken",
			 APPID_CAN_NODE_FIRST, APPID_CAN_NODE_LAST);
		return;
	}
	j->running++;
	if (appid_can_start(j->d->loop, j->mux, q->uuid, id, 0, left(j), app_done, n, &n->app) < 0)
		j->running--;
}

static void start_parked(struct can_job *j, uint8_t id)
{
	struct can_node *n = new_node(j, DISCOVER_MODE_APPLICATION, "");

	if (!n)
		return;
	j->running++;
	if (appid_can_start(j->d->loop, j->mux, NULL, id, appid_sweep_seq(j->sweep, id), left(j),
			    app_done, n, &n->app) < 0)
		j->running--;
}

static void start_katapult(struct can_job *j, const struct canquery_node *q)
{
	struct updater_config cfg = {.ops = &katapult_ops, .loop = j->d->loop};
	char uuid[13];
	struct can_node *n;

	canbus_uuid_format(q->uuid, uuid);
	n = new_node(j, DISCOVER_MODE_KATAPULT, uuid);
	if (!n)
		return;
	cfg.events = (struct updater_events){.ctx = n, .step_done = katapult_done};
	identity_init(&cfg.target, IDENTITY_LINK_CAN);
	snprintf(cfg.target.iface, sizeof(cfg.target.iface), "%s", bus_of(j)->iface);
	snprintf(cfg.target.can_uuid, sizeof(cfg.target.can_uuid), "%s", uuid);
	cfg.target.mode = DEVICE_MODE_KATAPULT; /* it is there: no bootloader request */
	cfg.target.node_id = -1;
	cfg.opts.timeout_us = CAN_KATAPULT_TIMEOUT_US;
	n->kp = updater_new(&cfg);
	j->katapult_asked = true;
	j->running++;
	if (!n->kp || updater_start_step(n->kp, UPDATER_IDENTIFY) < 0)
		j->running--; /* no step_done comes for a step that did not start */
}

static void bus_failed(struct can_job *j, int err, const char *what);

/* Both halves of the census are in: the parked nodes the sweep found, the free ones the query
 * found. Only now are identify ids given out, so none goes to a node that already sits on it. */
static bool all_wanted(const struct can_job *j);

/* The run wants this UUID (discover.h want_uuids) on this bus. */
static bool wanted(const struct can_job *j, const uint8_t uuid[6])
{
	const struct discover_opts *o = j->d->o;

	for (size_t i = 0; i < o->nwant; i++) {
		uint8_t u[6];

		if (!strcmp(o->want_ifaces[i], j->d->r->buses[j->bus].iface) &&
		    canbus_uuid_parse(o->want_uuids[i], u) == 0 && !memcmp(u, uuid, 6))
			return true;
	}
	return false;
}

static void census_done(struct can_job *j)
{
	struct appid_sweep *s = j->sweep;
	bool targets_only;

	if (!j->query_over || !j->sweep_over || j->finished)
		return;
	if (j->query_err < 0) {
		bus_failed(j, j->query_err, "admin query failed");
		return;
	}
	/* every wanted UUID answered the query: the nodes parked on identify ids and the others
	 * are none of the run's business (the sweep still told which ids are free) */
	targets_only = all_wanted(j);
	j->running = 1; /* held until every session below has started */
	if (appid_sweep_result(s) == CF_OK && !targets_only) {
		for (unsigned id = APPID_CAN_NODE_FIRST; id <= APPID_CAN_NODE_LAST; id++)
			if (appid_sweep_taken(s, (uint8_t)id)) {
				bus_of(j)->parked++;
				start_parked(j, (uint8_t)id);
			}
	}
	for (size_t i = 0; i < j->query.count; i++) {
		const struct canquery_node *q = &j->query.nodes[i];

		/* a run after its targets' applications asks no Katapult: its flash CONNECTs */
		if (targets_only && (!wanted(j, q->uuid) || q->app == CANBUS_APP_KATAPULT))
			continue;
		if (q->app == CANBUS_APP_KATAPULT)
			start_katapult(j, q);
		else
			start_app(j, q);
	}
	node_finished(j);
}

static void sweep_done(void *ctx, struct appid_sweep *s)
{
	struct can_job *j = ctx;

	(void)s;
	j->sweep_over = true;
	census_done(j);
}

static void bus_failed(struct can_job *j, int err, const char *what)
{
	struct discover_bus *b = bus_of(j);
	char iface[64];

	snprintf(iface, sizeof(iface), "%s", b->iface);
	b->err = err;
	snprintf(b->err_text, sizeof(b->err_text), "CAN bus %s: %s: %s", iface, what,
		 cf_strerror(err));
	job_done(j);
}

static void query_done(void *ctx, int err, uint64_t now)
{
	struct can_job *j = ctx;

	(void)now;
	bus_of(j)->answered = (unsigned)j->query.count;
	j->query_err = err;
	j->query_over = true;
	census_done(j);
}

/* Every UUID the run wants on this bus answered the query; none wanted here: never. */
static bool all_wanted(const struct can_job *j)
{
	const struct discover_opts *o = j->d->o;
	size_t wanted = 0;

	for (size_t i = 0; i < o->nwant; i++) {
		uint8_t u[6];

		if (strcmp(o->want_ifaces[i], bus_of((struct can_job *)j)->iface))
			continue;
		wanted++;
		if (canbus_uuid_parse(o->want_uuids[i], u) < 0 || !canquery_find(&j->query, u))
			return false;
	}
	return wanted > 0;
}

static void query_node(void *ctx, const struct canquery_node *n, uint64_t now)
{
	struct can_job *j = ctx;

	(void)n;
	/* not from inside the query's own listener: a timer at once ends it */
	if (all_wanted(j))
		loop_arm(j->d->loop, &j->early, now);
}

static void early_fire(struct loop_timer *t, uint64_t now)
{
	struct can_job *j = container(t, struct can_job, early);

	if (j->query_over || j->query.done)
		return;
	canquery_stop(&j->query);
	query_done(j, CF_OK, now);
}

static int open_bus(struct can_job *j)
{
	struct discover_bus *b = bus_of(j);
	const char *names[1];
	char lockname[BUSLOCK_NAME_MAX];
	struct cf_failure why;
	int err;

	cf_failure_clear(&why);
	snprintf(lockname, sizeof(lockname), "can:%s", b->iface);
	names[0] = lockname;
	err = buslock_acquire(j->d->loop, names, 1, j->d->o->lock_wait_us,
			      j->d->o->verb ? j->d->o->verb : "status", &j->lock, &why);
	if (!err)
		err = canmux_acquire(j->d->loop, b->iface, &j->mux, &why);
	if (err < 0) {
		b->err = err;
		cf_failure_format(&why, b->err_text, sizeof(b->err_text));
		return err;
	}
	if (canmux_get_bitrate(j->mux, &b->iface_bitrate) < 0)
		b->iface_bitrate = 0;
	(void)canbridge_detect(sysfs_root(), b->iface, &b->bridge);
	return CF_OK;
}

void discover_can_start(struct dsc *d, size_t bus)
{
	struct can_job *j = calloc(1, sizeof(*j));

	if (!j)
		return;
	d->can[bus] = j;
	d->pending++;
	j->d = d;
	j->bus = bus;
	if (open_bus(j) < 0) {
		job_done(j);
		return;
	}
	j->query.on_done = query_done;
	j->query.on_node = query_node;
	j->query.ctx = j;
	j->early.fire = early_fire;
	/* like flashtool -q: Katapult nodes holding an old id answer too (the bus is ours); a run
	 * after its targets' applications leaves Katapult's node ids alone */
	if (canquery_start(&j->query, j->mux, d->loop, d->o->nwant == 0, 0, 0) < 0) {
		bus_failed(j, CF_ERR_IO, "cannot send the admin query");
		return;
	}
	j->query_started = true;
	/* The sweep of the identify ids at the same time: only a node with no id answers the
	 * query and only one sitting on an identify id answers the sweep, so their quiet windows
	 * overlap instead of adding up. */
	if (appid_sweep_start(d->loop, j->mux, 0, sweep_done, j, &j->sweep) < 0)
		bus_failed(j, CF_ERR_IO, "cannot send the sweep of the identify node ids");
}

void discover_can_free(struct can_job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->nnodes; i++) {
		appid_can_free(j->nodes[i].app);
		updater_free(j->nodes[i].kp);
	}
	appid_sweep_free(j->sweep);
	loop_disarm(j->d->loop, &j->early);
	if (j->query_started)
		canquery_stop(&j->query);
	canmux_release(j->mux);
	buslock_release(j->lock);
	free(j);
}
