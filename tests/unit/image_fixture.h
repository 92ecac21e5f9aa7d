/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Build a synthetic image with tools/mkimage and classify it: shared by the image tests.
 * Include after <cmocka.h>. */
#ifndef CARTOFLASH_TESTS_UNIT_IMAGE_FIXTURE_H
#define CARTOFLASH_TESTS_UNIT_IMAGE_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>

#include "protocol/image.h"
#include "tools/mkimage/mkimage.h"

#define F 0x08000000u /* flash base */
#define A 0x08002000u /* application start behind an 8 KiB Katapult */

static uint8_t scratch[IMAGE_SCRATCH_SIZE];

/* Classify a malloc'd image, free it, and return image_inspect's result. */
static inline int inspect_owned(uint8_t *img, size_t len, struct image_info *out)
{
	const int rc = image_inspect(img, len, scratch, sizeof(scratch), out);

	free(img);
	return rc;
}

static inline int app(const struct mkimage_app_opts *o, struct image_info *out)
{
	uint8_t *img;
	size_t len;

	assert_int_equal(mkimage_app(o, &img, &len), 0);
	return inspect_owned(img, len, out);
}

static inline int katapult(const struct mkimage_katapult_opts *o, struct image_info *out)
{
	uint8_t *img;
	size_t len;

	assert_int_equal(mkimage_katapult(o, &img, &len), 0);
	return inspect_owned(img, len, out);
}

static inline int full(const struct mkimage_full_opts *o, struct image_info *out)
{
	uint8_t *img;
	size_t len;

	assert_int_equal(mkimage_full(o, &img, &len), 0);
	return inspect_owned(img, len, out);
}

static inline int deployer(const struct mkimage_deployer_opts *o, struct image_info *out)
{
	uint8_t *img;
	size_t len;

	assert_int_equal(mkimage_deployer(o, &img, &len), 0);
	return inspect_owned(img, len, out);
}

#endif
