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
 * (cfg->image at 0x08000000: full or katapult; cfg->app_image at 0x08002000, 0xFF between);
 * write reads the planned pages, then erases, writes and reads back the bootloader region
 * before it erases and writes the application's pages, each page erased at most once (design
 * rule 5); verify reads every byte of the span back; finish leaves DFU mode (a vanishing
 * device counts as success) and follows the probe back over USB, or on the CAN bus
 * cfg->target.iface for a CAN build, until opts.timeout_us (default 5 s). With
 * opts.timeout_us set, identify also waits that long for the ROM to appear, or to come back
 * when it is listed but gone. The DfuSe work is a dfu_session (sans-I/O) that a dfu_pump
 * binds to libusb and cfg->loop; every op returns at once.
 */
extern const struct updater_ops dfu_ops;

/* The plan made by check_image (NULL before). Borrowed, valid until updater_free. */
const struct dfu_plan *dfu_backend_get_plan(struct updater *u);

#endif
