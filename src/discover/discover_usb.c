// SPDX-License-Identifier: GPL-3.0-or-later
// USB probes: sysfs rows, who holds each tty, identify / CONNECT of the free ones, ROM DFU.
#include "discover/discover_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appid/appid_tty.h"
#include "buslock.h"
#include "dfu/dfu_usb.h"
#include "katapult/katapult.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "updater.h"
#include "usb/byid.h"
#include "usb/inuse.h"
#include "usb/sysfs.h"

#define USB_ITEMS_MAX	       32
#define USB_KATAPULT_TIMEOUT_US 2000000u

struct usb_item {
	struct usb_job *job;
	size_t row;
	struct appid_tty *app;
	struct updater *kp;
	struct buslock *lock;
};

struct usb_job {
	struct dsc *d;
	struct usb_item items[USB_ITEMS_MAX];
	size_t n;
	int running;
	bool finished;
};

static struct discover_probe *row_of(struct usb_item *it)
{
	return &it->job->d->r->v[it->row];
}

static void item_finished(struct usb_job *j)
{
	if (--j->running == 0 && !j->finished) {
		j->finished = true;
		j->d->pending--;
	}
}

static void app_done(void *ctx, struct appid_tty *a)
{
	struct usb_item *it = ctx;
	struct discover_probe *p = row_of(it);

	if (appid_tty_result(a) == CF_OK)
		discover_set_app(p, appid_tty_facts(a), DISCOVER_SRC_IDENTIFY);
	else
		snprintf(p->note, sizeof(p->note), "identify failed: %.200s",
			 appid_tty_failure(a)->detail);
	item_finished(it->job);
}

static void katapult_done(void *ctx, struct updater *u, int err)
{
	struct usb_item *it = ctx;

	discover_set_katapult(row_of(it), u, err);
	item_finished(it->job);
}

/* Klipper holds it when the holder is the process behind Klipper's socket, or looks like it. */
static void note_holder(struct dsc *d, struct discover_probe *p, const struct inuse_holder *h)
{
	const struct klippy_state *ks = &d->r->klipper_state;
	const bool klipper = (d->r->klipper && ks->pid && h->pid == ks->pid) ||
			     strstr(h->unit, "klipper") || strstr(h->cmdline, "klippy");
	char who[224];

	inuse_describe(h, who, sizeof(who));
	p->holder = klipper ? DISCOVER_HELD_KLIPPER : DISCOVER_HELD_PROCESS;
	snprintf(p->holder_text, sizeof(p->holder_text), "%s%.180s", klipper ? "Klipper, " : "", who);
}

static int lock_port(struct usb_item *it, const char *port)
{
	char name[BUSLOCK_NAME_MAX];
	const char *names[1] = {name};
	struct cf_failure why;
	const struct discover_opts *o = it->job->d->o;
	int err;

	cf_failure_clear(&why);
	snprintf(name, sizeof(name), "usb:%s", port);
	err = buslock_acquire(it->job->d->loop, names, 1, o->lock_wait_us,
			      o->verb ? o->verb : "status", &it->lock, &why);
	if (err < 0)
		snprintf(row_of(it)->note, sizeof(row_of(it)->note), "not asked: %.200s", why.detail);
	return err;
}

static void start_katapult(struct usb_item *it)
{
	struct discover_probe *p = row_of(it);
	struct updater_config cfg = {.ops = &katapult_ops, .loop = it->job->d->loop};

	cfg.events = (struct updater_events){.ctx = it, .step_done = katapult_done};
	identity_init(&cfg.target, IDENTITY_LINK_TTY);
	snprintf(cfg.target.tty, sizeof(cfg.target.tty), "%.63s", p->tty);
	cfg.target.mode = DEVICE_MODE_KATAPULT;
	cfg.target.node_id = -1;
	cfg.opts.timeout_us = USB_KATAPULT_TIMEOUT_US;
	it->kp = updater_new(&cfg);
	it->job->running++;
	if (!it->kp || updater_start_step(it->kp, UPDATER_IDENTIFY) < 0)
		it->job->running--;
}

/* A free tty is asked: the application its dictionary, Katapult its CONNECT. Never a touch:
 * only a port sysfs shows as Katapult (1d50:6177) reaches the Katapult backend. */
static void ask(struct usb_item *it, enum sysfs_kind kind, const char *port)
{
	struct dsc *d = it->job->d;
	struct discover_probe *p = row_of(it);
	struct cf_failure why;
	const uint64_t now = cf_now_us();

	if (lock_port(it, port) < 0)
		return;
	if (kind == SYSFS_KIND_KATAPULT) {
		start_katapult(it);
		return;
	}
	cf_failure_clear(&why);
	it->job->running++;
	if (appid_tty_start(d->loop, p->tty, d->end_us > now + 100000 ? d->end_us - now : 100000,
			    app_done, it, &it->app, &why) < 0) {
		it->job->running--;
		snprintf(p->note, sizeof(p->note), "not asked: %.200s", why.detail);
	}
}

