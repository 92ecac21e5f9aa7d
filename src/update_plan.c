// SPDX-License-Identifier: GPL-3.0-or-later
// The update verb's plan and run (update_plan.h): the build per probe, the plan with its
// warnings, one run for writes and read-backs, the final table (issue 12).
#include "update_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cmd_run.h"
#include "failure.h"
#include "firmware_source.h"
#include "fleet.h"
#include "jsonout.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

/* One probe's line of the plan, and what became of it. */
struct plan_row {
	const struct discover_probe *p;
	struct catalog_choice c;
	const char *recalibrate; /* what writing it needs besides (catalog_recalibration) */
	int target;		 /* its job in the run, -1: not in it */
	bool verify;		 /* in the run as a read-back (--verify-current) */
	int err;		 /* the run's result for it */
};

struct plan {
	const struct update_opts *o;
	const struct catalog_entry *v;
	struct plan_row rows[UPDATE_MAX];
	size_t n;
	bool ran; /* the run reached its end: rows in it have err */
};

/* ---- choosing ---- */

/* --all means the Cartographer probes: an application whose dictionary version names
 * Cartographer (every release's does: "CARTOGRAPHER V3 6.1.0", "Cartographer HT 5.1.0"). Other
 * Klipper MCUs on the bus (a toolhead board), nodes in Katapult and configured entries that did
 * not answer tell no such thing: they are named with --uuid / --serial or left alone. */
static bool cartographer(const struct discover_probe *p)
{
	return p->has_app && strcasestr(p->app.app.version, "cartographer");
}

static bool picked(const struct update_opts *o, const struct discover_probe *p)
{
	if (p->link == DISCOVER_LINK_DFU)
		return false; /* a probe in ROM DFU needs `recover`, not an update */
	if (o->all)
		return cartographer(p);
	for (size_t i = 0; i < o->npicks; i++)
		if (!strcasecmp(o->picks[i], p->uuid) || !strcasecmp(o->picks[i], p->serial))
			return true;
	return false;
}

static const struct discover_bus *bus_of(const struct discover_result *r,
					 const struct discover_probe *p)
{
	for (size_t i = 0; i < r->nbuses; i++)
		if (!strcmp(r->buses[i].iface, p->iface))
			return &r->buses[i];
	return NULL;
}

/* The facts catalog_choose needs, from what discovery learnt without rebooting the probe. */
static void facts_of(const struct discover_result *r, const struct discover_probe *p,
		     struct catalog_probe *f)
{
	const struct image_app_part *a = &p->app.app;
	const struct discover_bus *b = bus_of(r, p);

	memset(f, 0, sizeof(*f));
	snprintf(f->mcu, sizeof(f->mcu), "%s", p->has_app ? a->mcu : p->katapult_mcu);
	f->iface = p->link == DISCOVER_LINK_CAN ? IMAGE_IFACE_CAN : IMAGE_IFACE_USB;
	/* canbridge.h: the figure that describes the bus; else what the probe runs at */
	f->bitrate = b && b->bitrate.bitrate ? b->bitrate.bitrate : p->app.canbus_frequency;
	if (p->has_app) {
		snprintf(f->version, sizeof(f->version), "%s", a->version);
		f->clock_freq = a->clock_freq;
		f->has_dict = p->app.has_zdict_sha256;
		memcpy(f->dict_sha256, p->app.zdict_sha256, 32);
	}
}

static const struct catalog_entry *entry_of(const struct plan *pl, const struct plan_row *row)
{
	return row->c.index >= 0 ? &pl->v[row->c.index] : NULL;
}

static const char *name_of(const struct discover_probe *p)
{
	return p->uuid[0] ? p->uuid : p->serial;
}

static const char *runs_of(const struct discover_probe *p)
{
	return p->has_app ? p->app.app.version : "-";
}

