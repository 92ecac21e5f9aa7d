// SPDX-License-Identifier: GPL-3.0-or-later
// Progress bars, plain progress lines, --json events and the final per-device table.
#include "report.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failure.h"
#include "log.h"
#include "protocol/err.h"
#include "updater.h"

#define BAR_WIDTH 24
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
};

struct report {
	enum report_style style;
	FILE *out, *err;
	struct report_device *devs;
	int count, cap;
	int drawn_lines; /* bar lines currently on screen */
	uint64_t last_draw_us;
};

struct report *report_new(enum report_style style, FILE *out, FILE *err)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (style == REPORT_AUTO)
		style = isatty(fileno(err)) ? REPORT_BARS : REPORT_PLAIN;
	r->style = style;
	r->out = out;
	r->err = err;
	return r;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->count; i++)
		free(r->devs[i].summary);
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

static void emit_json(struct report *r, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));

	if (text) {
		fprintf(r->out, "%s\n", text);
		fflush(r->out);
		free(text);
	}
	json_decref(obj);
}

/* ---- terminal bars ---- */

static void format_bar(const struct report_device *d, uint64_t now, char *buf, size_t cap)
{
	char bar[BAR_WIDTH + 1];
	unsigned fill = d->total ? (unsigned)(d->done * BAR_WIDTH / d->total) : 0;
	double secs = (double)(now - d->stage_start_us) / 1e6;
	double rate = secs > 0 ? (double)d->done / secs : 0;

	for (unsigned i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	if (d->finished) {
		snprintf(buf, cap, "%-34.34s %-8s %.100s", d->label, d->err ? "FAILED" : "done",
			 d->err ? cf_err_name(d->err) : d->summary ? d->summary : "");
	} else if (d->total) {
		double eta = rate > 0 ? (double)(d->total - d->done) / rate : 0;
		snprintf(buf, cap, "%-34.34s %-8s [%s] %3u%% %6.1f KiB/s ETA %4.1fs", d->label,
			 d->stage, bar, (unsigned)(d->done * 100 / d->total), rate / 1024, eta);
	} else {
		snprintf(buf, cap, "%-34.34s %-8s", d->label, d->stage);
	}
}

static void draw_bars(struct report *r, uint64_t now, bool force)
{
	char line[256];

	if (!force && now - r->last_draw_us < BAR_REDRAW_US)
		return;
	r->last_draw_us = now;
	if (r->drawn_lines)
		fprintf(r->err, "\033[%dA", r->drawn_lines);
	for (int i = 0; i < r->count; i++) {
		format_bar(&r->devs[i], now, line, sizeof(line));
		fprintf(r->err, "\r\033[K%s\n", line);
	}
	r->drawn_lines = r->count;
	fflush(r->err);
}

/* ---- events ---- */

/* -q (style.md §2.8: errors only): no stage, progress or "done" lines on the terminal; the
 * result table on stdout, errors and --json stay. One rule for every verb. */
static bool chatty(const struct report *r)
{
	return r->style == REPORT_JSON || cf_log_enabled(CF_LOG_WARN);
}

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
	if (r->style == REPORT_BARS && r->drawn_lines) {
		fprintf(r->err, "\033[%dA\r\033[K", r->drawn_lines);
		r->drawn_lines = 0;
	}
	fprintf(r->err, "%s: %s\n", r->devs[dev].label, text);
	if (r->style == REPORT_BARS)
		draw_bars(r, cf_now_us(), true);
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
		if (chatty(r))
			draw_bars(r, now_us, true);
		if (err)
			fprintf(r->err, "cartoflash: %s\n", d->failure_line);
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
