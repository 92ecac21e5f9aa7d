// SPDX-License-Identifier: GPL-3.0-or-later
// After the leave: the one follow, port only or a new node, and what the summary says of it.
#include "dfu/dfu_finish.h"

#include <stdio.h>
#include <string.h>

#include "can/canmux.h"
#include "failure.h"
#include "follow/follow.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "updater.h"
#include "usb/sysfs.h"

#define DEFAULT_DEADLINE_US 5000000u

/* updater_set_summary formats before it lets the old text go: it may extend itself. */
static void append(struct updater *u, const char *text)
{
	const char *before = updater_get_summary(u);

	updater_set_summary(u, "%s%s%s", before, before[0] ? "; " : "", text);
}

static bool talks_can(const struct updater_config *cfg)
{
	const struct image_info *img = cfg->app_image_info ? cfg->app_image_info : cfg->image_info;

	return img && img->iface == IMAGE_IFACE_CAN;
}

static const char *left_text(const struct dfu_finish *f)
{
	return f->confirmed ? "left DFU mode" : "left DFU mode (status unconfirmed)";
}

static void found_usb(struct dfu_finish *f, const struct follow_seen *seen)
{
	struct device_identity *id = updater_identity(f->u);
	const bool katapult = seen->mode == DEVICE_MODE_KATAPULT;
	uint8_t uuid[CANBUS_UUID_LEN];
	char hex[2 * CANBUS_UUID_LEN + 1] = "", text[320];

	id->mode = seen->mode;
	snprintf(id->uid_hex, sizeof(id->uid_hex), "%.24s", seen->usb.serial);
	snprintf(id->tty, sizeof(id->tty), "%.63s", seen->usb.tty);
	/* The CAN UUID goes into the summary only: a can_uuid in the identity would label this
	 * USB device as a CAN node in the report. */
	if (!canbus_uuid_from_serial(seen->usb.serial, uuid))
		canbus_uuid_format(uuid, hex);
	cf_log(CF_LOG_INFO, seen->usb.port, "dfu", "back as %s (%04x:%04x)",
	       katapult ? "Katapult" : "the application", seen->usb.vid, seen->usb.pid);
	snprintf(text, sizeof(text), "back as %s on usb %s, serial %s, CAN UUID %s",
		 katapult ? "Katapult" : "the application", seen->usb.port, seen->usb.serial,
		 hex[0] ? hex : "?");
	append(f->u, text);
}

static void found_can(struct dfu_finish *f, const struct follow_seen *seen)
{
	struct device_identity *id = updater_identity(f->u);
	char text[320];

	snprintf(id->can_uuid, sizeof(id->can_uuid), "%s", seen->can_uuid);
	snprintf(id->iface, sizeof(id->iface), "%s", canmux_spec(follow_census_mux(&f->census)));
	id->mode = seen->mode;
	snprintf(text, sizeof(text), "back as %s on %s, CAN UUID %s",
		 seen->mode == DEVICE_MODE_KATAPULT ? "Katapult" : "the application", id->iface,
		 id->can_uuid);
	append(f->u, text);
}

/* Nothing came back in time: the flash is verified and the ROM left; say what to check. */
static void not_seen(struct dfu_finish *f, const struct follow_seen *seen)
{
	char text[320];

	if (f->on_can) {
		snprintf(text, sizeof(text),
			 "%s; no new node answered on %s yet (remove the BOOT0 bridge, power-cycle, "
			 "check the bitrate)",
			 left_text(f), canmux_spec(follow_census_mux(&f->census)));
	} else if (talks_can(updater_get_config(f->u))) {
		snprintf(text, sizeof(text),
			 "%s; the image talks CAN: find the probe with 'cartoflash scan --can IFACE'",
			 left_text(f));
	} else {
		cf_log(CF_LOG_WARN, updater_identity(f->u)->usb_path, "dfu",
		       "probe not seen on USB after leaving DFU mode: remove the BOOT0 bridge, "
		       "power-cycle the probe and check 'lsusb' for 1d50:6177 (Katapult) or "
		       "1d50:614e");
		snprintf(text, sizeof(text),
			 "%s%s; not seen on USB yet (remove the BOOT0 bridge and power-cycle)",
			 left_text(f),
			 seen && seen->mode == DEVICE_MODE_ROM_DFU ? ", ROM still attached" : "");
	}
	append(f->u, text);
}

static void followed(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct dfu_finish *f = ctx;

	(void)now;
	follow_free(f->follow);
	f->follow = NULL;
	if (err == CF_OK && f->on_can)
		found_can(f, seen);
	else if (err == CF_OK)
		found_usb(f, seen);
	else
		not_seen(f, seen);
	follow_census_stop(&f->census);
	updater_step_done(f->u, CF_OK);
}

