/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `cartoflash inspect --json`: one JSON object per classified file (keys as expected.json). */
#ifndef CARTOFLASH_SRC_INSPECT_JSON_H
#define CARTOFLASH_SRC_INSPECT_JSON_H

#include <stddef.h>
#include <stdint.h>

struct image_info;
struct inspect_check;

/*
 * Katapult transfer facts for an image flashed through Katapult: 64-byte blocks, data bytes
 * in the last one, and the SHA-1 over the 0xFF-padded blocks as flashtool prints it
 * (upper-case hex into sha1_hex[41]). Never fails.
 */
void inspect_katapult_transfer(const uint8_t *img, size_t len, size_t *blocks, size_t *last,
			       char sha1_hex[41]);

/* Where the bytes came from: a file, or one element (alt >= 0) of a DfuSe file. */
struct inspect_json_src {
	const char *file;
	int alt; /* -1: the whole file */
	uint32_t address;
};

/*
 * Write one line to stdout: the object for src with its classification (info may be NULL when
 * the file could not be read), a "check" member with the verdict when check is non-NULL, and an
 * "error" member when err != 0 (code token, detail). name_warnings is the
 * image_name_warnings() mask. Returns 0, or CF_ERR_NOMEM / CF_ERR_IO.
 */
int inspect_json_print(const struct inspect_json_src *src, const uint8_t *img,
		       const struct image_info *info, unsigned name_warnings,
		       const struct inspect_check *check, int err, const char *detail);

#endif
