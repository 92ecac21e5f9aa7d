// SPDX-License-Identifier: GPL-3.0-or-later
// Progress bars, plain progress lines, --json events and the final per-device table.
#include "report.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failure.h"
#include "jsonout.h"
#include "log.h"
#include "protocol/err.h"
#include "report_term.h"
#include "updater.h"

#define BAR_REDRAW_US 100000u /* 10 Hz is smooth enough and cheap over ssh */

struct report_device {
	char label[96];
	char stage[24];
	size_t done, total;
	uint64_t start_us, stage_start_us, end_us;
	unsigned last_step; /* last reported progress step (plain: quarters, JSON: tenths) */
	bool finished;
	int err;
	char *summary; /* heap, NULL = "" */
	char failure_line[512];
	int drawn_cols; /* visible columns of its line on screen, 0 when not drawn */
	bool has_image, known_release; /* report_set_image */
	char image[256], sha256[65], version[96];
};

struct report {
	enum report_style style;
	FILE *out, *err;
	struct report_device *devs;
	int count, cap;
	int drawn_lines; /* bar lines currently on screen */
	int drawn_extra; /* columns of the "more devices" line on screen, 0 when none */
	uint64_t last_draw_us;
	struct report_term term;
};

static void on_log_line(void *ctx, int phase);

struct report *report_new(enum report_style style, FILE *out, FILE *err)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (style == REPORT_AUTO)
		style = report_term_capable(fileno(err)) ? REPORT_BARS : REPORT_PLAIN;
	r->style = style;
	r->out = out;
	r->err = err;
	report_term_query(&r->term, fileno(err));
	if (style == REPORT_BARS) {
		report_term_watch(true);
		cf_log_set_hook(on_log_line, r);
	}
	return r;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->count; i++)
		free(r->devs[i].summary);
	if (r->style == REPORT_BARS) {
		report_term_watch(false);
		cf_log_set_hook(NULL, NULL);
	}
	free(r->devs);
	free(r);
}

bool report_is_json(const struct report *r)
{
	return r->style == REPORT_JSON;
}

int report_add_device(struct report *r, const char *label)
{
	if (r->count == r->cap) {
		int cap = r->cap ? r->cap * 2 : 8;
		struct report_device *d = realloc(r->devs, (size_t)cap * sizeof(*d));
		if (!d)
			return CF_ERR_NOMEM;
		r->devs = d;
		r->cap = cap;
	}
	memset(&r->devs[r->count], 0, sizeof(r->devs[0]));
	snprintf(r->devs[r->count].label, sizeof(r->devs[0].label), "%s", label);
	return r->count++;
}

void report_set_label(struct report *r, int dev, const char *label)
{
	snprintf(r->devs[dev].label, sizeof(r->devs[dev].label), "%s", label);
}

void report_set_image(struct report *r, int dev, const char *path, const uint8_t sha256[32],
		      const char *version, bool known_release)
{
	struct report_device *d = &r->devs[dev];

	d->has_image = true;
	d->known_release = known_release;
	snprintf(d->image, sizeof(d->image), "%s", path);
	for (int i = 0; i < 32; i++)
		snprintf(d->sha256 + 2 * i, 3, "%02x", sha256[i]);
	snprintf(d->version, sizeof(d->version), "%s", version ? version : "");
}

/* Every JSON line goes through jsonout (docs/json.md: "schema" first, summary last). */
static void emit_json(struct report *r, json_t *obj)
{
	jsonout_emit_to(r->out, obj);
}

/* ---- terminal bars (layout in report_term.c) ---- */

/* -q (style.md §2.8: errors only): no stage, progress or "done" lines on the terminal; the
 * result table on stdout, errors and --json stay. One rule for every verb. */
static bool chatty(const struct report *r)
{
	return r->style == REPORT_JSON || cf_log_enabled(CF_LOG_WARN);
}