/* Choose for every picked probe. */
static void make_plan(struct plan *pl, const struct discover_result *r, size_t n)
{
	for (size_t i = 0; i < r->count && pl->n < UPDATE_MAX; i++) {
		struct plan_row *row = &pl->rows[pl->n];
		struct catalog_probe f;

		if (!picked(pl->o, &r->v[i]))
			continue;
		memset(row, 0, sizeof(*row));
		row->p = &r->v[i];
		row->target = -1;
		facts_of(r, row->p, &f);
		if (row->p->has_app && !cartographer(row->p)) {
			/* named with --uuid/--serial: the same MCU would match a probe's builds */
			row->c.verdict = CATALOG_NONE;
			row->c.index = -1;
			snprintf(row->c.reason, sizeof(row->c.reason), "not_cartographer");
			snprintf(row->c.why, sizeof(row->c.why),
				 "runs %.96s, no Cartographer firmware: left alone (flash a file to "
				 "it if you mean to)", f.version);
		} else if (!row->p->has_app && !pl->o->want.variant_set) {
			/* In Katapult (an interrupted update), a probe tells its MCU, interface and
			 * bus, never which variant it ran: the user names it, nobody guesses. A
			 * Klipper toolhead board in Katapult looks the same, so only a named probe
			 * comes here (--all takes applications that name Cartographer). */
			row->c.verdict = CATALOG_NONE;
			row->c.index = -1;
			snprintf(row->c.reason, sizeof(row->c.reason), "variant_unknown");
			snprintf(row->c.why, sizeof(row->c.why),
				 "in Katapult, its variant is unknown: --variant full, lite, k1 or ht "
				 "writes the newest build of that variant (or flash a file)");
		} else if (!f.mcu[0] || catalog_choose(&f, &pl->o->want, pl->v, n, &row->c) < 0) {
			row->c.verdict = CATALOG_NONE;
			row->c.index = -1;
			snprintf(row->c.reason, sizeof(row->c.reason), "facts_unknown");
			snprintf(row->c.why, sizeof(row->c.why), "its MCU or interface is unknown");
		}
		if (row->c.verdict == CATALOG_FLASH) {
			row->recalibrate =
				catalog_recalibration(catalog_version_number(f.version),
						      pl->v[row->c.index].version);
		}
		pl->n++;
	}
}

/* ---- the plan ---- */

static void plan_json(const struct plan *pl, const struct plan_row *row)
{
	const struct discover_probe *p = row->p;
	const struct catalog_entry *e = entry_of(pl, row);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event", "update_plan", "probe",
			      name_of(p), "link", discover_link_name(p->link), "runs", runs_of(p),
			      "verdict", catalog_verdict_name(row->c.verdict), "reason",
			      row->c.reason);

	if (e) {
		char sha[65];

		for (int i = 0; i < 32; i++)
			snprintf(sha + 2 * i, 3, "%02x", e->info->sha256[i]);
		json_object_set_new(o, "file", json_string(e->path));
		json_object_set_new(o, "sha256", json_string(sha));
		json_object_set_new(o, "version", json_string(e->info->version));
		json_object_set_new(o, "known", json_string(catalog_known_name(e->known)));
		if (e->row && e->row->min_plugin_version[0])
			json_object_set_new(o, "min_plugin_version",
					    json_string(e->row->min_plugin_version));
	}
	if (row->recalibrate)
		json_object_set_new(o, "recalibrate", json_string(row->recalibrate));
	json_object_set_new(o, "why", json_string(row->c.why));
	jsonout_emit(o);
}

/* Before anything is written: a newer host plugin, a recalibration (images.md R9). With --json
 * the same words go to stderr, beside the plan's fields. */
