/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The fleet manifest: an INI file with one section per probe, read and checked line by line. */
#ifndef CARTOFLASH_SRC_MANIFEST_H
#define CARTOFLASH_SRC_MANIFEST_H

#include <stddef.h>

#include "updater.h"

#define MANIFEST_MAX_PROBES 64
#define MANIFEST_MAX_LEN (1024u * 1024u) /* bytes; more is refused */
#define MANIFEST_MAX_LINE 1024		  /* characters in one line, newline excluded */
#define MANIFEST_NAME_MAX 63		  /* a section name, an interface, a UUID */
#define MANIFEST_PATH_MAX 255		  /* an image path, joined with the manifest's folder */

struct cf_failure;

/* One probe section, complete and checked: a known interface spec, a canonical UUID. */
struct manifest_probe {
	char name[MANIFEST_NAME_MAX + 1];
	char iface[MANIFEST_NAME_MAX + 1];
	char uuid[MANIFEST_NAME_MAX + 1]; /* canonical lower-case hex once parsed */
	char image[MANIFEST_PATH_MAX + 1];
	enum updater_switch switch_to;
	int line; /* of the [section] header */
};

struct manifest {
	struct manifest_probe v[MANIFEST_MAX_PROBES];
	int count;
};

/*
 * Parse manifest text (NUL-terminated). Refused, naming the line: a line longer than
 * MANIFEST_MAX_LINE, a section name, interface or UUID longer than MANIFEST_NAME_MAX or an image
 * longer than MANIFEST_PATH_MAX, a repeated [section], a key outside a section or unknown, a
 * bad switch_to, a bad UUID, a section without interface, uuid and image, the same probe named
 * twice, more than MANIFEST_MAX_PROBES sections, no section at all, a line that is no INI.
 * Relative image paths are joined with dir (NULL: kept as written). Allocates nothing.
 * Returns 0, or CF_ERR_USAGE with "line N: what" (or "no probe sections") in err.
 */
int manifest_parse(const char *text, const char *dir, struct manifest *m, char *err, size_t cap);

/*
 * Read path through infile (a regular file, at most MANIFEST_MAX_LEN) and parse it, image paths
 * relative to its folder. Returns 0; CF_ERR_NOINPUT (unreadable, not a regular file, too big) or
 * CF_ERR_USAGE (content) with why filled (device = path, stage "manifest", a hint); CF_ERR_NOMEM.
 */
int manifest_read(const char *path, struct manifest *m, struct cf_failure *why);

#endif