void dfu_finish_init(struct dfu_finish *f, struct updater *u, struct loop *loop)
{
	memset(f, 0, sizeof(*f));
	f->u = u;
	f->loop = loop;
}

static void census_done(void *ctx, int err, uint64_t now)
{
	struct dfu_finish *f = ctx;

	(void)now;
	if (err)
		cf_log(CF_LOG_WARN, canmux_spec(follow_census_mux(&f->census)), "dfu",
		       "CAN query failed (%s): the nodes already on the bus are not known",
		       cf_strerror(err));
	f->ready(f->ready_ctx);
}

int dfu_finish_census(struct dfu_finish *f, void (*ready)(void *ctx), void *ctx)
{
	const struct updater_config *cfg = updater_get_config(f->u);
	int err;

	if (!cfg->target.iface[0] || !talks_can(cfg))
		return CF_ERR_NOT_SUPPORTED;
	f->ready = ready;
	f->ready_ctx = ctx;
	err = follow_census_start(&f->census, f->loop, cfg->target.iface, census_done, f,
				  updater_failure(f->u));
	f->on_can = err == CF_OK;
	return err;
}

static void target_of(struct dfu_finish *f, struct follow_target *t, uint64_t now)
{
	const uint64_t timeout = updater_get_config(f->u)->opts.timeout_us;

	memset(t, 0, sizeof(*t));
	t->want = DEVICE_MODE_UNKNOWN; /* the flash decides: Katapult, or it starts the app */
	t->first_look_us = now;
	t->deadline_us = now + (timeout ? timeout : DEFAULT_DEADLINE_US);
	if (f->on_can) {
		t->link = IDENTITY_LINK_CAN;
		t->before = &f->census; /* can_uuid "": the node that was not there */
		return;
	}
	/* Port only: the ROM's serial is not the chip UID (katapult.md §3.1). Until the ROM
	 * leaves, its ids on the port are "not yet". */
	t->link = IDENTITY_LINK_TTY;
	t->device_only = true;
	snprintf(t->usb.dir, sizeof(t->usb.dir), "%s/bus/usb/devices/%s", sysfs_root(),
		 updater_identity(f->u)->usb_path);
	snprintf(t->usb.port, sizeof(t->usb.port), "%s", updater_identity(f->u)->usb_path);
	t->usb.vid = SYSFS_VID_ST;
	t->usb.pid = SYSFS_PID_ST_ROM_DFU;
}

void dfu_finish_follow(struct dfu_finish *f, bool left_confirmed)
{
	struct follow_target t;
	int err;

	f->confirmed = left_confirmed;
	updater_identity(f->u)->mode = DEVICE_MODE_UNKNOWN;
	if (!f->on_can && talks_can(updater_get_config(f->u))) {
		not_seen(f, NULL); /* a CAN build never shows on USB */
		updater_step_done(f->u, CF_OK);
		return;
	}
	target_of(f, &t, cf_now_us());
	err = follow_start(f->loop, &t, follow_census_mux(&f->census), followed, f, &f->follow,
			   updater_failure(f->u));
	if (err < 0) {
		cf_log(CF_LOG_WARN, updater_identity(f->u)->usb_path, "dfu", "cannot follow: %s",
		       updater_failure(f->u)->detail);
		cf_failure_clear(updater_failure(f->u));
		not_seen(f, NULL);
		follow_census_stop(&f->census);
		updater_step_done(f->u, CF_OK);
	}
}

void dfu_finish_cancel(struct dfu_finish *f)
{
	struct cf_failure *why = updater_failure(f->u);

	if (f->census.running) {
		/* Before the leave: the ROM keeps the verified flash; nothing starts it yet. */
		dfu_finish_fini(f);
		cf_failure_set(why, CF_ERR_INTERRUPTED, "finish",
			       "stopped before leaving DFU mode");
		cf_failure_set_hint(why, "the probe was written and verified and is still in the "
					 "ROM: remove the BOOT0 bridge and power-cycle it");
		updater_step_done(f->u, CF_ERR_INTERRUPTED);
		return;
	}
	if (!f->follow)
		return;
	dfu_finish_fini(f);
	cf_failure_set(why, CF_ERR_INTERRUPTED, "follow",
		       "stopped while waiting for the probe to come back");
	cf_failure_set_hint(why, "the probe was written and verified: look for it with "
				 "'cartoflash scan'");
	updater_step_done(f->u, CF_ERR_INTERRUPTED);
}

void dfu_finish_fini(struct dfu_finish *f)
{
	follow_free(f->follow);
	f->follow = NULL;
	follow_census_stop(&f->census);
	f->on_can = false;
}
