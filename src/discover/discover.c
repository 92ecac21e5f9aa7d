// SPDX-License-Identifier: GPL-3.0-or-later
// Discovery: Klipper first, then every bus at once on the loop, then one row per probe.
#include "discover/discover.h"
#include "discover/discover_priv.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "klippy/klippy_api.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "updater.h"
#include "usb/sysfs.h"

/* Time left for the loop after the identify deadline: sessions end on their own timers. */
#define DISCOVER_GRACE_US 3000000u

int discover_add(struct discover_result *r, size_t *row)
{
	if (r->count == r->cap) {
		const size_t cap = r->cap ? r->cap * 2 : 16;
		struct discover_probe *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return CF_ERR_NOMEM;
		r->v = v;
		r->cap = cap;
	}
	memset(&r->v[r->count], 0, sizeof(r->v[0]));
	r->v[r->count].node_id = -1;
	*row = r->count++;
	return CF_OK;
}

struct discover_probe *discover_find_uuid(struct discover_result *r, const char *uuid)
{
	for (size_t i = 0; i < r->count; i++)
		if (r->v[i].link == DISCOVER_LINK_CAN && r->v[i].uuid[0] &&
		    !strcasecmp(r->v[i].uuid, uuid))
			return &r->v[i];
	return NULL;
}

void discover_set_app(struct discover_probe *p, const struct appdict *d, enum discover_source s)
{
	p->has_app = true;
	p->app = *d;
	p->source = s;
	p->mode = DISCOVER_MODE_APPLICATION;
	appdict_variant(d, p->variant, sizeof(p->variant));
}

void discover_set_katapult(struct discover_probe *p, struct updater *u, int err)
{
	const struct device_identity *id = updater_identity(u);

	if (err != CF_OK) {
		snprintf(p->note, sizeof(p->note), "CONNECT did not answer: %.200s",
			 updater_failure(u)->detail);
		return;
	}
	p->source = DISCOVER_SRC_CONNECT;
	snprintf(p->katapult_mcu, sizeof(p->katapult_mcu), "%s", id->mcu);
	snprintf(p->katapult_version, sizeof(p->katapult_version), "%s", id->bootloader_version);
	p->katapult_protocol = id->protocol_version;
	p->app_start = id->app_start;
}

/* ---- which buses ---- */

static void add_bus(struct discover_result *r, const char *iface)
{
	for (size_t i = 0; i < r->nbuses; i++)
		if (!strcmp(r->buses[i].iface, iface))
			return;
	if (r->nbuses == DISCOVER_MAX_BUSES || !iface[0])
		return;
	snprintf(r->buses[r->nbuses++].iface, sizeof(r->buses[0].iface), "%s", iface);
}

static bool netdev_attr_is(const char *root, const char *dev, const char *attr, const char *a,
			   const char *b)
{
	char path[PATH_MAX], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/class/net/%s/%s", root, dev, attr);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return !strcmp(buf, a) || (b && !strcmp(buf, b));
}

/* CAN netdevs (ARPHRD_CAN = 280) that are up; vcan reports operstate "unknown". */
static void auto_buses(struct discover_result *r)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/class/net", sysfs_root());
	dir = opendir(path);
	while (dir && (e = readdir(dir)))
		if (e->d_name[0] != '.' &&
		    netdev_attr_is(sysfs_root(), e->d_name, "type", "280", NULL) &&
		    netdev_attr_is(sysfs_root(), e->d_name, "operstate", "up", "unknown"))
			add_bus(r, e->d_name);
	if (dir)
		closedir(dir);
	/* Klipper's own interfaces, when they exist here */
	for (size_t i = 0; r->klipper && i < r->klipper_state.nmcus; i++) {
		const char *iface = r->klipper_state.mcus[i].canbus_iface;

		snprintf(path, sizeof(path), "%s/class/net/%s", sysfs_root(), iface);
		if (iface[0] && access(path, F_OK) == 0)
			add_bus(r, iface);
	}
}

/* ---- configuration and Klipper ---- */

