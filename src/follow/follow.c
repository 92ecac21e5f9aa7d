// SPDX-License-Identifier: GPL-3.0-or-later
// The one follow: admin queries on CAN, port+serial looks in sysfs on USB, until mode or deadline.
#include "follow/follow.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "can/canmux.h"
#include "failure.h"
#include "follow/follow_census.h"
#include "follow/follow_usb.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

#define BUSY_FRAMES 16 /* per query period: a few admin frames are not "busy" */
#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct follow {
	struct loop *loop;
	struct follow_target t;
	follow_done_fn done;
	void *ctx;
	uint64_t start_us;
	struct loop_timer timer;
	struct follow_seen seen;
	/* CAN */
	struct canmux *mux;
	bool own_mux;
	uint8_t uuid[CANBUS_UUID_LEN];
	bool new_node; /* no UUID: the first node the census did not see */
	struct canmux_listener admin;
	bool listening;
	uint64_t bus_frames; /* bus traffic at the last query */
	bool answered;	     /* the end is due: reported from the timer, not from the mux */
	int result;
	/* USB */
	struct follow_usb usb;
	bool gone; /* gone_first: the leaving device has left the port */
};

static void end(struct follow *f, int err, uint64_t now)
{
	struct follow_seen seen;

	loop_disarm(f->loop, &f->timer);
	if (f->listening)
		canmux_unlisten(f->mux, &f->admin);
	f->listening = false;
	f->seen.after_us = now - f->start_us;
	/* A copy: the callback may free f. */
	seen = f->seen;
	f->done(f->ctx, err, &seen, now);
}

/* ---- CAN: the admin query (katapult.md §2.6) until the UUID answers ---- */

static bool bus_was_busy(struct follow *f)
{
	struct canmux_stats st;
	uint64_t frames, delta;

	canmux_get_stats(f->mux, &st);
	frames = st.tx_frames + st.rx_frames;
	delta = frames - f->bus_frames;
	f->bus_frames = frames;
	return delta > BUSY_FRAMES;
}

static void can_fire(struct loop_timer *tm, uint64_t now)
{
	struct follow *f = container(tm, struct follow, timer);
	struct canbus_frame q;
	int err;

	if (f->answered) {
		end(f, f->result, now);
		return;
	}
	if (now >= f->t.deadline_us && bus_was_busy(f) && now < f->t.busy_limit_us)
		f->t.deadline_us = now + FOLLOW_CAN_QUERY_US;
	if (now >= f->t.deadline_us) {
		end(f, CF_ERR_TIMEOUT, now);
		return;
	}
	canbus_build_query_unassigned(&q);
	err = canmux_send(f->mux, NULL, &q, 1);
	if (err < 0) {
		end(f, err, now);
		return;
	}
	loop_arm(f->loop, &f->timer, now + FOLLOW_CAN_QUERY_US);
}

/* The mux is dispatching: a callback that frees the follow would release the mux under its own
 * feet (the follow may hold the last reference). The end is reported from the timer instead. */
static void answer_later(struct follow *f, int err, uint64_t now)
{
	if (f->answered)
		return;
	f->answered = true;
	f->result = err;
	canmux_unlisten(f->mux, &f->admin);
	f->listening = false;
	loop_arm(f->loop, &f->timer, now);
}

static void can_answer(struct canmux_listener *l, const struct canbus_frame *fr, uint64_t now)
{
	struct follow *f = container(l, struct follow, admin);
	uint8_t uuid[CANBUS_UUID_LEN], app;

	if (canbus_parse_need_nodeid(fr, uuid, &app) < 0)
		return;
	if (f->new_node ? follow_census_has(f->t.before, uuid) : memcmp(uuid, f->uuid, sizeof(uuid)))
		return;
	canbus_uuid_format(uuid, f->seen.can_uuid);
	f->seen.can_app = app;
	f->seen.mode = app == CANBUS_APP_KATAPULT ? DEVICE_MODE_KATAPULT : DEVICE_MODE_APPLICATION;
	answer_later(f,
		     f->t.want == DEVICE_MODE_UNKNOWN || f->seen.mode == f->t.want ? CF_OK
										: CF_ERR_PROTOCOL,
		     now);
}

static void can_error(struct canmux_listener *l, int err, uint64_t now)
{
	answer_later(container(l, struct follow, admin), err, now);
}

