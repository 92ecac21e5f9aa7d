/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `scan --dfu`: list devices in DFU mode (the STM32 ROM first of all) with path and layout. */
#ifndef CARTOFLASH_SRC_DFU_DFU_SCAN_H
#define CARTOFLASH_SRC_DFU_DFU_SCAN_H

#include <stdbool.h>

/*
 * List every USB device with a DFU-mode interface: USB path, VID:PID, serial, memory layout,
 * and whether it can be opened (with the udev hint when not). Human table on stdout, or with
 * json one object per device and a summary object last. Returns the exit code: 0 (also when
 * none is found: the table says so), 74 when USB cannot be listed. Blocks only on short
 * descriptor reads.
 */
int dfu_scan_run(bool json);

#endif