static void read_configs(struct dsc *d)
{
	char path[PATH_MAX], sock[PATH_MAX];
	size_t n;

	for (size_t i = 0; i < d->o->nconfigs; i++)
		if (klipper_config_read(&d->cfg, d->o->configs[i]) < 0)
			snprintf(d->r->config_note, sizeof(d->r->config_note), "cannot read %s",
				 d->o->configs[i]);
	if (d->o->nconfigs || d->r->klipper || !d->o->default_config)
		return;
	/* ~/printer_data/comms/klippy.sock -> ~/printer_data/config/printer.cfg */
	klippy_api_default_path(sock, sizeof(sock));
	n = strlen(sock) - strlen("comms/klippy.sock");
	snprintf(path, sizeof(path), "%.*sconfig/printer.cfg", (int)n, sock);
	if (access(path, R_OK) == 0)
		(void)klipper_config_read(&d->cfg, path);
}

static void klipper_holds(struct discover_result *r, struct discover_probe *p,
			  const struct klippy_mcu *m)
{
	const struct klippy_state *ks = &r->klipper_state;

	snprintf(p->name, sizeof(p->name), "%s", m->section);
	p->klipper_connected = m->connected;
	if (!m->connected)
		return;
	p->holder = DISCOVER_HELD_KLIPPER;
	if (ks->pid)
		snprintf(p->holder_text, sizeof(p->holder_text), "Klipper (pid %d%s%s)",
			 (int)ks->pid, ks->unit[0] ? ", " : "", ks->unit);
	else
		snprintf(p->holder_text, sizeof(p->holder_text), "Klipper");
	if (m->has_facts && !p->has_app) {
		discover_set_app(p, &m->facts, DISCOVER_SRC_KLIPPER);
		if (p->link == DISCOVER_LINK_CAN)
			p->mode = DISCOVER_MODE_APPLICATION;
	}
}

/* A configured MCU nothing answered for: Klipper's word, or silence. */
static void klipper_row(struct discover_result *r, const struct klippy_mcu *m)
{
	struct discover_probe *p;
	size_t row;

	if (discover_add(r, &row) < 0)
		return;
	p = &r->v[row];
	p->link = m->canbus_uuid[0] ? DISCOVER_LINK_CAN : DISCOVER_LINK_USB;
	snprintf(p->uuid, sizeof(p->uuid), "%s", m->canbus_uuid);
	snprintf(p->iface, sizeof(p->iface), "%s", m->canbus_iface);
	snprintf(p->tty, sizeof(p->tty), "%s", m->serial);
	p->mode = m->connected ? DISCOVER_MODE_APPLICATION : DISCOVER_MODE_SILENT;
	klipper_holds(r, p, m);
	if (!m->connected)
		snprintf(p->note, sizeof(p->note),
			 "configured in Klipper, which is not connected to it (Klipper %s)",
			 r->klipper_state.state);
}

static void merge_klipper(struct discover_result *r)
{
	for (size_t i = 0; r->klipper && i < r->klipper_state.nmcus; i++) {
		const struct klippy_mcu *m = &r->klipper_state.mcus[i];
		struct discover_probe *p = NULL;

		if (m->canbus_uuid[0]) {
			p = discover_find_uuid(r, m->canbus_uuid);
		} else {
			for (size_t k = 0; k < r->count && !p; k++)
				if (r->v[k].link == DISCOVER_LINK_USB && r->v[k].tty[0] &&
				    klippy_state_find_tty(&r->klipper_state, r->v[k].tty) == m)
					p = &r->v[k];
		}
		if (p)
			klipper_holds(r, p, m);
		else
			klipper_row(r, m);
	}
}

static void merge_files(struct dsc *d)
{
	struct discover_result *r = d->r;

	for (size_t i = 0; i < d->cfg.count; i++) {
		const struct klipper_config_entry *e = &d->cfg.v[i];
		struct discover_probe *p = discover_find_uuid(r, e->uuid);
		size_t row;

		if (klipper_config_find(&d->cfg, e->uuid) != e)
			continue; /* the first file naming a UUID names the row */
		if (!p) {
			if (discover_add(r, &row) < 0)
				return;
			p = &r->v[row];
			p->link = DISCOVER_LINK_CAN;
			p->mode = DISCOVER_MODE_SILENT;
			snprintf(p->uuid, sizeof(p->uuid), "%s", e->uuid);
			snprintf(p->note, sizeof(p->note),
				 "silent: assigned by a running Klipper, powered off, or on "
				 "another bus");
		}
		if (!p->name[0])
			snprintf(p->name, sizeof(p->name), "%s", e->section);
		snprintf(p->config_file, sizeof(p->config_file), "%s", e->file);
	}
}