static void plan_warnings(const struct plan *pl, const struct plan_row *row)
{
	const struct catalog_entry *e = entry_of(pl, row);
	const char *plugin = e && e->row && e->row->min_plugin_version[0] ?
				     e->row->min_plugin_version : NULL;

	if (row->c.verdict != CATALOG_FLASH)
		return;
	if (cli_common.json) {
		if (plugin)
			cf_log(CF_LOG_WARN, name_of(row->p), NULL,
			       "%s needs the host plugin %s or newer (min_plugin_version)",
			       e->info->version, plugin);
		if (row->recalibrate)
			cf_log(CF_LOG_WARN, name_of(row->p), NULL, "%s", row->recalibrate);
		return;
	}
	if (plugin)
		printf("%-24s warning: this release needs the host plugin %s or newer "
		       "(min_plugin_version)\n", "", plugin);
	if (row->recalibrate)
		printf("%-24s warning: %s\n", "", row->recalibrate);
}

static void print_plan(const struct plan *pl)
{
	if (!cli_common.json)
		printf("%-24s %-26s    %-8s %s\n", "PROBE", "RUNS", "PLAN", "FILE  WHY");
	for (size_t i = 0; i < pl->n; i++) {
		const struct plan_row *row = &pl->rows[i];
		const struct catalog_entry *e = entry_of(pl, row);

		if (cli_common.json)
			plan_json(pl, row);
		else
			printf("%-24s %-26s -> %-8s %s%s%s\n", name_of(row->p), runs_of(row->p),
			       catalog_verdict_name(row->c.verdict), e ? e->path : "",
			       e ? "  " : "", row->c.why);
		plan_warnings(pl, row);
	}
}

static int plan_exit(const struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		if (pl->rows[i].c.verdict == CATALOG_NONE)
			return cf_err_exit_code(CF_ERR_REFUSED);
	return 0;
}

/* A --uuid / --serial that no answering probe matched: one error object naming them all
 * (exit 69) before anything is written; a probe only configured (silent) does not answer. */
static int missing_picks(const struct update_opts *o, const struct discover_result *r)
{
	char names[512] = "";
	struct cf_failure f;
	size_t len = 0, count = 0;

	for (size_t i = 0; i < o->npicks; i++) {
		bool found = false;

		for (size_t j = 0; j < r->count && !found; j++)
			found = r->v[j].mode != DISCOVER_MODE_SILENT && picked(o, &r->v[j]) &&
				(!strcasecmp(o->picks[i], r->v[j].uuid) ||
				 !strcasecmp(o->picks[i], r->v[j].serial));
		if (found)
			continue;
		len += (size_t)snprintf(names + len, len < sizeof(names) ? sizeof(names) - len : 0,
					"%s%s", count++ ? ", " : "", o->picks[i]);
	}
	if (!count)
		return 0;
	cf_failure_clear(&f);
	cf_failure_set(&f, CF_ERR_NO_DEVICE, "discover",
		       "no probe answered as %s (Klipper, its config, %zu CAN interface%s, %s)",
		       names, r->nbuses, r->nbuses == 1 ? "" : "s",
		       o->disc.usb ? "USB" : "USB left out");
	cf_failure_set_device(&f, "probe %s", names);
	cf_failure_set_hint(&f, "nothing was written; `cartoflash status` lists what answers: check "
				"the UUID or serial, the wiring and power, or name its bus with --can");
	return cli_fail(&f);
}

/* ---- the outcome ---- */

struct outcome {
	const char *result; /* updated failed current verified verify_failed ahead no_build skipped */
	bool ok, written;
	int exit_code;
	const char *after; /* the version it runs now, NULL when unknown */
};

static struct outcome outcome_of(const struct plan *pl, const struct plan_row *row)
{
	const struct catalog_entry *e = entry_of(pl, row);
	const char *runs = row->p->has_app ? row->p->app.app.version : NULL;
	struct outcome out = { .ok = true, .after = runs };

