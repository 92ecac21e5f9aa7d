// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash scan`: nodes answering the admin query, Katapult CONNECT facts, config entries.
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "can/canmux.h"
#include "can/canquery.h"
#include "cmd_run.h"
#include "failure.h"
#include "katapult/katapult.h"
#include "klipper_config.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/katapult.h"
#include "usb/sysfs.h"
#include "usb/usb_scan.h"
#include "dfu/dfu_scan.h"
#include "jsonout.h"

#define SCAN_MAX_CONFIGS 8

struct scan_opts {
	char iface[64];
	const char *configs[SCAN_MAX_CONFIGS];
	int nconfigs;
	uint64_t quiet_us, max_us;
	bool usb; /* --usb: list USB probes from sysfs instead (src/usb/usb_scan.c) */
	bool dfu; /* --dfu: list ROM DFU devices through libusb (src/dfu/dfu_scan.c) */
};

struct scan_node {
	struct canquery_node q;
	struct updater *u; /* Katapult nodes: CONNECT through the backend */
	bool connected;
	int err;
};

struct scan {
	struct scan_opts *o;
	struct loop *loop;
	struct canmux *mux;
	struct canquery query;
	struct scan_node nodes[CANQUERY_MAX_NODES];
	size_t count;
	int pending;
	bool query_done;
	uint64_t start_us;
	struct klipper_config cfg;
};

enum { SCAN_OPT_CONFIG = CMD_OPT_VERB_FIRST, SCAN_OPT_QUIET, SCAN_OPT_USB, SCAN_OPT_DFU };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash scan [--can IFACE] [--klipper-config PATH...] [options]\n"
		"       cartoflash scan --usb [--json]\n"
		"       cartoflash scan --dfu [--json]\n"
		"\n"
		"Ask every CAN node without an assigned id to answer (admin query), list each UUID\n"
		"with what it runs, and for Katapult nodes the CONNECT facts. Listens until the bus\n"
		"has been quiet for --quiet-time (default 200ms), at most --timeout (default 2s).\n"
		"Nodes that a running Klipper has assigned stay silent: stop Klipper or power-cycle\n"
		"them first. With --klipper-config, canbus_uuid entries of the config (and its\n"
		"includes) are listed too, marked with whether they answered. Like flashtool -q it\n"
		"clears Katapult node ids first: do not scan a bus while a flash runs on it.\n"
		"\n"
		"  -i, --can IFACE           CAN interface or sim:PATH (default can0)\n"
		"      --klipper-config PATH Klipper config file (repeatable)\n"
		"      --quiet-time DURATION  --timeout DURATION  --json  -v  -q\n"
		"      --usb                 list Cartographer, Klipper, Katapult and ROM DFU USB\n"
		"                            devices from sysfs (serial, CAN UUID, port, tty)\n"
		"      --dfu                 list STM32 ROM DFU devices (0483:df11) through libusb:\n"
		"                            USB path, memory layout, transfer size\n"
		"\n"
		"Examples:\n"
		"  cartoflash scan --can can0\n"
		"  cartoflash scan --can can0 --klipper-config ~/printer_data/config/printer.cfg --json\n"
		"  cartoflash scan --usb\n"
		"  cartoflash scan --dfu\n");
}

