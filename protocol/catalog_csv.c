// SPDX-License-Identifier: GPL-3.0-or-later
// firmware_list.csv: header and rows (RFC 4180 quoting within a line), and each row checked
// against the content of its file (ecosystem.md §1, images.md §2.2).
#include <string.h>

#include "protocol/catalog.h"
#include "protocol/err.h"

static const char *const col_names[CATALOG_COL_COUNT] = {
	[CATALOG_COL_FILEPATH] = "filepath",
	[CATALOG_COL_FILENAME] = "filename",
	[CATALOG_COL_FIRMWARE_TYPE] = "firmware_type",
	[CATALOG_COL_PROTOCOL] = "protocol",
	[CATALOG_COL_PROCESS] = "process",
	[CATALOG_COL_PROBE_VERSION] = "probe_version",
	[CATALOG_COL_FIRMWARE_VERSION] = "firmware_version",
	[CATALOG_COL_CAN_SPEED] = "can_speed",
	[CATALOG_COL_IS_LITE] = "is_lite",
	[CATALOG_COL_MIN_PLUGIN] = "min_plugin_version",
	[CATALOG_COL_SHA256] = "sha256",
};

/* A cursor over one line: the next field, unquoted, into out. */
struct fields {
	const char *p, *end;
	bool done;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Strip a trailing CR/LF. */
static size_t line_len(const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	return len;
}

/*
 * Copy the next field into out (trimmed), at most cap-1 bytes. Returns 1 for a field, 0 at the
 * end of the line, CF_ERR_IMAGE for a bad quote, CF_ERR_NOSPACE when it does not fit.
 */
static int next_field(struct fields *f, char *out, size_t cap)
{
	size_t n = 0;
	bool quoted = false;

	if (f->done)
		return 0;
	while (f->p < f->end && is_space(*f->p))
		f->p++;
	if (f->p < f->end && *f->p == '"') {
		quoted = true;
		f->p++;
	}
	for (; f->p < f->end; f->p++) {
		char c = *f->p;

		if (quoted && c == '"') {
			if (f->p + 1 < f->end && f->p[1] == '"') {
				f->p++; /* "" is one quote */
			} else {
				quoted = false;
				continue;
			}
		} else if (!quoted && c == ',') {
			break;
		} else if (!quoted && n == 0 && is_space(c)) {
			continue;
		}
		if (n + 1 >= cap)
			return CF_ERR_NOSPACE;
		out[n++] = c;
	}
	if (quoted)
		return CF_ERR_IMAGE;
	while (n && is_space(out[n - 1]))
		n--;
	out[n] = '\0';
	if (f->p < f->end)
		f->p++; /* the comma */
	else
		f->done = true;
	return 1;
}

int catalog_csv_header(struct catalog_csv *csv, const char *line, size_t len)
{
	struct fields f = { line, line + line_len(line, len), false };
	char name[64];
	int idx = 0, rc;

	for (int i = 0; i < CATALOG_COL_COUNT; i++)
		csv->field_of[i] = -1;
	if (len > CATALOG_CSV_LINE_MAX)
		return CF_ERR_IMAGE;
	/* A UTF-8 byte-order mark before the first name is common in spreadsheet exports. */
	if (f.end - f.p >= 3 && !memcmp(f.p, "\xef\xbb\xbf", 3))
		f.p += 3;
	while ((rc = next_field(&f, name, sizeof(name))) != 0) {
		if (rc < 0)
			return CF_ERR_IMAGE;
		for (int i = 0; i < CATALOG_COL_COUNT; i++)
			if (!strcmp(name, col_names[i]) && csv->field_of[i] < 0)
				csv->field_of[i] = idx;
		idx++;
	}
	if (csv->field_of[CATALOG_COL_FILEPATH] < 0 ||
	    csv->field_of[CATALOG_COL_FIRMWARE_VERSION] < 0)
		return CF_ERR_IMAGE;
	return 0;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static bool lower_hash(char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] >= 'A' && s[n] <= 'F')
			s[n] = (char)(s[n] + 32);
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	}
	return n == 64;
}

static bool ascii_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if ((*a | 0x20) != (*b | 0x20))
			return false;
	return *a == *b;
}

