// SPDX-License-Identifier: GPL-3.0-or-later
// Pre-flash refusal rules R1-R6 and name-vs-content warnings (images.md §2.2, §7).
#include <string.h>

#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/image_priv.h"

/* ---- text without stdio (protocol/ is pure) ---- */

static void put_str(char *dst, size_t cap, const char *s)
{
	image_copy_str(dst, cap, s, strlen(s));
}

static void put_hex32(char *dst, size_t cap, uint32_t v)
{
	static const char digits[] = "0123456789ABCDEF";
	char buf[11] = "0x";

	for (int i = 0; i < 8; i++)
		buf[2 + i] = digits[(v >> (28 - 4 * i)) & 0xF];
	buf[10] = '\0';
	put_str(dst, cap, buf);
}

static void put_u32(char *dst, size_t cap, uint32_t v)
{
	char buf[11];
	size_t n = sizeof(buf) - 1;

	buf[n] = '\0';
	do {
		buf[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_str(dst, cap, buf + n);
}

static void put_bitrate(char *dst, size_t cap, uint32_t bitrate)
{
	if (bitrate)
		put_u32(dst, cap, bitrate);
	else
		put_str(dst, cap, "unknown");
}

/* Fill *why (NULL allowed) and return CF_ERR_REFUSED. */
static int refuse(struct image_refusal *why, const char *rule, const char *what, const char *reason,
		  const char *override, unsigned force_bit)
{
	if (why) {
		put_str(why->rule, sizeof(why->rule), rule);
		why->what = what;
		why->reason = reason;
		why->override = override;
		why->force_bit = force_bit;
	}
	return CF_ERR_REFUSED;
}

static void values(struct image_refusal *why, const char *image, const char *target)
{
	if (!why)
		return;
	put_str(why->image_value, sizeof(why->image_value), image);
	put_str(why->target_value, sizeof(why->target_value), target);
}

/* ---- R1: kind and load address ---- */

static int check_r1_katapult(const struct image_info *img, const struct image_target *t,
			     unsigned force, struct image_refusal *why)
{
	const uint32_t start = t->app_start ? t->app_start : IMAGE_APP_START;
	uint32_t load = img->load_address;

	if (img->kind != IMAGE_APP && img->kind != IMAGE_DEPLOYER) {
		values(why, image_kind_name(img->kind), "app or deployer");
		return refuse(why, "R1", "image kind",
			      "only an application or a deployer goes through Katapult; a full or "
			      "Katapult image belongs at 0x08000000 and needs ROM DFU",
			      NULL, 0);
	}
	/* An image linked at 0x08000000 has a known base: the mismatch below refuses it. */
	if (!img->load_known) {
		if (!(force & IMAGE_FORCE_LINK_BASE) || !t->stated_load_address) {
			values(why, "undetermined", "");
			if (why)
				put_hex32(why->target_value, sizeof(why->target_value), start);
			return refuse(why, "R1", "load address",
				      "the link base of this image cannot be determined",
				      "--load-address", IMAGE_FORCE_LINK_BASE);
		}
		load = t->stated_load_address;
		/* katapult.md §10 with the stated base: reset inside [load, load + size). */
		if (!(img->vectors.reset & 1) || img->vectors.reset < load ||
		    img->vectors.reset - load >= img->size ||
		    !image_sp_plausible(img->vectors.sp, img->mcu)) {
			values(why, "implausible SP or reset vector", "");
			if (why)
				put_hex32(why->target_value, sizeof(why->target_value), load);
			return refuse(why, "R1", "vector table",
				      "the vector table does not fit the stated load address", NULL,
				      0);
		}
	}
	if (load != start) {
		if (why) {
			put_hex32(why->image_value, sizeof(why->image_value), load);
			put_hex32(why->target_value, sizeof(why->target_value), start);
		}
		return refuse(why, "R1", "load address",
			      "the image is linked for another address than Katapult's application "
			      "start",
			      NULL, 0);
	}
	return CF_OK;
}

static int check_r1_dfu(const struct image_info *img, const struct image_target *t,
			struct image_refusal *why)
{
	const uint32_t addr = t->dfu_address ? t->dfu_address : IMAGE_FLASH_BASE;

	if (img->kind != IMAGE_FULL && img->kind != IMAGE_KATAPULT) {
		values(why, image_kind_name(img->kind), "full or katapult");
		return refuse(
		    why, "R1", "image kind",
		    "ROM DFU at 0x08000000 takes a full or Katapult image; an application "
		    "there would overwrite Katapult",
		    NULL, 0);
	}
	if (addr != IMAGE_FLASH_BASE) {
		values(why, "0x08000000", "");
		if (why)
			put_hex32(why->target_value, sizeof(why->target_value), addr);
		return refuse(why, "R1", "load address",
			      "a full or Katapult image belongs at 0x08000000", NULL, 0);
	}
	return CF_OK;
}

/* katapult.md §10: SP in RAM and the reset handler inside the image before any write. */
static int check_vectors(const struct image_info *img, struct image_refusal *why)
{
	if (!(img->warnings & IMAGE_WARN_BAD_VECTORS))
		return CF_OK;
	values(why, "implausible SP or reset vector", "SP in RAM, reset inside the image");
	return refuse(why, "R1", "vector table", "the vector table would not start this image",
		      NULL, 0);
}

/* ---- R6: structure of full and Katapult images ---- */

static int check_r6(const struct image_info *img, struct image_refusal *why)
{
	const struct image_katapult_part *k = &img->katapult;
	const struct image_app_part *a = &img->app;

	if (img->kind == IMAGE_KATAPULT && (img->warnings & IMAGE_WARN_TRAILING_DATA)) {
		values(why, "data past 0x2000", "nothing past 0x2000");
		return refuse(why, "R6", "katapult image",
			      "data beyond the bootloader region without an application vector "
			      "table",
			      NULL, 0);
	}
	if (k->present && k->len > IMAGE_KATAPULT_REGION) {
		if (why) {
			put_u32(why->image_value, sizeof(why->image_value), (uint32_t)k->len);
			put_str(why->target_value, sizeof(why->target_value), "8192");
		}
		return refuse(why, "R6", "katapult part length",
			      "the Katapult part is longer than its 8 KiB region", NULL, 0);
	}
	if (img->kind != IMAGE_FULL)
		return CF_OK;
	if (img->warnings & IMAGE_WARN_FULL_APP_BAD) {
		values(why, a->has_dict ? "no valid app at 0x2000" : "no dictionary at 0x2000",
		       "app linked at 0x08002000");
		return refuse(why, "R6", "application part",
			      "the part at 0x2000 is not an application linked at 0x08002000", NULL,
			      0);
	}
	if (k->iface != a->iface) {
		values(why, image_iface_name(k->iface), image_iface_name(a->iface));
		return refuse(why, "R6", "interface of katapult vs application part",
			      "the bootloader and the application of this full image speak "
			      "different interfaces",
			      NULL, 0);
	}
	if (k->can_bitrate && a->can_bitrate != k->can_bitrate) {
		if (why) {
			put_bitrate(why->image_value, sizeof(why->image_value), k->can_bitrate);
			put_bitrate(why->target_value, sizeof(why->target_value), a->can_bitrate);
		}
		return refuse(why, "R6", "can bitrate of katapult vs application part",
			      "the bootloader and the application of this full image use different "
			      "CAN bitrates",
			      NULL, 0);
	}
	if (k->mcu[0] && a->mcu[0] && strcmp(k->mcu, a->mcu)) {
		values(why, k->mcu, a->mcu);
		return refuse(why, "R6", "mcu of katapult vs application part",
			      "the bootloader and the application are built for different MCUs",
			      NULL, 0);
	}
	return CF_OK;
}

/* ---- R2: MCU ---- */

static int check_r2(const struct image_info *img, const struct image_target *t,
		    struct image_refusal *why)
{
	if (!img->mcu[0]) {
		values(why, "unknown", t->mcu[0] ? t->mcu : "unknown");
		return refuse(why, "R2", "mcu", "the image names no MCU", NULL, 0);
	}
	if (t->path == IMAGE_PATH_KATAPULT && t->mcu[0] && strcmp(img->mcu, t->mcu)) {
		values(why, img->mcu, t->mcu);
		return refuse(why, "R2", "mcu", "the image is built for another MCU", NULL, 0);
	}
	/* images.md §7 R2: in DFU compare the flash size of the layout, not the alt name. */
	if (t->path == IMAGE_PATH_DFU && t->flash_size && img->flash_size != t->flash_size) {
		if (why) {
			put_u32(why->image_value, sizeof(why->image_value), img->flash_size);
			put_u32(why->target_value, sizeof(why->target_value), t->flash_size);
		}
		return refuse(why, "R2", "flash size",
			      "the image's MCU has another flash size than the device", NULL, 0);
	}
	return CF_OK;
}

/* ---- R5: budget ---- */

static int check_r5(const struct image_info *img, const struct image_target *t, unsigned force,
		    struct image_refusal *why)
{
	uint64_t end = img->flash_end_offset;
	bool fits = img->fits;

	/* R1 accepted a stated load address: the budget follows it. */
	if (!img->load_known && (force & IMAGE_FORCE_LINK_BASE) &&
	    t->stated_load_address >= IMAGE_FLASH_BASE) {
		end = (uint64_t)(t->stated_load_address - IMAGE_FLASH_BASE) + img->size;
		fits = img->flash_size && end <= img->flash_size;
	}
	if (fits)
		return CF_OK;
	if (why) {
		put_u32(why->image_value, sizeof(why->image_value), (uint32_t)end);
		put_u32(why->target_value, sizeof(why->target_value), img->flash_size);
	}
	return refuse(why, "R5", "flash end offset",
		      img->flash_size ? "the image does not fit the MCU's flash"
				      : "the flash budget cannot be computed for this image",
		      NULL, 0);
}

/* ---- R4: interface change ---- */

static const char *switch_flag(enum image_iface iface)
{
	switch (iface) {
	case IMAGE_IFACE_CAN:
		return "--switch-to can";
	case IMAGE_IFACE_USB:
		return "--switch-to usb";
	case IMAGE_IFACE_UNKNOWN:
	case IMAGE_IFACE_USB_CAN_BRIDGE:
	case IMAGE_IFACE_UART:
		break;
	}
	return NULL;
}

static int check_r4(const struct image_info *img, const struct image_target *t, unsigned force,
		    struct image_refusal *why)
{
	const bool switchable = img->kind == IMAGE_DEPLOYER || img->kind == IMAGE_FULL;
	const bool requested = (force & IMAGE_FORCE_SWITCH) || t->switch_to == img->iface;

	/* A build with neither CAN nor USB reserved pins talks serial: what a UART takes. */
	if (t->iface == IMAGE_IFACE_UART && img->iface == IMAGE_IFACE_UNKNOWN && !switchable)
		return CF_OK;
	if (img->iface == IMAGE_IFACE_USB_CAN_BRIDGE || img->iface == IMAGE_IFACE_UNKNOWN) {
		values(why, image_iface_name(img->iface), "can or usb");
		return refuse(why, "R4", "interface", "a probe runs plain CAN or USB firmware",
			      NULL, 0);
	}
	if (t->switch_to != IMAGE_IFACE_UNKNOWN && t->switch_to != img->iface) {
		values(why, image_iface_name(img->iface), image_iface_name(t->switch_to));
		return refuse(why, "R4", "interface vs --switch-to",
			      "the image does not switch to the requested interface", NULL, 0);
	}
	if (t->iface == IMAGE_IFACE_UNKNOWN || t->iface == img->iface)
		return CF_OK;
	if (switchable && requested)
		return CF_OK;
	values(why, image_iface_name(img->iface), image_iface_name(t->iface));
	if (!switchable)
		return refuse(why, "R4", "interface",
			      "an application cannot change the interface; flash a deployer "
			      "first",
			      NULL, 0);
	return refuse(why, "R4", "interface",
		      "this image changes the probe's interface, which needs an explicit request",
		      switch_flag(img->iface), IMAGE_FORCE_SWITCH);
}

/* ---- R3: bitrate ---- */

static int check_r3(const struct image_info *img, const struct image_target *t, unsigned force,
		    struct image_refusal *why)
{
	if (img->iface != IMAGE_IFACE_CAN || !t->bus_bitrate || (force & IMAGE_FORCE_BITRATE))
		return CF_OK;
	if (img->can_bitrate == t->bus_bitrate)
		return CF_OK;
	if (why) {
		put_bitrate(why->image_value, sizeof(why->image_value), img->can_bitrate);
		put_u32(why->target_value, sizeof(why->target_value), t->bus_bitrate);
	}
	return refuse(why, "R3", "can bitrate",
		      img->can_bitrate ? "the image's CAN bitrate differs from the bus; the probe "
					 "would vanish after flashing"
				       : "the image's CAN bitrate cannot be read from its bytes",
		      "--allow-bitrate-mismatch", IMAGE_FORCE_BITRATE);
}

int image_check_before_entry(const struct image_info *img, const struct image_target *t,
			     unsigned force_mask, struct image_refusal *why)
{
	struct image_target k = *t;
	int rc = CF_OK;

	if (why)
		memset(why, 0, sizeof(*why));
	k.path = IMAGE_PATH_KATAPULT;
	if (k.mcu[0] && img->mcu[0])
		rc = check_r2(img, &k, why);
	if (!rc)
		rc = check_r3(img, &k, force_mask, why);
	if (!rc)
		rc = image_check_variant(img, &k, force_mask, why); /* R8 */
	return rc;
}

int image_check_against(const struct image_info *img, const struct image_target *t,
			unsigned force_mask, struct image_refusal *why)
{
	int rc;

	if (why)
		memset(why, 0, sizeof(*why));
	if (t->path == IMAGE_PATH_KATAPULT)
		rc = check_r1_katapult(img, t, force_mask, why);
	else
		rc = check_r1_dfu(img, t, why);
	if (!rc)
		rc = check_vectors(img, why);
	if (!rc)
		rc = check_r6(img, why);
	if (!rc)
		rc = check_r2(img, t, why);
	if (!rc)
		rc = check_r5(img, t, force_mask, why);
	if (!rc)
		rc = check_r4(img, t, force_mask, why);
	if (!rc)
		rc = check_r3(img, t, force_mask, why);
	if (!rc && t->running_version[0])
		rc = image_check_variant(img, t, force_mask, why); /* R8, protocol/image_release.c */
	return rc;
}
