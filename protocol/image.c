// SPDX-License-Identifier: GPL-3.0-or-later
// Classify a firmware file by its bytes: Katapult, full, app or deployer (images.md §4-§5).
#include "protocol/image.h"

#include <string.h>

#include <nettle/sha2.h>

#include "protocol/bytes.h"
#include "protocol/err.h"
#include "protocol/image_priv.h"
#include "protocol/mcu.h"

/* images.md §3.2: the 8-byte constant Katapult keeps at reset - 9. */
static const uint8_t canboot_sig[8] = {'C', 'a', 'n', 'B', 'o', 'o', 't', '!'};
static const uint8_t uf2_magic[4] = {'U', 'F', '2', '\n'};

/* ---- small helpers ---- */

void image_copy_str(char *dst, size_t cap, const char *src, size_t src_len)
{
	size_t n = 0;

	if (!cap)
		return;
	while (n + 1 < cap && n < src_len && src[n])
		n++;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* images.md §1: RAM top per MCU (application SP; Katapult's is 8 below). */
static uint32_t ram_top_of(const char *mcu)
{
	const uint32_t top = mcu_ram_top(mcu);

	return top ? top : IMAGE_RAM_END;
}

bool image_sp_plausible(uint32_t sp, const char *mcu)
{
	return sp > IMAGE_RAM_BASE && sp <= ram_top_of(mcu) && !(sp & 3);
}

/* Reset handler: Thumb (odd) and inside [base, base + len). */
static bool reset_plausible(uint32_t reset, uint32_t base, size_t len)
{
	return (reset & 1) && reset >= base && reset - base < len;
}

bool image_find_usb_device(const uint8_t *p, size_t len, uint16_t vid, uint16_t pid, size_t *at)
{
	/* images.md §3.5: 12 01 {00|10} 02 ..., idVendor at +8, idProduct at +10. */
	for (size_t i = 0; i + 18 <= len; i++) {
		if (p[i] != 0x12 || p[i + 1] != 0x01 || p[i + 3] != 0x02)
			continue;
		if (p[i + 2] != 0x00 && p[i + 2] != 0x10)
			continue;
		if (vid && cf_get_le16(p + i + 8) != vid)
			continue;
		if (pid && cf_get_le16(p + i + 10) != pid)
			continue;
		*at = i;
		return true;
	}
	return false;
}

static size_t find_ff_run(const uint8_t *img, size_t len, size_t from)
{
	size_t run = 0;

	for (size_t i = from; i < len; i++) {
		run = img[i] == 0xFF ? run + 1 : 0;
		if (run == IMAGE_FF_RUN)
			return i + 1 - IMAGE_FF_RUN;
	}
	return len;
}

static bool all_ff(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

/* images.md §3.2: does the vector table at v point its reset handler just behind "CanBoot!"? */
static bool has_signature(const uint8_t *img, size_t len, size_t v)
{
	uint32_t reset;
	size_t rel;

	if (len < 8 || v > len - 8)
		return false;
	reset = cf_get_le32(img + v + 4);
	if (reset < IMAGE_FLASH_BASE + 9)
		return false;
	rel = reset - 9 - IMAGE_FLASH_BASE;
	if (rel > len - v - 8)
		return false;
	return !memcmp(img + v + rel, canboot_sig, sizeof(canboot_sig));
}

static unsigned count_word(const uint8_t *p, size_t len, uint32_t word)
{
	unsigned n = 0;

	for (size_t o = 0; o + 4 <= len; o += 4)
		n += cf_get_le32(p + o) == word;
	return n;
}

/* ---- Katapult part (images.md §4 step 6) ---- */

static bool is_lower_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static void find_mcu(const uint8_t *p, size_t len, char *mcu, size_t cap)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		size_t n = 5;

		if (memcmp(p + i, "stm32", 5) || !is_lower_alnum(p[i + 5]))
			continue;
		while (i + n < len && is_lower_alnum(p[i + n]))
			n++;
		image_copy_str(mcu, cap, (const char *)p + i, n);
		return;
	}
}

static size_t skip_digits(const uint8_t *p, size_t len, size_t i, bool hex)
{
	while (i < len && ((p[i] >= '0' && p[i] <= '9') || (hex && p[i] >= 'a' && p[i] <= 'f')))
		i++;
	return i;
}

/* Length of a `v<d>.<d>.<d>-<d>-g<hex>[-dirty]` match at p[i], or 0. */
static size_t match_version(const uint8_t *p, size_t len, size_t i)
{
	static const char seps[] = ".."
				   "-";
	size_t j = i + 1, k;

	if (p[i] != 'v')
		return 0;
	for (int part = 0; part < 4; part++) {
		k = skip_digits(p, len, j, false);
		if (k == j)
			return 0;
		if (part < 3) {
			if (k >= len || p[k] != seps[part])
				return 0;
			j = k + 1;
		} else {
			j = k;
		}
	}
	if (j + 2 > len || p[j] != '-' || p[j + 1] != 'g')
		return 0;
	k = skip_digits(p, len, j + 2, true);
	if (k == j + 2)
		return 0;
	if (k + 6 <= len && !memcmp(p + k, "-dirty", 6))
		k += 6;
	return k - i;
}

static void find_version(const uint8_t *p, size_t len, char *version, size_t cap)
{
	for (size_t i = 0; i < len; i++) {
		const size_t n = match_version(p, len, i);

		if (n) {
			image_copy_str(version, cap, (const char *)p + i, n);
			return;
		}
	}
}

/* images.md §5: F0 `movs r0, #bit_clocks; bl compute_btr`, 48 MHz / bitrate as imm8. */
static uint32_t f0_bitrate(const uint8_t *p, size_t len)
{
	uint32_t found = 0;

	for (size_t o = 0; o + 6 <= len; o += 2) {
		uint32_t rate;

		if (p[o + 1] != 0x20 || (p[o + 3] & 0xF8) != 0xF0 || (p[o + 5] & 0xF8) != 0xF8)
			continue;
		if (p[o] == 0x30)
			rate = 1000000;
		else if (p[o] == 0x60)
			rate = 500000;
		else if (p[o] == 0xC0)
			rate = 250000;
		else
			continue;
		if (found && found != rate)
			return 0; /* several distinct values: undecidable */
		found = rate;
	}
	return found;
}

static void katapult_part_analyse(const uint8_t *img, size_t len, size_t v,
				  struct image_katapult_part *k, unsigned *warnings)
{
	const uint8_t *p = img + v;
	size_t at;

	k->present = true;
	k->offset = v;
	k->len = find_ff_run(img, len, v) - v;
	k->vectors.sp = cf_get_le32(p);
	k->vectors.reset = cf_get_le32(p + 4);
	find_mcu(p, k->len, k->mcu, sizeof(k->mcu));
	find_version(p, k->len, k->version, sizeof(k->version));
	k->app_start_literals = count_word(p, k->len, IMAGE_APP_START);
	if (image_find_usb_device(p, k->len, 0x1d50, 0x6177, &at)) {
		k->iface = IMAGE_IFACE_USB;
		k->usb_vid = 0x1d50;
		k->usb_pid = 0x6177;
	} else {
		/* §4 step 6: no Katapult USB descriptor means CAN (no UART builds ship). */
		const struct mcu_info *m = mcu_find(k->mcu);

		k->iface = IMAGE_IFACE_CAN;
		if (m && m->bitrate_code == MCU_BITRATE_CODE_F0_BTR)
			k->can_bitrate = f0_bitrate(p, k->len);
		if (k->can_bitrate)
			k->bitrate_source = IMAGE_BITRATE_HEURISTIC;
		else
			*warnings |= IMAGE_WARN_BITRATE_UNKNOWN;
	}
	if (!k->mcu[0])
		*warnings |= IMAGE_WARN_MCU_UNKNOWN;
	if (k->len > IMAGE_KATAPULT_REGION)
		*warnings |= IMAGE_WARN_KATAPULT_TOO_BIG;
	if (!image_sp_plausible(k->vectors.sp, k->mcu) ||
	    !reset_plausible(k->vectors.reset, IMAGE_FLASH_BASE, k->len))
		*warnings |= IMAGE_WARN_BAD_VECTORS;
}

/* ---- the kinds ---- */

static void summary_from_katapult(struct image_info *out)
{
	const struct image_katapult_part *k = &out->katapult;

	memcpy(out->mcu, k->mcu, sizeof(out->mcu));
	out->iface = k->iface;
	out->can_bitrate = k->can_bitrate;
	out->bitrate_source = k->bitrate_source;
	image_copy_str(out->version, sizeof(out->version), k->version, sizeof(k->version));
}

static void summary_from_app(struct image_info *out)
{
	const struct image_app_part *a = &out->app;

	memcpy(out->mcu, a->mcu, sizeof(out->mcu));
	out->iface = a->iface;
	out->can_bitrate = a->can_bitrate;
	out->bitrate_source = a->can_bitrate ? IMAGE_BITRATE_DICTIONARY : IMAGE_BITRATE_NONE;
	memcpy(out->version, a->version, sizeof(out->version));
}

/* R6 facts: the two parts of a full image must describe the same build. */
static void check_full_parts(struct image_info *out)
{
	const struct image_katapult_part *k = &out->katapult;
	const struct image_app_part *a = &out->app;

	if (!a->has_dict || !a->load_known || a->link_base != IMAGE_APP_START ||
	    !image_sp_plausible(a->vectors.sp, a->mcu) ||
	    !reset_plausible(a->vectors.reset, IMAGE_APP_START, a->len))
		out->warnings |= IMAGE_WARN_FULL_APP_BAD;
	if (!a->has_dict)
		return;
	if (k->iface != a->iface || (k->can_bitrate && a->can_bitrate != k->can_bitrate) ||
	    (k->mcu[0] && a->mcu[0] && strcmp(k->mcu, a->mcu)))
		out->warnings |= IMAGE_WARN_PART_MISMATCH;
}

/* images.md §4 step 2: the file starts with a Katapult bootloader. */
static void classify_katapult_at_0(const uint8_t *img, size_t len, uint8_t *scratch, size_t cap,
				   struct image_info *out)
{
	const size_t k_end = find_ff_run(img, len, 0);
	uint32_t app_word = 0;

	katapult_part_analyse(img, len, 0, &out->katapult, &out->warnings);
	out->load_known = true;
	out->load_address = IMAGE_FLASH_BASE;
	if (len > IMAGE_KATAPULT_REGION + 8)
		app_word = cf_get_le32(img + IMAGE_KATAPULT_REGION);
	if (app_word != 0 && app_word != 0xFFFFFFFFu) {
		out->kind = IMAGE_FULL;
		image_app_analyse(img + IMAGE_KATAPULT_REGION, len - IMAGE_KATAPULT_REGION, scratch,
				  cap, &out->app, &out->warnings);
		out->app.present = true;
		out->app.offset = IMAGE_KATAPULT_REGION;
		out->gap_all_ff = k_end >= IMAGE_KATAPULT_REGION ||
				  all_ff(img + k_end, IMAGE_KATAPULT_REGION - k_end);
		if (!out->gap_all_ff)
			out->warnings |=
			    IMAGE_WARN_GAP_NOT_FF; /* §2.3: 5 real images, warning only */
		check_full_parts(out);
		summary_from_app(out);
		if (!out->mcu[0])
			memcpy(out->mcu, out->katapult.mcu, sizeof(out->mcu));
		return;
	}
	out->kind = IMAGE_KATAPULT;
	summary_from_katapult(out);
	if (len > IMAGE_KATAPULT_REGION) {
		/* The IDM case (§2.2): say what the trailing bytes are, without an app part. */
		unsigned ignored = 0;

		out->warnings |= IMAGE_WARN_TRAILING_DATA;
		if (k_end < len)
			image_app_analyse(img + k_end, len - k_end, scratch, cap, &out->app,
					  &ignored);
		out->app.present = false;
		out->app.offset = k_end;
	}
}

/* images.md §4 step 5: a vector table inside the file whose reset points behind "CanBoot!". */
static bool find_embedded_katapult(const uint8_t *img, size_t len, size_t *at)
{
	for (size_t v = 4; v + 8 <= len; v += 4) {
		const uint32_t sp = cf_get_le32(img + v);

		if (sp < IMAGE_RAM_BASE || sp >= IMAGE_RAM_END)
			continue;
		if (has_signature(img, len, v)) {
			*at = v;
			return true;
		}
	}
	return false;
}

static void classify_deployer(const uint8_t *img, size_t len, size_t v, struct image_info *out)
{
	const uint32_t sp = cf_get_le32(img), reset = cf_get_le32(img + 4);
	unsigned literals;

	out->kind = IMAGE_DEPLOYER;
	katapult_part_analyse(img, len, v, &out->katapult, &out->warnings);
	summary_from_katapult(out);
	/* The deployer's own code (outside the embedded copy) holds A as a literal. */
	literals =
	    count_word(img, v, IMAGE_APP_START) +
	    count_word(img + v + out->katapult.len, len - v - out->katapult.len, IMAGE_APP_START);
	if (sp >= IMAGE_RAM_BASE && sp < IMAGE_RAM_END && literals &&
	    reset_plausible(reset, IMAGE_APP_START, len)) {
		out->load_known = true;
		out->load_address = IMAGE_APP_START;
	} else {
		out->warnings |= IMAGE_WARN_LINK_BASE_UNKNOWN;
	}
	if (!image_sp_plausible(sp, out->mcu) || !(reset & 1))
		out->warnings |= IMAGE_WARN_BAD_VECTORS;
}

static void classify_app(size_t len, struct image_info *out)
{
	out->kind = IMAGE_APP;
	out->app.present = true;
	summary_from_app(out);
	if (out->app.load_known) {
		out->load_known = true;
		out->load_address = out->app.link_base;
		if (!image_sp_plausible(out->app.vectors.sp, out->mcu) ||
		    !reset_plausible(out->app.vectors.reset, out->load_address, len))
			out->warnings |= IMAGE_WARN_BAD_VECTORS;
	}
	if (!out->mcu[0])
		out->warnings |= IMAGE_WARN_MCU_UNKNOWN;
	if (out->iface == IMAGE_IFACE_USB_CAN_BRIDGE)
		out->warnings |= IMAGE_WARN_USB_CAN_BRIDGE;
}

/* images.md §4 step 8. */
static void budget(struct image_info *out)
{
	long over = 0;

	out->flash_size = mcu_flash_size(out->mcu);
	if (!out->load_known)
		return;
	out->flash_end_offset = (uint64_t)(out->load_address - IMAGE_FLASH_BASE) + out->size;
	if (!out->flash_size)
		return;
	if (out->flash_end_offset > out->flash_size)
		over = (long)(out->flash_end_offset - out->flash_size);
	if (out->kind == IMAGE_KATAPULT && out->size > IMAGE_KATAPULT_REGION &&
	    (long)(out->size - IMAGE_KATAPULT_REGION) > over)
		over = (long)(out->size - IMAGE_KATAPULT_REGION);
	if (out->kind == IMAGE_FULL && out->katapult.len > IMAGE_KATAPULT_REGION &&
	    (long)(out->katapult.len - IMAGE_KATAPULT_REGION) > over)
		over = (long)(out->katapult.len - IMAGE_KATAPULT_REGION);
	out->fits = over == 0;
	out->overflow_bytes = over;
	if (over)
		out->warnings |= IMAGE_WARN_OVERSIZE;
}

int image_inspect(const uint8_t *img, size_t len, uint8_t *scratch, size_t scratch_cap,
		  struct image_info *out)
{
	struct sha256_ctx sha;
	size_t v;

	memset(out, 0, sizeof(*out));
	if (scratch_cap < IMAGE_SCRATCH_MIN)
		return CF_ERR_NOSPACE;
	out->size = len;
	sha256_init(&sha);
	sha256_update(&sha, len, img);
	sha256_digest(&sha, sizeof(out->sha256), out->sha256);
	/* §4 step 0 */
	if (len >= sizeof(uf2_magic) && !memcmp(img, uf2_magic, sizeof(uf2_magic))) {
		out->kind = IMAGE_UF2;
		return CF_OK;
	}
	if (len < 8)
		return CF_ERR_IMAGE;
	out->vectors.sp = cf_get_le32(img); /* §4 step 1 */
	out->vectors.reset = cf_get_le32(img + 4);
	if (has_signature(img, len, 0))
		classify_katapult_at_0(img, len, scratch, scratch_cap, out);
	else if (image_app_analyse(img, len, scratch, scratch_cap, &out->app, &out->warnings))
		classify_app(len, out);
	else if (find_embedded_katapult(img, len, &v))
		classify_deployer(img, len, v, out);
	budget(out);
	return out->kind == IMAGE_UNKNOWN ? CF_ERR_IMAGE : CF_OK;
}

/* ---- names ---- */

const char *image_kind_name(enum image_kind kind)
{
	switch (kind) {
	case IMAGE_UNKNOWN:
		return "unknown";
	case IMAGE_APP:
		return "app";
	case IMAGE_FULL:
		return "full";
	case IMAGE_KATAPULT:
		return "katapult";
	case IMAGE_DEPLOYER:
		return "deployer";
	case IMAGE_UF2:
		return "uf2";
	}
	return "unknown";
}

const char *image_iface_name(enum image_iface iface)
{
	switch (iface) {
	case IMAGE_IFACE_UNKNOWN:
		return "unknown";
	case IMAGE_IFACE_CAN:
		return "can";
	case IMAGE_IFACE_USB:
		return "usb";
	case IMAGE_IFACE_USB_CAN_BRIDGE:
		return "usb-can-bridge";
	case IMAGE_IFACE_UART:
		return "uart";
	}
	return "unknown";
}

const char *image_bitrate_source_name(enum image_bitrate_source src)
{
	switch (src) {
	case IMAGE_BITRATE_NONE:
		return "none";
	case IMAGE_BITRATE_DICTIONARY:
		return "dictionary";
	case IMAGE_BITRATE_HEURISTIC:
		return "katapult-code-heuristic";
	}
	return "none";
}
