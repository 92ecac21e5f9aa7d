// SPDX-License-Identifier: GPL-3.0-or-later
// One run for every backend: targets and images in, one updater each on one loop, one report.
#include "cmd_run.h"

#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "fleet.h"
#include "katapult/iface_switch.h"
#include "katapult/katapult.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "report.h"

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
		if (targets->request_bootloader)
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

int cmd_run_targets(const struct cmd_targets *targets, struct image_file *const *images,
		    const struct cmd_run *run)
{
	struct loop *loop = loop_new();
	struct report *report = report_new(cli_common.json ? REPORT_JSON : REPORT_AUTO, stdout,
					   stderr);
	struct fleet *fleet = loop && report ? fleet_new(loop, report) : NULL;
	int code = cf_err_exit_code(CF_ERR_NOMEM);

	if (!fleet)
		goto out;
	for (size_t i = 0; i < targets->count; i++) {
		const struct cmd_target *tg = &targets->v[i];
		struct updater_config cfg = { .loop = loop };

		if (config_of(targets, i, images, run, &cfg) < 0 ||
		    fleet_add(fleet, &cfg, run->steps, run->nsteps, tg->label[0] ? tg->label : NULL) < 0)
			goto out;
	}
	code = fleet_run(fleet, false);
	switch_after_run(report, fleet, images, &run->opts);
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
