/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one image loader of every verb: a bounded read, then a raw .bin or a DfuSe .dfu. */
#ifndef CARTOFLASH_SRC_IMAGE_FILE_H
#define CARTOFLASH_SRC_IMAGE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/image.h"

struct cf_failure;

/* A loaded and classified image. */
struct image_file {
	char path[256];	  /* as named; "PATH@0x08002000" for an element of a DfuSe file */
	uint8_t *data;	  /* caller frees with image_file_fini */
	size_t len;
	uint32_t address; /* the DfuSe element's address; 0 for a raw image */
	struct image_info info;
};

/* A DfuSe file holds at most these images: the bootloader at 0x08000000, the application at
 * 0x08002000 (dfu.md §1.9). */
#define IMAGE_FILE_MAX_PARTS 2

/*
 * Read all of path ("-" is stdin) through the one bounded reader (infile_read): a regular
 * file, at most IMAGE_MAX_SIZE bytes, the one size limit of every input image. Returns 0 with
 * *data (caller frees with free()) and *len; or fills why (stage "read", device = path) and
 * returns CF_ERR_NOINPUT (cannot open or read, not a regular file), CF_ERR_IMAGE (larger than
 * the limit) or CF_ERR_NOMEM. May block on the file system.
 */
int image_file_read(const char *path, uint8_t **data, size_t *len, struct cf_failure *why);

/*
 * Read and classify path. A raw image fills out[0]; a DfuSe file (dfu.md §1.9) fills one entry
 * per element, in the file's order, and only elements of alt 0 at 0x08000000 or 0x08002000 are
 * taken. Returns 0 with *count entries (free each with image_file_fini), or a negative cf_err
 * with why filled (the one error text per cause): CF_ERR_NOINPUT, CF_ERR_IMAGE (too large, not
 * a firmware image we know, a broken DfuSe file), CF_ERR_CRC, CF_ERR_REFUSED (a DfuSe element
 * elsewhere), CF_ERR_NOMEM. On failure nothing is left to free.
 */
int image_file_load(const char *path, struct image_file out[IMAGE_FILE_MAX_PARTS], size_t *count,
		    struct cf_failure *why);

/*
 * One image to write through Katapult: a raw image, or a DfuSe file with one element. Same
 * returns as image_file_load; a DfuSe file with two elements is CF_ERR_USAGE. On failure out
 * is zeroed (image_file_fini on it is safe).
 */
int image_file_load_one(const char *path, struct image_file *out, struct cf_failure *why);

/* Free the data; NULL-safe, idempotent. */
void image_file_fini(struct image_file *img);

#endif
