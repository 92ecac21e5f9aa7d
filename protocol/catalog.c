// SPDX-License-Identifier: GPL-3.0-or-later
// Versions, variants and the choice of the build each probe should run (issue 12): a pure
// function over the probe's facts and the judged candidates.
#include <string.h>

#include "protocol/catalog.h"
#include "protocol/err.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits at *p (at most 3) as a number; advances *p. -1 when there are none or too many. */
static int number_at(const char **p)
{
	int v = 0, n = 0;

	while (is_digit(**p) && n < 4) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n == 0 || n > 3 ? -1 : v;
}

uint32_t catalog_version_number(const char *version)
{
	if (!version)
		return 0;
	for (const char *s = version; *s; s++) {
		const char *p = s;
		int part[3];

		if (!is_digit(*s) || (s > version && (is_digit(s[-1]) || s[-1] == '.')))
			continue;
		part[0] = number_at(&p);
		if (part[0] < 0 || *p != '.')
			continue;
		p++;
		part[1] = number_at(&p);
		if (part[1] < 0 || *p != '.')
			continue;
		p++;
		part[2] = number_at(&p);
		if (part[2] < 0 || part[0] > 1023 || part[1] > 1023 || part[2] > 1023)
			continue;
		return (uint32_t)part[0] << 20 | (uint32_t)part[1] << 10 | (uint32_t)part[2];
	}
	return 0;
}