/* ---- the bus bitrate each CAN bus has, and who said so ---- */

static void bus_bitrates(struct discover_result *r)
{
	for (size_t b = 0; b < r->nbuses; b++) {
		struct discover_bus *bus = &r->buses[b];
		struct canbridge_witness w[16];
		size_t n = 0;

		for (size_t i = 0; i < r->count && n < 16; i++) {
			const struct discover_probe *p = &r->v[i];

			if (p->link != DISCOVER_LINK_CAN || strcmp(p->iface, bus->iface) ||
			    !p->has_app || !p->app.canbus_frequency)
				continue;
			w[n].bitrate = p->app.canbus_frequency;
			snprintf(w[n++].who, sizeof(w[0].who), "node %.12s (its %s)", p->uuid,
				 p->source == DISCOVER_SRC_KLIPPER ? "Klipper mcu constants" :
								     "dictionary");
		}
		if (!bus->err)
			canbridge_bus_bitrate(bus->iface, &bus->bridge, bus->iface_bitrate, w, n,
					      &bus->bitrate);
	}
}

/* Stable order for tables and scripts: CAN, USB, DFU; by bus and UUID or port; silent last. */
static int row_order(const void *pa, const void *pb)
{
	const struct discover_probe *a = pa, *b = pb;
	int c;

	if ((a->mode == DISCOVER_MODE_SILENT) != (b->mode == DISCOVER_MODE_SILENT))
		return a->mode == DISCOVER_MODE_SILENT ? 1 : -1;
	if (a->link != b->link)
		return a->link < b->link ? -1 : 1;
	c = strcmp(a->iface, b->iface);
	if (!c)
		c = strcmp(a->uuid, b->uuid);
	if (!c)
		c = strcmp(a->usb_path, b->usb_path);
	return c ? c : strcmp(a->tty, b->tty);
}

int discover_run(struct loop *loop, const struct discover_opts *o, struct discover_result *r)
{
	struct dsc d = {.loop = loop, .o = o, .r = r};
	const uint64_t timeout = o->timeout_us ? o->timeout_us : DISCOVER_TIMEOUT_US;
	char sock[PATH_MAX];
	int err = CF_OK;

	memset(r, 0, sizeof(*r));
	cf_failure_clear(&r->klipper_why);
	if (!o->klippy_socket)
		klippy_api_default_path(sock, sizeof(sock));
	else
		snprintf(sock, sizeof(sock), "%s", o->klippy_socket);
	if (sock[0])
		r->klipper = klippy_state_read(loop, sock, KLIPPY_STATE_TIMEOUT_US,
					       &r->klipper_state, &r->klipper_why) == CF_OK;
	read_configs(&d);
	for (size_t i = 0; i < o->ncans; i++)
		add_bus(r, o->cans[i]);
	if (o->auto_cans)
		auto_buses(r);
	d.end_us = cf_now_us() + timeout;
	for (size_t i = 0; i < r->nbuses; i++)
		discover_can_start(&d, i);
	if (o->usb)
		discover_usb_start(&d);
	while (d.pending > 0 && !err && cf_now_us() < d.end_us + DISCOVER_GRACE_US) {
		const int rc = loop_run_once(loop, 100000);

		if (rc == CF_ERR_INTERRUPTED)
			err = rc;
	}
	if (o->dfu && !err)
		discover_usb_dfu(&d);
	merge_klipper(r);
	merge_files(&d);
	bus_bitrates(r);
	if (r->count > 1)
		qsort(r->v, r->count, sizeof(r->v[0]), row_order);
	for (size_t i = 0; i < r->nbuses; i++)
		discover_can_free(d.can[i]);
	discover_usb_free(d.usb);
	klipper_config_fini(&d.cfg);
	return err;
}

void discover_result_fini(struct discover_result *r)
{
	free(r->v);
	r->v = NULL;
	r->count = r->cap = 0;
}
