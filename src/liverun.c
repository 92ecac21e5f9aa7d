// SPDX-License-Identifier: GPL-3.0-or-later
// Around a run on a live printer: Klipper asked first, buses locked, Klipper restarted after.
#include "liverun.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "discover/discover.h"
#include "dryrun.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "report.h"
#include "updater.h"
#include "usb/sysfs.h"

struct liverun_opts liverun_cli;

int liverun_option(struct liverun_opts *o, const char *verb, int c, const char *arg)
{
	switch (c) {
	case LIVERUN_OPT_KLIPPY_SOCKET:
		o->klippy_socket = arg;
		return 1;
	case LIVERUN_OPT_STOP_KLIPPER:
		o->stop_klipper = true;
		return 1;
	case LIVERUN_OPT_KLIPPER_SERVICE:
		if (!arg[0] || strchr(arg, '/'))
			return cli_usage_error(verb, "'%s' is not a systemd unit name", arg);
		o->klipper_service = arg;
		return 1;
	case LIVERUN_OPT_LOCK_WAIT:
		if (cli_parse_duration_us(arg, &o->lock_wait_us) < 0)
			return cli_usage_error(verb, "'%s' needs a unit (0s, 10s, 1m)", arg);
		o->lock_wait_set = true;
		return 1;
	default:
		return 0;
	}
}

/* The lock of a tty target: its USB port (survives re-enumeration), else the path. */
static void tty_lock_names(const char *tty, char names[][BUSLOCK_NAME_MAX], size_t *n, size_t max)
{
	struct sysfs_usb u, devs[16];
	size_t count = 0;

	if (strcmp(tty, "auto")) {
		if (*n < max && sysfs_usb_from_tty(sysfs_root(), tty, &u) == CF_OK)
			snprintf(names[(*n)++], BUSLOCK_NAME_MAX, "usb:%s", u.port);
		else if (*n < max)
			snprintf(names[(*n)++], BUSLOCK_NAME_MAX, "tty:%.110s", tty);
		return;
	}
	/* "auto" picks one of the probe-like USB devices: lock every one it may pick */
	if (sysfs_usb_list(sysfs_root(), devs, 16, &count) < 0)
		return;
	for (size_t i = 0; i < count && *n < max; i++) {
		const enum sysfs_kind k = sysfs_usb_kind(&devs[i]);

		if (k == SYSFS_KIND_CARTOGRAPHER || k == SYSFS_KIND_KLIPPER || k == SYSFS_KIND_KATAPULT)
			snprintf(names[(*n)++], BUSLOCK_NAME_MAX, "usb:%s", devs[i].port);
	}
}

static int lock_buses(struct loop *loop, const struct liverun_opts *o, const char *verb,
		      const struct liverun_target *t, size_t n, struct liverun *lr)
{
	char names[BUSLOCK_MAX][BUSLOCK_NAME_MAX];
	const char *ptr[BUSLOCK_MAX];
	struct cf_failure why;
	size_t count = 0;
	int err;

	for (size_t i = 0; i < n && count < BUSLOCK_MAX; i++) {
		if (t[i].iface && t[i].iface[0])
			snprintf(names[count++], BUSLOCK_NAME_MAX, "can:%.120s", t[i].iface);
		else if (t[i].tty && t[i].tty[0])
			tty_lock_names(t[i].tty, names, &count, BUSLOCK_MAX);
	}
	for (size_t i = 0; i < count; i++)
		ptr[i] = names[i];
	cf_failure_clear(&why);
	err = buslock_acquire(loop, ptr, count, o->lock_wait_set ? o->lock_wait_us : BUSLOCK_WAIT_US,
			      verb, &lr->lock, &why);
	return err < 0 ? cli_fail(&why) : 0;
}

static const struct discover_bus *bus_for(const struct discover_result *r, const char *iface)
{
	for (size_t i = 0; iface && i < r->nbuses; i++)
		if (!strcmp(r->buses[i].iface, iface))
			return &r->buses[i];
	return NULL;
}