	if (row->target >= 0) {
		out.ok = row->err == CF_OK;
		out.exit_code = cf_err_exit_code(row->err);
		if (row->verify) {
			out.result = out.ok ? "verified" : "verify_failed";
		} else {
			out.result = out.ok ? "updated" : "failed";
			out.written = out.ok;
			out.after = out.ok && e ? e->info->version : NULL;
		}
		return out;
	}
	switch (row->c.verdict) {
	case CATALOG_CURRENT:
		out.result = "current";
		break;
	case CATALOG_AHEAD:
		out.result = "ahead";
		break;
	default:
		out.result = row->c.verdict == CATALOG_NONE ? "no_build" : "skipped";
		out.ok = false;
		out.exit_code = cf_err_exit_code(CF_ERR_REFUSED);
	}
	return out;
}

static void result_json(const struct plan *pl, const struct plan_row *row)
{
	const struct outcome out = outcome_of(pl, row);
	const struct catalog_entry *e = entry_of(pl, row);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:i}", "event",
			      "update_result", "probe", name_of(row->p), "link",
			      discover_link_name(row->p->link), "verdict",
			      catalog_verdict_name(row->c.verdict), "reason", row->c.reason,
			      "result", out.result, "ok", out.ok, "written", out.written,
			      "exit_code", out.exit_code);

	if (row->p->has_app)
		json_object_set_new(o, "previous_version", json_string(row->p->app.app.version));
	if (out.after)
		json_object_set_new(o, "version", json_string(out.after));
	if (e)
		json_object_set_new(o, "file", json_string(e->path));
	if (row->target >= 0)
		json_object_set_new(o, "code", json_string(cf_err_name(row->err)));
	if (out.written && row->recalibrate)
		json_object_set_new(o, "recalibrate", json_string(row->recalibrate));
	jsonout_emit(o);
}

/* The final table: probe, old -> new version, result; the recalibration banner after it. */
static void print_final(const struct plan *pl)
{
	printf("\n%-24s %-26s    %-26s %s\n", "PROBE", "BEFORE", "AFTER", "RESULT");
	for (size_t i = 0; i < pl->n; i++) {
		const struct plan_row *row = &pl->rows[i];
		const struct outcome out = outcome_of(pl, row);

		printf("%-24s %-26s -> %-26s %s", name_of(row->p), runs_of(row->p),
		       out.after ? out.after : "?", out.result);
		if (row->target >= 0 && !out.ok)
			printf(" (%s, exit %d)", cf_err_name(row->err), out.exit_code);
		else if (row->target < 0 && row->c.verdict != CATALOG_FLASH)
			printf(": %s", row->c.why);
		printf("\n");
	}
	for (size_t i = 0; i < pl->n; i++) {
		const struct outcome out = outcome_of(pl, &pl->rows[i]);

		if (out.written && pl->rows[i].recalibrate)
			printf("%s: recalibrate: %s\n", name_of(pl->rows[i].p),
			       pl->rows[i].recalibrate);
	}
}

static void results_json(const struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		result_json(pl, &pl->rows[i]);
}

/* cmd_run.before_summary: each job's result, and in JSON the records before the summary. */
static void collect(struct fleet *fleet, void *ctx)
{
	struct plan *pl = ctx;

	for (size_t i = 0; i < pl->n; i++)
		if (pl->rows[i].target >= 0)
			pl->rows[i].err = fleet_get_result(fleet, pl->rows[i].target);
	pl->ran = true;
	if (cli_common.json)
		results_json(pl);
}

/* ---- the run ---- */

/* Into the run: a probe to write, or a current one to read back (--verify-current; not one
 * running another build, which cannot match). */
static bool in_run(const struct plan *pl, struct plan_row *row)
{
	row->verify = false;
	if (row->c.verdict == CATALOG_FLASH)
		return true;
	row->verify = pl->o->verify_current && row->c.verdict == CATALOG_CURRENT &&
		      strcmp(row->c.reason, "other_build");
	return row->verify;
}

static int add_target(struct cmd_targets *t, const struct discover_probe *p)
{
	if (p->link == DISCOVER_LINK_CAN)
		return cmd_targets_add(t, p->iface, p->uuid, NULL, NULL) < 0 ?
			       cf_err_exit_code(CF_ERR_USAGE) : 0;
	return cmd_targets_option(t, "update", CMD_OPT_SERIAL, p->tty) == 1 ?
		       0 : cf_err_exit_code(CF_ERR_USAGE);
}

