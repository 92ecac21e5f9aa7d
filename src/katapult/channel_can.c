// SPDX-License-Identifier: GPL-3.0-or-later
// The CAN node channel: a bus mux and a node id; reach by admin request, confirm by admin query.
#include "katapult/channel.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "can/canbridge.h"
#include "can/canmux.h"
#include "failure.h"
#include "follow/follow.h"
#include "katapult/can_entry.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "transport.h"
#include "updater.h"
#include "usb/sysfs.h"

/* katapult.md §1.3: the application starts 100 ms after the COMPLETE ACK. */
#define CAN_APP_START_US 100000u
/* katapult.md §2.2: the admin answer waits in arbitration on a busy bus; only idle time counts
 * against the deadline, up to this long after COMPLETE. */
#define CAN_CONFIRM_MAX_US 120000000u

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct can_chan {
	struct kchannel *c;
	struct canmux *mux;
	uint8_t uuid[CANBUS_UUID_LEN];
	uint8_t node;
	bool have_node;
	struct can_entry entry;
	struct canmux_listener rx; /* node -> host; owns the host -> node units */
	struct follow *follow;	    /* confirm or look */
	struct kchannel_seen *seen; /* a look's answer goes here */
	enum kchannel_expect expect;
	uint64_t confirm_start_us, confirm_deadline_us;
};

static struct can_chan *priv(struct kchannel *c)
{
	struct can_chan *p = (struct can_chan *)c->priv;

	p->c = c;
	return p;
}

static void relabel(struct kchannel *c)
{
	identity_label(c->id, c->label, sizeof(c->label));
}

/* A bus that failed: BUS-OFF named with its fix, anything else with the interface to check. */
static int bus_failure(struct can_chan *p, int err, const char *stage)
{
	struct cf_failure *why = p->c->why;
	enum transport_can_state st = TRANSPORT_CAN_UNKNOWN;
	const char *spec = canmux_spec(p->mux);

	(void)transport_get_can_state(canmux_transport(p->mux), &st);
	if (st == TRANSPORT_CAN_BUS_OFF) {
		cf_failure_set(why, CF_ERR_IO, stage, "CAN interface %s went BUS-OFF", spec);
		cf_failure_set_hint(why, "check wiring, termination and that every node uses the "
					 "same bitrate; restart it (sudo ip link set %s down && sudo "
					 "ip link set %s up), power-cycle the probe, rerun",
				    spec, spec);
		return CF_ERR_IO;
	}
	cf_failure_set(why, err, stage, "CAN bus %s failed: %s", spec, cf_strerror(err));
	cf_failure_set_hint(why, "check the interface (ip -details link show %s); the probe "
				 "stays where it was, rerun the command",
			    spec);
	return err;
}

static int op_open(struct kchannel *c)
{
	struct can_chan *p = priv(c);
	struct device_identity *id = c->id;
	struct canbridge_info bridge;
	uint32_t bitrate = 0;
	int err;

	if (p->mux)
		return CF_OK;
	relabel(c);
	if (canbus_uuid_parse(id->can_uuid, p->uuid) < 0)
		return cf_failure_set(c->why, CF_ERR_USAGE, "identify",
				      "'%s' is not a CAN UUID (12 hex digits)", id->can_uuid);
	err = canmux_acquire(c->loop, id->iface, &p->mux, c->why);
	if (err < 0)
		return err;
	err = canmux_alloc_node(p->mux, &p->node);
	if (err < 0)
		return cf_failure_set(c->why, err, "identify", "no free CAN node id on %s",
				      id->iface);
	p->have_node = true;
	id->node_id = p->node;
	relabel(c);
	/* a bus bitrate the run found already (a Klipper bridge: the nodes' own, src/liverun.h)
	 * stays; a bridge's host figure says nothing about the bus (src/can/canbridge.h) */
	if (id->bus_bitrate)
		cf_log(CF_LOG_DEBUG, c->label, "katapult", "bus bitrate %u given", id->bus_bitrate);
	else if (canbridge_detect(sysfs_root(), id->iface, &bridge) == CF_OK &&
		 bridge.klipper_bridge)
		cf_log(CF_LOG_DEBUG, c->label, "katapult", "Klipper bridge: host bitrate ignored");
	else if (canmux_get_bitrate(p->mux, &bitrate) == CF_OK)
		id->bus_bitrate = bitrate;
	else
		cf_log(CF_LOG_DEBUG, c->label, "katapult", "interface bitrate unknown");
	return CF_OK;
}

