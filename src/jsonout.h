/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The --json contract (docs/json.md): every line one object, "schema" first, summary last. */
#ifndef CARTOFLASH_SRC_JSONOUT_H
#define CARTOFLASH_SRC_JSONOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct cf_failure;

/* Version of the contract docs/json.md describes; carried in every line as "schema". Raised
 * only when a field changes meaning or goes away; new fields and events keep it. */
#define JSONOUT_SCHEMA 1

/*
 * Print obj as one line on stdout, "schema" first, then obj's keys in their order, and flush.
 * Steals obj (NULL is ignored). An object whose "event" is "summary" marks the run summarised.
 */
void jsonout_emit(json_t *obj);
/* The same onto out (a report's stream: tests give a memory stream). */
void jsonout_emit_to(FILE *out, json_t *obj);

/*
 * A failure before or outside a device's result (bad usage, unreadable image, bad manifest,
 * a refused image): one "error" event with code, exit_code, stage, device, detail, hint and
 * the one-line message, then a summary of no devices unless one was printed already.
 */
void jsonout_error(const struct cf_failure *f);

/* True once a summary line went out (a later error then adds no second summary). */
bool jsonout_summary_done(void);

#endif
