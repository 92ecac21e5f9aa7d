// SPDX-License-Identifier: GPL-3.0-or-later
// Ask Klipper before touching a probe: refuse while it prints or holds the probe; stop it on request.
#include "guard.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "klippy/klippy_api.h"
#include "klippy/klippy_service.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "usb/sysfs.h"

#define GUARD_RESTART_WAIT_US 10000000u /* for Klipper's API after `systemctl start` */
#define GUARD_RESTART_POLL_US 200000u

static void say(const char *fmt, const char *a, const char *b)
{
	if (cf_log_enabled(CF_LOG_WARN)) {
		fprintf(stderr, "cartoflash: ");
		fprintf(stderr, fmt, a, b);
		fputc('\n', stderr);
	}
}

static void socket_path(const struct guard_opts *o, char *buf, size_t cap)
{
	if (o->klippy_socket)
		snprintf(buf, cap, "%s", o->klippy_socket);
	else
		klippy_api_default_path(buf, cap);
}

/* Klipper holds m when it is connected to it, or connecting (state startup: klippy retries
 * its MCUs until they answer). In error or shutdown it talks to nothing new. */
static bool holds(const struct klippy_state *st, const struct klippy_mcu *m)
{
	return m && (m->connected || !strcmp(st->state, "startup"));
}

static const struct klippy_mcu *held_tty(const struct klippy_state *st, const char *tty)
{
	struct sysfs_usb devs[16];
	size_t n = 0;

	if (strcmp(tty, "auto"))
		return holds(st, klippy_state_find_tty(st, tty)) ? klippy_state_find_tty(st, tty) :
								    NULL;
	/* --serial auto names no tty yet: every probe-like USB tty counts */
	if (sysfs_usb_list(sysfs_root(), devs, 16, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const enum sysfs_kind k = sysfs_usb_kind(&devs[i]);
		const struct klippy_mcu *m;

		if (!devs[i].tty[0] || (k != SYSFS_KIND_CARTOGRAPHER && k != SYSFS_KIND_KLIPPER &&
					k != SYSFS_KIND_KATAPULT))
			continue;
		m = klippy_state_find_tty(st, devs[i].tty);
		if (holds(st, m))
			return m;
	}
	return NULL;
}

static const struct klippy_mcu *first_held(const struct klippy_state *st,
					   const struct guard_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct klippy_mcu *m = NULL;

		if (t[i].uuid && t[i].uuid[0])
			m = klippy_state_find_uuid(st, t[i].uuid);
		else if (t[i].tty && t[i].tty[0])
			m = held_tty(st, t[i].tty);
		if (holds(st, m))
			return m;
	}
	return NULL;
}

static int refuse_printing(const struct guard *g, const struct guard_opts *o,
			   struct cf_failure *why)
{
	const struct klippy_state *st = &g->st;

	if (st->print_state[0] && strcmp(st->print_state, "standby"))
		cf_failure_set(why, CF_ERR_BUSY, "klipper", "printer %s: %s is %s (print_stats.state)",
			       st->hostname[0] ? st->hostname : "(Klipper)",
			       st->print_filename[0] ? st->print_filename : "a print",
			       st->print_state);
	else
		cf_failure_set(why, CF_ERR_BUSY, "klipper", "printer %s is busy (idle_timeout.state %s)",
			       st->hostname[0] ? st->hostname : "(Klipper)", st->idle_state);
	cf_failure_set_device(why, "Klipper %s", st->socket);
	cf_failure_set_hint(why, "nothing was sent to any probe; %s once the print has finished or "
				 "was cancelled (no option lifts this)",
			    o->verb ? o->verb : "rerun");
	return CF_ERR_BUSY;
}

static int stop_klipper(struct loop *loop, const struct guard_opts *o, struct guard *g,
			pid_t pid, struct cf_failure *why)
{
	int err;

	snprintf(g->unit, sizeof(g->unit), "%s", o->klipper_service ? o->klipper_service : g->st.unit);
	if (!g->unit[0]) {
		cf_failure_set(why, CF_ERR_BUSY, "klipper",
			       "cannot tell which systemd unit runs Klipper (pid %d is in no "
			       ".service)",
			       (int)pid);
		cf_failure_set_hint(why, "name it: --klipper-service klipper.service, or stop "
					 "Klipper yourself and rerun");
		return CF_ERR_BUSY;
	}
	err = klippy_service_run(loop, "stop", g->unit, KLIPPY_SERVICE_TIMEOUT_US, why);
	if (err < 0) {
		cf_failure_set_hint(why, "%s",
				    err == CF_ERR_ACCESS ?
					    "stopping a system service needs root: rerun with sudo" :
					    "stop Klipper yourself, then rerun");
		return err;
	}
	g->stopped = true;
	say("stopped Klipper (%s)%s", g->unit, "; it is started again when this run ends");
	return CF_OK;
}

