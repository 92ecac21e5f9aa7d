// SPDX-License-Identifier: GPL-3.0-or-later
// Names for image findings, and file-name tokens checked against the content (images.md §2.2).
#include <string.h>

#include "protocol/image.h"
#include "protocol/mcu.h"

struct finding {
	const char *name;
	const char *text;
};

/* Indexed by bit position of enum image_warning. */
static const struct finding warn_tab[] = {
    {"gap_not_ff", "bytes between the Katapult part and 0x2000 are not 0xFF (never executed; "
		   "5 real releases have this)"},
    {"trailing_data", "data beyond the 8 KiB bootloader region but no application vector "
		      "table at 0x2000"},
    {"link_base_unknown", "link base undetermined (zero or several anchor candidates)"},
    {"linked_at_flash_base", "application linked at 0x08000000 without bootloader; never "
			     "flash it behind Katapult"},
    {"bad_vectors", "implausible vector table: SP outside RAM or reset handler outside the "
		    "image"},
    {"oversize", "does not fit the MCU's flash"},
    {"bitrate_unknown", "CAN bitrate of the Katapult part cannot be read from its bytes "
			"(the code pattern exists on STM32F0 only)"},
    {"dict_damaged", "a data dictionary is damaged (zlib or JSON error, or no \"config\")"},
    {"part_mismatch", "Katapult part and application part disagree on interface, bitrate "
		      "or MCU"},
    {"full_app_bad", "the part at 0x2000 is not an application linked at 0x08002000"},
    {"katapult_too_big", "the Katapult part is longer than its 8 KiB region"},
    {"mcu_unknown", "no MCU name found in the image"},
    {"usb_can_bridge", "USB-to-CAN bridge build; not firmware for a probe"},
    {"scratch_small", "the data dictionary is larger than the inspection buffer"},
};

/* Indexed by bit position of enum image_name_warning. */
static const struct finding name_tab[] = {
    {"name_12kib", "the name says 12 KiB offset but the image is linked at 0x08002000 "
		   "(all such releases are)"},
    {"name_interface", "the name says one interface, the content is built for the other"},
    {"name_bitrate", "the bitrate in the name differs from the image's CAN bitrate"},
    {"name_full_no_app", "the name says full image but there is no application vector table "
			 "at 0x2000"},
    {"name_kind", "the name says another kind of image than the content"},
    {"name_mcu", "the hardware generation in the name does not match the image's MCU"},
    {"name_version", "the version in the name is not the image's version"},
    {"name_variant", "the name says full/lite, the image's version says the other"},
};

/* A bit without its row would read past a table: refuse to build instead. */
_Static_assert(sizeof(warn_tab) / sizeof(warn_tab[0]) == IMAGE_WARN_COUNT, "warning rows");
_Static_assert(sizeof(name_tab) / sizeof(name_tab[0]) == IMAGE_NAME_WARNING_COUNT, "name rows");

static int bit_index(unsigned bit, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		if (bit == 1u << i)
			return (int)i;
	return -1;
}

const char *image_warning_name(unsigned bit)
{
	const int i = bit_index(bit, IMAGE_WARN_COUNT);

	return i < 0 ? "unknown" : warn_tab[i].name;
}

const char *image_warning_text(unsigned bit)
{
	const int i = bit_index(bit, IMAGE_WARN_COUNT);

	return i < 0 ? "unknown" : warn_tab[i].text;
}

const char *image_name_warning_name(unsigned bit)
{
	const int i = bit_index(bit, IMAGE_NAME_WARNING_COUNT);

	return i < 0 ? "unknown" : name_tab[i].name;
}

const char *image_name_warning_text(unsigned bit)
{
	const int i = bit_index(bit, IMAGE_NAME_WARNING_COUNT);

	return i < 0 ? "unknown" : name_tab[i].text;
}

bool image_iface_from_name(const char *name, enum image_iface *iface)
{
	if (!strcmp(name, "can"))
		*iface = IMAGE_IFACE_CAN;
	else if (!strcmp(name, "usb"))
		*iface = IMAGE_IFACE_USB;
	else
		return false;
	return true;
}

const char *image_probe_generation(const struct image_info *img)
{
	if (img->kind == IMAGE_UF2)
		return "v1";
	/* images.md §1, through the MCU table: v4 builds run at 170 MHz, HT at 150 MHz. */
	return mcu_generation(img->mcu, img->app.clock_freq);
}

/* ---- tokens ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * tok occurs in name (lower case) followed by a non-alphanumeric character or the end, and
 * preceded by a non-alphanumeric one (or, with letter_before, any non-digit: "CartographerV4").
 */
static bool has_token(const char *name, const char *tok, bool letter_before)
{
	const size_t n = strlen(tok);

	for (const char *p = strstr(name, tok); p; p = strstr(p + 1, tok)) {
		const char before = p == name ? '\0' : p[-1];

		if (is_alnum(p[n]))
			continue;
		if (letter_before ? is_digit(before) : is_alnum(before))
			continue;
		return true;
	}
	return false;
}

static uint32_t name_bitrate(const char *name)
{
	if (has_token(name, "1m", false) || has_token(name, "1000000", false) ||
	    has_token(name, "1000k", false))
		return 1000000;
	if (has_token(name, "500k", false) || has_token(name, "500000", false))
		return 500000;
	if (has_token(name, "250k", false) || has_token(name, "250000", false))
		return 250000;
	return 0;
}

