/* SPDX-License-Identifier: GPL-3.0-or-later */
/* canbus_uuid entries of Klipper config files (printer.cfg and what it includes). */
#ifndef CARTOFLASH_SRC_KLIPPER_CONFIG_H
#define CARTOFLASH_SRC_KLIPPER_CONFIG_H

#include <stddef.h>

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
};

/*
 * Read path with inih, tolerant as Klipper is: duplicate keys, "key: value", '#' comments,
 * indented continuation lines, lines inih rejects (counted, skipped), values that are no
 * UUID (skipped). Follows [include GLOB] relative to the including file, 8 levels deep.
 * Entries are appended to cfg (the same UUID once per file and section).
 * Returns 0, CF_ERR_NOINPUT when path cannot be opened, CF_ERR_NOMEM.
 */
int klipper_config_read(struct klipper_config *cfg, const char *path);
/* The first entry for uuid, or NULL. Borrowed from cfg. */
const struct klipper_config_entry *klipper_config_find(const struct klipper_config *cfg,
						       const char *uuid);
void klipper_config_fini(struct klipper_config *cfg);

#endif