/* The witnesses of one bridge bus: the target's own dictionary first, then the other nodes
 * discovery identified, then what Klipper said of the MCUs on that interface. */
static size_t witnesses(const struct discover_result *r, const struct klippy_state *ks,
			const struct liverun_target *t, struct canbridge_witness *w, size_t max)
{
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < r->count && n < max; i++) {
			const struct discover_probe *p = &r->v[i];
			const bool self = !strcasecmp(p->uuid, t->uuid);

			if (p->link != DISCOVER_LINK_CAN || strcmp(p->iface, t->iface) ||
			    !p->has_app || !p->app.canbus_frequency || self != (pass == 0))
				continue;
			w[n].bitrate = p->app.canbus_frequency;
			snprintf(w[n++].who, sizeof(w[0].who), "%s %.12s (its dictionary)",
				 self ? "the probe" : "node", p->uuid);
		}
	for (size_t i = 0; ks && i < ks->nmcus && n < max; i++) {
		const struct klippy_mcu *m = &ks->mcus[i];

		if (!m->canbus_uuid[0] || !m->has_facts || !m->facts.canbus_frequency)
			continue;
		w[n].bitrate = m->facts.canbus_frequency;
		snprintf(w[n++].who, sizeof(w[0].who), "Klipper's [%.40s] %.12s (mcu_constants)",
			 m->section, m->canbus_uuid);
	}
	return n;
}

/* R3 on a Klipper bridge whose bus bitrate no node tells (source says why): refused before
 * anything is sent to the probe. */
static int refuse_r3(const struct liverun_target *t, const struct image_info *img,
		     const struct canbridge_bitrate *br)
{
	struct cf_failure why;

	cf_failure_clear(&why);
	cf_failure_set(&why, CF_ERR_REFUSED, "check", "refusal R3: can bitrate: image %u, bus %s",
		       (unsigned)img->can_bitrate, br->source);
	cf_failure_set_hint(&why, "nothing was written, nothing rebooted; "
				  "--allow-bitrate-mismatch if you know the bus runs at %u",
			    (unsigned)img->can_bitrate);
	cf_failure_set_device(&why, "probe %s (%s)", t->uuid, t->iface);
	return cli_fail(&why);
}

/* The target is the bridge MCU of its own interface (Klipper's USB serial is the chip UID its
 * CAN UUID comes from): in its bootloader it leaves the bus, and the interface goes with it,
 * so a run that needs a Katapult session over that interface cannot work. */
static int refuse_bridge_self(const struct liverun_target *t, const struct canbridge_info *b)
{
	uint8_t u[CANBUS_UUID_LEN];
	char uuid[2 * CANBUS_UUID_LEN + 1];
	struct cf_failure why;

	if (canbus_uuid_from_serial(b->usb.serial, u) < 0)
		return 0;
	canbus_uuid_format(u, uuid);
	if (strcasecmp(uuid, t->uuid))
		return 0;
	cf_failure_clear(&why);
	cf_failure_set(&why, CF_ERR_REFUSED, "check",
		       "%s is the Klipper USB-to-CAN bridge MCU of %s itself (USB %s, serial %.24s): "
		       "its bootloader is not on the CAN bus, and %s goes away with it",
		       t->uuid, t->iface, b->usb.port, b->usb.serial, t->iface);
	cf_failure_set_device(&why, "probe %s (%s)", t->uuid, t->iface);
	cf_failure_set_hint(&why, "nothing was sent; `cartoflash bootloader --can %s --uuid %s` puts "
				  "it into its bootloader, then write it over USB (`cartoflash scan "
				  "--usb` shows the port)",
			    t->iface, t->uuid);
	return cli_fail(&why);
}

/* Which buses a run must look at first: bridge buses (R3's figure) and, when R8 is to be
 * decided before any request, every target's bus and USB. */
