// SPDX-License-Identifier: GPL-3.0-or-later
// R7 (a known release build) and R8 (the build variant the probe runs) of images.md §7: the
// rules every write applies beside R1-R6.
#include <string.h>

#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/image_priv.h"

#define HT_CLOCK 150000000u /* images.md §1: the HT build; v4 builds run at 170 MHz */

static void put_str(char *dst, size_t cap, const char *src)
{
	image_copy_str(dst, cap, src, strlen(src));
}

/* Fill *why (NULL allowed) and return CF_ERR_REFUSED. */
static int refuse(struct image_refusal *why, const char *rule, const char *what,
		  const char *image, const char *target, const char *reason, const char *override,
		  unsigned force_bit)
{
	if (!why)
		return CF_ERR_REFUSED;
	put_str(why->rule, sizeof(why->rule), rule);
	why->what = what;
	put_str(why->image_value, sizeof(why->image_value), image);
	put_str(why->target_value, sizeof(why->target_value), target);
	why->reason = reason;
	why->override = override;
	why->force_bit = force_bit;
	return CF_ERR_REFUSED;
}

int image_check_known(const struct image_info *img, unsigned force_mask, struct image_refusal *why)
{
	static const char digits[] = "0123456789abcdef";
	char hex[17];

	if (why)
		memset(why, 0, sizeof(*why));
	if (image_known_build(img->sha256) || (force_mask & IMAGE_FORCE_UNKNOWN))
		return CF_OK;
	for (size_t i = 0; i < 8; i++) {
		hex[2 * i] = digits[img->sha256[i] >> 4];
		hex[2 * i + 1] = digits[img->sha256[i] & 0xF];
	}
	hex[16] = '\0';
	return refuse(why, "R7", "sha256", hex, "a known release build",
		      "the image is no known release build (images.md Appendix A): a rebuild, a "
		      "changed or a truncated file",
		      "--allow-unknown", IMAGE_FORCE_UNKNOWN);
}

/* A whole word of version, ASCII case-insensitive ("K1" in "CARTOGRAPHER K1 5.1.0"). */
static bool has_word(const char *version, const char *word)
{
	const size_t n = strlen(word);

	for (const char *p = version; *p; p++) {
		size_t i = 0;

		if (p > version && p[-1] != ' ')
			continue;
		while (i < n && p[i] && (p[i] | 0x20) == (word[i] | 0x20))
			i++;
		if (i == n && (p[n] == ' ' || p[n] == '\0'))
			return true;
	}
	return false;
}

unsigned image_variant_of(const char *version)
{
	unsigned v = 0;

	if (!version)
		return 0;
	if (has_word(version, "k1"))
		v |= IMAGE_VARIANT_K1;
	if (has_word(version, "ht"))
		v |= IMAGE_VARIANT_HT;
	if (has_word(version, "lite"))
		v |= IMAGE_VARIANT_LITE;
	if (has_word(version, "idm"))
		v |= IMAGE_VARIANT_IDM;
	return v;
}

unsigned image_variant_of_build(const char *version, const char *mcu, uint32_t clock_freq)
{
	const unsigned words = image_variant_of(version);
	const unsigned v = words & ~(unsigned)IMAGE_VARIANT_HT;

	if (mcu && !strncmp(mcu, "stm32g431", 9) && clock_freq)
		return clock_freq == HT_CLOCK ? v | IMAGE_VARIANT_HT : v;
	return words;
}

int image_check_variant(const struct image_info *img, const struct image_target *t,
			unsigned force_mask, struct image_refusal *why)
{
	unsigned want, have;

	if (why)
		memset(why, 0, sizeof(*why));
	if (!t->running_version[0] || !img->version[0] || (force_mask & IMAGE_FORCE_VARIANT))
		return CF_OK;
	have = image_variant_of_build(img->version, img->mcu, img->app.clock_freq);
	want = image_variant_of_build(t->running_version, t->mcu[0] ? t->mcu : img->mcu,
				      t->running_clock);
	if (have == want)
		return CF_OK;
	return refuse(why, "R8", "variant", img->version, t->running_version,
		      "the image is another build variant (K1, HT, lite, IDM) than the probe runs",
		      "--allow-variant-change", IMAGE_FORCE_VARIANT);
}