static int parse_scan(int argc, char **argv, struct scan_opts *o)
{
	static const struct option longopts[] = {
		{ "can", required_argument, NULL, CMD_OPT_CAN },
		{ "interface", required_argument, NULL, 'i' },
		{ "klipper-config", required_argument, NULL, SCAN_OPT_CONFIG },
		{ "quiet-time", required_argument, NULL, SCAN_OPT_QUIET },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
		{ "dfu", no_argument, NULL, SCAN_OPT_DFU },
		{ "usb", no_argument, NULL, SCAN_OPT_USB },
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	snprintf(o->iface, sizeof(o->iface), "can0");
	while ((c = getopt_long(argc, argv, "hi:qv", longopts, NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			return -1;
		case 'i':
		case CMD_OPT_CAN:
			if (!optarg[0] || strlen(optarg) >= sizeof(o->iface))
				return cli_usage_error("scan", "'%s' is not a CAN interface", optarg);
			snprintf(o->iface, sizeof(o->iface), "%.63s", optarg);
			break;
		case SCAN_OPT_CONFIG:
			if (o->nconfigs == SCAN_MAX_CONFIGS)
				return cli_usage_error("scan", "at most %d --klipper-config",
						       SCAN_MAX_CONFIGS);
			o->configs[o->nconfigs++] = optarg;
			break;
		case SCAN_OPT_USB:
			o->usb = true;
			break;
		case SCAN_OPT_DFU:
			o->dfu = true;
			break;
		case SCAN_OPT_QUIET:
		case CMD_OPT_TIMEOUT:
			if (cli_parse_duration_us(optarg, c == SCAN_OPT_QUIET ? &o->quiet_us :
										&o->max_us) < 0)
				return cli_usage_error("scan",
						       "'%s' needs a duration with a unit, at most a "
						       "day (200ms, 2s)",
						       optarg);
			break;
		default:
			return cli_bad_option("scan", argc, argv, "hi:qv");
		}
	}
	if (optind != argc)
		return cli_usage_error("scan", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ---- Katapult nodes: CONNECT through the backend's identify step ---- */

static void connect_done(void *ctx, struct updater *u, int err)
{
	struct scan *s = ctx;

	for (size_t i = 0; i < s->count; i++) {
		if (s->nodes[i].u == u) {
			s->nodes[i].connected = err == CF_OK;
			s->nodes[i].err = err;
		}
	}
	s->pending--;
}

static void start_connect(struct scan *s, struct scan_node *n)
{
	struct updater_config cfg = { .ops = &katapult_ops, .loop = s->loop };

	cfg.events = (struct updater_events){ .ctx = s, .step_done = connect_done };
	identity_init(&cfg.target, IDENTITY_LINK_CAN);
	snprintf(cfg.target.iface, sizeof(cfg.target.iface), "%s", s->o->iface);
	canbus_uuid_format(n->q.uuid, cfg.target.can_uuid);
	cfg.target.mode = DEVICE_MODE_KATAPULT; /* no bootloader request: it is there */
	cfg.opts.timeout_us = 1000000u;
	n->u = updater_new(&cfg);
	if (!n->u)
		return;
	s->pending++;
	if (updater_start_step(n->u, UPDATER_IDENTIFY) < 0) {
		n->err = updater_failure(n->u)->code;
		s->pending--;
	}
}

static void on_node(void *ctx, const struct canquery_node *qn, uint64_t now)
{
	struct scan *s = ctx;
	struct scan_node *n = &s->nodes[s->count++];
	char uuid[13];

	n->q = *qn;
	canbus_uuid_format(qn->uuid, uuid);
	cf_log(CF_LOG_INFO, s->o->iface, NULL, "%s answered as %s after %.1f ms", uuid,
	       canbus_app_name(qn->app), (double)(now - s->start_us) / 1000.0);
}

static void on_query_done(void *ctx, int err, uint64_t now)
{
	struct scan *s = ctx;

	(void)now;
	s->query_done = true;
	if (err < 0)
		return;
	/* One at a time would be slower; each node gets its own node id, so at once is safe. */
	for (size_t i = 0; i < s->count; i++)
		if (s->nodes[i].q.app == CANBUS_APP_KATAPULT)
			start_connect(s, &s->nodes[i]);
}

static int run_query(struct scan *s, struct cf_failure *why)
{
	int err = canmux_acquire(s->loop, s->o->iface, &s->mux, why);
	struct canbus_frame f;

	if (err < 0)
		return err;
	s->query.on_node = on_node;
	s->query.on_done = on_query_done;
	s->query.ctx = s;
	s->start_us = cf_now_us();
	err = canquery_start(&s->query, s->mux, s->loop, true, s->o->quiet_us, s->o->max_us);
	while (!err && (!s->query_done || s->pending > 0))
		if (loop_run_once(s->loop, 100000u) == CF_ERR_IO)
			err = CF_ERR_IO;
	if (!err && s->query.err)
		err = s->query.err;
	if (err < 0)
		return cf_failure_set(why, err, "scan", "CAN bus %s failed: %s", s->o->iface,
				      cf_strerror(err));
	/* Connected Katapult nodes keep their id and would not answer the next scan. */
	canbus_build_clear_katapult_nodeid(&f);
	(void)canmux_send(s->mux, NULL, &f, 1);
	return CF_OK;
}

/* ---- output ---- */

static const char *app_token(uint8_t app)
{
	switch (app) {
	case CANBUS_APP_KLIPPER:
		return "application";
	case CANBUS_APP_KATAPULT:
		return "katapult";
	default:
		return "unknown";
	}
}

static void connect_text(const struct scan_node *n, char *buf, size_t cap)
{
	const struct device_identity *id;

	if (!n->u || !n->connected) {
		snprintf(buf, cap, "%s", n->q.app == CANBUS_APP_KATAPULT ?
						 "CONNECT did not answer" : "");
		return;
	}
	id = updater_identity(n->u);
	snprintf(buf, cap, "%s, protocol %u.%u.%u%s%s, app 0x%08x, block %u", id->mcu,
		 KATAPULT_PROTO_MAJOR(id->protocol_version),
		 KATAPULT_PROTO_MINOR(id->protocol_version),
		 KATAPULT_PROTO_PATCH(id->protocol_version), id->bootloader_version[0] ? ", " : "",
		 id->bootloader_version, (unsigned)id->app_start, (unsigned)id->block_size);
}

static void print_json_node(const struct scan *s, const struct scan_node *n)
{
	char uuid[13];
	const struct klipper_config_entry *ce;
	json_t *o;

	canbus_uuid_format(n->q.uuid, uuid);
	o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:f}", "event", "node", "interface",
		      s->o->iface, "uuid", uuid, "application", app_token(n->q.app), "answered", 1,
		      "seconds", (double)(n->q.seen_us - s->start_us) / 1e6);
	if (n->u && n->connected) {
		const struct device_identity *id = updater_identity(n->u);
		char proto[16];

		snprintf(proto, sizeof(proto), "%u.%u.%u", KATAPULT_PROTO_MAJOR(id->protocol_version),
			 KATAPULT_PROTO_MINOR(id->protocol_version),
			 KATAPULT_PROTO_PATCH(id->protocol_version));
		json_object_set_new(o, "mcu", json_string(id->mcu));
		json_object_set_new(o, "protocol_version", json_string(proto));
		json_object_set_new(o, "bootloader_version", json_string(id->bootloader_version));
		json_object_set_new(o, "app_start", json_integer(id->app_start));
		json_object_set_new(o, "block_size", json_integer(id->block_size));
	}
	ce = klipper_config_find(&s->cfg, uuid);
	if (ce) {
		json_object_set_new(o, "config_file", json_string(ce->file));
		json_object_set_new(o, "config_section", json_string(ce->section));
	}
	jsonout_emit(o);
}

static bool answered(const struct scan *s, const char *uuid)
{
	char u[13];

	for (size_t i = 0; i < s->count; i++) {
		canbus_uuid_format(s->nodes[i].q.uuid, u);
		if (!strcmp(u, uuid))
			return true;
	}
	return false;
}

static void print_silent_config(const struct scan *s, bool json)
{
	for (size_t i = 0; i < s->cfg.count; i++) {
		const struct klipper_config_entry *e = &s->cfg.v[i];
		json_t *o;

		if (answered(s, e->uuid) || klipper_config_find(&s->cfg, e->uuid) != e)
			continue;
		if (!json) {
			printf("%-12s  %-11s  in %s [%s]; silent: assigned by a running Klipper, "
			       "powered off, or on another bus\n",
			       e->uuid, "-", e->file, e->section);
			continue;
		}
		o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "event", "node", "interface",
			      s->o->iface, "uuid", e->uuid, "answered", 0, "config_file", e->file,
			      "config_section", e->section);
		jsonout_emit(o);
	}
}

static void print_results(const struct scan *s)
{
	bool json = cli_common.json;
	char uuid[13], text[200];

	if (!json)
		printf("%-12s  %-11s  %s\n", "UUID", "RUNNING", "DETAIL");
	for (size_t i = 0; i < s->count; i++) {
		const struct scan_node *n = &s->nodes[i];
		const struct klipper_config_entry *ce;

		if (json) {
			print_json_node(s, n);
			continue;
		}
		canbus_uuid_format(n->q.uuid, uuid);
		connect_text(n, text, sizeof(text));
		ce = klipper_config_find(&s->cfg, uuid);
		if (ce)
			printf("%-12s  %-11s  %s%sin %s [%s]\n", uuid, app_token(n->q.app), text,
			       text[0] ? "; " : "", ce->file, ce->section);
		else
			printf("%-12s  %-11s  %s\n", uuid, app_token(n->q.app), text);
	}
	print_silent_config(s, json);
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:f}", "event", "summary", "interface",
				      s->o->iface, "nodes", (int)s->count, "config_entries",
				      (int)s->cfg.count, "seconds",
				      (double)(s->query.end_us - s->start_us) / 1e6);
		jsonout_emit(o);
	} else {
		printf("%zu node%s answered on %s\n", s->count, s->count == 1 ? "" : "s",
		       s->o->iface);
	}
	fflush(stdout);
}

