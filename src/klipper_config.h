/* SPDX-License-Identifier: GPL-3.0-or-later */
/* canbus_uuid entries of Klipper config files (printer.cfg and what it includes). */
#ifndef CARTOFLASH_SRC_KLIPPER_CONFIG_H
#define CARTOFLASH_SRC_KLIPPER_CONFIG_H

#include <stddef.h>

#include "failure.h"

#define KLIPPER_CONFIG_MAX_LEN (4u * 1024u * 1024u) /* one file; more is refused */
#define KLIPPER_CONFIG_MAX_FILES 256u		     /* files read, includes counted */

struct klipper_config_entry {
	char uuid[13];	   /* canonical lower-case hex */
	char section[64];  /* "mcu scanner", "cartographer" ... */
	char file[256];
};

struct klipper_config {
	struct klipper_config_entry *v;
	size_t count, cap;
	unsigned files;	   /* files read, includes counted */
	unsigned bad_lines; /* lines inih could not parse (Klipper syntax it does not know) */
	unsigned unread_files; /* includes that could not be read (warned, skipped) */
	struct cf_failure fail; /* why klipper_config_read failed: the top file named */
	char *seen[KLIPPER_CONFIG_MAX_FILES]; /* real paths read, so none is read twice */
	unsigned nseen;
};

/*
 * Read path with inih, tolerant as Klipper is: duplicate keys, "key: value", '#' comments,
 * indented continuation lines, lines inih rejects (counted, skipped), values that are no
 * UUID (skipped). Follows [include GLOB] relative to the including file, 8 levels deep, each
 * file once, at most KLIPPER_CONFIG_MAX_FILES; an include that cannot be read is warned about
 * and counted. Every file is read through infile (regular files only, at most
 * KLIPPER_CONFIG_MAX_LEN). Entries are appended to cfg (the same UUID once per file and section).
 * Returns 0; CF_ERR_NOINPUT when path is not a readable regular file within the bound (cfg->fail
 * says why, naming it); CF_ERR_NOMEM.
 */
int klipper_config_read(struct klipper_config *cfg, const char *path);

/* Parse one file's text (NUL-terminated) as if read from file; no includes followed. Returns 0
 * or CF_ERR_NOMEM. */
int klipper_config_parse(struct klipper_config *cfg, const char *file, const char *text);

/*
 * Find the next "[include GLOB]" line start in text; copies GLOB (trimmed, cut to cap) into
 * pattern and returns where to continue, or NULL when there is none.
 */
const char *klipper_config_next_include(const char *text, char *pattern, size_t cap);
/* The first entry for uuid, or NULL. Borrowed from cfg. */
const struct klipper_config_entry *klipper_config_find(const struct klipper_config *cfg,
						       const char *uuid);
void klipper_config_fini(struct klipper_config *cfg);

#endif
