// SPDX-License-Identifier: GPL-3.0-or-later
// One snapshot of Klipper through its API socket: info, objects/list, then one objects/query.
#include "klippy/klippy_state.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dirent.h>
#include <unistd.h>

#include "failure.h"
#include "klippy/klippy_api.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "usb/inuse.h"

struct reader {
	struct klippy_api *api;
	struct klippy_state *st;
	uint64_t end_us;
	bool done;
	int err;
	struct cf_failure why;
};

static void copy_str(char *dst, size_t cap, const json_t *v)
{
	if (json_is_string(v))
		snprintf(dst, cap, "%s", json_string_value(v));
}

static void finish(struct reader *r, int err, const struct cf_failure *why)
{
	r->done = true;
	r->err = err;
	if (why)
		r->why = *why;
}

static uint64_t left(const struct reader *r)
{
	const uint64_t now = cf_now_us();

	return r->end_us > now ? r->end_us - now : 1;
}

/* Klipper's section -> its mcu status object (klippy/mcu.py: "mcu" or "mcu NAME"). */
static void object_of(const char *section, char *out, size_t cap)
{
	if (!strcmp(section, "mcu") || !strncmp(section, "mcu ", 4))
		snprintf(out, cap, "%s", section);
	else
		snprintf(out, cap, "mcu %s", section);
}

static void read_facts(struct klippy_mcu *m, const json_t *obj)
{
	const json_t *version = json_object_get(obj, "mcu_version");
	json_t *dict;
	char *text;

	m->connected = json_is_string(version) && json_string_length(version) > 0;
	if (!m->connected || !json_is_object(json_object_get(obj, "mcu_constants")))
		return;
	/* the API reports the identify dictionary's fields: rebuild that shape and read it with
	 * the same mapping an image's dictionary gets */
	dict = json_object();
	json_object_set(dict, "version", (json_t *)version);
	json_object_set(dict, "config", json_object_get(obj, "mcu_constants"));
	if (json_is_string(json_object_get(obj, "mcu_build_versions")))
		json_object_set(dict, "build_versions", json_object_get(obj, "mcu_build_versions"));
	text = dict ? json_dumps(dict, JSON_COMPACT) : NULL;
	if (text && appdict_read_text(text, strlen(text), &m->facts) == CF_OK)
		m->has_facts = true;
	free(text);
	json_decref(dict);
}

