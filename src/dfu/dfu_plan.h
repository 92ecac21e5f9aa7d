/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erase/write planning for DFU recovery: the union of pages, each erased once (dfu.md §2.6). */
#ifndef CARTOFLASH_SRC_DFU_DFU_PLAN_H
#define CARTOFLASH_SRC_DFU_DFU_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "protocol/dfu.h"

#define DFU_PLAN_MAX_IMAGES 2
#define DFU_PLAN_MAX_PAGES  512
#define DFU_PLAN_ALIGN	    8 /* dfu.md §2.2: keep writes a multiple of 8 bytes, 0xFF padded */

struct dfu_plan_image {
	const char *name; /* "bootloader", "application", "full image": borrowed */
	uint32_t address;
	const uint8_t *data; /* borrowed */
	size_t len;
};

struct dfu_plan {
	size_t count; /* images, in address order: the bootloader region is written first */
	struct dfu_plan_image img[DFU_PLAN_MAX_IMAGES];
	bool mass_erase; /* one "41" instead of the page list */
	size_t npages;
	uint32_t page[DFU_PLAN_MAX_PAGES]; /* start addresses, ascending, each once */
	uint32_t page_size[DFU_PLAN_MAX_PAGES];
	size_t total_len; /* image bytes */
	/* What the run leaves in flash, read back byte for byte: from the first image to the end
	 * of the last, 0xFF between them (issue #15: --bootloader K --app A leaves the chip as a
	 * full image of the two would). */
	uint32_t span_start, span_end;
};

/*
 * Check imgs[0..n) against the layout and plan the erase: every byte inside a writeable (and,
 * without mass erase, erasable) segment, no two images overlapping once padded to 8 bytes, and
 * the pages touched by all images and by the gap between them erased once. Returns 0,
 * CF_ERR_REFUSED with a sentence in why (the address and the reason), or CF_ERR_USAGE (no
 * image, too many). Pure, never blocks.
 */
int dfu_plan_build(struct dfu_plan *plan, const struct dfu_layout *layout,
		   const struct dfu_plan_image *imgs, size_t n, bool mass_erase, char *why,
		   size_t why_cap);

/* Length of image i once padded to DFU_PLAN_ALIGN. */
size_t dfu_plan_padded_len(const struct dfu_plan_image *img);

/* The human plan for --dry-run: pages to erase, then the writes in order. */
void dfu_plan_print(const struct dfu_plan *plan, FILE *out);

#endif
