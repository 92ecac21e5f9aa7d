// SPDX-License-Identifier: GPL-3.0-or-later
// One run for every backend: targets and images in, one updater each on one loop, one report.
#include "cmd_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "fleet.h"
#include "katapult/iface_switch.h"
#include "katapult/katapult.h"
#include "liverun.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "report.h"
#include "usb/sysfs.h"

const enum updater_step cmd_steps_dry_run[3] = { UPDATER_IDENTIFY, UPDATER_CHECK_IMAGE,
						 UPDATER_FINISH };

int cmd_image_load(struct image_file *img, const char *path)
{
	struct cf_failure why;

	cf_failure_clear(&why);
	if (image_file_load_one(path, img, &why) < 0)
		return cli_fail(&why);
	return 0;
}

int cmd_image_check_known(const struct image_file *img, unsigned force)
{
	struct image_refusal why;
	struct cf_failure f;

	if (image_check_known(&img->info, 0, &why) == CF_OK)
		return 0;
	if (force & UPDATER_FORCE_UNKNOWN) {
		cf_log(CF_LOG_WARN, NULL, NULL, "%s: R7 lifted by --allow-unknown: sha256 %s... is %s",
		       img->path, why.image_value, "no known release build");
		return 0;
	}
	cf_failure_clear(&f);
	cf_failure_set(&f, CF_ERR_REFUSED, "refusal R7", "%s: sha256 %s...: %s", img->path,
		       why.image_value, why.reason);
	cf_failure_set_hint(&f, "nothing written; %s lifts it for your own builds", why.override);
	return cli_fail(&f);
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

/* After the run: the switch report of each probe that took a deployer (the follow onto a named
 * bus ran in its finish step, beside every other probe; a failed follow still gets the report). */
static void switch_after_run(struct report *report, struct fleet *fleet,
			     struct image_file *const *images, const struct updater_options *o)
{
	for (int i = 0; images && i < fleet_count(fleet); i++) {
		struct updater *u = fleet_get_updater(fleet, i);

		if (images[i] && (fleet_get_result(fleet, i) == CF_OK ||
				  !strcmp(updater_failure(u)->stage, "follow")))
			switch_report(report, i, &images[i]->info, updater_identity(u), o);
	}
}

/* The updater of one target: its backend and identity from the target's link kind. */
static int config_of(const struct cmd_targets *targets, size_t i, struct image_file *const *images,
		     const struct cmd_run *run, struct updater_config *cfg)
{
	const struct cmd_target *tg = &targets->v[i];

	cfg->ops = &katapult_ops;
	cfg->opts = run->opts;
	if (tg->switch_to != UPDATER_SWITCH_NONE)
		cfg->opts.switch_to = tg->switch_to;
	identity_init(&cfg->target, tg->link);
	cfg->target.mode = run->in_katapult ? DEVICE_MODE_KATAPULT : DEVICE_MODE_UNKNOWN;
	switch (tg->link) {
	case IDENTITY_LINK_CAN:
		snprintf(cfg->target.iface, sizeof(cfg->target.iface), "%s", tg->iface);
		snprintf(cfg->target.can_uuid, sizeof(cfg->target.can_uuid), "%s", tg->can_uuid);
		break;
	case IDENTITY_LINK_TTY:
		snprintf(cfg->target.tty, sizeof(cfg->target.tty), "%s", tg->tty);
		cfg->target.baud = targets->baud;
		/* --can IFACE next to --serial: the bus a deployer moves the probe onto. */
		snprintf(cfg->target.iface, sizeof(cfg->target.iface), "%s", targets->iface);
		/* a dry run never reboots: no UART bootloader request (src/liverun.h) */
		if (targets->request_bootloader && !run->opts.dry_run)
			cfg->target.mode = DEVICE_MODE_APPLICATION;
		break;
	case IDENTITY_LINK_USB_DFU:
	case IDENTITY_LINK_NONE:
		return CF_ERR_USAGE;
	}
	if (images && images[i]) {
		cfg->image = images[i]->data;
		cfg->image_len = images[i]->len;
		cfg->image_info = &images[i]->info;
	}
	return CF_OK;
}

/* What the targets are, for the print guard, the bus locks and the dry run (src/liverun.h). */
static struct liverun_target *live_targets(const struct cmd_targets *targets)
{
	struct liverun_target *lt = calloc(targets->count ? targets->count : 1, sizeof(*lt));

	for (size_t i = 0; lt && i < targets->count; i++) {
		const struct cmd_target *tg = &targets->v[i];

		lt[i].iface = tg->link == IDENTITY_LINK_CAN ? tg->iface : NULL;
		lt[i].uuid = tg->link == IDENTITY_LINK_CAN ? tg->can_uuid : NULL;
		lt[i].tty = tg->link == IDENTITY_LINK_TTY ? tg->tty : NULL;
		lt[i].label = tg->label[0] ? tg->label : NULL;
	}
	return lt;
}

/* Every target a UART (a tty not on USB): discovery cannot see it, and without
 * --request-bootloader its channel never reboots it, so its dry run stays with the updater. */
static bool uart_only(const struct cmd_targets *targets)
{
	struct sysfs_usb u;

	for (size_t i = 0; i < targets->count; i++)
		if (targets->v[i].link != IDENTITY_LINK_TTY || !strcmp(targets->v[i].tty, "auto") ||
		    sysfs_usb_from_tty(sysfs_root(), targets->v[i].tty, &u) != CF_ERR_NOT_SUPPORTED)
			return false;
	return targets->count > 0;
}

/* --dry-run reboots nothing: the rules against what each probe runs now (src/dryrun.h). */
static int dry_run(struct loop *loop, struct report *report, const struct cmd_targets *targets,
		   struct image_file *const *images, const struct liverun_target *lt,
		   const struct cmd_run *run)
{
	const struct image_info **infos = calloc(targets->count, sizeof(*infos));
	enum image_iface *sw = calloc(targets->count, sizeof(*sw));
	int code = cf_err_exit_code(CF_ERR_NOMEM);

	for (size_t i = 0; infos && sw && i < targets->count; i++) {
		infos[i] = &images[i]->info;
		sw[i] = iface_switch_target(targets->v[i].switch_to != UPDATER_SWITCH_NONE ?
						    targets->v[i].switch_to :
						    run->opts.switch_to);
	}
	if (infos && sw)
		code = liverun_dry_run(loop, report, &liverun_cli, lt, targets->count, infos, sw,
				       run->opts.force);
	free(infos);
	free(sw);
	return code;
}

/* cmd_run.verify_only: verify's steps, the probe back in its application after a match */
static const enum updater_step steps_read_back[4] = { UPDATER_IDENTIFY, UPDATER_CHECK_IMAGE,
						      UPDATER_VERIFY, UPDATER_FINISH };

int cmd_run_targets(const struct cmd_targets *targets, struct image_file *const *images,
		    const struct cmd_run *run)
{
	struct liverun_target *lt = live_targets(targets);
	const struct image_info **infos = NULL;
	struct liverun live;
	bool live_begun = false;
	struct loop *loop = loop_new();
	struct report *report = report_new(cli_common.json ? REPORT_JSON : REPORT_AUTO, stdout,
					   stderr);
	struct fleet *fleet = loop && report ? fleet_new(loop, report) : NULL;
	int code = cf_err_exit_code(CF_ERR_NOMEM);

	if (!fleet || !lt)
		goto out;
	if (run->opts.dry_run && images && !uart_only(targets)) {
		code = dry_run(loop, report, targets, images, lt, run);
		report_summary(report);
		goto out;
	}
	/* Klipper first: nothing reboots a probe while it prints or holds the probe; then the
	 * buses, so two runs never meet on one (src/liverun.h) */
	infos = calloc(targets->count ? targets->count : 1, sizeof(*infos));
	for (size_t i = 0; infos && images && i < targets->count; i++)
		infos[i] = images[i] ? &images[i]->info : NULL;
	code = infos ? liverun_begin(loop, &liverun_cli, NULL, lt, targets->count,
				     images ? infos : NULL, run->opts.force, &live) :
		       cf_err_exit_code(CF_ERR_NOMEM);
	if (code)
		goto out;
	live_begun = true;
	code = cf_err_exit_code(CF_ERR_NOMEM);
	for (size_t i = 0; i < targets->count; i++) {
		const struct cmd_target *tg = &targets->v[i];
		struct updater_config cfg = { .loop = loop };
		int dev;

		if (config_of(targets, i, images, run, &cfg) < 0)
			goto out;
		cfg.target.bus_bitrate = lt[i].bus_bitrate; /* a Klipper bridge's own figure */
		/* what its application ran: R8 before the bootloader request */
		snprintf(cfg.target.app_version, sizeof(cfg.target.app_version), "%s",
			 lt[i].app_version);
		snprintf(cfg.target.app_mcu, sizeof(cfg.target.app_mcu), "%s", lt[i].app_mcu);
		cfg.target.app_clock = lt[i].app_clock;
		if (run->verify_only && run->verify_only[i])
			dev = fleet_add(fleet, &cfg, steps_read_back, 4, tg->label[0] ? tg->label : NULL);
		else
			dev = fleet_add(fleet, &cfg, run->steps, run->nsteps,
					tg->label[0] ? tg->label : NULL);
		if (dev < 0)
			goto out;
		if (cfg.image_info) /* one report device per job, in order (fleet.c) */
			report_set_image(report, dev, images[i]->path, cfg.image_info->sha256,
					 cfg.image_info->version,
					 image_known_build(cfg.image_info->sha256) != NULL);
	}
	code = fleet_run(fleet, false);
	switch_after_run(report, fleet, images, &run->opts);
	if (run->before_summary)
		run->before_summary(fleet, run->ctx);
	report_summary(report);
	for (int i = 0; run->on_result && i < fleet_count(fleet); i++)
		run->on_result(updater_identity(fleet_get_updater(fleet, i)),
			       fleet_get_result(fleet, i), run->ctx);
out:
	if (code == cf_err_exit_code(CF_ERR_NOMEM) && (!fleet || !lt))
		fprintf(stderr, "cartoflash: out of memory\n");
	fleet_free(fleet);
	/* after the updaters let go of the buses: Klipper is started again whatever happened */
	if (live_begun)
		code = liverun_end(loop, &live, code);
	free(lt);
	free(infos);
	report_free(report);
	loop_free(loop);
	return code;
}