static void add_mcu(struct klippy_state *st, const char *section, const json_t *opts,
		    const json_t *status)
{
	const json_t *uuid = json_object_get(opts, "canbus_uuid");
	const json_t *serial = json_object_get(opts, "serial");
	struct klippy_mcu *m;

	if ((!json_is_string(uuid) && !json_is_string(serial)) || st->nmcus == KLIPPY_STATE_MCUS_MAX)
		return;
	m = &st->mcus[st->nmcus++];
	memset(m, 0, sizeof(*m));
	snprintf(m->section, sizeof(m->section), "%s", section);
	object_of(section, m->object, sizeof(m->object));
	if (json_is_string(uuid)) {
		copy_str(m->canbus_uuid, sizeof(m->canbus_uuid), uuid);
		for (char *p = m->canbus_uuid; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
		snprintf(m->canbus_iface, sizeof(m->canbus_iface), "can0");
		copy_str(m->canbus_iface, sizeof(m->canbus_iface),
			 json_object_get(opts, "canbus_interface"));
	} else {
		copy_str(m->serial, sizeof(m->serial), serial);
	}
	read_facts(m, json_object_get(status, m->object));
}

int klippy_state_parse_status(struct klippy_state *st, const char *status_json, size_t len)
{
	json_t *status = json_loadb(status_json, len, 0, NULL);
	const json_t *settings, *opts;
	const char *section;

	if (!json_is_object(status)) {
		json_decref(status);
		return CF_ERR_PROTOCOL;
	}
	copy_str(st->print_state, sizeof(st->print_state),
		 json_object_get(json_object_get(status, "print_stats"), "state"));
	copy_str(st->print_filename, sizeof(st->print_filename),
		 json_object_get(json_object_get(status, "print_stats"), "filename"));
	copy_str(st->idle_state, sizeof(st->idle_state),
		 json_object_get(json_object_get(status, "idle_timeout"), "state"));
	settings = json_object_get(json_object_get(status, "configfile"), "settings");
	st->nmcus = 0;
	json_object_foreach((json_t *)settings, section, opts)
		if (json_is_object(opts))
			add_mcu(st, section, opts, status);
	json_decref(status);
	return CF_OK;
}

static void on_query(void *ctx, int err, json_t *result, const struct cf_failure *why)
{
	struct reader *r = ctx;
	char *text;

	if (err < 0) {
		finish(r, err, why);
		return;
	}
	text = json_dumps(json_object_get(result, "status"), JSON_COMPACT);
	err = text ? klippy_state_parse_status(r->st, text, strlen(text)) : CF_ERR_NOMEM;
	free(text);
	finish(r, err, NULL);
}

static void on_list(void *ctx, int err, json_t *result, const struct cf_failure *why)
{
	struct reader *r = ctx;
	const json_t *objects = json_object_get(result, "objects");
	json_t *want, *mcu_fields;
	size_t i;
	const json_t *name;

	if (err < 0) {
		finish(r, err, why);
		return;
	}
	want = json_pack("{s:[s,s], s:[s], s:[s,s], s:[s]}", "print_stats", "state", "filename",
			 "idle_timeout", "state", "webhooks", "state", "state_message",
			 "configfile", "settings");
	mcu_fields = json_pack("[s,s,s]", "mcu_version", "mcu_build_versions", "mcu_constants");
	json_array_foreach(objects, i, name)
	{
		const char *n = json_string_value(name);

		if (n && (!strcmp(n, "mcu") || !strncmp(n, "mcu ", 4)))
			json_object_set(want, n, mcu_fields);
	}
	json_decref(mcu_fields);
	err = klippy_api_call(r->api, "objects/query", json_pack("{s:o}", "objects", want),
			      left(r), on_query, r);
	if (err < 0)
		finish(r, err, NULL);
}

static void on_info(void *ctx, int err, json_t *result, const struct cf_failure *why)
{
	struct reader *r = ctx;
	struct klippy_state *st = r->st;

	if (err < 0) {
		finish(r, err, why);
		return;
	}
	copy_str(st->state, sizeof(st->state), json_object_get(result, "state"));
	copy_str(st->state_message, sizeof(st->state_message),
		 json_object_get(result, "state_message"));
	copy_str(st->software_version, sizeof(st->software_version),
		 json_object_get(result, "software_version"));
	copy_str(st->hostname, sizeof(st->hostname), json_object_get(result, "hostname"));
	copy_str(st->config_file, sizeof(st->config_file), json_object_get(result, "config_file"));
	err = klippy_api_call(r->api, "objects/list", NULL, left(r), on_list, r);
	if (err < 0)
		finish(r, err, NULL);
}

int klippy_state_read(struct loop *loop, const char *path, uint64_t timeout_us,
		      struct klippy_state *st, struct cf_failure *why)
{
	struct reader r = {.st = st, .end_us = cf_now_us() + timeout_us};
	int err;

	memset(st, 0, sizeof(*st));
	snprintf(st->socket, sizeof(st->socket), "%s", path);
	cf_failure_clear(&r.why);
	err = klippy_api_open(loop, path, &r.api, why);
	if (err < 0)
		return err;
	err = klippy_api_call(r.api, "info", json_pack("{s:{s:s}}", "client_info", "program",
						     "cartoflash"),
			      timeout_us, on_info, &r);
	while (!err && !r.done)
		if (loop_run_once(loop, left(&r)) == CF_ERR_IO)
			err = CF_ERR_IO;
	klippy_api_close(r.api);
	if (!err)
		err = r.err;
	if (err < 0 && r.why.code && why)
		*why = r.why;
	else if (err < 0)
		cf_failure_set(why, err, "klipper api", "%s", cf_strerror(err));
	if (err == CF_OK)
		(void)klippy_state_socket_owner(path, &st->pid, st->unit, sizeof(st->unit),
						st->cmdline, sizeof(st->cmdline));
	return err;
}

bool klippy_state_is_busy(const struct klippy_state *st)
{
	return !strcmp(st->print_state, "printing") || !strcmp(st->print_state, "paused") ||
	       !strcasecmp(st->idle_state, "printing");
}

const struct klippy_mcu *klippy_state_find_uuid(const struct klippy_state *st, const char *uuid)
{
	for (size_t i = 0; i < st->nmcus; i++)
		if (st->mcus[i].canbus_uuid[0] && !strcasecmp(st->mcus[i].canbus_uuid, uuid))
			return &st->mcus[i];
	return NULL;
}

const struct klippy_mcu *klippy_state_find_tty(const struct klippy_state *st, const char *tty)
{
	char want[PATH_MAX], got[PATH_MAX];

	if (!realpath(tty, want))
		snprintf(want, sizeof(want), "%s", tty);
	for (size_t i = 0; i < st->nmcus; i++) {
		const char *s = st->mcus[i].serial;

		if (!s[0])
			continue;
		if (!strcmp(s, tty) || (realpath(s, got) && !strcmp(got, want)))
			return &st->mcus[i];
	}
	return NULL;
}

/* The inode of the listening socket bound to path, from /proc/net/unix. */
static unsigned long listening_inode(const char *path)
{
	char line[PATH_MAX + 128], resolved[PATH_MAX];
	unsigned long inode = 0, flags, ino;
	FILE *f = fopen("/proc/net/unix", "re");
	int pos;

	if (!f)
		return 0;
	if (!realpath(path, resolved))
		snprintf(resolved, sizeof(resolved), "%s", path);
	while (!inode && fgets(line, sizeof(line), f)) {
		char *name;

		/* "Num: RefCount Protocol Flags Type St Inode Path"; flag 0x10000 = listening */
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu %n", &flags, &ino, &pos) != 2)
			continue;
		name = line + pos;
		name[strcspn(name, "\n")] = '\0';
		if ((flags & 0x10000) && (!strcmp(name, path) || !strcmp(name, resolved)))
			inode = ino;
	}
	fclose(f);
	return inode;
}

static bool pid_has_socket(const char *pid, const char *want)
{
	char dir[64], link[PATH_MAX], target[64];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = !strcmp(target, want);
	}
	closedir(d);
	return found;
}

int klippy_state_socket_owner(const char *path, pid_t *pid, char *unit, size_t unit_cap,
			      char *cmdline, size_t cmd_cap)
{
	const unsigned long inode = listening_inode(path);
	char want[64];
	struct dirent *e;
	DIR *proc;

	*pid = 0;
	if (!inode || !(proc = opendir("/proc")))
		return CF_ERR_NO_DEVICE;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while ((e = readdir(proc))) {
		struct inuse_holder h;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !pid_has_socket(e->d_name, want))
			continue;
		*pid = (pid_t)atoi(e->d_name);
		/* name it the way the tty-holder check names holders (src/usb/inuse.h) */
		if (inuse_describe_pid(*pid, &h) == CF_OK) {
			snprintf(unit, unit_cap, "%s", h.unit);
			snprintf(cmdline, cmd_cap, "%s", h.cmdline);
		}
		break;
	}
	closedir(proc);
	return *pid ? CF_OK : CF_ERR_NO_DEVICE;
}
