// SPDX-License-Identifier: GPL-3.0-or-later
// Target options, image loading and the fleet run shared by flash, verify, info, fleet ...
#include "cmd_target.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "fleet.h"
#include "katapult/backend.h"
#include "katapult/iface_follow.h"
#include "katapult/iface_switch.h"
#include "katapult/serial.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "report.h"

#define CMD_IMAGE_MAX (1024u * 1024u) /* far above any probe's flash; guards against mistakes */

const enum updater_step cmd_steps_dry_run[3] = { UPDATER_IDENTIFY, UPDATER_CHECK_IMAGE,
						 UPDATER_FINISH };

/* A new zeroed target at the end, or NULL without memory. */
static struct cmd_target *append(struct cmd_targets *t)
{
	struct cmd_target *tg;

	if (t->count == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct cmd_target *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	tg = &t->v[t->count++];
	memset(tg, 0, sizeof(*tg));
	return tg;
}

int cmd_targets_add(struct cmd_targets *t, const char *iface, const char *uuid,
		    const char *label, const char *image)
{
	struct cmd_target *tg;
	uint8_t raw[CANBUS_UUID_LEN];

	char canon[2 * CANBUS_UUID_LEN + 1];

	if (canbus_uuid_parse(uuid, raw) < 0 || !iface[0] || strlen(iface) >= sizeof(tg->iface))
		return CF_ERR_USAGE;
	/* Two sessions on one node would fight over its node id: name each probe once. */
	canbus_uuid_format(raw, canon);
	for (size_t i = 0; i < t->count; i++)
		if (!strcmp(t->v[i].iface, iface) && !strcmp(t->v[i].can_uuid, canon))
			return CF_ERR_BUSY;
	tg = append(t);
	if (!tg)
		return CF_ERR_NOMEM;
	snprintf(tg->iface, sizeof(tg->iface), "%.63s", iface);
	/* style.md §2.10: UUIDs are printed in the canonical lower-case form. */
	canbus_uuid_format(raw, tg->can_uuid);
	snprintf(tg->label, sizeof(tg->label), "%.63s", label ? label : "");
	snprintf(tg->image, sizeof(tg->image), "%.255s", image ? image : "");
	return CF_OK;
}

/* --serial PATH|auto: a by-id link is longer than the identity's tty field, so the node it
 * points to is kept (sysfs knows the node, not the link). */
static int add_serial(struct cmd_targets *t, const char *verb, const char *arg)
{
	char real[PATH_MAX];
	const char *path = strcmp(arg, "auto") && realpath(arg, real) ? real : arg;
	struct cmd_target *tg;

	if (!path[0] || strlen(path) >= sizeof(tg->tty) - 8)
		return cli_usage_error(verb, "'%s' is not a tty path", arg);
	tg = append(t);
	if (!tg)
		return cli_usage_error(verb, "out of memory");
	snprintf(tg->tty, sizeof(tg->tty), "%.63s", path);
	return 1;
}

int cmd_targets_option(struct cmd_targets *t, const char *verb, int c, const char *arg)
{
	char *end;

	switch (c) {
	case CMD_OPT_SERIAL:
		return add_serial(t, verb, arg);
	case CMD_OPT_BAUD:
		t->baud = (uint32_t)strtoul(arg, &end, 10);
		if (*end || !t->baud || t->baud > 4000000)
			return cli_usage_error(verb, "--baud needs a rate in bit/s, not '%s'", arg);
		return 1;
	case CMD_OPT_REQUEST_BOOTLOADER:
		t->request_bootloader = true;
		return 1;
	case 'i':
	case CMD_OPT_CAN:
		if (!arg[0] || strlen(arg) >= sizeof(t->iface))
			return cli_usage_error(verb, "'%s' is not a CAN interface", arg);
		snprintf(t->iface, sizeof(t->iface), "%.63s", arg);
		return 1;
	case CMD_OPT_UUID:
		if (!t->iface[0])
			return cli_usage_error(verb, "--uuid %s needs a --can IFACE before it", arg);
		switch (cmd_targets_add(t, t->iface, arg, NULL, NULL)) {
		case CF_OK:
			return 1;
		case CF_ERR_NOMEM:
			return cli_usage_error(verb, "out of memory");
		case CF_ERR_BUSY:
			return cli_usage_error(verb, "probe %s on %s is named twice", arg, t->iface);
		default:
			return cli_usage_error(verb, "'%s' is not a CAN UUID (12 hex digits)", arg);
		}
	default:
		return 0;
	}
}

int cmd_targets_require(const struct cmd_targets *t, const char *verb)
{
	if (t->count)
		return 0;
	return cli_usage_error(verb, "name a probe: --can IFACE --uuid UUID, or --serial PATH");
}

void cmd_targets_fini(struct cmd_targets *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int image_fail(const char *path, int code, const char *fmt, const char *what)
{
	struct cf_failure f;

	cf_failure_clear(&f);
	cf_failure_set(&f, code, "image", fmt, path, what);
	cf_failure_set_hint(&f, code == CF_ERR_NOINPUT ? "check the path" :
							 "`cartoflash inspect %s` shows what it is",
			    path);
	return cli_fail(&f);
}

static int read_all(FILE *fp, struct cmd_image *img)
{
	size_t cap = 64 * 1024;

	img->data = malloc(cap);
	if (!img->data)
		return CF_ERR_NOMEM;
	for (;;) {
		size_t n = fread(img->data + img->len, 1, cap - img->len, fp);

		img->len += n;
		if (n == 0)
			return ferror(fp) ? CF_ERR_NOINPUT : CF_OK;
		if (img->len == cap) {
			uint8_t *p;

			if (cap >= CMD_IMAGE_MAX)
				return CF_ERR_IMAGE;
			p = realloc(img->data, cap * 2);
			if (!p)
				return CF_ERR_NOMEM;
			img->data = p;
			cap *= 2;
		}
	}
}

int cmd_image_load(struct cmd_image *img, const char *path)
{
	uint8_t *scratch;
	FILE *fp;
	int err;

	memset(img, 0, sizeof(*img));
	snprintf(img->path, sizeof(img->path), "%.255s", path);
	fp = fopen(path, "rbe");
	if (!fp)
		return image_fail(path, CF_ERR_NOINPUT, "cannot open %s: %s", strerror(errno));
	err = read_all(fp, img);
	fclose(fp);
	if (err == CF_ERR_IMAGE)
		return image_fail(path, err, "%s is %s", "larger than 1 MiB: not a probe image");
	if (err < 0)
		return image_fail(path, err, "cannot read %s: %s", cf_strerror(err));
	scratch = malloc(IMAGE_SCRATCH_SIZE);
	if (!scratch)
		return image_fail(path, CF_ERR_NOMEM, "%s: %s", "out of memory");
	err = image_inspect(img->data, img->len, scratch, IMAGE_SCRATCH_SIZE, &img->info);
	free(scratch);
	if (err < 0)
		return image_fail(path, CF_ERR_IMAGE, "%s is %s", "not a firmware image we know");
	return 0;
}

void cmd_image_fini(struct cmd_image *img)
{
	free(img->data);
	img->data = NULL;
}

int cmd_updater_option(struct updater_options *o, const char *verb, int c, const char *arg)
{
	switch (c) {
	case CMD_OPT_DRY_RUN:
		o->dry_run = true;
		return 1;
	case CMD_OPT_NO_REBOOT:
		o->no_reboot = true;
		return 1;
	case CMD_OPT_FORCE:
		/* Only R3 has a sane blanket override: the bus is about to change bitrate. */
		o->force |= UPDATER_FORCE_BITRATE;
		return 1;
	case CMD_OPT_ALLOW_BITRATE:
		o->force |= UPDATER_FORCE_BITRATE;
		return 1;
	case CMD_OPT_SWITCH_TO:
		/* images.md §7 R4: the one explicit request that lets a deployer change the
		 * probe's interface; an application of the other interface stays refused. */
		if (!iface_switch_from_name(arg, &o->switch_to))
			return cli_usage_error(verb, "--switch-to needs can or usb, not '%s'", arg);
		return 1;
	case CMD_OPT_TIMEOUT:
		if (cli_parse_duration_us(arg, &o->timeout_us) < 0 || !o->timeout_us)
			return cli_usage_error(verb, "--timeout needs a duration with a unit (5s, "
						     "500ms), not '%s'",
					       arg);
		return 1;
	default:
		return 0;
	}
}

/*
 * katapult.md §4, images.md §6: after a deployer the probe does not come back in its
 * application but in Katapult on the embedded interface; say where, and what to run next.
 */
static void switch_report(struct report *report, int dev, const struct image_info *img,
			  const struct device_identity *id, const struct updater_options *o)
{
	const bool started = !o->no_reboot || o->dry_run;
	char lines[IFACE_SWITCH_LINES][IFACE_SWITCH_LINE_MAX];
	size_t n = iface_switch_report(img, id, started, lines, IFACE_SWITCH_LINES);

	if (!n)
		return;
	if (report_is_json(report)) {
		if (o->dry_run)
			report_message(report, dev, "dry run: the deployer passes every check "
						    "(R4 included), nothing written");
		for (size_t i = 0; i < n; i++)
			report_message(report, dev, "%s", lines[i]);
		return;
	}
	if (!cf_log_enabled(CF_LOG_WARN))
		return; /* -q: errors only */
	printf("probe %s%s%s: %s\n", id->can_uuid[0] ? id->can_uuid : "",
	       id->can_uuid[0] && id->tty[0] ? " on " : "", id->tty,
	       o->dry_run ? "dry run: the deployer passes every check (R4 included), nothing "
			    "written; a real run goes on like this:"
			  : "the deployer is on the probe, every block verified");
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", lines[i]);
	fflush(stdout);
}

/*
 * ecosystem.md §1 (guided switch): a tty probe switched to CAN while the user also named the bus
 * with --can IFACE is followed there until it answers as Katapult. Returns an exit code.
 */
static int switch_follow(struct loop *loop, struct report *report, int dev, const char *iface,
			 const struct image_info *img, const struct device_identity *id,
			 const struct updater_options *o)
{
	struct cf_failure why;
	uint64_t after = 0;
	int err;

	if (!iface[0] || !id->tty[0] || !id->can_uuid[0] || o->dry_run || o->no_reboot ||
	    !iface_switch_is_deployer(img) || img->katapult.iface != IMAGE_IFACE_CAN)
		return 0;
	cf_failure_clear(&why);
	err = iface_follow_can(loop, iface, id->can_uuid, o->timeout_us, &why, &after);
	if (err < 0) {
		cf_failure_set_device(&why, "probe %s", id->can_uuid);
		return cli_fail(&why);
	}
	if (report_is_json(report))
		report_message(report, dev, "follow: answers on %s as Katapult after %.1f s", iface,
			       (double)after / 1e6);
	else if (cf_log_enabled(CF_LOG_WARN))
		printf("  follow: probe %s answers on %s as Katapult after %.1f s\n", id->can_uuid,
		       iface, (double)after / 1e6);
	return 0;
}

/* After the run: the switch report and follow of each probe that took a deployer. Returns the
 * worst exit code of the follows (0 when none failed). */
static int switch_after_run(struct loop *loop, struct report *report, struct fleet *fleet,
			    const struct cmd_targets *targets, struct cmd_image *const *images,
			    const struct updater_options *o)
{
	int code = 0;

	for (int i = 0; images && i < fleet_count(fleet); i++) {
		const struct device_identity *id = updater_identity(fleet_get_updater(fleet, i));
		int rc;

		if (!images[i] || fleet_get_result(fleet, i) != CF_OK)
			continue;
		if (id->tty[0] && targets->iface[0]) {
			/* --can IFACE next to --serial: the bus it will be on, for the report. */
			struct device_identity seen = *id;

			snprintf(seen.iface, sizeof(seen.iface), "%s", targets->iface);
			switch_report(report, i, &images[i]->info, &seen, o);
		} else {
			switch_report(report, i, &images[i]->info, id, o);
		}
		rc = switch_follow(loop, report, i, targets->iface, &images[i]->info, id, o);
		if (rc > code)
			code = rc;
	}
	return code;
}

int cmd_run_targets(const struct cmd_targets *targets, struct cmd_image *const *images,
		    const struct cmd_run *run)
{
	struct loop *loop = loop_new();
	struct report *report = report_new(cli_common.json ? REPORT_JSON : REPORT_AUTO, stdout,
					   stderr);
	struct fleet *fleet = NULL;
	int code = cf_err_exit_code(CF_ERR_NOMEM), follow_code;

	if (!loop || !report)
		goto out;
	fleet = fleet_new(loop, report);
	if (!fleet)
		goto out;
	for (size_t i = 0; i < targets->count; i++) {
		const struct cmd_target *tg = &targets->v[i];
		struct updater_config cfg = { .ops = &katapult_can_ops, .loop = loop };

		cfg.opts = run->opts;
		if (tg->switch_to != UPDATER_SWITCH_NONE)
			cfg.opts.switch_to = tg->switch_to;
		snprintf(cfg.target.iface, sizeof(cfg.target.iface), "%s", tg->iface);
		snprintf(cfg.target.can_uuid, sizeof(cfg.target.can_uuid), "%s", tg->can_uuid);
		cfg.target.node_id = -1;
		cfg.target.mode = run->in_katapult ? DEVICE_MODE_KATAPULT : DEVICE_MODE_UNKNOWN;
		if (tg->tty[0]) {
			cfg.ops = &katapult_serial_ops;
			snprintf(cfg.target.tty, sizeof(cfg.target.tty), targets->baud ? "%s@%u" : "%s",
				 tg->tty, (unsigned)targets->baud);
			if (targets->request_bootloader)
				cfg.target.mode = DEVICE_MODE_APPLICATION;
		}
		if (images && images[i]) {
			cfg.image = images[i]->data;
			cfg.image_len = images[i]->len;
			cfg.image_info = &images[i]->info;
		}
		if (fleet_add(fleet, &cfg, run->steps, run->nsteps, tg->label[0] ? tg->label : NULL) < 0)
			goto out;
	}
	code = fleet_run(fleet, false);
	follow_code = switch_after_run(loop, report, fleet, targets, images, &run->opts);
	if (follow_code > code && code != 130)
		code = follow_code;
	report_summary(report);
	for (int i = 0; run->on_result && i < fleet_count(fleet); i++)
		run->on_result(updater_identity(fleet_get_updater(fleet, i)),
			       fleet_get_result(fleet, i), run->ctx);
out:
	if (code == cf_err_exit_code(CF_ERR_NOMEM) && !fleet)
		fprintf(stderr, "cartoflash: out of memory\n");
	fleet_free(fleet);
	report_free(report);
	loop_free(loop);
	return code;
}

int cmd_parse_targets_only(int argc, char **argv, const char *verb, void (*usage)(FILE *out),
			   bool allow_no_reboot, struct cmd_targets *t, struct updater_options *o)
{
	static const struct option longopts[] = {
		CMD_TARGET_OPTIONS,
		{ "no-reboot", no_argument, NULL, CMD_OPT_NO_REBOOT },
		{ "timeout", required_argument, NULL, CMD_OPT_TIMEOUT },
		CMD_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "hi:qv", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		if (cli_common_option(c))
			continue;
		if (c == CMD_OPT_NO_REBOOT && !allow_no_reboot)
			return cli_usage_error(verb, "--no-reboot does not apply here");
		rc = cmd_targets_option(t, verb, c, optarg);
		if (!rc)
			rc = cmd_updater_option(o, verb, c, optarg);
		if (rc == 1)
			continue;
		return rc ? rc : cli_usage_error(verb, "unknown option");
	}
	if (optind != argc)
		return cli_usage_error(verb, "unexpected argument '%s'", argv[optind]);
	return cmd_targets_require(t, verb);
}
