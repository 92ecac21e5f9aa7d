/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every input file (image, Klipper config, manifest) read whole, bounded, from a regular file. */
#ifndef CARTOFLASH_SRC_INFILE_H
#define CARTOFLASH_SRC_INFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cf_failure;

/* What one kind of input accepts. */
struct infile_rules {
	const char *what; /* "firmware image", "Klipper config", "manifest": named in messages */
	size_t max_len;	  /* more bytes than this are refused without reading them all */
	int too_big;	  /* the code for "more than max_len": CF_ERR_IMAGE, CF_ERR_NOINPUT ... */
	bool stdin_ok;	  /* "-" reads standard input (a pipe or a redirected regular file) */
};

/* The bytes read; data is NUL-terminated one past len, so text parsers may use it as a string.
 * Owned by the struct: free with infile_fini. */
struct infile {
	uint8_t *data;
	size_t len;
};

/*
 * Read path into out. Only a regular file is read: a FIFO, a device, a socket or a directory is
 * refused before a byte is read (opening never blocks on a FIFO). "-" means standard input when
 * rules->stdin_ok, and then only a pipe, FIFO, socket or regular file (not a terminal or a
 * device). Never reads more than rules->max_len + 1 bytes.
 * Returns 0; CF_ERR_NOINPUT (cannot open, not a regular file, read error) or rules->too_big,
 * with why filled (device = the path or "standard input", stage "read", a hint); CF_ERR_NOMEM.
 * On failure out holds nothing to free. May block only on the read of standard input.
 */
int infile_read(const char *path, const struct infile_rules *rules, struct infile *out,
		struct cf_failure *why);

/* Free out's data (NULL-safe; out may be read into again). */
void infile_fini(struct infile *out);

/* "a FIFO", "a directory", "a character device" ... for a st_mode that is no regular file. */
const char *infile_kind_name(unsigned mode);

#endif
