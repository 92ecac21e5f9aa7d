// SPDX-License-Identifier: GPL-3.0-or-later
// Runs the sans-I/O Katapult engine over a CAN node channel, and confirms the application.
#include "katapult/backend.h"
#include "katapult/backend_priv.h"
#include "katapult/iface_switch.h"
#include "katapult/wirelog.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/katapult.h"
#include "transport.h"

#define KCAN_BUSY_FRAMES 16 /* per query period: a few admin frames are not "busy" */
#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void report_progress(struct kcan *k)
{
	struct katapult_engine_progress p;

	katapult_engine_progress(k->engine, &p);
	/* Only stages the user waits through; "check" and "finished" take no time. */
	if (p.stage == KATAPULT_STAGE_CHECK || p.stage == KATAPULT_STAGE_FINISHED)
		return;
	if (p.stage_name == k->last_stage && p.done == k->last_done)
		return;
	k->last_stage = p.stage_name;
	k->last_done = p.done;
	updater_progress(k->u, p.stage_name, p.done, p.total);
}

void kcan_bus_failure(struct kcan *k, int err, const char *stage)
{
	struct cf_failure *why = updater_failure(k->u);
	enum transport_can_state st = TRANSPORT_CAN_UNKNOWN;
	const char *spec = canmux_spec(k->mux);

	(void)transport_get_can_state(canmux_transport(k->mux), &st);
	if (st == TRANSPORT_CAN_BUS_OFF) {
		cf_failure_set(why, CF_ERR_IO, stage, "CAN interface %s went BUS-OFF", spec);
		cf_failure_set_hint(why, "check wiring, termination and that every node uses the "
					 "same bitrate; restart it (sudo ip link set %s down && sudo "
					 "ip link set %s up), power-cycle the probe, rerun",
				    spec, spec);
		return;
	}
	cf_failure_set(why, err, stage, "CAN bus %s failed: %s", spec, cf_strerror(err));
	cf_failure_set_hint(why, "check the interface (ip -details link show %s); the probe "
				 "stays in Katapult, rerun the command",
			    spec);
}

static void engine_failed(struct kcan *k, int err, uint64_t now)
{
	kcan_bus_failure(k, err, updater_step_name(k->step));
	kcan_engine_done(k, updater_failure(k->u)->code, now);
}

/* Hand the engine's next frame to the mux as one unit; arm its deadline. */
static void drive(struct kcan *k, uint64_t now)
{
	const uint8_t *frame;
	size_t len;

	if (katapult_engine_state(k->engine) == KATAPULT_ENGINE_DONE) {
		loop_disarm(k->loop, &k->timer);
		report_progress(k);
		kcan_engine_done(k, katapult_engine_result(k->engine), now);
		return;
	}
	if (!k->tx_busy && katapult_engine_poll_tx(k->engine, &frame, &len) > 0) {
		int err = canmux_send_stream(k->mux, &k->rx, canbus_node_tx_id(k->node), frame, len);

		wirelog_tx(&k->wirelog, k->device, frame, len);
		if (err < 0) {
			engine_failed(k, err, now);
			return;
		}
		k->tx_busy = true;
	}
	if (katapult_engine_deadline(k->engine) != UINT64_MAX)
		loop_arm(k->loop, &k->timer, katapult_engine_deadline(k->engine));
	else
		loop_disarm(k->loop, &k->timer);
	report_progress(k);
}

static void rx_sent(struct canmux_listener *l, uint64_t now)
{
	struct kcan *k = container(l, struct kcan, rx);

	if (!k->engine)
		return;
	k->tx_busy = false;
	katapult_engine_tx_done(k->engine, now);
	drive(k, now);
}

static void rx_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct kcan *k = container(l, struct kcan, rx);

	if (!k->engine)
		return;
	wirelog_rx(&k->wirelog, k->device, f->data, f->len);
	katapult_engine_feed(k->engine, f->data, f->len, now);
	drive(k, now);
}

static void rx_error(struct canmux_listener *l, int err, uint64_t now)
{
	struct kcan *k = container(l, struct kcan, rx);

	if (k->engine)
		engine_failed(k, err, now);
}

static void timer_fire(struct loop_timer *t, uint64_t now)
{
	struct kcan *k = container(t, struct kcan, timer);

	if (!k->engine)
		return;
	katapult_engine_tick(k->engine, now);
	drive(k, now);
}

static void fill_config(struct kcan *k, enum katapult_engine_op op,
			struct katapult_engine_config *c)
{
	const struct updater_config *cfg = updater_get_config(k->u);
	const struct device_identity *id = updater_identity(k->u);

