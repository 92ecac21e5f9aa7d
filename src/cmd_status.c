// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash status`: every probe and what it runs, from every source, rebooting none.
#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buslock.h"
#include "cmd_target.h"
#include "discover/discover.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/katapult.h"
#include "jsonout.h"

enum {
	STATUS_OPT_CONFIG = CMD_OPT_VERB_FIRST,
	STATUS_OPT_SOCKET,
	STATUS_OPT_LOCK_WAIT,
	STATUS_OPT_NO_USB,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cartoflash status [--can IFACE]... [--klipper-config PATH]...\n"
		"                         [--klippy-socket PATH] [--no-usb] [options]\n"
		"\n"
		"List every probe with what it runs, without rebooting any of them and without\n"
		"entering a bootloader. Sources: Klipper's API socket (print state, its configured\n"
		"MCUs and the firmware it is connected to), Klipper config files, every CAN\n"
		"interface that is up (and those named with --can): nodes answering the admin\n"
		"query are identified directly (a node id from 224-254 is assigned, as klippy\n"
		"does; the application keeps it until its next reset or Klipper's connect), Katapult\n"
		"nodes answer CONNECT; USB probes in sysfs (identified over their tty when no\n"
		"process holds it); STM32 ROM DFU devices. A probe Klipper holds is described by\n"
		"Klipper, never spoken to.\n"
		"\n"
		"  -i, --can IFACE           also ask this CAN interface or sim:PATH (repeatable)\n"
		"      --klipper-config PATH Klipper config file (repeatable; default: Klipper's,\n"
		"                            or ~/printer_data/config/printer.cfg)\n"
		"      --klippy-socket PATH  Klipper's API socket (default\n"
		"                            ~/printer_data/comms/klippy.sock of the invoking user;\n"
		"                            \"\" asks no Klipper)\n"
		"      --no-usb              leave USB and ROM DFU devices out\n"
		"      --timeout DURATION    for all identify sessions together (default 5s)\n"
		"      --lock-wait DURATION  wait this long for a bus another run holds (default 10s)\n"
		"      --json  -v  -q\n"
		"\n"
		"Examples:\n"
		"  cartoflash status\n"
		"  cartoflash status --can can0 --json | jq .\n"
		"  sudo cartoflash status --klippy-socket /home/pi/printer_data/comms/klippy.sock\n");
}

static int parse_status(int argc, char **argv, struct discover_opts *o)
{
	static const struct option longopts[] = {
		{ "can", required_argument, NULL, CMD_OPT_CAN },
		{ "interface", required_argument, NULL, 'i' },
		{ "klipper-config", required_argument, NULL, STATUS_OPT_CONFIG },
		{ "klippy-socket", required_argument, NULL, STATUS_OPT_SOCKET },
		{ "lock-wait", required_argument, NULL, STATUS_OPT_LOCK_WAIT },
		{ "no-usb", no_argument, NULL, STATUS_OPT_NO_USB },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "hi:qv", longopts, NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			return -1;
		case 'i':
		case CMD_OPT_CAN:
			if (o->ncans == DISCOVER_MAX_BUSES || !optarg[0] || strlen(optarg) >= 64)
				return cli_usage_error("status", "'%s': at most %d CAN interfaces of "
								 "up to 63 characters",
						       optarg, DISCOVER_MAX_BUSES);
			o->cans[o->ncans++] = optarg;
			break;
		case STATUS_OPT_CONFIG:
			if (o->nconfigs == DISCOVER_MAX_CONFIGS)
				return cli_usage_error("status", "at most %d --klipper-config",
						       DISCOVER_MAX_CONFIGS);
			o->configs[o->nconfigs++] = optarg;
			break;
		case STATUS_OPT_SOCKET:
			o->klippy_socket = optarg;
			break;
		case STATUS_OPT_NO_USB:
			o->usb = o->dfu = false;
			break;
		case STATUS_OPT_LOCK_WAIT:
		case CMD_OPT_TIMEOUT:
			if (cli_parse_duration_us(optarg, c == CMD_OPT_TIMEOUT ? &o->timeout_us :
										 &o->lock_wait_us) < 0)
				return cli_usage_error("status", "'%s' needs a unit (500ms, 5s)",
						       optarg);
			break;
		default:
			return cli_bad_option("status", argc, argv, "hi:qv");
		}
	}
	if (optind != argc)
		return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ---- text ---- */

