// SPDX-License-Identifier: GPL-3.0-or-later
// Runs the sans-I/O Katapult engine over a tty: whole frames out, reply bytes in, deadlines.
#include "katapult/serial.h"
#include "katapult/serial_priv.h"
#include "katapult/iface_switch.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "transport.h"
#include "transport/transports.h"

#define container(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static void report_progress(struct kser *k)
{
	struct katapult_engine_progress p;

	katapult_engine_progress(k->engine, &p);
	/* As on CAN: only stages the user waits through; "check" and "finished" take no time. */
	if (p.stage == KATAPULT_STAGE_CHECK || p.stage == KATAPULT_STAGE_FINISHED)
		return;
	if (p.stage_name == k->last_stage && p.done == k->last_done)
		return;
	k->last_stage = p.stage_name;
	k->last_done = p.done;
	updater_progress(k->u, p.stage_name, p.done, p.total);
}

/* The channel broke under a session: name what the probe is left with. */
static void channel_failed(struct kser *k, int err, uint64_t now)
{
	struct cf_failure *why = updater_failure(k->u);
	const bool wrote = k->engine && katapult_engine_wrote(k->engine);
	const char *stage = updater_step_name(k->step);

	/* COMPLETE went out and the port vanished: the reset may beat its ACK to the host (the
	 * ACK is lost with the tty). Whether the application came back is for sysfs to say. */
	if (err == CF_ERR_NO_DEVICE && k->engine_op == KATAPULT_ENGINE_REBOOT && k->is_usb &&
	    katapult_engine_state(k->engine) != KATAPULT_ENGINE_TX) {
		cf_log(CF_LOG_DEBUG, k->device, "katapult", "tty gone after COMPLETE: rebooting");
		kser_engine_stop(k);
		kser_channel_close(k);
		updater_identity(k->u)->mode = DEVICE_MODE_UNKNOWN;
		kser_confirm_start(k, now);
		return;
	}
	if (err == CF_ERR_NO_DEVICE) {
		cf_failure_set(why, err, stage, "the probe disconnected from %s%s", k->tty,
			       wrote ? " in the middle of the write" : "");
		cf_failure_set_hint(why,
				    "%s; reconnect it and rerun the same command with "
				    "--serial auto (or its new tty)",
				    wrote ? "its application is incomplete, so it stays in Katapult"
					  : "nothing was written");
	} else {
		cf_failure_set(why, err, stage, "serial I/O on %s failed: %s", k->tty,
			       cf_strerror(err));
		cf_failure_set_hint(why, "the probe stays in Katapult; check the cable and rerun "
					 "the command");
	}
	kser_engine_done(k, err, now);
}

/* Hand the engine's next frame to the tty as one unit; arm its deadline. */
static void drive(struct kser *k, uint64_t now)
{
	const uint8_t *frame;
	size_t len;

	if (katapult_engine_state(k->engine) == KATAPULT_ENGINE_DONE) {
		loop_disarm(k->loop, &k->timer);
		report_progress(k);
		kser_engine_done(k, katapult_engine_result(k->engine), now);
		return;
	}
	if (katapult_engine_poll_tx(k->engine, &frame, &len) > 0) {
		const int err = transport_send(k->tp, frame, len);

		if (err == CF_OK) {
			k->tx_pending = false;
			wirelog_tx(&k->wirelog, k->device, frame, len);
			katapult_engine_tx_done(k->engine, now);
		} else if (err == CF_ERR_AGAIN) {
			k->tx_pending = true; /* the transport asks for POLLOUT; same frame then */
		} else {
			channel_failed(k, err, now);
			return;
		}
		if (katapult_engine_state(k->engine) == KATAPULT_ENGINE_TX && !k->tx_pending) {
			drive(k, now); /* the prime is followed at once by CONNECT */
			return;
		}
	}
	if (katapult_engine_deadline(k->engine) != UINT64_MAX)
		loop_arm(k->loop, &k->timer, katapult_engine_deadline(k->engine));
	else
		loop_disarm(k->loop, &k->timer);
	report_progress(k);
}

static int src_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct kser *k = container(src, struct kser, src);

	/* Between sessions nobody reads: polling a readable or hung-up tty would spin. */
	return k->tp && k->engine ? transport_pollfds(k->tp, fds, max) : 0;
}

