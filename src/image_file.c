// SPDX-License-Identifier: GPL-3.0-or-later
// Image files: one bounded reader, one size limit, raw .bin and DfuSe .dfu, one error text each.
#include "image_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "infile.h"
#include "protocol/dfu.h"
#include "protocol/err.h"

static int fail(struct cf_failure *why, const char *path, int code, const char *hint,
		const char *fmt, const char *what)
{
	cf_failure_set(why, code, "image", fmt, path, what);
	cf_failure_set_hint(why, "%s", hint);
	return code;
}

int image_file_read(const char *path, uint8_t **data, size_t *len, struct cf_failure *why)
{
	/* The project's one bounded reader (infile.h): regular files and stdin only. */
	static const struct infile_rules rules = { .what = "firmware image",
						   .max_len = IMAGE_MAX_SIZE,
						   .too_big = CF_ERR_IMAGE,
						   .stdin_ok = true };
	struct infile in = { 0 };
	int err = infile_read(path, &rules, &in, why);

	*data = NULL;
	*len = 0;
	if (err < 0)
		return err;
	*data = in.data;
	*len = in.len;
	return CF_OK;
}

/* Classify data (owned by img from here on). */
static int classify(struct image_file *img, const char *path, struct cf_failure *why)
{
	uint8_t *scratch = malloc(IMAGE_SCRATCH_SIZE);
	int err;

	if (!scratch)
		return fail(why, path, CF_ERR_NOMEM, "retry", "%s: %s", "out of memory");
	err = image_inspect(img->data, img->len, scratch, IMAGE_SCRATCH_SIZE, &img->info);
	free(scratch);
	if (err < 0) {
		char hint[300];

		snprintf(hint, sizeof(hint), "`cartoflash inspect %.200s` shows what it is", path);
		return fail(why, img->path, CF_ERR_IMAGE, hint, "%s is %s",
			    "not a firmware image we know");
	}
	return CF_OK;
}

static int dfuse_fail(struct cf_failure *why, const char *path, int code, const char *fmt,
		      uint32_t a)
{
	char detail[160];

	snprintf(detail, sizeof(detail), fmt, a);
	cf_failure_set(why, code, "image", "%s: %s", path, detail);
	cf_failure_set_hint(why, "a recovery .dfu holds the bootloader at 0x08000000 and optionally "
				 "the application at 0x08002000 (dfuse-pack -b ADDR:FILE ...)");
	return code;
}

static int element(const char *path, const struct dfuse_element *e, struct image_file *out,
		   struct cf_failure *why)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%.200s@0x%08x", path, e->address);
	out->address = e->address;
	if (e->alt != 0 || (e->address != IMAGE_FLASH_BASE && e->address != IMAGE_APP_START))
		return dfuse_fail(why, path, CF_ERR_REFUSED,
				  "element at 0x%08x: only 0x08000000 and 0x08002000 of alt 0 "
				  "are written",
				  e->address);
	out->data = malloc(e->size ? e->size : 1);
	if (!out->data)
		return dfuse_fail(why, path, CF_ERR_NOMEM, "out of memory at 0x%08x", e->address);
	memcpy(out->data, e->data, e->size);
	out->len = e->size;
	return classify(out, path, why);
}

static int load_dfuse(const char *path, const uint8_t *raw, size_t len,
		      struct image_file out[IMAGE_FILE_MAX_PARTS], size_t *count,
		      struct cf_failure *why)
{
	struct dfuse_element el[IMAGE_FILE_MAX_PARTS + 2];
	size_t n = 0;
	int rc = dfuse_parse_file(raw, len, el, sizeof(el) / sizeof(el[0]), &n);

	if (rc < 0)
		return dfuse_fail(why, path, rc == CF_ERR_CRC ? CF_ERR_CRC : CF_ERR_IMAGE,
				  "not a valid DfuSe 1.1a file (%u)", (uint32_t)-rc);
	if (n > IMAGE_FILE_MAX_PARTS)
		return dfuse_fail(why, path, CF_ERR_REFUSED, "%u elements: at most two are written",
				  (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (el[j].address == el[i].address)
				rc = dfuse_fail(why, path, CF_ERR_REFUSED, "two elements at 0x%08x",
						el[i].address);
		if (rc == CF_OK)
			rc = element(path, &el[i], &out[i], why);
		*count = i + 1;
		if (rc < 0)
			return rc;
	}
	return CF_OK;
}

int image_file_load(const char *path, struct image_file out[IMAGE_FILE_MAX_PARTS], size_t *count,
		    struct cf_failure *why)
{
	uint8_t *raw;
	size_t len;
	int err = image_file_read(path, &raw, &len, why);

	*count = 0;
	memset(out, 0, IMAGE_FILE_MAX_PARTS * sizeof(*out));
	if (err < 0)
		return err;
	if (len >= DFUSE_PREFIX_LEN && !memcmp(raw, "DfuSe", 5)) {
		err = load_dfuse(path, raw, len, out, count, why);
		free(raw);
		if (err < 0) {
			for (size_t i = 0; i < *count; i++)
				image_file_fini(&out[i]);
			*count = 0;
		}
		return err;
	}
	snprintf(out[0].path, sizeof(out[0].path), "%.255s", path);
	out[0].data = raw;
	out[0].len = len;
	err = classify(&out[0], path, why);
	if (err < 0) {
		image_file_fini(&out[0]);
		return err;
	}
	*count = 1;
	return CF_OK;
}

int image_file_load_one(const char *path, struct image_file *out, struct cf_failure *why)
{
	struct image_file parts[IMAGE_FILE_MAX_PARTS];
	size_t count;
	int err;

	/* On failure out holds nothing to free: callers fini it on every path. */
	memset(out, 0, sizeof(*out));
	err = image_file_load(path, parts, &count, why);
	if (err < 0)
		return err;
	if (count != 1) {
		for (size_t i = 0; i < count; i++)
			image_file_fini(&parts[i]);
		cf_failure_set(why, CF_ERR_USAGE, "image",
			       "%s holds a bootloader and an application: Katapult writes one image",
			       path);
		cf_failure_set_hint(why, "flash the application alone, or write both with "
					 "`cartoflash recover --full %s`",
				    path);
		return CF_ERR_USAGE;
	}
	*out = parts[0];
	return CF_OK;
}

void image_file_fini(struct image_file *img)
{
	if (!img)
		return;
	free(img->data);
	img->data = NULL;
	img->len = 0;
}