/* The columns whose text is copied as is: slot and size by column. */
static char *text_slot(struct catalog_row *row, int col, size_t *cap)
{
#define SLOT(c, field)                                                                             \
	case c:                                                                                    \
		*cap = sizeof(row->field);                                                         \
		return row->field
	switch ((enum catalog_col)col) {
		SLOT(CATALOG_COL_FILEPATH, filepath);
		SLOT(CATALOG_COL_FILENAME, filename);
		SLOT(CATALOG_COL_FIRMWARE_TYPE, firmware_type);
		SLOT(CATALOG_COL_PROTOCOL, protocol);
		SLOT(CATALOG_COL_PROCESS, process);
		SLOT(CATALOG_COL_PROBE_VERSION, probe_version);
		SLOT(CATALOG_COL_FIRMWARE_VERSION, firmware_version);
		SLOT(CATALOG_COL_MIN_PLUGIN, min_plugin_version);
		SLOT(CATALOG_COL_SHA256, sha256);
	case CATALOG_COL_CAN_SPEED:
	case CATALOG_COL_IS_LITE:
	case CATALOG_COL_COUNT:
		break;
	}
#undef SLOT
	return NULL;
}

/* Store field number idx of the line into its column, if it is one we read. */
static int store(const struct catalog_csv *csv, int idx, const char *text, struct catalog_row *row)
{
	for (int col = 0; col < CATALOG_COL_COUNT; col++) {
		size_t cap = 0;
		char *slot;

		if (csv->field_of[col] != idx)
			continue;
		if (col == CATALOG_COL_CAN_SPEED) {
			if (text[0] && !parse_u32(text, &row->can_speed))
				return CF_ERR_IMAGE;
			continue;
		}
		if (col == CATALOG_COL_IS_LITE) {
			row->is_lite = ascii_ieq(text, "yes") ? 1 : ascii_ieq(text, "no") ? 0 : -1;
			continue;
		}
		slot = text_slot(row, col, &cap);
		if (!slot || strlen(text) >= cap)
			return CF_ERR_IMAGE;
		memcpy(slot, text, strlen(text) + 1);
	}
	return 0;
}

int catalog_csv_row(const struct catalog_csv *csv, const char *line, size_t len,
		    struct catalog_row *row)
{
	struct fields f = { line, line + line_len(line, len), false };
	char text[CATALOG_CSV_LINE_MAX + 1];
	int idx = 0, rc;

	memset(row, 0, sizeof(*row));
	row->is_lite = -1;
	if (len > CATALOG_CSV_LINE_MAX)
		return CF_ERR_IMAGE;
	if (f.p == f.end)
		return 0;
	while ((rc = next_field(&f, text, sizeof(text))) != 0) {
		if (rc < 0 || store(csv, idx++, text, row) < 0)
			return CF_ERR_IMAGE;
	}
	if (!row->filepath[0])
		return CF_ERR_IMAGE;
	if (row->sha256[0] && !lower_hash(row->sha256))
		return CF_ERR_IMAGE;
	return 1;
}

/* ---- row against content ---- */

static const struct {
	const char *name, *text;
} mismatch_tab[] = {
	{ "firmware_type", "the row names another kind of image (app vs Katapult + app)" },
	{ "protocol", "the row names another interface than the image is built for" },
	{ "can_speed", "the row names another CAN bitrate than the image's" },
	{ "probe_version", "the row names another probe generation than the image's MCU" },
	{ "firmware_version", "the row's version is not the image's version" },
	{ "is_lite", "the row's lite flag disagrees with the image's version (lite or K1)" },
	{ "sha256", "the row's SHA-256 is not the file's: changed or truncated since listed" },
};
_Static_assert(sizeof(mismatch_tab) / sizeof(mismatch_tab[0]) == CATALOG_ROW_MISMATCH_COUNT,
	       "mismatch rows");

static int bit_index(unsigned bit)
{
	for (int i = 0; i < CATALOG_ROW_MISMATCH_COUNT; i++)
		if (bit == 1u << i)
			return i;
	return -1;
}

const char *catalog_row_mismatch_name(unsigned bit)
{
	return bit_index(bit) < 0 ? "unknown" : mismatch_tab[bit_index(bit)].name;
}

const char *catalog_row_mismatch_text(unsigned bit)
{
	return bit_index(bit) < 0 ? "unknown" : mismatch_tab[bit_index(bit)].text;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xF];
	}
	out[2 * n] = '\0';
}