static int can_start(struct follow *f, struct canmux *mux, struct cf_failure *why)
{
	struct canmux_stats st;
	int err;

	f->new_node = !f->t.can_uuid[0];
	if (f->new_node && !f->t.before)
		return cf_failure_set(why, CF_ERR_USAGE, "follow",
				      "a node without a UUID needs the census before the reset");
	if (!f->new_node && canbus_uuid_parse(f->t.can_uuid, f->uuid) < 0)
		return cf_failure_set(why, CF_ERR_USAGE, "follow", "'%s' is not a CAN UUID",
				      f->t.can_uuid);
	if (mux) {
		f->mux = mux;
	} else {
		err = canmux_acquire(f->loop, f->t.iface, &f->mux, why);
		if (err < 0)
			return err;
		f->own_mux = true;
	}
	f->admin.id = CANBUS_ADMIN_RESP_ID;
	f->admin.on_frame = can_answer;
	f->admin.on_error = can_error;
	canmux_listen(f->mux, &f->admin);
	f->listening = true;
	canmux_get_stats(f->mux, &st);
	f->bus_frames = st.tx_frames + st.rx_frames;
	f->timer.fire = can_fire;
	return CF_OK;
}

/* ---- USB: the same port shows the same serial in mode want ---- */

/* gone_first: has the device that was there (same ids and serial) left the port yet? The
 * kernel lists a device for a moment after its tty hung up. */
static bool usb_left(struct follow *f, uint64_t now)
{
	struct sysfs_usb was;

	if (f->gone)
		return true;
	if (sysfs_usb_read(f->usb.dir, &was) < 0 || was.vid != f->usb.vid ||
	    was.pid != f->usb.pid || strcasecmp(was.serial, f->usb.serial)) {
		f->gone = true;
		return true;
	}
	if (now >= f->t.deadline_us) {
		f->seen.usb = was;
		f->seen.mode = sysfs_kind_mode(sysfs_usb_kind(&was));
		end(f, CF_ERR_TIMEOUT, now);
	} else {
		loop_arm(f->loop, &f->timer, now + FOLLOW_USB_POLL_US);
	}
	return false;
}

static void usb_fire(struct loop_timer *tm, uint64_t now)
{
	struct follow *f = container(tm, struct follow, timer);
	struct sysfs_usb seen;
	int rc;

	if (f->t.gone_first && !usb_left(f, now))
		return;
	rc = follow_usb_look(&f->usb, f->t.want, &seen);

	if (rc != 0 || seen.dir[0])
		f->seen.usb = seen;
	f->seen.mode = rc == 0 ? DEVICE_MODE_UNKNOWN : sysfs_kind_mode(sysfs_usb_kind(&seen));
	/* The kernel shows the tty in sysfs before udev has made its node and set its group:
	 * give udev until the deadline, then let the open say what is wrong. */
	if (rc == 1 && !f->t.device_only && access(seen.tty, R_OK | W_OK) != 0 &&
	    now < f->t.deadline_us) {
		loop_arm(f->loop, &f->timer, now + FOLLOW_USB_POLL_US);
		return;
	}
	if (rc == 1) {
		end(f, CF_OK, now);
		return;
	}
	if (rc < 0) {
		end(f, rc, now);
		return;
	}
	if (now >= f->t.deadline_us) {
		/* Not there yet: say what the port shows, if anything. */
		if (sysfs_usb_read(f->usb.dir, &seen) == CF_OK) {
			f->seen.usb = seen;
			f->seen.mode = sysfs_kind_mode(sysfs_usb_kind(&seen));
		}
		end(f, CF_ERR_TIMEOUT, now);
		return;
	}
	loop_arm(f->loop, &f->timer, now + FOLLOW_USB_POLL_US);
}

/* ---- the one entry ---- */

int follow_start(struct loop *loop, const struct follow_target *t, struct canmux *mux,
		 follow_done_fn done, void *ctx, struct follow **out, struct cf_failure *why)
{
	struct follow *f = calloc(1, sizeof(*f));
	const uint64_t now = cf_now_us();
	int err = CF_OK;

	*out = NULL;
	if (!f)
		return cf_failure_set(why, CF_ERR_NOMEM, "follow", "out of memory");
	f->loop = loop;
	f->t = *t;
	f->done = done;
	f->ctx = ctx;
	f->start_us = now;
	switch (t->link) {
	case IDENTITY_LINK_CAN:
		err = can_start(f, mux, why);
		break;
	case IDENTITY_LINK_TTY:
		follow_usb_init(&f->usb, &t->usb);
		f->usb.device_only = t->device_only;
		f->timer.fire = usb_fire;
		break;
	case IDENTITY_LINK_USB_DFU:
	case IDENTITY_LINK_NONE:
		err = cf_failure_set(why, CF_ERR_NOT_SUPPORTED, "follow",
				     "cannot follow a probe over %s", identity_link_name(t->link));
		break;
	}
	if (err < 0) {
		follow_free(f);
		return err;
	}
	loop_arm(loop, &f->timer, t->first_look_us > now ? t->first_look_us : now);
	*out = f;
	return CF_OK;
}

void follow_free(struct follow *f)
{
	if (!f)
		return;
	loop_disarm(f->loop, &f->timer);
	if (f->listening)
		canmux_unlisten(f->mux, &f->admin);
	if (f->own_mux)
		canmux_release(f->mux);
	free(f);
}