static void src_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct kser *k = container(src, struct kser, src);
	uint8_t buf[256];
	size_t len;
	int err;

	(void)fds;
	(void)count;
	while (k->engine && k->tp) {
		err = transport_recv(k->tp, buf, sizeof(buf), &len);
		if (err == CF_ERR_AGAIN)
			break;
		if (err < 0) {
			channel_failed(k, err, now);
			return;
		}
		wirelog_rx(&k->wirelog, k->device, buf, len);
		katapult_engine_feed(k->engine, buf, len, now);
	}
	if (k->engine)
		drive(k, now);
}

static void timer_fire(struct loop_timer *t, uint64_t now)
{
	struct kser *k = container(t, struct kser, timer);

	if (!k->engine)
		return;
	katapult_engine_tick(k->engine, now);
	drive(k, now);
}

int kser_channel_open(struct kser *k)
{
	struct cf_failure *why = updater_failure(k->u);
	char spec[160];
	int err;

	if (k->tp)
		return CF_OK;
	if (k->baud)
		snprintf(spec, sizeof(spec), "%s@%u", k->tty, (unsigned)k->baud);
	else
		snprintf(spec, sizeof(spec), "%s", k->tty);
	err = transport_open(&tty_ops, spec, &k->tp, why);
	if (err < 0)
		return err;
	k->primed = false;
	k->src.pollfds = src_pollfds;
	k->src.ready = src_ready;
	loop_add_source(k->loop, &k->src);
	k->src_added = true;
	return CF_OK;
}

void kser_channel_close(struct kser *k)
{
	if (k->src_added)
		loop_remove_source(k->loop, &k->src);
	k->src_added = false;
	transport_close(k->tp);
	k->tp = NULL;
}

static void fill_config(struct kser *k, enum katapult_engine_op op,
			struct katapult_engine_config *c)
{
	const struct updater_config *cfg = updater_get_config(k->u);

	memset(c, 0, sizeof(*c));
	c->op = op;
	if (op == KATAPULT_ENGINE_FLASH || op == KATAPULT_ENGINE_VERIFY_ONLY) {
		c->image = cfg->image;
		c->image_len = cfg->image_len;
		c->image_info = cfg->image_info;
	}
	c->target.path = IMAGE_PATH_KATAPULT;
	/* images.md R4: a USB probe takes USB firmware; a UART build has no dictionary marker
	 * of its own, so the interface rule is not applied there. */
	c->target.iface = k->is_usb ? IMAGE_IFACE_USB : IMAGE_IFACE_UNKNOWN;
	c->target.switch_to = iface_switch_target(cfg->opts.switch_to);
	/* enum updater_force equals enum image_force bit for bit (protocol/image.h). */
	c->force = cfg->opts.force;
	/* katapult.md §3.4, §10.4: always prime USB Katapult, on the first session after open
	 * (the held-back reply exists only after USB configuration). A UART has no such quirk. */
	c->prime = k->is_usb && !k->primed;
	c->dry_run = cfg->opts.dry_run;
	/* COMPLETE belongs to the finish step, after everything verified (design.md rule 2). */
	c->no_reboot = true;
	c->device = k->device;
}

int kser_engine_start(struct kser *k, enum katapult_engine_op op)
{
	struct katapult_engine_config c;
	int err;

	err = kser_channel_open(k);
	if (err < 0)
		return err;
	fill_config(k, op, &c);
	if (k->step == UPDATER_CHECK_IMAGE)
		c.dry_run = true; /* connect and check, nothing written */
	wirelog_init(&k->wirelog);
	err = katapult_engine_new(&c, &k->engine);
	if (err < 0)
		return cf_failure_set(updater_failure(k->u), err, updater_step_name(k->step),
				      "cannot start the Katapult session: %s", cf_strerror(err));
	k->primed = k->primed || c.prime;
	k->engine_op = op;
	k->phase = KSER_ENGINE;
	k->tx_pending = false;
	k->last_stage = NULL;
	k->last_done = 0;
	k->timer.fire = timer_fire;
	drive(k, cf_now_us());
	return CF_OK;
}

void kser_engine_stop(struct kser *k)
{
	if (k->loop)
		loop_disarm(k->loop, &k->timer);
	katapult_engine_free(k->engine);
	k->engine = NULL;
	if (k->phase == KSER_ENGINE)
		k->phase = KSER_IDLE;
}
