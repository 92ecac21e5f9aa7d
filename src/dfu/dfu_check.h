/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recovery images against the ROM before anything is erased: refusal rules, then the plan. */
#ifndef CARTOFLASH_SRC_DFU_DFU_CHECK_H
#define CARTOFLASH_SRC_DFU_DFU_CHECK_H

#include <stdbool.h>

struct cf_failure;
struct dfu_layout;
struct dfu_plan;
struct updater_config;

/*
 * design.md rule 4 for recovery: cfg->image at 0x08000000 (full or Katapult) and
 * cfg->app_image at 0x08002000 against the layout (images.md R1, R2, R5, R6, and R6 between
 * the two), then the erase plan (writeable pages, no overlap, each page once). Returns 0 with
 * plan filled, or the refusal (CF_ERR_REFUSED, CF_ERR_USAGE) with f's stage, detail and hint
 * set. Pure: no I/O.
 */
int dfu_check_plan(const struct updater_config *cfg, const struct dfu_layout *layout,
		   struct dfu_plan *plan, struct cf_failure *f);

/* Whether a page that reads all 0xFF may be left unerased: the image's MCU has no flash ECC
 * in protocol/mcu's table (F0, F1, F4; on G4, L4, H7 a double word once programmed with ones
 * is not erased). */
bool dfu_check_blank_is_erased(const struct updater_config *cfg);

#endif