static unsigned kind_check(const struct catalog_row *row, const struct image_info *img)
{
	const bool says_full = strstr(row->firmware_type, "Katapult") != NULL;
	const bool says_dfu = ascii_ieq(row->process, "dfu");

	if (row->firmware_type[0] && (says_full ? img->kind != IMAGE_FULL : img->kind != IMAGE_APP))
		return CATALOG_ROW_KIND;
	/* fw_update.sh: "Update" goes through Katapult (an app), "DFU" writes a full image. */
	if (row->process[0] && (says_dfu ? img->kind != IMAGE_FULL : img->kind != IMAGE_APP))
		return CATALOG_ROW_KIND;
	return 0;
}

static unsigned mcu_check(const struct catalog_row *row, const struct image_info *img)
{
	const char *pv = row->probe_version;
	const char *want;

	if (ascii_ieq(pv, "v2") || ascii_ieq(pv, "v3"))
		want = "stm32f042";
	else if (ascii_ieq(pv, "v4") || ascii_ieq(pv, "ht"))
		want = "stm32g431";
	else
		return 0; /* empty or a generation we do not know: nothing to compare */
	return strncmp(img->mcu, want, 9) ? CATALOG_ROW_MCU : 0;
}

static unsigned variant_check(const struct catalog_row *row, const struct image_info *img)
{
	const unsigned v = catalog_variant(img->version, img->mcu, img->app.clock_freq);
	/* Cartographer's list flags the K1 builds is_lite=Yes (rows 5.0.0 and 5.1.0): "Yes" means
	 * "not the standard build", so lite and K1 content both agree with it. */
	const bool reduced = v & (IMAGE_VARIANT_LITE | IMAGE_VARIANT_K1);

	if (row->is_lite < 0)
		return 0;
	return (row->is_lite == 1) != reduced ? CATALOG_ROW_VARIANT : 0;
}

unsigned catalog_row_check(const struct catalog_row *row, const struct image_info *img)
{
	unsigned w = kind_check(row, img) | mcu_check(row, img) | variant_check(row, img);
	char sha[65];

	if (ascii_ieq(row->protocol, "can") && img->iface != IMAGE_IFACE_CAN)
		w |= CATALOG_ROW_IFACE;
	if (ascii_ieq(row->protocol, "usb") && img->iface != IMAGE_IFACE_USB)
		w |= CATALOG_ROW_IFACE;
	if (row->can_speed && img->iface == IMAGE_IFACE_CAN && img->can_bitrate != row->can_speed)
		w |= CATALOG_ROW_BITRATE;
	if (row->can_speed && img->iface == IMAGE_IFACE_USB)
		w |= CATALOG_ROW_BITRATE;
	if (row->firmware_version[0] &&
	    catalog_version_number(row->firmware_version) != catalog_version_number(img->version))
		w |= CATALOG_ROW_VERSION;
	hex(img->sha256, 32, sha);
	if (row->sha256[0] && strcmp(row->sha256, sha))
		w |= CATALOG_ROW_SHA256;
	return w;
}

/* Decimal text of v in buf (>= 11 bytes); protocol/ has no stdio. */
static const char *u32_text(uint32_t v, char *buf)
{
	char rev[10];
	size_t n = 0, k = 0;

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[k++] = rev[--n];
	buf[k] = '\0';
	return buf;
}

void catalog_row_claim(const struct catalog_row *row, unsigned bit, char *out, size_t cap)
{
	const char *s = "";
	char num[16];

	switch (bit) {
	case CATALOG_ROW_KIND:
		s = row->firmware_type[0] ? row->firmware_type : row->process;
		break;
	case CATALOG_ROW_IFACE:
		s = row->protocol;
		break;
	case CATALOG_ROW_BITRATE:
		if (row->can_speed)
			s = u32_text(row->can_speed, num);
		break;
	case CATALOG_ROW_MCU:
		s = row->probe_version;
		break;
	case CATALOG_ROW_VERSION:
		s = row->firmware_version;
		break;
	case CATALOG_ROW_VARIANT:
		s = row->is_lite == 1 ? "Yes" : row->is_lite == 0 ? "No" : "";
		break;
	case CATALOG_ROW_SHA256:
		s = row->sha256;
		break;
	default:
		break;
	}
	if (!cap)
		return;
	strncpy(out, s, cap - 1);
	out[cap - 1] = '\0';
}