static int facts_wanted(const struct liverun_opts *o, const struct liverun_target *t, size_t n,
			const struct image_info *const *infos, unsigned force,
			struct discover_opts *d)
{
	const bool r8 = infos && !(force & IMAGE_FORCE_VARIANT) && !o->variants_chosen;
	struct canbridge_info b;
	int code;

	*d = (struct discover_opts){.klippy_socket = "", .verb = "flash"};
	d->lock_wait_us = o->lock_wait_set ? o->lock_wait_us : BUSLOCK_WAIT_US;
	for (size_t i = 0; i < n; i++) {
		const bool bridge = t[i].uuid && canbridge_detect(sysfs_root(), t[i].iface, &b) ==
							 CF_OK && b.klipper_bridge;
		bool seen = false;

		/* an image means a Katapult session over this interface */
		if (bridge && infos && infos[i] && (code = refuse_bridge_self(&t[i], &b)))
			return code;
		if (r8 && infos[i] && t[i].tty && t[i].tty[0])
			d->usb = true;
		if (!t[i].uuid || !(bridge || (r8 && infos[i])))
			continue;
		/* a bridge's figure may come from the other nodes: its query runs its whole window */
		if (!bridge && d->nwant < DISCOVER_MAX_WANT) {
			d->want_ifaces[d->nwant] = t[i].iface;
			d->want_uuids[d->nwant++] = t[i].uuid;
		}
		for (size_t k = 0; k < d->ncans; k++)
			seen |= !strcmp(d->cans[k], t[i].iface);
		if (!seen && d->ncans < DISCOVER_MAX_BUSES)
			d->cans[d->ncans++] = t[i].iface;
	}
	return 0;
}

/* The bus figure R3 compares with on a Klipper bridge (t->bus_bitrate), or its refusal. */
static int bridge_bitrate(const struct discover_result *r, const struct liverun *lr,
			  struct liverun_target *t, const struct image_info *img, unsigned force)
{
	const struct discover_bus *bus = t->uuid ? bus_for(r, t->iface) : NULL;
	struct canbridge_witness w[16];
	struct canbridge_bitrate br;

	if (!bus || !bus->bridge.klipper_bridge)
		return 0;
	canbridge_bus_bitrate(t->iface, &bus->bridge, bus->iface_bitrate, w,
			      witnesses(r, lr->guard.klipper ? &lr->guard.st : NULL, t, w, 16), &br);
	t->bus_bitrate = br.bitrate;
	if (br.bitrate && cf_log_enabled(CF_LOG_WARN))
		fprintf(stderr, "cartoflash: R3 for %s compares with bus bitrate %u: %s\n", t->uuid,
			(unsigned)br.bitrate, br.source);
	/* A known figure goes to the target's updater, which decides R3 per probe before its
	 * bootloader request (a fleet's other probes go on). An unknown one says nothing of the
	 * bus, so every CAN image on it is refused here, before any request: passing the host
	 * figure on would be a guess. */
	if (!br.bitrate && img && img->iface == IMAGE_IFACE_CAN && !(force & IMAGE_FORCE_BITRATE))
		return refuse_r3(t, img, &br);
	return 0;
}

static const struct discover_probe *row_for(const struct discover_result *r,
					    const struct liverun_target *t, struct cf_failure *why);

/* Before any request: the bus figure of bridge buses, and what each target's application runs
 * (its identify dictionary) so its updater decides R8 before rebooting it. One discovery. */