	memset(c, 0, sizeof(*c));
	c->op = op;
	if (op == KATAPULT_ENGINE_FLASH || op == KATAPULT_ENGINE_VERIFY_ONLY) {
		c->image = cfg->image;
		c->image_len = cfg->image_len;
		c->image_info = cfg->image_info;
	}
	c->target.path = IMAGE_PATH_KATAPULT;
	c->target.iface = IMAGE_IFACE_CAN;
	c->target.bus_bitrate = id->bus_bitrate;
	c->target.switch_to = iface_switch_target(cfg->opts.switch_to);
	/* enum updater_force equals enum image_force bit for bit (protocol/image.h). */
	c->force = cfg->opts.force;
	c->expect_uuid = true;
	memcpy(c->uuid, k->uuid, sizeof(c->uuid));
	c->dry_run = cfg->opts.dry_run && op == KATAPULT_ENGINE_FLASH;
	/* COMPLETE belongs to the finish step, after everything verified (design.md rule 2). */
	c->no_reboot = op != KATAPULT_ENGINE_REBOOT;
	c->device = k->device;
}

int kcan_engine_start(struct kcan *k, enum katapult_engine_op op)
{
	struct katapult_engine_config c;
	int err;

	fill_config(k, op, &c);
	err = katapult_engine_new(&c, &k->engine);
	if (err < 0)
		return cf_failure_set(updater_failure(k->u), err, updater_step_name(k->step),
				      "cannot start the Katapult session: %s", cf_strerror(err));
	k->engine_op = op;
	k->tx_busy = false;
	wirelog_init(&k->wirelog);
	k->last_stage = NULL;
	k->last_done = 0;
	memset(&k->rx, 0, sizeof(k->rx));
	k->rx.id = canbus_node_rx_id(k->node);
	k->rx.on_frame = rx_frame;
	k->rx.on_sent = rx_sent;
	k->rx.on_error = rx_error;
	k->timer.fire = timer_fire;
	canmux_listen(k->mux, &k->rx);
	drive(k, cf_now_us());
	return CF_OK;
}

void kcan_engine_stop(struct kcan *k)
{
	if (k->mux)
		canmux_unlisten(k->mux, &k->rx);
	if (k->loop)
		loop_disarm(k->loop, &k->timer);
	katapult_engine_free(k->engine);
	k->engine = NULL;
}

/* ---- finish: the application must answer the admin query again ---- */

static void confirm_end(struct kcan *k, int err)
{
	kcan_confirm_stop(k);
	kcan_step_done(k, err);
}

/*
 * katapult.md §2.2: the answer rides on 0x3f1, the lowest priority on the bus. While other
 * sessions keep the bus busy it waits in arbitration, so only idle time counts against the
 * deadline. Busy = more frames since the last query than our query and its answer.
 */
static bool bus_was_busy(struct kcan *k)
{
	struct canmux_stats st;
	uint64_t frames, delta;

	canmux_get_stats(k->mux, &st);
	frames = st.tx_frames + st.rx_frames;
	delta = frames - k->bus_frames;
	k->bus_frames = frames;
	return delta > KCAN_BUSY_FRAMES;
}

static void confirm_timeout(struct kcan *k)
{
	const unsigned secs = (unsigned)((k->confirm_deadline_us - k->complete_us) / 1000000u);

	if (k->expect_katapult) {
		cf_failure_set(updater_failure(k->u), CF_ERR_TIMEOUT, "finish",
			       "the deployer was written, but no Katapult answered the admin query "
			       "within %u s",
			       secs);
		cf_failure_set_hint(updater_failure(k->u),
				    "give it a few seconds and run `cartoflash scan --can %s`; a "
				    "probe that stays silent lost its bootloader: `cartoflash recover`",
				    updater_identity(k->u)->iface);
	} else {
		cf_failure_set(updater_failure(k->u), CF_ERR_TIMEOUT, "finish",
			       "COMPLETE acknowledged, but the application did not answer the admin "
			       "query within %u s",
			       secs);
		cf_failure_set_hint(updater_failure(k->u),
				    "a running Klipper assigns the node and keeps it silent; stop "
				    "Klipper and run `cartoflash scan`, or power-cycle the probe");
	}
	confirm_end(k, CF_ERR_TIMEOUT);
}

static void query_fire(struct loop_timer *t, uint64_t now)
{
	struct kcan *k = container(t, struct kcan, query_timer);
	struct canbus_frame f;
	int err;

	if (now >= k->confirm_deadline_us && bus_was_busy(k) &&
	    now < k->complete_us + KATAPULT_CAN_CONFIRM_MAX_US)
		k->confirm_deadline_us = now + KATAPULT_CAN_QUERY_US;
	if (now >= k->confirm_deadline_us) {
		confirm_timeout(k);
		return;
	}
	canbus_build_query_unassigned(&f);
	err = canmux_send(k->mux, NULL, &f, 1);
	if (err < 0) {
		kcan_bus_failure(k, err, "finish");
		confirm_end(k, updater_failure(k->u)->code);
		return;
	}
	loop_arm(k->loop, &k->query_timer, now + KATAPULT_CAN_QUERY_US);
}

