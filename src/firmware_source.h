/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Firmware sources: a directory tree as Cartographer ships it, a firmware_list.csv, or plain
 * files, read into a catalog of candidates judged by their bytes (issue 12). */
#ifndef CARTOFLASH_SRC_FIRMWARE_SOURCE_H
#define CARTOFLASH_SRC_FIRMWARE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/catalog.h"

struct cf_failure;
struct fwsource;

/* Counters over everything read, for the plan and --json. */
struct fwsource_stats {
	size_t files;	     /* regular files looked at */
	size_t firmware;     /* of them, firmware by content (any kind) */
	size_t other;	     /* not firmware (README, scripts, pictures ...): ignored */
	size_t duplicates;   /* same bytes as an earlier file: one entry, first path kept */
	size_t rows;	     /* firmware_list.csv rows read */
	size_t rows_missing; /* rows whose file is not there */
	size_t skipped;	     /* unreadable, too large, or past the walk limits */
};

/* An empty catalog; caller frees with fwsource_free. NULL without memory. */
struct fwsource *fwsource_new(void);
void fwsource_free(struct fwsource *s);

/*
 * Add what arg names: a directory (walked; a firmware_list.csv at its top is read as the
 * manifest of the files under it, resolved as Cartographer's fw_update.sh does: relative to
 * DIR/firmware/, else to DIR/), a CSV file (its rows are the candidates), or one firmware file.
 * Every file is classified by its bytes; the name and the CSV row only add checks. Returns 0,
 * or a negative cf_err with *f filled (stage "firmware source"): CF_ERR_NOINPUT (cannot open),
 * CF_ERR_IMAGE (a malformed CSV: the line is named), CF_ERR_NOMEM. Blocks on file I/O only.
 */
int fwsource_add(struct fwsource *s, const char *arg, struct cf_failure *f);

/* The judged entries, contiguous, valid until the next fwsource_add or fwsource_free. */
const struct catalog_entry *fwsource_entries(const struct fwsource *s, size_t *count);
const struct fwsource_stats *fwsource_get_stats(const struct fwsource *s);

/*
 * Read entry e's file again for writing: regular file, at most IMAGE_MAX_SIZE bytes, and its
 * SHA-256 must still be the one judged (a file changed since is refused: CF_ERR_IMAGE).
 * Returns 0 with a malloc'd *data (caller frees), or a negative cf_err with *f filled.
 */
int fwsource_read_entry(const struct catalog_entry *e, uint8_t **data, size_t *len,
			struct cf_failure *f);

/* SHA-256 of the compressed dictionary of an application image (what identify serves), or of
 * the bytes given. Helpers for comparing a probe with a build. */
void fwsource_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
bool fwsource_dict_sha256(const uint8_t *img, size_t len, const struct image_info *info,
			  uint8_t out[32]);

#endif
