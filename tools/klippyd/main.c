// SPDX-License-Identifier: GPL-3.0-or-later
// klippyd: a Klipper API socket stand-in for tests; signals stop, start and reload it.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "can/canmux.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "transport.h"
#include "tools/klippyd/klippyd.h"

#define HOLD_MAX 8

struct opts {
	const char *socket, *scenario, *pidfile, *log, *can;
	const char *hold[HOLD_MAX];
	int nhold;
	bool mute;
};

struct daemon {
	struct opts o;
	struct loop *loop;
	struct klippyd *k;
	FILE *log;
	int sfd;
	int held[HOLD_MAX];
	struct canmux *mux;
	json_t *scenario_root;
	struct loop_source sig;
	bool quit;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: klippyd --socket PATH [--scenario FILE] [--mute] [--pidfile FILE]\n"
		"               [--log FILE] [--hold PATH]... [--can IFACE]\n"
		"\n"
		"A stand-in for Klipper's API socket (klippy.py -a PATH) for tests: 0x03-framed\n"
		"JSON, info, objects/list, objects/query, states from the scenario file and its\n"
		"timeline. --hold keeps a file (a probe's tty) open while running, as klippy holds\n"
		"its MCUs' ports; --can assigns Klipper node ids 4, 5, ... to the canbus_uuid\n"
		"sections of the scenario on that bus when started, as klippy does on connect.\n"
		"Signals: SIGUSR1 stops (the socket vanishes, held files are closed), SIGUSR2 starts\n"
		"again, SIGHUP reloads the scenario, SIGTERM exits.\n"
		"\n"
		"Example:\n"
		"  klippyd --socket /tmp/klippy.sock --scenario printing.json --pidfile k.pid\n");
}

static void log_line(void *ctx, const char *line)
{
	struct daemon *d = ctx;

	if (!d->log)
		return;
	fprintf(d->log, "%s\n", line);
	fflush(d->log);
}

/* klippy connects to every CAN MCU with SET_KLIPPER_NODEID uuid, 4 + n (canbus_ids.py). */
static void assign_nodes(struct daemon *d)
{
	const json_t *settings = json_object_get(
		json_object_get(json_object_get(d->scenario_root, "objects"), "configfile"),
		"settings");
	const char *section;
	json_t *opts;
	unsigned node = 4;

	if (!d->mux)
		return;
	json_object_foreach((json_t *)settings, section, opts)
	{
		const char *hex = json_string_value(json_object_get(opts, "canbus_uuid"));
		uint8_t uuid[6];
		struct canbus_frame f;

		if (!hex || canbus_uuid_parse(hex, uuid) < 0)
			continue;
		canbus_build_set_klipper_nodeid(uuid, (uint8_t)node++, &f);
		(void)canmux_send(d->mux, NULL, &f, 1);
		log_line(d, "assigned a CAN node id");
	}
}

static int start(struct daemon *d)
{
	int err = klippyd_start(d->k);

	for (int i = 0; i < d->o.nhold; i++)
		if (d->held[i] < 0)
			d->held[i] = open(d->o.hold[i], O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	assign_nodes(d);
	printf("klippyd: %s %s\n", err ? "cannot listen on" : "ready", d->o.socket);
	fflush(stdout);
	return err;
}

static void stop(struct daemon *d)
{
	klippyd_stop(d->k);
	for (int i = 0; i < d->o.nhold; i++) {
		if (d->held[i] >= 0)
			close(d->held[i]);
		d->held[i] = -1;
	}
	printf("klippyd: stopped\n");
	fflush(stdout);
}

static int reload(struct daemon *d)
{
	char err[256];
	json_error_t e;

	if (!d->o.scenario)
		return 0;
	json_decref(d->scenario_root);
	d->scenario_root = json_load_file(d->o.scenario, 0, &e);
	if (!d->scenario_root || klippyd_load(d->k, d->o.scenario, err, sizeof(err)) < 0) {
		fprintf(stderr, "klippyd: %s:%d: %s\n", d->o.scenario, e.line, e.text);
		return 1;
	}
	return 0;
}

static int sig_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct daemon *d = (struct daemon *)((char *)src - offsetof(struct daemon, sig));

	if (max < 1)
		return 0;
	fds[0] = (struct pollfd){.fd = d->sfd, .events = POLLIN};
	return 1;
}

static void sig_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct daemon *d = (struct daemon *)((char *)src - offsetof(struct daemon, sig));
	struct signalfd_siginfo si;

	(void)fds;
	(void)count;
	(void)now;
	while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			stop(d);
		else if (si.ssi_signo == SIGUSR2)
			(void)start(d);
		else if (si.ssi_signo == SIGHUP)
			(void)reload(d);
		else
			d->quit = true;
	}
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "can", required_argument, NULL, 'c' },	{ "help", no_argument, NULL, 'h' },
		{ "hold", required_argument, NULL, 'H' },	{ "log", required_argument, NULL, 'l' },
		{ "mute", no_argument, NULL, 'm' },		{ "pidfile", required_argument, NULL, 'p' },
		{ "scenario", required_argument, NULL, 'f' }, { "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->can = optarg; break;
		case 'H':
			if (o->nhold == HOLD_MAX)
				return 64;
			o->hold[o->nhold++] = optarg;
			break;
		case 'l': o->log = optarg; break;
		case 'm': o->mute = true; break;
		case 'p': o->pidfile = optarg; break;
		case 'f': o->scenario = optarg; break;
		case 's': o->socket = optarg; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 64;
		}
	}
	if (!o->socket) {
		usage(stderr);
		return 64;
	}
	return 0;
}

static int setup(struct daemon *d)
{
	const struct klippyd_config cfg = {
		.socket = d->o.socket, .mute = d->o.mute, .log = log_line, .log_ctx = d};
	struct cf_failure why;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->loop = loop_new();
	if (d->sfd < 0 || !d->loop || klippyd_new(d->loop, &cfg, &d->k) < 0)
		return 70;
	d->sig.pollfds = sig_pollfds;
	d->sig.ready = sig_ready;
	loop_add_source(d->loop, &d->sig);
	if (d->o.log)
		d->log = fopen(d->o.log, "a");
	cf_failure_clear(&why);
	/* not canmux_acquire: Klipper takes no cartoflash bus lock (src/buslock.h) */
	if (d->o.can && canmux_open_ops(d->loop, transport_ops_for_can(d->o.can), d->o.can,
					&d->mux, &why) < 0) {
		cf_failure_print(&why);
		return 69;
	}
	return reload(d) ? 66 : 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {.sfd = -1};
	int rc = parse(argc, argv, &d.o);

	if (rc)
		return rc < 0 ? 0 : rc;
	for (int i = 0; i < HOLD_MAX; i++)
		d.held[i] = -1;
	rc = setup(&d);
	if (!rc && d.o.pidfile) {
		FILE *f = fopen(d.o.pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	if (!rc)
		rc = start(&d) ? 74 : 0;
	while (!rc && !d.quit)
		if (loop_run_once(d.loop, UINT64_MAX) == CF_ERR_IO)
			rc = 74;
	if (d.k)
		stop(&d);
	klippyd_free(d.k);
	canmux_release(d.mux);
	json_decref(d.scenario_root);
	loop_free(d.loop);
	if (d.sfd >= 0)
		close(d.sfd);
	if (d.log)
		fclose(d.log);
	return rc;
}
