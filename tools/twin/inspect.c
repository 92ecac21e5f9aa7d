/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What is installed decides what the twin speaks: classify both flash regions (images.md §4). */
#include <stdio.h>
#include <string.h>

#include "protocol/bytes.h"
#include "protocol/image.h"
#include "tools/twin/twin_priv.h"

static enum twin_iface iface_of(enum image_iface i)
{
	switch (i) {
	case IMAGE_IFACE_CAN:
		return TWIN_IFACE_CAN;
	case IMAGE_IFACE_USB:
		return TWIN_IFACE_USB;
	case IMAGE_IFACE_UART: /* a device target only; images classify as unknown */
	case IMAGE_IFACE_UNKNOWN:
	case IMAGE_IFACE_USB_CAN_BRIDGE:
		break;
	}
	return TWIN_IFACE_NONE;
}

/* Katapult interface: USB descriptor -> USB; a CAN build of unknown bitrate runs at 1 Mbit/s,
 * Katapult's Kconfig default (katapult.md §2.5). */
static void inspect_bootloader(struct twin *t, struct twin_installed *in)
{
	struct image_info info;

	image_inspect(t->flash, t->app_off, t->scratch, IMAGE_SCRATCH_SIZE, &info);
	if (info.kind != IMAGE_KATAPULT && info.kind != IMAGE_FULL)
		return;
	in->katapult_ok = true;
	in->bl_iface = info.katapult.iface == IMAGE_IFACE_USB ? TWIN_IFACE_USB : TWIN_IFACE_CAN;
	in->bl_bitrate = info.katapult.can_bitrate ? info.katapult.can_bitrate : 1000000;
	if (in->bl_iface == TWIN_IFACE_USB)
		in->bl_bitrate = 0;
	snprintf(in->bl_mcu, sizeof(in->bl_mcu), "%s",
		 info.katapult.mcu[0] ? info.katapult.mcu : t->mcu->name);
	snprintf(in->bl_version, sizeof(in->bl_version), "%s", info.katapult.version);
}

static size_t used_len(const uint8_t *p, size_t len)
{
	while (len && p[len - 1] == 0xff)
		len--;
	return len;
}

/* The first instruction of the reset handler is erased flash (0xFFFF). */
static bool reset_on_erased_flash(const struct twin *t, uint32_t reset)
{
	const uint32_t at = (reset & ~1u) - TWIN_FLASH_BASE;

	if (reset < TWIN_FLASH_BASE || at + 2 > t->flash_size)
		return false;
	return t->flash[at] == 0xff && t->flash[at + 1] == 0xff;
}

static void inspect_app(struct twin *t, struct twin_installed *in)
{
	const uint8_t *app = t->flash + t->app_off;
	size_t len = used_len(app, t->flash_size - t->app_off);
	uint32_t w0 = cf_get_le32(app);
	struct image_info info;

	in->app_valid_word = w0 != 0 && w0 != 0xffffffffu; /* katapult.md §5 */
	if (!len)
		return;
	if (reset_on_erased_flash(t, cf_get_le32(app + 4))) {
		/* katapult.md §5 (d): a half-written image; 0xFFFF is no instruction: HardFault */
		snprintf(in->garbage_reason, sizeof(in->garbage_reason),
			 "reset handler 0x%08x lies in erased flash (a half-written image)",
			 cf_get_le32(app + 4));
		in->app_kind = TWIN_APP_GARBAGE;
		return;
	}
	image_inspect(app, len, t->scratch, IMAGE_SCRATCH_SIZE, &info);
	switch (info.kind) {
	case IMAGE_APP:
		in->app_kind = TWIN_APP_KLIPPER;
		in->app_iface = iface_of(info.app.iface);
		in->app_bitrate = info.app.can_bitrate;
		in->dict_off = t->app_off + info.app.offset + info.app.dict_offset;
		in->dict_len = info.app.dict_len;
		/* katapult.md §3.1: 6.x (dictionary key "app") names the MCU as USB product */
		if (info.app.app_name[0])
			snprintf(in->app_product, sizeof(in->app_product), "%s", info.app.mcu);
		return;
	case IMAGE_DEPLOYER:
		in->app_kind = TWIN_APP_DEPLOYER;
		in->dep_off = t->app_off + info.katapult.offset;
		in->dep_len = info.katapult.len;
		return;
	case IMAGE_FULL:
	case IMAGE_KATAPULT:
		/* katapult.md §8.6: its reset vector points into the bootloader region */
		snprintf(in->garbage_reason, sizeof(in->garbage_reason),
			 "reset loop: image at 0x08002000 is a %s image (reset vector 0x%08x)",
			 image_kind_name(info.kind), info.vectors.reset);
		break;
	case IMAGE_UNKNOWN:
	case IMAGE_UF2:
		snprintf(in->garbage_reason, sizeof(in->garbage_reason),
			 "no recognisable application at 0x08002000 (reset vector 0x%08x)",
			 cf_get_le32(app + 4));
		break;
	}
	in->app_kind = TWIN_APP_GARBAGE;
}

void twin_inspect(struct twin *t)
{
	struct twin_installed in;

	memset(&in, 0, sizeof(in));
	inspect_bootloader(t, &in);
	inspect_app(t, &in);
	t->inst = in;
}