static void entry_done(void *ctx, int err, uint64_t now)
{
	struct can_chan *p = ctx;
	struct kchannel *c = p->c;
	const struct device_identity *id = c->id;

	c->from_app = p->entry.requested;
	if (err == CF_ERR_NO_DEVICE) {
		cf_failure_set(c->why, err, "identify",
			       "no Katapult answered for UUID %s on %s within %.1f s%s", id->can_uuid,
			       id->iface, (double)(p->entry.deadline_us - p->entry.start_us) / 1e6,
			       p->entry.request_bootloader ? " of the bootloader request" : "");
		if (p->entry.request_bootloader)
			cf_failure_set_hint(c->why,
					    "a bootloader that wedged in an earlier run answers nothing "
					    "until it is power-cycled: power-cycle the probe and rerun; "
					    "else check the UUID with `cartoflash scan --can %s`",
					    id->iface);
		else
			cf_failure_set_hint(c->why, "a probe running its application is left alone "
						    "here: `cartoflash bootloader --can %s --uuid %s` "
						    "enters Katapult first",
					    id->iface, id->can_uuid);
	} else if (err < 0) {
		err = bus_failure(p, err, "identify");
	}
	c->ev.reached(c->ev.ctx, err, now);
}

static int op_reach(struct kchannel *c, bool request, uint64_t deadline_us)
{
	struct can_chan *p = priv(c);
	const uint64_t now = cf_now_us();
	int err;

	p->entry.on_done = entry_done;
	p->entry.ctx = p;
	p->entry.known_app = c->id->app_version[0] != '\0'; /* identified before the run */
	err = can_entry_start(&p->entry, p->mux, c->loop, p->uuid, p->node, request,
			      deadline_us > now ? deadline_us - now : 1);
	if (err < 0)
		return cf_failure_set(c->why, err, "identify", "CAN bus %s: %s",
				      canmux_spec(p->mux), cf_strerror(err));
	return CF_OK;
}

static void op_session(struct kchannel *c, struct kchannel_session *s)
{
	struct can_chan *p = priv(c);

	s->iface = IMAGE_IFACE_CAN;
	s->bus_bitrate = c->id->bus_bitrate;
	s->prime = false;
	s->expect_uuid = true;
	memcpy(s->uuid, p->uuid, sizeof(s->uuid));
}

static void rx_sent(struct canmux_listener *l, uint64_t now)
{
	struct can_chan *p = container(l, struct can_chan, rx);

	if (p->c->session)
		p->c->io.sent(p->c->io.ctx, now);
}

static void rx_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct can_chan *p = container(l, struct can_chan, rx);

	if (p->c->session)
		p->c->io.received(p->c->io.ctx, f->data, f->len, now);
}

static void rx_error(struct canmux_listener *l, int err, uint64_t now)
{
	struct can_chan *p = container(l, struct can_chan, rx);

	if (!p->c->session)
		return;
	err = bus_failure(p, err, NULL);
	p->c->io.failed(p->c->io.ctx, err, now);
}

static int op_send(struct kchannel *c, const uint8_t *frame, size_t len)
{
	struct can_chan *p = priv(c);
	int err;

	if (!p->rx.listening) {
		memset(&p->rx, 0, sizeof(p->rx));
		p->rx.id = canbus_node_rx_id(p->node);
		p->rx.on_frame = rx_frame;
		p->rx.on_sent = rx_sent;
		p->rx.on_error = rx_error;
		canmux_listen(p->mux, &p->rx);
	}
	/* The mux queues the whole unit and resends a refused frame as it is (rule 1). */
	err = canmux_send_stream(p->mux, &p->rx, canbus_node_tx_id(p->node), frame, len);
	if (err < 0)
		return bus_failure(p, err, NULL);
	return CF_OK;
}