static void link_text(const struct discover_probe *p, char *buf, size_t cap)
{
	switch (p->link) {
	case DISCOVER_LINK_CAN:
		snprintf(buf, cap, "can %s %s", p->iface[0] ? p->iface : "?",
			 p->uuid[0] ? p->uuid : "(uuid unknown)");
		return;
	case DISCOVER_LINK_USB:
		if (p->usb_path[0])
			snprintf(buf, cap, "usb %s %s", p->usb_path, p->tty[0] ? p->tty : "");
		else
			snprintf(buf, cap, "usb %s", p->tty);
		return;
	case DISCOVER_LINK_DFU:
		snprintf(buf, cap, "usb %s", p->usb_path);
		return;
	}
	buf[0] = '\0';
}

static void firmware_text(const struct discover_probe *p, char *buf, size_t cap)
{
	const struct image_app_part *a = &p->app.app;
	char rate[24] = "";

	if (p->has_app) {
		if (a->iface == IMAGE_IFACE_CAN && a->can_bitrate)
			snprintf(rate, sizeof(rate), " %u", (unsigned)a->can_bitrate);
		snprintf(buf, cap, "%s (%s, %s%s, %s)", a->version[0] ? a->version : "?",
			 a->mcu[0] ? a->mcu : "?", image_iface_name(a->iface), rate, p->variant);
	} else if (p->mode == DISCOVER_MODE_KATAPULT && p->source == DISCOVER_SRC_CONNECT) {
		snprintf(buf, cap, "Katapult%s%s (%s, protocol %u.%u.%u)",
			 p->katapult_version[0] ? " " : "", p->katapult_version,
			 p->katapult_mcu[0] ? p->katapult_mcu : "?",
			 KATAPULT_PROTO_MAJOR(p->katapult_protocol),
			 KATAPULT_PROTO_MINOR(p->katapult_protocol),
			 KATAPULT_PROTO_PATCH(p->katapult_protocol));
	} else {
		snprintf(buf, cap, "-");
	}
}

struct row {
	char name[64], link[224], mode[16], firmware[200], holder[192];
};

static void fill_row(const struct discover_probe *p, struct row *r)
{
	snprintf(r->name, sizeof(r->name), "%s", p->name[0] ? p->name : "-");
	link_text(p, r->link, sizeof(r->link));
	snprintf(r->mode, sizeof(r->mode), "%s", discover_mode_name(p->mode));
	firmware_text(p, r->firmware, sizeof(r->firmware));
	snprintf(r->holder, sizeof(r->holder), "%s", p->holder_text[0] ? p->holder_text : "-");
}

static int width(const struct row *rows, size_t n, size_t off, const char *head)
{
	size_t w = strlen(head);

	for (size_t i = 0; i < n; i++)
		if (strlen((const char *)&rows[i] + off) > w)
			w = strlen((const char *)&rows[i] + off);
	return (int)w;
}

static void print_details(const struct discover_probe *p)
{
	const char *source = p->source == DISCOVER_SRC_KLIPPER	  ? "Klipper's API" :
			     p->source == DISCOVER_SRC_IDENTIFY ? "its identify dictionary" :
								  NULL;

	if (p->by_id[0])
		printf("    by-id     %s\n", p->by_id);
	if (p->has_app && source)
		printf("    from      %s%s%s\n", source,
		       p->app.build_versions[0] ? "; build " : "", p->app.build_versions);
	if (p->config_file[0])
		printf("    config    %s [%s]\n", p->config_file, p->name);
	if (p->node_id >= 0)
		printf("    node id   %d (kept until the probe's next reset or Klipper's connect)\n",
		       p->node_id);
	if (p->note[0])
		printf("    note      %s\n", p->note);
}