static enum image_iface name_iface(const char *name)
{
	const bool can = has_token(name, "can", false), usb = has_token(name, "usb", false);

	if (can == usb)
		return IMAGE_IFACE_UNKNOWN;
	return can ? IMAGE_IFACE_CAN : IMAGE_IFACE_USB;
}

static unsigned kind_warnings(const char *name, const struct image_info *img)
{
	const bool says_full =
	    !strncmp(name, "full", 4) || strstr(name, "katapult_plus") || strstr(name, "combined");
	const bool says_deployer = strstr(name, "deployer") != NULL;
	const bool says_katapult = !says_full && !says_deployer && !strncmp(name, "katapult", 8);

	if (says_full && img->kind == IMAGE_KATAPULT)
		return IMAGE_NAME_FULL_NO_APP;
	if (says_full && img->kind != IMAGE_FULL)
		return IMAGE_NAME_KIND;
	if (says_deployer && img->kind != IMAGE_DEPLOYER)
		return IMAGE_NAME_KIND;
	if (says_katapult && img->kind != IMAGE_KATAPULT)
		return IMAGE_NAME_KIND;
	return 0;
}

/* The MCU row's generation ("v4/HT") has this lower-case word between its '/'. */
static bool generation_has(const char *gen, const char *word)
{
	const size_t n = strlen(word);

	for (const char *p = gen;; p++) {
		size_t i = 0;

		while (i < n && (p[i] | 0x20) == word[i])
			i++;
		if (i == n && (p[n] == '/' || p[n] == '\0'))
			return true;
		p = strchr(p, '/');
		if (!p)
			return false;
	}
}

/* A generation token in the name ("V4", "HT", "v3") that the image's MCU is not built for. */
static unsigned mcu_warnings(const char *name, const struct image_info *img)
{
	static const struct {
		const char *tok;
		bool letter_before;
	} gens[] = { { "v2", true }, { "v3", true }, { "v4", true }, { "ht", false } };
	const struct mcu_info *m = mcu_find(img->mcu);

	if (!m || !m->generation)
		return 0;
	for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++)
		if (has_token(name, gens[i].tok, gens[i].letter_before) &&
		    !generation_has(m->generation, gens[i].tok))
			return IMAGE_NAME_MCU;
	return 0;
}

/*
 * First "d.d.d" / "d_d_d" (1-2 digits each) that starts a token (not "V3_6...") and does not
 * go on as a longer dotted number, as "d.d.d"; "" when there is none.
 */
static void name_version(const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	for (const char *p = name; *p; p++) {
		const char *q = p;
		size_t n = 0;
		int parts = 0;

		if (!is_digit(*p) || (p > name && (is_alnum(p[-1]) || p[-1] == '.')))
			continue;
		while (parts < 3) {
			const char *start = q;

			while (is_digit(*q) && q - start < 3)
				q++;
			if (q == start || q - start > 2 || n + (size_t)(q - start) + 2 > cap)
				break;
			memcpy(out + n, start, (size_t)(q - start));
			n += (size_t)(q - start);
			if (++parts < 3) {
				if (*q != '.' && *q != '_')
					break;
				out[n++] = '.';
				q++;
			}
		}
		if (parts == 3 && !is_digit(*q) && !(*q == '.' && is_digit(q[1]))) {
			out[n] = '\0';
			return;
		}
		out[0] = '\0';
	}
}

/* ASCII case-insensitive strstr. */
static bool contains_nocase(const char *hay, const char *needle)
{
	const size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;

		while (i < n && hay[i] && (hay[i] | 0x20) == (needle[i] | 0x20))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

static unsigned version_warnings(const char *name, const struct image_info *img)
{
	char v[16];
	unsigned w = 0;

	if (!img->version[0])
		return 0;
	name_version(name, v, sizeof(v));
	if (v[0] && !strstr(img->version, v))
		w |= IMAGE_NAME_VERSION;
	/* images.md §2.2: 6.x "_full"/"_lite" differ only in the version suffix. */
	if (has_token(name, "lite", false) != contains_nocase(img->version, "lite") &&
	    (has_token(name, "lite", false) || has_token(name, "full", false)))
		w |= IMAGE_NAME_VARIANT;
	return w;
}

unsigned image_name_warnings(const char *file_name, const struct image_info *img)
{
	const char *base = strrchr(file_name, '/');
	char name[256];
	unsigned w = 0;
	size_t n = 0;
	enum image_iface iface;
	uint32_t bitrate;

	base = base ? base + 1 : file_name;
	for (; base[n] && n + 1 < sizeof(name); n++)
		name[n] = (char)(base[n] >= 'A' && base[n] <= 'Z' ? base[n] + 32 : base[n]);
	name[n] = '\0';
	if (strstr(name, "12kib") && img->load_known && img->load_address != 0x08003000u)
		w |= IMAGE_NAME_12KIB;
	iface = name_iface(name);
	if (iface != IMAGE_IFACE_UNKNOWN && img->iface != IMAGE_IFACE_UNKNOWN &&
	    iface != img->iface)
		w |= IMAGE_NAME_IFACE;
	bitrate = name_bitrate(name);
	if (bitrate && img->iface == IMAGE_IFACE_CAN && img->can_bitrate &&
	    bitrate != img->can_bitrate)
		w |= IMAGE_NAME_BITRATE;
	return w | kind_warnings(name, img) | mcu_warnings(name, img) | version_warnings(name, img);
}