/* Append decimal v to out at *n (room checked by the caller's cap). */
static void put_dec(char *out, size_t cap, size_t *n, unsigned v)
{
	char rev[12];
	size_t k = 0;

	do {
		rev[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k && *n + 1 < cap)
		out[(*n)++] = rev[--k];
	out[*n] = '\0';
}

void catalog_version_format(uint32_t number, char *out, size_t cap)
{
	size_t n = 0;

	if (!cap)
		return;
	out[0] = '\0';
	if (!number)
		return;
	put_dec(out, cap, &n, number >> 20);
	if (n + 1 < cap)
		out[n++] = '.';
	put_dec(out, cap, &n, (number >> 10) & 1023);
	if (n + 1 < cap)
		out[n++] = '.';
	put_dec(out, cap, &n, number & 1023);
}

unsigned catalog_variant(const char *version, const char *mcu, uint32_t clock_freq)
{
	return image_variant_of_build(version, mcu, clock_freq);
}

static const struct {
	unsigned bit;
	const char *name;
} variant_tab[] = {
	{ IMAGE_VARIANT_HT, "ht" },
	{ IMAGE_VARIANT_K1, "k1" },
	{ IMAGE_VARIANT_LITE, "lite" },
	{ IMAGE_VARIANT_IDM, "idm" },
};
#define VARIANTS (sizeof(variant_tab) / sizeof(variant_tab[0]))

void catalog_variant_name(unsigned variant, char *out, size_t cap)
{
	size_t n = 0;

	if (!cap)
		return;
	out[0] = '\0';
	if (!variant) {
		strncpy(out, "full", cap - 1);
		out[cap - 1] = '\0';
		return;
	}
	for (size_t i = 0; i < VARIANTS; i++) {
		size_t len = strlen(variant_tab[i].name);

		if (!(variant & variant_tab[i].bit) || n + len + 2 > cap)
			continue;
		if (n)
			out[n++] = '+';
		memcpy(out + n, variant_tab[i].name, len + 1);
		n += len;
	}
}

bool catalog_variant_parse(const char *text, unsigned *variant)
{
	unsigned v = 0;
	const char *p = text;

	if (!strcmp(text, "full")) {
		*variant = 0;
		return true;
	}
	while (*p) {
		size_t len = strcspn(p, "+");
		size_t i;

		for (i = 0; i < VARIANTS; i++)
			if (strlen(variant_tab[i].name) == len && !strncmp(p, variant_tab[i].name, len))
				break;
		if (i == VARIANTS || (v & variant_tab[i].bit))
			return false;
		v |= variant_tab[i].bit;
		p += len;
		if (*p == '+' && !*++p)
			return false;
	}
	if (!v)
		return false;
	*variant = v;
	return true;
}

/* ---- path tokens ---- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Component [p, p+len) equals word, case-insensitive. */
static bool component_is(const char *p, size_t len, const char *word)
{
	if (strlen(word) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (lower(p[i]) != word[i])
			return false;
	return true;
}

/* The version a folder name "5.1.0" claims, or 0 when the component is anything else. */
static uint32_t folder_version(const char *p, size_t len)
{
	char buf[16];

	if (!len || len >= sizeof(buf))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_digit(p[i]) && p[i] != '.')
			return 0;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return catalog_version_number(buf) && strchr(buf, '.') ? catalog_version_number(buf) : 0;
}

static bool is_alpha(char c)
{
	return c >= 'a' && c <= 'z';
}

/* The base name has "k1" as a token, or after "creality" (Full_..._CrealityK1_USB_5_1_0.bin). */
static bool name_says_k1(const char *base)
{
	char name[256];
	size_t n = 0;

	for (; base[n] && n + 1 < sizeof(name); n++)
		name[n] = lower(base[n]);
	name[n] = '\0';
	for (const char *p = strstr(name, "k1"); p; p = strstr(p + 1, "k1")) {
		const bool after_ok = !is_alpha(p[2]) && !is_digit(p[2]);
		const bool before_ok = p == name || !is_alpha(p[-1]) ||
				       (p - name >= 8 && !strncmp(p - 8, "creality", 8));

		if (after_ok && before_ok)
			return true;
	}
	return false;
}

unsigned catalog_path_warnings(const char *path, const struct image_info *img)
{
	const unsigned variant = catalog_variant(img->version, img->mcu, img->app.clock_freq);
	const uint32_t has = catalog_version_number(img->version);
	const char *base = strrchr(path, '/');
	unsigned w = 0;

	base = base ? base + 1 : path;
	for (const char *p = path; p < base;) {
		const size_t len = strcspn(p, "/");
		const uint32_t claims = folder_version(p, len);

		if (claims && has && claims != has)
			w |= CATALOG_PATH_FOLDER_VERSION;
		if (component_is(p, len, "ht") && !(variant & IMAGE_VARIANT_HT))
			w |= CATALOG_PATH_HT;
		p += len + 1;
	}
	if (name_says_k1(base) && img->version[0] && !(variant & IMAGE_VARIANT_K1))
		w |= CATALOG_PATH_K1;
	return w;
}

const char *catalog_path_warning_name(unsigned bit)
{
	switch (bit) {
	case CATALOG_PATH_FOLDER_VERSION:
		return "folder_version";
	case CATALOG_PATH_HT:
		return "ht";
	case CATALOG_PATH_K1:
		return "k1";
	default:
		return "unknown";
	}
}

const char *catalog_reject_name(unsigned bit)
{
	switch (bit) {
	case CATALOG_REJECT_NOT_FIRMWARE:
		return "not_firmware";
	case CATALOG_REJECT_NAME:
		return "name";
	case CATALOG_REJECT_ROW:
		return "csv_row";
	case CATALOG_REJECT_DAMAGED:
		return "damaged";
	case CATALOG_REJECT_MISSING:
		return "missing";
	default:
		return "unknown";
	}
}

const char *catalog_known_name(enum catalog_known k)
{
	switch (k) {
	case CATALOG_KNOWN_RELEASE:
		return "release";
	case CATALOG_KNOWN_MANIFEST:
		return "manifest";
	case CATALOG_KNOWN_NO:
		return "no";
	}
	return "no";
}

const char *catalog_verdict_name(enum catalog_verdict v)
{
	switch (v) {
	case CATALOG_FLASH:
		return "flash";
	case CATALOG_CURRENT:
		return "current";
	case CATALOG_AHEAD:
		return "ahead";
	case CATALOG_NONE:
		return "none";
	}
	return "none";
}

/* ---- the choice ---- */

/* The build fits the probe's hardware, interface, bus and variant (rejections aside). */
static bool fits(const struct catalog_probe *p, unsigned variant, const struct catalog_entry *e)
{
	const struct image_info *i = e->info;

	if (!i || i->kind != IMAGE_APP || strcmp(i->mcu, p->mcu) || i->iface != p->iface)
		return false;
	if (p->iface == IMAGE_IFACE_CAN && i->can_bitrate != p->bitrate)
		return false;
	return e->variant == variant;
}

static bool runs(const struct catalog_probe *p, const struct catalog_entry *e)
{
	return p->has_dict && e->has_dict && !memcmp(p->dict_sha256, e->dict_sha256, 32);
}

/* Is a better than b among builds of the same version? */
static bool preferred(const struct catalog_probe *p, const struct catalog_entry *a,
		      const struct catalog_entry *b)
{
	if (runs(p, a) != runs(p, b))
		return runs(p, a);
	return a->known == CATALOG_KNOWN_RELEASE && b->known != CATALOG_KNOWN_RELEASE;
}

/* reason token, and why = a b d e (no stdio in protocol/). */
static void say(struct catalog_choice *c, const char *reason, const char *a, const char *b,
		const char *d, const char *e)
{
	const char *parts[4] = { a, b, d, e };

	strncpy(c->reason, reason, sizeof(c->reason) - 1);
	c->why[0] = '\0';
	for (int i = 0; i < 4; i++)
		strncat(c->why, parts[i], sizeof(c->why) - 1 - strlen(c->why));
}

/* The constraint text: "stm32f042x6 can 1000000 full". */
static void describe(const struct catalog_probe *p, unsigned variant, char *out, size_t cap)
{
	char var[32];
	size_t n;

	catalog_variant_name(variant, var, sizeof(var));
	out[0] = '\0';
	strncat(out, p->mcu, cap - 1);
	strncat(out, " ", cap - 1 - strlen(out));
	strncat(out, image_iface_name(p->iface), cap - 1 - strlen(out));
	if (p->iface == IMAGE_IFACE_CAN) {
		char num[12];
		size_t k = 0;

		put_dec(num, sizeof(num), &k, p->bitrate);
		strncat(out, " ", cap - 1 - strlen(out));
		strncat(out, num, cap - 1 - strlen(out));
	}
	n = strlen(out);
	strncat(out, " ", cap - 1 - n);
	strncat(out, var, cap - 1 - strlen(out));
}

static int pick(const struct catalog_probe *p, const struct catalog_want *w,
		const struct catalog_entry *v, size_t n, struct catalog_choice *c)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		const struct catalog_entry *e = &v[i];

		if (!fits(p, c->variant, e) || (w->version && e->version != w->version))
			continue;
		if (e->rejected) {
			c->rejected++;
			continue;
		}
		if (e->known == CATALOG_KNOWN_NO && !w->allow_unknown) {
			c->unknown++;
			continue;
		}
		c->matched++;
		if (best < 0 || e->version > v[best].version ||
		    (e->version == v[best].version && preferred(p, e, &v[best])))
			best = (int)i;
	}
	return best;
}

