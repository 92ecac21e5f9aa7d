/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the user sees: progress bars on a terminal, plain lines otherwise, or --json events. */
#ifndef CARTOFLASH_SRC_REPORT_H
#define CARTOFLASH_SRC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cf_failure;
struct device_identity;
struct report;

enum report_style {
	REPORT_AUTO,  /* bars when stderr is a terminal (not TERM=dumb), else plain lines */
	REPORT_BARS,  /* one redrawn progress line per device on stderr, cut to its width */
	REPORT_PLAIN, /* one line per stage and per 25 % on stderr */
	REPORT_JSON,  /* one JSON object per line on stdout, summary last */
};

/*
 * Results go to out (stdout), progress and messages to err (stderr), so `--json | jq` works.
 * Caller frees with report_free. Returns NULL on allocation failure.
 */
struct report *report_new(enum report_style style, FILE *out, FILE *err);
void report_free(struct report *r);
bool report_is_json(const struct report *r);

/* Register a device line; returns its index (>= 0) or CF_ERR_NOMEM. label is copied. */
int report_add_device(struct report *r, const char *label);
void report_set_label(struct report *r, int dev, const char *label);

/*
 * The image this device gets, for the structured fields of its JSON result (docs/json.md):
 * file, SHA-256 of its bytes, dictionary version ("" none), and whether the SHA-256 is a known
 * release build (R7). Strings are copied.
 */
void report_set_image(struct report *r, int dev, const char *path, const uint8_t sha256[32],
		      const char *version, bool known_release);

/* A stage began ("connect", "write", ...). */
void report_stage(struct report *r, int dev, const char *stage, uint64_t now_us);
/* Progress inside a stage; throttled internally (bars ~10 Hz, JSON every 10 %). */
void report_progress(struct report *r, int dev, const char *stage, size_t done, size_t total,
		     uint64_t now_us);
/* An informational line about one device (info level; JSON "message" event). */
void report_message(struct report *r, int dev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The device's outcome. err = 0 or negative cf_err; f carries stage/detail/hint when err < 0
 * (may be NULL); id (may be NULL) fills the JSON identity fields; summary is a short text for
 * the table ("CARTOGRAPHER 5.1.0 written, 341 blocks verified").
 */
void report_result(struct report *r, int dev, int err, const struct cf_failure *f,
		   const struct device_identity *id, const char *summary, uint64_t now_us);

/* Called once per loop turn: redraws the bars when the terminal was resized (SIGWINCH). */
void report_tick(struct report *r, uint64_t now_us);

/* Final table (human) or summary object (JSON) when more than one device, or always in JSON. */
void report_summary(struct report *r);
/* Worst exit code over all results (0 when all succeeded). */
int report_exit_code(const struct report *r);

#endif