static void format_bar(struct report *r, const struct report_device *d, uint64_t now, char *buf,
		       size_t cap, int *cols)
{
	double secs = (double)(now - d->stage_start_us) / 1e6;
	double rate = secs > 0 ? (double)d->done / secs : 0;
	struct report_term_line l = {
		.label = d->label,
		.stage = d->stage,
		.done = d->done,
		.total = d->total,
		.rate_bps = rate,
		.eta_s = rate > 0 ? (double)(d->total - d->done) / rate : 0,
		.finished = d->finished,
		.failed = d->err != 0,
		.detail = d->err ? cf_err_name(d->err) : d->summary ? d->summary : "",
	};

	*cols = report_term_format(buf, cap, r->term.width, r->term.colour, &l);
}

/* Rows the drawn block takes now: a terminal narrowed since may have re-wrapped its lines. */
static int drawn_rows(const struct report *r)
{
	int rows = 0, w = r->term.width > 1 ? r->term.width : 1;

	for (int i = 0; i < r->count; i++)
		if (r->devs[i].drawn_cols)
			rows += r->devs[i].drawn_cols > w ? (r->devs[i].drawn_cols + w - 1) / w : 1;
	if (r->drawn_extra)
		rows += r->drawn_extra > w ? (r->drawn_extra + w - 1) / w : 1;
	return rows ? rows : r->drawn_lines;
}

/* Take the block off the screen: cursor to its first row, clear to the end of the screen. */
static void erase_bars(struct report *r)
{
	if (!r->drawn_lines)
		return;
	fprintf(r->err, "\033[%dA\r\033[J", drawn_rows(r));
	for (int i = 0; i < r->count; i++)
		r->devs[i].drawn_cols = 0;
	r->drawn_lines = r->drawn_extra = 0;
}

/*
 * Which devices get a line when there are more than the terminal has rows for: those still
 * running or failed first, then finished ones; the rest are counted on one more line.
 */
static bool shown(const struct report *r, int i, int room)
{
	int before = 0;

	if (r->count <= room)
		return true;
	for (int j = 0; j < r->count; j++) {
		bool quiet = r->devs[j].finished && !r->devs[j].err;
		bool mine = r->devs[i].finished && !r->devs[i].err;
		if (quiet == mine ? j < i : !quiet)
			before++;
	}
	return before < room - 1;
}

static void draw_bars(struct report *r, uint64_t now, bool force)
{
	char *frame, line[512];
	size_t n = 0, cap;
	int room, hidden = 0, ok = 0, cols;

	if (report_term_resized()) {
		report_term_query(&r->term, fileno(r->err));
		force = true;
	}
	if (!chatty(r) || (!force && now - r->last_draw_us < BAR_REDRAW_US))
		return;
	r->last_draw_us = now;
	fflush(r->out);
	erase_bars(r);
	room = r->term.rows > 2 ? r->term.rows - 1 : 1;
	cap = (size_t)(room < r->count ? room : r->count) * (sizeof(line) + 1) + 1;
	frame = malloc(cap);
	if (!frame)
		return;
	for (int i = 0; i < r->count; i++) {
		if (!shown(r, i, room)) {
			hidden++;
			ok += r->devs[i].finished && !r->devs[i].err;
			continue;
		}
		format_bar(r, &r->devs[i], now, line, sizeof(line), &cols);
		n += (size_t)snprintf(frame + n, cap - n, "%s\n", line);
		r->devs[i].drawn_cols = cols ? cols : 1;
		r->drawn_lines++;
	}
	if (hidden) {
		snprintf(line, sizeof(line), "... %d more: %d done, %d running or failed", hidden, ok,
			 hidden - ok);
		line[r->term.width > 1 && r->term.width - 1 < (int)sizeof(line) ? r->term.width - 1
										 : 0] = '\0';
		n += (size_t)snprintf(frame + n, cap - n, "%s\n", line);
		r->drawn_extra = (int)strlen(line) ? (int)strlen(line) : 1;
		r->drawn_lines++;
	}
	/* One write per frame: no flicker over ssh. */
	fwrite(frame, 1, n, r->err);
	fflush(r->err);
	free(frame);
}

/* A line of text above the bars (a message, a failure, a log line): the bars move below it. */
static void print_above(struct report *r, const char *text)
{
	erase_bars(r);
	fprintf(r->err, "%s\n", text);
	draw_bars(r, cf_now_us(), true);
}

