/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The DFU recovery updater: STM32 ROM DfuSe behind struct updater_ops (design.md rule 5). */
#ifndef CARTOFLASH_SRC_DFU_DFU_BACKEND_H
#define CARTOFLASH_SRC_DFU_DFU_BACKEND_H

#include "updater.h"

struct dfu_plan;

/*
 * "dfu": identify finds and opens the ROM (cfg->target.usb_path selects by USB path "1-1.2",
 * or holds "VID:PID" in hex to match other DfuSe devices; several matches are refused and
 * listed), gets it idle and probes read protection (opts.unprotect removes it, waits for the
 * ROM to come back and carries on); check_image applies R1/R2/R5/R6 and plans the erase
 * (cfg->image at 0x08000000: full or katapult; cfg->app_image at 0x08002000); write reads the
 * planned pages, erases each page that needs it once, writes in address order and reads the
 * bootloader region back before the first application block (design rule 5); verify reads
 * every image byte back; finish leaves DFU mode (a vanishing device counts as success) and
 * follows the probe back over USB, or on the CAN bus cfg->target.iface for a CAN build, until
 * opts.timeout_us (default 5 s). With opts.timeout_us set, identify also waits that long for
 * the ROM to appear. Every op returns at once; the work runs on cfg->loop.
 */
extern const struct updater_ops dfu_ops;

/* The plan made by check_image (NULL before). Borrowed, valid until updater_free. */
const struct dfu_plan *dfu_backend_get_plan(struct updater *u);

#endif