static void confirm_failure(struct can_chan *p, int err, const struct follow_seen *seen)
{
	struct kchannel *c = p->c;
	const unsigned secs = (unsigned)((p->confirm_deadline_us - p->confirm_start_us) / 1000000u);
	const bool deployer = p->expect == KCHANNEL_EXPECT_KATAPULT;

	if (err == CF_ERR_TIMEOUT && deployer) {
		cf_failure_set(c->why, err, "finish", "the deployer was written, but no Katapult "
						       "answered the admin query within %u s", secs);
		cf_failure_set_hint(c->why, "give it a few seconds and run `cartoflash scan --can "
					    "%s`; a probe that stays silent lost its bootloader: "
					    "`cartoflash recover`",
				    c->id->iface);
	} else if (err == CF_ERR_TIMEOUT) {
		cf_failure_set(c->why, err, "finish", "the application did not answer the admin "
						       "query within %u s after COMPLETE", secs);
		cf_failure_set_hint(c->why, "a running Klipper assigns the node and keeps it silent; "
					    "stop Klipper and run `cartoflash scan`, or power-cycle "
					    "the probe");
	} else if (err == CF_ERR_PROTOCOL && deployer) {
		cf_failure_set(c->why, err, "finish",
			       "after the deployer the node answers running %s, not Katapult",
			       canbus_app_name(seen->can_app));
		cf_failure_set_hint(c->why, "the deployer did not start; `cartoflash scan --can %s` "
					    "shows the node",
				    c->id->iface);
	} else if (err == CF_ERR_PROTOCOL) {
		/* katapult.md §5: an application whose first word is 0 or ~0 sends it back. */
		cf_failure_set(c->why, err, "finish",
			       "the node came back in Katapult, not in its application");
		cf_failure_set_hint(c->why, "the application does not start; flash a known-good "
					    "image");
	} else {
		bus_failure(p, err, "finish");
	}
}

static void follow_done(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct can_chan *p = ctx;
	struct kchannel *c = p->c;

	follow_free(p->follow);
	p->follow = NULL;
	if (err < 0) {
		confirm_failure(p, err, seen);
		c->ev.confirmed(c->ev.ctx, c->why->code ? c->why->code : err, now);
		return;
	}
	cf_log(CF_LOG_INFO, c->label, NULL, "%s (%s) answers %.0f ms after COMPLETE",
	       p->expect == KCHANNEL_EXPECT_KATAPULT ? "the new Katapult" : "the application",
	       canbus_app_name(seen->can_app), (double)(now - p->confirm_start_us) / 1000.0);
	c->id->mode = seen->mode;
	c->id->node_id = -1;
	/* Nothing holds our Katapult id any more: the next session on this bus may take it. */
	if (p->have_node) {
		canmux_free_node(p->mux, p->node);
		p->have_node = false;
	}
	c->ev.confirmed(c->ev.ctx, CF_OK, now);
}

static int op_confirm(struct kchannel *c, enum kchannel_expect expect, uint64_t deadline_us)
{
	struct can_chan *p = priv(c);
	const struct image_info *img = c->img;
	const uint32_t bus = c->id->bus_bitrate;
	const uint64_t now = cf_now_us();
	struct follow_target t = { .link = IDENTITY_LINK_CAN };

	/* katapult.md §4: a deployer of another interface or bitrate leaves this bus. */
	if (expect == KCHANNEL_EXPECT_KATAPULT &&
	    (!img || img->katapult.iface != IMAGE_IFACE_CAN ||
	     (bus && img->katapult.can_bitrate && bus != img->katapult.can_bitrate)))
		return CF_ERR_NOT_SUPPORTED;
	/* Katapult restarts after COMPLETE: the node id is gone with it. */
	c->id->node_id = -1;
	p->expect = expect;
	p->confirm_start_us = now;
	p->confirm_deadline_us = deadline_us;
	t.want = expect == KCHANNEL_EXPECT_KATAPULT ? DEVICE_MODE_KATAPULT
						   : DEVICE_MODE_APPLICATION;
	snprintf(t.iface, sizeof(t.iface), "%s", c->id->iface);
	snprintf(t.can_uuid, sizeof(t.can_uuid), "%s", c->id->can_uuid);
	t.first_look_us = now + CAN_APP_START_US;
	t.deadline_us = deadline_us;
	t.busy_limit_us = now + CAN_CONFIRM_MAX_US;
	return follow_start(c->loop, &t, p->mux, follow_done, p, &p->follow, c->why);
}