static void on_log_line(void *ctx, int phase)
{
	struct report *r = ctx;

	/* -vvv logs every frame: the bars come back at most 10 times a second, not after each. */
	if (phase == 0)
		erase_bars(r);
	else if (r->count)
		draw_bars(r, cf_now_us(), false);
}

void report_tick(struct report *r, uint64_t now_us)
{
	if (r->style == REPORT_BARS && r->drawn_lines && report_term_resized()) {
		report_term_query(&r->term, fileno(r->err));
		draw_bars(r, now_us, true);
	}
}

/* ---- events ---- */


void report_stage(struct report *r, int dev, const char *stage, uint64_t now_us)
{
	struct report_device *d = &r->devs[dev];

	if (!d->start_us)
		d->start_us = now_us;
	snprintf(d->stage, sizeof(d->stage), "%s", stage);
	d->stage_start_us = now_us;
	d->done = d->total = 0;
	d->last_step = 0;
	if (!chatty(r))
		return;
	switch (r->style) {
	case REPORT_JSON:
		emit_json(r, json_pack("{s:s, s:s, s:s}", "event", "stage", "device", d->label,
				       "stage", stage));
		break;
	case REPORT_BARS:
		draw_bars(r, now_us, true);
		break;
	case REPORT_PLAIN:
		fprintf(r->err, "%s: %s\n", d->label, stage);
		break;
	case REPORT_AUTO:
		break;
	}
}

void report_progress(struct report *r, int dev, const char *stage, size_t done, size_t total,
		     uint64_t now_us)
{
	struct report_device *d = &r->devs[dev];
	unsigned step;

	if (strcmp(d->stage, stage))
		report_stage(r, dev, stage, now_us);
	d->done = done;
	d->total = total;
	if (!total || !chatty(r))
		return;
	switch (r->style) {
	case REPORT_JSON:
		step = (unsigned)(done * 10 / total);
		if (step == d->last_step && done != total)
			return;
		d->last_step = step;
		emit_json(r, json_pack("{s:s, s:s, s:s, s:I, s:I}", "event", "progress", "device",
				       d->label, "stage", stage, "done", (json_int_t)done, "total",
				       (json_int_t)total));
		break;
	case REPORT_BARS:
		draw_bars(r, now_us, done == total);
		break;
	case REPORT_PLAIN:
		step = (unsigned)(done * 4 / total);
		if (step == d->last_step)
			return;
		d->last_step = step;
		fprintf(r->err, "%s: %s %u%% (%zu/%zu bytes)\n", d->label, stage, step * 25, done,
			total);
		break;
	case REPORT_AUTO:
		break;
	}
}

void report_message(struct report *r, int dev, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r->style == REPORT_JSON) {
		emit_json(r, json_pack("{s:s, s:s, s:s}", "event", "message", "device",
				       r->devs[dev].label, "message", text));
		return;
	}
	if ((!cf_log_enabled(CF_LOG_INFO) && r->style == REPORT_BARS) || !chatty(r))
		return;
	if (r->style == REPORT_BARS) {
		char line[640];
		snprintf(line, sizeof(line), "%s: %s", r->devs[dev].label, text);
		print_above(r, line);
		return;
	}
	fprintf(r->err, "%s: %s\n", r->devs[dev].label, text);
}

static void set_nonempty(json_t *obj, const char *key, const char *value)
{
	if (value && value[0])
		json_object_set_new(obj, key, json_string(value));
}

static json_t *identity_json(const struct device_identity *id)
{
	json_t *obj = json_object();

	set_nonempty(obj, "uuid", id->can_uuid);
	set_nonempty(obj, "serial", id->uid_hex);
	set_nonempty(obj, "usb_path", id->usb_path);
	set_nonempty(obj, "tty", id->tty);
	set_nonempty(obj, "interface", id->iface);
	if (id->node_id >= 0 && id->iface[0] && !id->tty[0])
		json_object_set_new(obj, "node_id", json_integer(id->node_id));
	json_object_set_new(obj, "mode", json_string(device_mode_name(id->mode)));
	set_nonempty(obj, "mcu", id->mcu);
	set_nonempty(obj, "bootloader_version", id->bootloader_version);
	return obj;
}