static int live_facts(struct loop *loop, const struct liverun_opts *o, struct liverun *lr,
		      struct liverun_target *t, size_t n, const struct image_info *const *infos,
		      unsigned force)
{
	struct discover_opts d;
	struct discover_result *r;
	int code = facts_wanted(o, t, n, infos, force, &d);

	if (code || (!d.ncans && !d.usb) || !(r = calloc(1, sizeof(*r))))
		return code;
	(void)discover_run(loop, &d, r);
	for (size_t i = 0; i < n && !code; i++) {
		const struct discover_probe *p;
		struct cf_failure why;

		code = bridge_bitrate(r, lr, &t[i], infos ? infos[i] : NULL, force);
		cf_failure_clear(&why);
		if (code || !infos || !infos[i] || !(p = row_for(r, &t[i], &why)) || !p->has_app)
			continue;
		snprintf(t[i].app_version, sizeof(t[i].app_version), "%s", p->app.app.version);
		snprintf(t[i].app_mcu, sizeof(t[i].app_mcu), "%s", p->app.app.mcu);
		t[i].app_clock = p->app.app.clock_freq;
	}
	discover_result_fini(r);
	free(r);
	return code;
}

int liverun_begin(struct loop *loop, const struct liverun_opts *o, const char *verb,
		  struct liverun_target *t, size_t n, const struct image_info *const *infos,
		  unsigned force, struct liverun *lr)
{
	struct guard_target gt[BUSLOCK_MAX];
	struct cf_failure why;
	int err;

	memset(lr, 0, sizeof(*lr));
	lr->gopts = (struct guard_opts){.klippy_socket = o->klippy_socket,
					.stop_klipper = o->stop_klipper,
					.klipper_service = o->klipper_service,
					.verb = verb};
	for (size_t i = 0; i < n && i < BUSLOCK_MAX; i++)
		gt[i] = (struct guard_target){.iface = t[i].iface, .uuid = t[i].uuid, .tty = t[i].tty};
	cf_failure_clear(&why);
	err = guard_check(loop, &lr->gopts, gt, n < BUSLOCK_MAX ? n : BUSLOCK_MAX, &lr->guard, &why);
	if (err < 0) {
		/* stopping may have failed half way: a stopped unit is started again */
		struct cf_failure again;

		cf_failure_clear(&again);
		(void)guard_restore(loop, &lr->gopts, &lr->guard, &again);
		return cli_fail(&why);
	}
	err = lock_buses(loop, o, verb, t, n, lr);
	if (!err)
		err = live_facts(loop, o, lr, t, n, infos, force);
	if (err)
		return liverun_end(loop, lr, err);
	return 0;
}

int liverun_end(struct loop *loop, struct liverun *lr, int code)
{
	struct cf_failure why;

	buslock_release(lr->lock);
	lr->lock = NULL;
	cf_failure_clear(&why);
	if (guard_restore(loop, &lr->gopts, &lr->guard, &why) < 0) {
		const int rc = cli_fail(&why);

		return code ? code : rc;
	}
	return code;
}

/* ---- the dry run ---- */

static const struct discover_probe *row_for(const struct discover_result *r,
					    const struct liverun_target *t, struct cf_failure *why)
{
	const struct discover_probe *hit = NULL;
	char want[PATH_MAX], got[PATH_MAX];
	size_t hits = 0;

	if (t->tty && t->tty[0] && !realpath(t->tty, want))
		snprintf(want, sizeof(want), "%s", t->tty);
	for (size_t i = 0; i < r->count; i++) {
		const struct discover_probe *p = &r->v[i];
		bool match = false;

		if (t->uuid && t->uuid[0])
			match = p->link == DISCOVER_LINK_CAN && !strcasecmp(p->uuid, t->uuid);
		else if (t->tty && !strcmp(t->tty, "auto"))
			match = p->link == DISCOVER_LINK_USB && p->usb_path[0];
		else if (t->tty && p->link == DISCOVER_LINK_USB && p->tty[0])
			match = !strcmp(p->tty, want) || (realpath(p->tty, got) && !strcmp(got, want)) ||
				(p->by_id[0] && !strcmp(p->by_id, t->tty));
		if (match) {
			hit = p;
			hits++;
		}
	}
	if (hits == 1)
		return hit;
	if (hits > 1)
		cf_failure_set(why, CF_ERR_USAGE, "dry run",
			       "%zu USB probes found for --serial auto", hits);
	else if (t->uuid && t->uuid[0])
		cf_failure_set(why, CF_ERR_NO_DEVICE, "dry run",
			       "nothing answered for UUID %s on %s, and Klipper does not know it",
			       t->uuid, t->iface);
	else
		cf_failure_set(why, CF_ERR_NO_DEVICE, "dry run", "no probe found at %s", t->tty);
	cf_failure_set_hint(why, "check with `cartoflash status`; a dry run reboots nothing to "
				 "look for a probe");
	return NULL;
}