static void add_device(struct usb_job *j, const struct sysfs_usb *u)
{
	const enum sysfs_kind kind = sysfs_usb_kind(u);
	struct inuse_holder h[2];
	struct discover_probe *p;
	struct usb_item *it;
	uint8_t uuid[CANBUS_UUID_LEN];
	size_t row, holders = 0;

	if (kind == SYSFS_KIND_OTHER || kind == SYSFS_KIND_CAN_BRIDGE || j->n == USB_ITEMS_MAX ||
	    discover_add(j->d->r, &row) < 0)
		return;
	it = &j->items[j->n++];
	it->job = j;
	it->row = row;
	p = row_of(it);
	p->link = kind == SYSFS_KIND_ROM_DFU ? DISCOVER_LINK_DFU : DISCOVER_LINK_USB;
	p->mode = kind == SYSFS_KIND_ROM_DFU ? DISCOVER_MODE_ROM_DFU :
		  kind == SYSFS_KIND_KATAPULT ? DISCOVER_MODE_KATAPULT :
						DISCOVER_MODE_APPLICATION;
	p->source = DISCOVER_SRC_USB;
	p->vid = u->vid;
	p->pid = u->pid;
	snprintf(p->usb_path, sizeof(p->usb_path), "%s", u->port);
	snprintf(p->serial, sizeof(p->serial), "%s", u->serial);
	snprintf(p->tty, sizeof(p->tty), "%s", u->tty);
	/* katapult.md §2.3: the serial is the chip UID (not on the ROM, whose serial is not) */
	if (kind != SYSFS_KIND_ROM_DFU && canbus_uuid_from_serial(u->serial, uuid) == CF_OK)
		canbus_uuid_format(uuid, p->uuid);
	if (!u->tty[0])
		return;
	(void)byid_find(u->tty, p->by_id, sizeof(p->by_id));
	if (inuse_find(u->tty, h, 2, &holders) == CF_OK && holders) {
		note_holder(j->d, p, &h[0]);
		return;
	}
	ask(it, kind, u->port);
}

void discover_usb_start(struct dsc *d)
{
	struct sysfs_usb *devs = calloc(USB_ITEMS_MAX, sizeof(*devs));
	struct usb_job *j = calloc(1, sizeof(*j));
	size_t n = 0;

	if (!devs || !j) {
		free(devs);
		free(j);
		return;
	}
	d->usb = j;
	j->d = d;
	d->pending++;
	j->running = 1; /* held until every device has been started */
	if (sysfs_usb_list(sysfs_root(), devs, USB_ITEMS_MAX, &n) == CF_OK)
		for (size_t i = 0; i < n; i++)
			add_device(j, &devs[i]);
	free(devs);
	item_finished(j);
}

void discover_usb_free(struct usb_job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		appid_tty_free(j->items[i].app);
		updater_free(j->items[i].kp);
		buslock_release(j->items[i].lock);
	}
	free(j);
}

void discover_usb_dfu(struct dsc *d)
{
	struct dfu_candidate c[DFU_USB_MAX_CANDIDATES];
	struct dfu_usb *usb = NULL;
	size_t n = 0;

	if (dfu_usb_new(NULL, &usb) < 0 ||
	    dfu_usb_find(usb, DFU_USB_ROM_VID, DFU_USB_ROM_PID, c, DFU_USB_MAX_CANDIDATES, &n) < 0)
		n = 0;
	dfu_usb_free(usb);
	for (size_t i = 0; i < n; i++) {
		struct discover_probe *p = NULL;
		size_t row;

		for (size_t k = 0; k < d->r->count && !p; k++)
			if (d->r->v[k].link == DISCOVER_LINK_DFU &&
			    !strcmp(d->r->v[k].usb_path, c[i].path))
				p = &d->r->v[k];
		if (!p) {
			if (discover_add(d->r, &row) < 0)
				return;
			p = &d->r->v[row];
			p->link = DISCOVER_LINK_DFU;
			p->mode = DISCOVER_MODE_ROM_DFU;
			p->source = DISCOVER_SRC_USB;
			p->vid = c[i].vid;
			p->pid = c[i].pid;
			snprintf(p->usb_path, sizeof(p->usb_path), "%.31s", c[i].path);
			snprintf(p->serial, sizeof(p->serial), "%s", c[i].serial);
		}
		if (c[i].open_err)
			snprintf(p->note, sizeof(p->note), "cannot open it (%s): %.200s",
				 cf_err_name(c[i].open_err), dfu_usb_access_hint());
		else
			snprintf(p->note, sizeof(p->note), "%s", c[i].alt0_name);
	}
}