void report_result(struct report *r, int dev, int err, const struct cf_failure *f,
		   const struct device_identity *id, const char *summary, uint64_t now_us)
{
	struct report_device *d = &r->devs[dev];

	d->finished = true;
	d->err = err;
	d->end_us = now_us;
	free(d->summary);
	d->summary = summary && summary[0] ? strdup(summary) : NULL;
	if (err && f)
		cf_failure_format(f, d->failure_line, sizeof(d->failure_line));
	else if (err)
		snprintf(d->failure_line, sizeof(d->failure_line), "%s", cf_strerror(err));
	switch (r->style) {
	case REPORT_JSON: {
		json_t *obj = json_pack("{s:s, s:s, s:b, s:s, s:i, s:f}", "event", "result",
					"device", d->label, "ok", err == 0, "code",
					cf_err_name(err), "exit_code", cf_err_exit_code(err),
					"seconds", (double)(now_us - d->start_us) / 1e6);
		if (id) {
			json_t *ids = identity_json(id);
			json_object_update(obj, ids);
			json_decref(ids);
		}
		if (d->has_image) {
			json_object_set_new(obj, "image", json_string(d->image));
			json_object_set_new(obj, "sha256", json_string(d->sha256));
			set_nonempty(obj, "version", d->version);
			json_object_set_new(obj, "known_release", json_boolean(d->known_release));
		}
		set_nonempty(obj, "summary", d->summary);
		if (err && f) {
			set_nonempty(obj, "stage", f->stage);
			set_nonempty(obj, "detail", f->detail);
			set_nonempty(obj, "hint", f->hint);
		}
		emit_json(r, obj);
		break;
	}
	case REPORT_BARS:
		if (err) {
			char line[600];
			snprintf(line, sizeof(line), "cartoflash: %s", d->failure_line);
			print_above(r, line);
		} else {
			draw_bars(r, now_us, true);
		}
		break;
	case REPORT_PLAIN:
		if (err)
			fprintf(r->err, "cartoflash: %s\n", d->failure_line);
		else if (chatty(r))
			fprintf(r->err, "%s: done%s%s\n", d->label, d->summary ? ": " : "",
				d->summary ? d->summary : "");
		break;
	case REPORT_AUTO:
		break;
	}
}

void report_summary(struct report *r)
{
	int ok = 0, width = 6;

	for (int i = 0; i < r->count; i++) {
		int len = (int)strlen(r->devs[i].label);
		ok += r->devs[i].finished && !r->devs[i].err;
		if (len > width)
			width = len;
	}
	if (r->style == REPORT_JSON) {
		emit_json(r, json_pack("{s:s, s:i, s:i, s:i, s:i}", "event", "summary", "devices",
				       r->count, "succeeded", ok, "failed", r->count - ok,
				       "exit_code", report_exit_code(r)));
		return;
	}
	fprintf(r->out, "%-*s  %-11s %7s  %s\n", width, "DEVICE", "RESULT", "TIME", "DETAIL");
	for (int i = 0; i < r->count; i++) {
		const struct report_device *d = &r->devs[i];
		double secs = d->end_us > d->start_us ? (double)(d->end_us - d->start_us) / 1e6 : 0;
		fprintf(r->out, "%-*s  %-11s %6.1fs  %s\n", width, d->label,
			!d->finished ? "pending" : d->err ? cf_err_name(d->err) : "ok", secs,
			d->err ? d->failure_line : d->summary ? d->summary : "");
	}
	fprintf(r->out, "%d of %d device%s succeeded\n", ok, r->count, r->count == 1 ? "" : "s");
	fflush(r->out);
}

int report_exit_code(const struct report *r)
{
	int worst = 0;

	for (int i = 0; i < r->count; i++) {
		int code = r->devs[i].finished ? cf_err_exit_code(r->devs[i].err)
					       : cf_err_exit_code(CF_ERR_OTHER);
		// Interrupted outranks everything: the user must learn the probes were left waiting.
		if (code == 130 || (worst != 130 && code > worst))
			worst = code;
	}
	return worst;
}