static void none(const struct catalog_probe *p, const struct catalog_want *w,
		 struct catalog_choice *c)
{
	char what[96], ver[16];

	describe(p, c->variant, what, sizeof(what));
	catalog_version_format(w->version, ver, sizeof(ver));
	c->verdict = CATALOG_NONE;
	if (c->unknown && !c->rejected)
		say(c, "unknown_only", "only builds that are no known release fit ", what,
		    " (--allow-unknown takes them)", "");
	else if (c->rejected && !c->unknown)
		say(c, "rejected_only", "the builds for ", what,
		    " disagree with their name or CSV row", "");
	else if (w->version)
		say(c, "no_version", "no build of version ", ver, " for ", what);
	else
		say(c, "no_match", "no build for ", what, " in the firmware source", "");
}

int catalog_choose(const struct catalog_probe *p, const struct catalog_want *want,
		   const struct catalog_entry *v, size_t n, struct catalog_choice *out)
{
	const uint32_t running = catalog_version_number(p->version);
	char ver[16], runs_ver[16];
	int best;

	memset(out, 0, sizeof(*out));
	out->index = -1;
	if (!p->mcu[0] || p->iface == IMAGE_IFACE_UNKNOWN)
		return CF_ERR_USAGE;
	out->variant = want->variant_set ? want->variant
					 : catalog_variant(p->version, p->mcu, p->clock_freq);
	if (p->iface == IMAGE_IFACE_CAN && !p->bitrate) {
		out->verdict = CATALOG_NONE;
		say(out, "bitrate_unknown", "the probe's CAN bitrate is unknown", "", "", "");
		return 0;
	}
	best = pick(p, want, v, n, out);
	if (best < 0) {
		none(p, want, out);
		return 0;
	}
	catalog_version_format(v[best].version, ver, sizeof(ver));
	catalog_version_format(running, runs_ver, sizeof(runs_ver));
	if (runs(p, &v[best])) {
		out->verdict = CATALOG_CURRENT;
		out->index = best;
		say(out, "current", "runs ", ver, ", the chosen build (same dictionary)", "");
	} else if (running == v[best].version &&
		   catalog_variant(p->version, p->mcu, p->clock_freq) == v[best].variant) {
		/* the chosen version and variant, but the build cannot be confirmed: said so,
		 * and left alone (update --verify-current reads a dictionary-less one back) */
		out->verdict = CATALOG_CURRENT;
		out->index = best;
		if (p->has_dict)
			say(out, "other_build", "runs ", ver,
			    " but another build of it (its dictionary differs from every build "
			    "here): left alone; flash a file to replace it", "");
		else
			say(out, "same_version", "runs ", ver,
			    ", the chosen version; the build is unconfirmed (no dictionary to "
			    "compare): left alone, --verify-current reads it back", "");
	} else if (!want->version && !want->variant_set && running > v[best].version) {
		out->verdict = CATALOG_AHEAD;
		say(out, "ahead", "runs ", runs_ver, ", newer than every build here: left alone", "");
	} else {
		out->verdict = CATALOG_FLASH;
		out->index = best;
		if (want->version)
			say(out, "version", "version ", ver, " as asked (--version)", "");
		else if (want->variant_set)
			say(out, "variant", "newest build of the asked variant: ", ver, "", "");
		else
			say(out, "newest", "newest matching build: ", ver, "", "");
	}
	return 0;
}

const char *catalog_recalibration(uint32_t running, uint32_t chosen)
{
	const uint32_t v600 = 6u << 20, v620 = 6u << 20 | 2u << 10;

	if (chosen >= v620 && running < v620)
		return "6.2.0 and newer need a full recalibration of the probe, and "
		       "cartographer3d-plugin 1.6.0 or newer on the host, before the next print";
	if (chosen >= v600 && running < v600)
		return "6.x changes what the probe measures: recalibrate it before the next print";
	return NULL;
}