static void print_table(const struct discover_result *r)
{
	struct row *rows = calloc(r->count ? r->count : 1, sizeof(*rows));
	int wn, wl, wm, wf;

	if (!rows)
		return;
	for (size_t i = 0; i < r->count; i++)
		fill_row(&r->v[i], &rows[i]);
	wn = width(rows, r->count, offsetof(struct row, name), "NAME");
	wl = width(rows, r->count, offsetof(struct row, link), "LINK");
	wm = width(rows, r->count, offsetof(struct row, mode), "MODE");
	wf = width(rows, r->count, offsetof(struct row, firmware), "FIRMWARE");
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", wn, "NAME", wl, "LINK", wm, "MODE", wf, "FIRMWARE",
	       "HELD BY");
	for (size_t i = 0; i < r->count; i++) {
		printf("%-*s  %-*s  %-*s  %-*s  %s\n", wn, rows[i].name, wl, rows[i].link, wm,
		       rows[i].mode, wf, rows[i].firmware, rows[i].holder);
		print_details(&r->v[i]);
	}
	free(rows);
}

static void print_header(const struct discover_result *r)
{
	const struct klippy_state *k = &r->klipper_state;

	if (!r->klipper) {
		printf("Klipper: %s\n", r->klipper_why.detail[0] ? r->klipper_why.detail :
								      "not asked");
	} else {
		printf("Klipper %s at %s: %s", k->software_version, k->socket, k->state);
		if (klippy_state_is_busy(k) && k->print_state[0])
			printf("; %s %s", k->print_state, k->print_filename);
		else if (klippy_state_is_busy(k))
			printf("; busy (idle_timeout %s)", k->idle_state);
		else if (k->print_state[0])
			printf("; print %s", k->print_state);
		printf("\n");
	}
	for (size_t i = 0; i < r->nbuses; i++) {
		const struct discover_bus *b = &r->buses[i];
		char parked[64];

		snprintf(parked, sizeof(parked), ", %u on an identify node id", b->parked);
		if (b->err)
			printf("CAN %s: %s\n", b->iface, b->err_text);
		else
			printf("CAN %s: %u node%s answered the query%s; bus bitrate %s%u (%s)\n",
			       b->iface, b->answered, b->answered == 1 ? "" : "s",
			       b->parked ? parked : "", b->bitrate.bitrate ? "" : "unknown ",
			       (unsigned)b->bitrate.bitrate, b->bitrate.source);
	}
	if (r->config_note[0])
		printf("config: %s\n", r->config_note);
}

/* ---- JSON ---- */

static void emit(json_t *o)
{
	jsonout_emit(o); /* docs/json.md: "schema" first */
}

static void print_json(const struct discover_result *r)
{
	const struct klippy_state *k = &r->klipper_state;

	if (r->klipper)
		emit(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:i}", "event", "klipper",
			       "socket", k->socket, "state", k->state, "software_version",
			       k->software_version, "print_state", k->print_state, "print_filename",
			       k->print_filename, "printing", klippy_state_is_busy(k), "pid",
			       (int)k->pid));
	else
		emit(json_pack("{s:s, s:n, s:s}", "event", "klipper", "state", "detail",
			       r->klipper_why.detail));
	for (size_t i = 0; i < r->nbuses; i++)
		emit(discover_bus_json(&r->buses[i]));
	for (size_t i = 0; i < r->count; i++)
		emit(discover_probe_json(&r->v[i]));
	emit(json_pack("{s:s, s:i}", "event", "summary", "probes", (int)r->count));
}

int run_status(int argc, char **argv); /* the verb table in src/cli.c */

int run_status(int argc, char **argv)
{
	struct discover_opts o = {.auto_cans = true, .usb = true, .dfu = true,
				  .default_config = true, .lock_wait_us = BUSLOCK_WAIT_US,
				  .verb = "status"};
	struct discover_result *r = calloc(1, sizeof(*r));
	struct loop *loop = loop_new();
	int rc = parse_status(argc, argv, &o);

	if (rc || !r || !loop) {
		free(r);
		loop_free(loop);
		if (rc)
			return rc < 0 ? 0 : rc;
		return cf_err_exit_code(CF_ERR_NOMEM);
	}
	rc = discover_run(loop, &o, r);
	if (rc == CF_OK) {
		if (cli_common.json)
			print_json(r);
		else {
			print_header(r);
			if (r->count)
				print_table(r);
			else
				printf("no probe found\n");
		}
		fflush(stdout);
	}
	discover_result_fini(r);
	free(r);
	loop_free(loop);
	return cf_err_exit_code(rc);
}
