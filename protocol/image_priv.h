/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by protocol/image*.c only; not part of the image API. */
#ifndef CARTOFLASH_PROTOCOL_IMAGE_PRIV_H
#define CARTOFLASH_PROTOCOL_IMAGE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/image.h"

/* images.md §3.1: RAM window for a plausible initial SP. */
#define IMAGE_RAM_BASE 0x20000000u
#define IMAGE_RAM_END  0x20040000u
/* images.md §4 step 2: a Katapult part ends at the first run of this many 0xFF bytes. */
#define IMAGE_FF_RUN 64u
/* zlib's inflate state and 32 KiB window are carved from the front of the scratch buffer. */
#define IMAGE_ZLIB_RESERVE (48u * 1024)
/* Bytes the dictionary scan may inflate and read over all failed candidates of one file. */
#define IMAGE_INFLATE_BUDGET (32u << 20)

/* Steps 3, 4 and 7 on p[0..len) as a standalone file. Returns true when a dictionary was
 * found; fills *app (offset left to the caller) and ORs IMAGE_WARN_* bits into *warnings. */
bool image_app_analyse(const uint8_t *p, size_t len, uint8_t *scratch, size_t scratch_cap,
		       struct image_app_part *app, unsigned *warnings);
/* images.md §3.5: first USB device descriptor in p; vid/pid 0 match any. Offset in *at. */
bool image_find_usb_device(const uint8_t *p, size_t len, uint16_t vid, uint16_t pid, size_t *at);
/* Copy at most cap-1 bytes of src (NUL-terminated or src_len long) and terminate. */
void image_copy_str(char *dst, size_t cap, const char *src, size_t src_len);
/* Plausible initial SP: inside RAM and, when the MCU is known, at most its RAM top. */
bool image_sp_plausible(uint32_t sp, const char *mcu);

#endif