/* The socket answered nothing usable in time: only stopping Klipper makes this safe. */
static int unanswered(struct loop *loop, const struct guard_opts *o, struct guard *g,
		      const char *sock, struct cf_failure *why)
{
	char cmd[192];
	pid_t pid = 0;

	if (!o->stop_klipper) {
		cf_failure_set_device(why, "Klipper %s", sock);
		cf_failure_set_hint(why, "Klipper may be printing: check it, then stop it (or rerun "
					 "with --stop-klipper) and rerun");
		why->code = CF_ERR_BUSY;
		return CF_ERR_BUSY;
	}
	(void)klippy_state_socket_owner(sock, &pid, g->st.unit, sizeof(g->st.unit), cmd,
					sizeof(cmd));
	return stop_klipper(loop, o, g, pid, why);
}

int guard_check(struct loop *loop, const struct guard_opts *o, const struct guard_target *t,
		size_t n, struct guard *g, struct cf_failure *why)
{
	const struct klippy_mcu *m;
	char sock[PATH_MAX];
	int err;

	memset(g, 0, sizeof(*g));
	socket_path(o, sock, sizeof(sock));
	err = klippy_state_read(loop, sock, KLIPPY_STATE_TIMEOUT_US, &g->st, why);
	if (err == CF_ERR_NO_DEVICE) {
		cf_log(CF_LOG_INFO, NULL, "klipper", "%s; going on", why->detail);
		cf_failure_clear(why);
		return CF_OK;
	}
	if (err == CF_ERR_ACCESS) {
		cf_failure_set_hint(why, "cartoflash must ask Klipper whether it prints: run as "
					 "Klipper's user or with sudo");
		return err;
	}
	if (err < 0)
		return unanswered(loop, o, g, sock, why);
	g->klipper = true;
	if (klippy_state_is_busy(&g->st))
		return refuse_printing(g, o, why);
	m = first_held(&g->st, t, n);
	if (!m)
		return CF_OK;
	snprintf(g->held, sizeof(g->held), "%.63s (%.80s)", m->section,
		 m->canbus_uuid[0] ? m->canbus_uuid : m->serial);
	if (o->stop_klipper)
		return stop_klipper(loop, o, g, g->st.pid, why);
	cf_failure_set(why, CF_ERR_BUSY, "klipper", "Klipper (pid %d%s%s) is %s %s",
		       (int)g->st.pid, g->st.unit[0] ? ", " : "", g->st.unit,
		       m->connected ? "connected to" : "connecting to", g->held);
	cf_failure_set_device(why, "Klipper %s", g->st.socket);
	cf_failure_set_hint(why, "nothing was sent; stop Klipper first (sudo systemctl stop %s) or "
				 "rerun with --stop-klipper: cartoflash stops it, does the work and "
				 "starts it again",
			    g->st.unit[0] ? g->st.unit : "klipper");
	return CF_ERR_BUSY;
}

int guard_restore(struct loop *loop, const struct guard_opts *o, struct guard *g,
		  struct cf_failure *why)
{
	struct klippy_state st;
	char sock[PATH_MAX];
	uint64_t end;
	int err;

	if (!g->stopped)
		return CF_OK;
	g->stopped = false;
	err = klippy_service_run(loop, "start", g->unit, KLIPPY_SERVICE_TIMEOUT_US, why);
	if (err < 0) {
		cf_failure_set_hint(why, "start it yourself: sudo systemctl start %s", g->unit);
		return err;
	}
	socket_path(o, sock, sizeof(sock));
	end = cf_now_us() + GUARD_RESTART_WAIT_US;
	/* klippy opens its socket a moment after systemd reports the unit started */
	while (klippy_state_read(loop, sock, KLIPPY_STATE_TIMEOUT_US, &st, NULL) < 0) {
		if (cf_now_us() >= end) {
			say("started Klipper (%s) again%s", g->unit,
			    "; its API socket does not answer yet");
			return CF_OK;
		}
		loop_run_once(loop, GUARD_RESTART_POLL_US);
	}
	say("started Klipper (%s) again: %s", g->unit, st.state);
	return CF_OK;
}