/* After a CAN deployer on this bus: its Katapult must answer (katapult.md §4 step 7). */
static void deployer_answer(struct kcan *k, uint8_t app, uint64_t now)
{
	char text[160];

	if (app != CANBUS_APP_KATAPULT) {
		cf_failure_set(updater_failure(k->u), CF_ERR_PROTOCOL, "finish",
			       "after the deployer the node answers running %s, not Katapult",
			       canbus_app_name(app));
		cf_failure_set_hint(updater_failure(k->u),
				    "the deployer did not start; `cartoflash scan --can %s` shows "
				    "the node",
				    updater_identity(k->u)->iface);
		confirm_end(k, CF_ERR_PROTOCOL);
		return;
	}
	cf_log(CF_LOG_INFO, k->device, NULL, "the new Katapult answers %.0f ms after COMPLETE",
	       (double)(now - k->complete_us) / 1000.0);
	/* The summary is the format's own buffer: copy it first. */
	snprintf(text, sizeof(text), "%s", updater_get_summary(k->u));
	updater_set_summary(k->u, "%s; Katapult answers", text);
	if (k->have_node) {
		canmux_free_node(k->mux, k->node);
		k->have_node = false;
	}
	confirm_end(k, CF_OK);
}

static void admin_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct kcan *k = container(l, struct kcan, admin);
	uint8_t uuid[CANBUS_UUID_LEN], app;

	if (!k->confirming || canbus_parse_need_nodeid(f, uuid, &app) < 0 ||
	    memcmp(uuid, k->uuid, sizeof(uuid)))
		return;
	if (k->expect_katapult) {
		deployer_answer(k, app, now);
		return;
	}
	if (app == CANBUS_APP_KATAPULT) {
		/* katapult.md §5: an application whose first word is 0 or ~0 sends it back. */
		cf_failure_set(updater_failure(k->u), CF_ERR_PROTOCOL, "finish",
			       "the node came back in Katapult, not in its application");
		cf_failure_set_hint(updater_failure(k->u),
				    "the application does not start; flash a known-good image");
		confirm_end(k, CF_ERR_PROTOCOL);
		return;
	}
	cf_log(CF_LOG_INFO, k->device, NULL, "application (%s) answers %.0f ms after COMPLETE",
	       canbus_app_name(app), (double)(now - k->complete_us) / 1000.0);
	updater_identity(k->u)->mode = DEVICE_MODE_APPLICATION;
	updater_identity(k->u)->node_id = -1;
	/* The application holds no Katapult id: the next session on this bus may take it. */
	if (k->have_node) {
		canmux_free_node(k->mux, k->node);
		k->have_node = false;
	}
	confirm_end(k, CF_OK);
}

static void admin_error(struct canmux_listener *l, int err, uint64_t now)
{
	struct kcan *k = container(l, struct kcan, admin);

	(void)now;
	kcan_bus_failure(k, err, "finish");
	confirm_end(k, updater_failure(k->u)->code);
}

bool kcan_deployer_started(const struct kcan *k)
{
	return (k->flashed || k->verified) &&
	       iface_switch_is_deployer(updater_get_config(k->u)->image_info);
}

int kcan_confirm_start(struct kcan *k, uint64_t now)
{
	struct canmux_stats st;

	k->expect_katapult = false;
	if (kcan_deployer_started(k)) {
		const struct image_info *img = updater_get_config(k->u)->image_info;
		const uint32_t bus = updater_identity(k->u)->bus_bitrate;
		char text[160];

		iface_switch_summary(img, updater_identity(k->u), updater_get_summary(k->u), text,
				     sizeof(text));
		updater_set_summary(k->u, "%s", text);
		/* Katapult restarts after COMPLETE: the node id is gone with it. */
		updater_identity(k->u)->node_id = -1;
		/* katapult.md §4: the deployer rewrites the bootloader and stays in Katapult. On
		 * this bus at this bitrate the new Katapult answers the admin query; on another
		 * interface or bitrate the node leaves the bus: nothing to wait for. */
		if (img->katapult.iface != IMAGE_IFACE_CAN ||
		    (bus && img->katapult.can_bitrate && bus != img->katapult.can_bitrate)) {
			kcan_step_done(k, CF_OK);
			return CF_OK;
		}
		k->expect_katapult = true;
	}

	memset(&k->admin, 0, sizeof(k->admin));
	k->admin.id = CANBUS_ADMIN_RESP_ID;
	k->admin.on_frame = admin_frame;
	k->admin.on_error = admin_error;
	k->query_timer.fire = query_fire;
	k->complete_us = now;
	/* The deployer's 100 ms delay and ~8 KiB rewrite come before its Katapult starts. */
	k->confirm_deadline_us = now + (k->expect_katapult ? KATAPULT_CAN_DEPLOYER_US
							  : KATAPULT_CAN_CONFIRM_US);
	k->confirming = true;
	canmux_get_stats(k->mux, &st);
	k->bus_frames = st.tx_frames + st.rx_frames;
	canmux_listen(k->mux, &k->admin);
	/* katapult.md §1.3: the application starts 100 ms after the COMPLETE ACK. */
	loop_arm(k->loop, &k->query_timer, now + KATAPULT_CAN_APP_START_US);
	return CF_OK;
}

void kcan_confirm_stop(struct kcan *k)
{
	if (!k->confirming)
		return;
	k->confirming = false;
	canmux_unlisten(k->mux, &k->admin);
	loop_disarm(k->loop, &k->query_timer);
}