static int read_configs(struct scan *s)
{
	for (int i = 0; i < s->o->nconfigs; i++) {
		const int err = klipper_config_read(&s->cfg, s->o->configs[i]);

		if (err == CF_OK)
			continue;
		if (!s->cfg.fail.code) {
			cf_failure_set(&s->cfg.fail, err, "klipper config", "cannot read %s",
				       s->o->configs[i]);
			cf_failure_set_hint(&s->cfg.fail, "check the --klipper-config path");
		}
		return cli_fail(&s->cfg.fail);
	}
	return 0;
}

int run_scan(int argc, char **argv)
{
	struct scan_opts o = { 0 };
	struct scan *s;
	struct cf_failure why;
	int rc = parse_scan(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.dfu && o.usb)
		return cli_usage_error("scan", "--usb and --dfu are separate scans; pick one");
	if (o.dfu)
		return dfu_scan_run(cli_common.json);
	if (o.usb)
		return usb_scan_run(sysfs_root(), cli_common.json);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->loop = loop_new())) {
		free(s);
		fprintf(stderr, "cartoflash: out of memory\n");
		return cf_err_exit_code(CF_ERR_NOMEM);
	}
	s->o = &o;
	rc = read_configs(s);
	cf_failure_clear(&why);
	if (!rc && run_query(s, &why) < 0) {
		if (!why.device[0])
			cf_failure_set_device(&why, "%s", o.iface);
		rc = cli_fail(&why);
	}
	if (!rc)
		print_results(s);
	for (size_t i = 0; i < s->count; i++)
		updater_free(s->nodes[i].u);
	canquery_stop(&s->query);
	canmux_release(s->mux);
	klipper_config_fini(&s->cfg);
	loop_free(s->loop);
	free(s);
	return rc;
}