static void identity_of(const struct discover_probe *p, struct device_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->node_id = -1;
	snprintf(id->can_uuid, sizeof(id->can_uuid), "%s", p->uuid);
	snprintf(id->uid_hex, sizeof(id->uid_hex), "%.24s", p->serial);
	snprintf(id->usb_path, sizeof(id->usb_path), "%s", p->usb_path);
	snprintf(id->tty, sizeof(id->tty), "%.63s", p->tty);
	snprintf(id->iface, sizeof(id->iface), "%s", p->iface);
	id->mode = p->mode == DISCOVER_MODE_KATAPULT ? DEVICE_MODE_KATAPULT :
		   p->has_app			     ? DEVICE_MODE_APPLICATION :
							       DEVICE_MODE_UNKNOWN;
	snprintf(id->mcu, sizeof(id->mcu), "%s", p->has_app ? p->app.app.mcu : p->katapult_mcu);
	snprintf(id->bootloader_version, sizeof(id->bootloader_version), "%s",
		 p->katapult_version);
}

static void discover_opts_for(const struct liverun_opts *o, const struct liverun_target *t,
			      size_t n, struct discover_opts *d)
{
	memset(d, 0, sizeof(*d));
	d->klippy_socket = o->klippy_socket;
	d->lock_wait_us = o->lock_wait_set ? o->lock_wait_us : BUSLOCK_WAIT_US;
	d->verb = "dry-run";
	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		if (t[i].tty && t[i].tty[0])
			d->usb = true;
		if (!t[i].iface || !t[i].iface[0])
			continue;
		for (size_t k = 0; k < d->ncans; k++)
			seen |= !strcmp(d->cans[k], t[i].iface);
		if (!seen && d->ncans < DISCOVER_MAX_BUSES)
			d->cans[d->ncans++] = t[i].iface;
	}
}

int liverun_dry_run(struct loop *loop, struct report *report, const struct liverun_opts *o,
		    const struct liverun_target *t, size_t n, const struct image_info *const *infos,
		    const enum image_iface *switch_to, unsigned force)
{
	struct discover_result *r = calloc(1, sizeof(*r));
	struct discover_opts d;
	const uint64_t t0 = cf_now_us();

	if (!r)
		return cf_err_exit_code(CF_ERR_NOMEM);
	discover_opts_for(o, t, n, &d);
	(void)discover_run(loop, &d, r);
	for (size_t i = 0; i < n; i++) {
		const int dev = report_add_device(report, t[i].label ? t[i].label :
							t[i].uuid && t[i].uuid[0] ? t[i].uuid : t[i].tty);
		const struct discover_probe *p;
		struct device_identity id;
		struct cf_failure why;
		char summary[320] = "";
		int err;

		if (dev < 0)
			break;
		report_stage(report, dev, "check", t0);
		cf_failure_clear(&why);
		p = row_for(r, &t[i], &why);
		err = p ? dryrun_check(infos[i], p, bus_for(r, t[i].iface), force,
				       switch_to ? switch_to[i] : IMAGE_IFACE_UNKNOWN, summary,
				       sizeof(summary), &why) :
			  why.code;
		if (p)
			identity_of(p, &id);
		cf_failure_set_device(&why, "probe %s", p && p->uuid[0] ? p->uuid :
							   t[i].uuid && t[i].uuid[0] ? t[i].uuid :
										       t[i].tty);
		report_result(report, dev, err, &why, p ? &id : NULL, summary, cf_now_us());
	}
	discover_result_fini(r);
	free(r);
	return report_exit_code(report);
}