static int run_rows(struct plan *pl)
{
	struct cmd_targets t = { 0 };
	struct image_file loaded[UPDATE_MAX], *images[UPDATE_MAX];
	bool verify[UPDATE_MAX];
	struct cmd_run run = { .steps = fleet_steps_flash, .nsteps = 5, .opts = pl->o->opts,
			       .verify_only = verify, .before_summary = collect, .ctx = pl };
	struct cf_failure f;
	size_t k = 0;
	int rc = 0;

	run.opts.force |= pl->o->want.variant_set ? UPDATER_FORCE_VARIANT : 0;
	/* the plan matched every build to the variant the probe runs (or --variant moves it) */
	liverun_cli.variants_chosen = true;
	for (size_t i = 0; i < pl->n && !rc; i++) {
		struct plan_row *row = &pl->rows[i];
		const struct catalog_entry *e = entry_of(pl, row);

		if (!e || !in_run(pl, row))
			continue;
		memset(&loaded[k], 0, sizeof(loaded[k]));
		cf_failure_clear(&f);
		if (fwsource_read_entry(e, &loaded[k].data, &loaded[k].len, &f) < 0) {
			rc = cli_fail(&f);
			break;
		}
		snprintf(loaded[k].path, sizeof(loaded[k].path), "%s", e->path);
		loaded[k].info = *e->info;
		images[k] = &loaded[k];
		verify[k] = row->verify;
		row->target = (int)k++;
		rc = add_target(&t, row->p);
	}
	if (!rc && k)
		rc = cmd_run_targets(&t, images, &run);
	for (size_t i = 0; i < k; i++)
		image_file_fini(&loaded[i]);
	cmd_targets_fini(&t);
	return rc;
}

static size_t count_run(struct plan *pl)
{
	size_t todo = 0;

	for (size_t i = 0; i < pl->n; i++)
		todo += entry_of(pl, &pl->rows[i]) && in_run(pl, &pl->rows[i]);
	return todo;
}

static int plan_and_run(struct plan *pl, const struct discover_result *r, size_t n)
{
	size_t todo;
	int rc, run_rc;

	make_plan(pl, r, n);
	print_plan(pl);
	rc = plan_exit(pl);
	if (!pl->n && !cli_common.json)
		printf("no probe %s\n", pl->o->all ? "found" : "matches --uuid/--serial");
	if (!pl->o->all && (run_rc = missing_picks(pl->o, r)))
		return run_rc;
	todo = count_run(pl);
	if (pl->o->opts.dry_run || !todo) {
		if (cli_common.json) {
			if (!pl->o->opts.dry_run)
				results_json(pl);
			jsonout_emit(json_pack("{s:s, s:i, s:i, s:i}", "event", "summary", "devices",
					       (int)pl->n, "to_write", (int)todo, "exit_code", rc));
		}
		return rc;
	}
	fflush(stdout);
	run_rc = run_rows(pl);
	if (pl->ran && !cli_common.json)
		print_final(pl);
	return run_rc ? run_rc : rc; /* the run's exit code outranks the plan's */
}

int update_plan_run(const struct update_opts *o, const struct catalog_entry *v, size_t n)
{
	struct plan *pl = calloc(1, sizeof(*pl));
	struct discover_result *r = calloc(1, sizeof(*r));
	struct loop *loop = loop_new();
	int rc = cf_err_exit_code(CF_ERR_NOMEM);

	if (!pl || !r || !loop)
		goto out;
	pl->o = o;
	pl->v = v;
	rc = discover_run(loop, &o->disc, r);
	rc = rc < 0 ? cf_err_exit_code(rc) : plan_and_run(pl, r, n);
out:
	discover_result_fini(r);
	free(r);
	free(pl);
	loop_free(loop);
	return rc;
}