/* What the admin query says now, after a session stopped hearing the probe. */
static void look_done(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct can_chan *p = ctx;
	struct kchannel_seen *out = p->seen;
	const char *bus = canmux_spec(p->mux);

	follow_free(p->follow);
	p->follow = NULL;
	if (err == CF_OK && seen->mode == DEVICE_MODE_KATAPULT)
		snprintf(out->text, sizeof(out->text),
			 "on %s it answers the admin query as a Katapult without a node id: it was "
			 "reset and stayed in Katapult",
			 bus);
	else if (err == CF_OK)
		snprintf(out->text, sizeof(out->text),
			 "on %s it answers the admin query as its application (%s): it was reset and "
			 "runs what its flash holds",
			 bus, canbus_app_name(seen->can_app));
	else if (err == CF_ERR_TIMEOUT)
		snprintf(out->text, sizeof(out->text),
			 "on %s it does not answer the admin query: still in Katapult on node id %u "
			 "(which answers nothing else), or off the bus",
			 bus, (unsigned)p->node);
	else
		snprintf(out->text, sizeof(out->text), "on %s the admin query failed: %s", bus,
			 cf_strerror(err));
	p->c->io.looked(p->c->io.ctx, now);
}

/* The one follow by UUID, for any mode: only a node without a node id answers it, so a probe
 * that was reset answers and one still in our session's Katapult does not. Nothing on CAN
 * shows without asking: no time, nothing to say. */
static int op_look(struct kchannel *c, int err, uint64_t deadline_us, struct kchannel_seen *out)
{
	(void)err;
	struct can_chan *p = priv(c);
	struct follow_target t = { .link = IDENTITY_LINK_CAN, .want = DEVICE_MODE_UNKNOWN };
	struct cf_failure scratch; /* c->why holds the session's failure */
	const uint64_t now = cf_now_us();

	if (!p->mux || deadline_us <= now)
		return CF_OK;
	snprintf(t.iface, sizeof(t.iface), "%s", c->id->iface);
	snprintf(t.can_uuid, sizeof(t.can_uuid), "%s", c->id->can_uuid);
	t.first_look_us = now;
	t.deadline_us = deadline_us;
	p->seen = out;
	if (follow_start(c->loop, &t, p->mux, look_done, p, &p->follow, &scratch) < 0)
		return CF_OK;
	return CF_ERR_AGAIN;
}

static void op_stop(struct kchannel *c)
{
	struct can_chan *p = priv(c);

	can_entry_stop(&p->entry);
	follow_free(p->follow);
	p->follow = NULL;
}

static void op_close(struct kchannel *c)
{
	struct can_chan *p = priv(c);

	op_stop(c);
	if (!p->mux)
		return;
	if (p->rx.listening)
		canmux_unlisten(p->mux, &p->rx);
	if (p->have_node)
		canmux_free_node(p->mux, p->node);
	p->have_node = false;
	canmux_release(p->mux);
	p->mux = NULL;
}

const struct kchannel_ops kchannel_can_ops = {
	.name = "can",
	.priv_size = sizeof(struct can_chan),
	.open = op_open,
	.reach = op_reach,
	.session = op_session,
	.send = op_send,
	.confirm = op_confirm,
	.stop = op_stop,
	.close = op_close,
	.look = op_look,
};
