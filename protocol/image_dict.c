// SPDX-License-Identifier: GPL-3.0-or-later
// Application analysis: embedded data dictionary, link base and USB identity (images.md §3-§4).
#define ZLIB_CONST
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "protocol/bytes.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/image_priv.h"

/* images.md §4 step 4: link-base candidates lie on a 1 KiB grid in the first 64 KiB. */
#define GRID_STEP  0x400u
#define GRID_SLOTS 64u

enum inflate_result {
	INFLATE_OK,
	INFLATE_FAILED,
	INFLATE_TOO_BIG, /* output did not fit the scratch buffer */
};

/* zlib allocates from the caller's scratch, so protocol/ itself never calls malloc. */
struct bump {
	uint8_t *base;
	size_t cap, used;
};

static voidpf bump_alloc(voidpf opaque, uInt items, uInt size)
{
	struct bump *b = opaque;
	const size_t n = (size_t)items * size;
	const uintptr_t at = ((uintptr_t)(b->base + b->used) + 15) & ~(uintptr_t)15;
	const size_t start = (size_t)(at - (uintptr_t)b->base);

	if (start > b->cap || n > b->cap - start)
		return Z_NULL;
	b->used = start + n;
	return b->base + start;
}

static void bump_free(voidpf opaque, voidpf addr)
{
	(void)opaque;
	(void)addr;
}

/* Inflate one zlib stream at p into the scratch behind the zlib reserve. */
static enum inflate_result inflate_at(const uint8_t *p, size_t len, uint8_t *scratch, size_t cap,
				      size_t *out_len, size_t *in_len)
{
	struct bump b = {.base = scratch, .cap = IMAGE_ZLIB_RESERVE};
	const size_t out_cap = cap - IMAGE_ZLIB_RESERVE;
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	zs.zalloc = bump_alloc;
	zs.zfree = bump_free;
	zs.opaque = &b;
	zs.next_in = p;
	zs.avail_in = len > UINT_MAX ? UINT_MAX : (uInt)len;
	zs.next_out = scratch + IMAGE_ZLIB_RESERVE;
	zs.avail_out = out_cap > UINT_MAX ? UINT_MAX : (uInt)out_cap;
	if (inflateInit(&zs) != Z_OK)
		return INFLATE_FAILED;
	/* One call: Adler-32 is checked before Z_STREAM_END is returned. */
	rc = inflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	*in_len = zs.total_in;
	inflateEnd(&zs);
	if (rc == Z_STREAM_END)
		return INFLATE_OK;
	if (rc == Z_BUF_ERROR && zs.avail_out == 0)
		return INFLATE_TOO_BIG;
	return INFLATE_FAILED;
}

static uint32_t json_u32(const json_t *v)
{
	if (json_is_integer(v)) {
		const json_int_t i = json_integer_value(v);

		return i > 0 && i <= (json_int_t)UINT32_MAX ? (uint32_t)i : 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		const unsigned long u = strtoul(s, &end, 10);

		return end != s && !*end && u <= UINT32_MAX ? (uint32_t)u : 0;
	}
	return 0;
}

static void copy_json_str(char *dst, size_t cap, const json_t *v)
{
	if (json_is_string(v))
		image_copy_str(dst, cap, json_string_value(v), json_string_length(v));
}

/* images.md §3.3 keys and §4 step 7 interface rule. */
static void read_dictionary(const json_t *root, struct image_app_part *app)
{
	const json_t *config = json_object_get(root, "config");

	copy_json_str(app->version, sizeof(app->version), json_object_get(root, "version"));
	copy_json_str(app->app_name, sizeof(app->app_name), json_object_get(root, "app"));
	copy_json_str(app->mcu, sizeof(app->mcu), json_object_get(config, "MCU"));
	copy_json_str(app->initial_pins, sizeof(app->initial_pins),
		      json_object_get(config, "INITIAL_PINS"));
	app->clock_freq = json_u32(json_object_get(config, "CLOCK_FREQ"));
	if (json_u32(json_object_get(config, "CANBUS_BRIDGE")) == 1) {
		app->iface = IMAGE_IFACE_USB_CAN_BRIDGE;
	} else if (json_object_get(config, "RESERVE_PINS_CAN")) {
		app->iface = IMAGE_IFACE_CAN;
		app->can_bitrate = json_u32(json_object_get(config, "CANBUS_FREQUENCY"));
	} else if (json_object_get(config, "RESERVE_PINS_USB")) {
		app->iface = IMAGE_IFACE_USB;
	}
}

/* Try a candidate at p[i]. Returns true and fills app when it is a Klipper dictionary. */
static bool try_dictionary(const uint8_t *p, size_t len, size_t i, uint8_t *scratch, size_t cap,
			   struct image_app_part *app, unsigned *warnings, size_t *budget)
{
	const char *out = (const char *)scratch + IMAGE_ZLIB_RESERVE;
	size_t out_len = 0, in_len = 0;
	const enum inflate_result r = inflate_at(p + i, len - i, scratch, cap, &out_len, &in_len);
	/* Klipper writes sorted compact JSON: a dictionary starts with {" (images.md §3.3). */
	const bool dict_like = out_len >= 2 && out[0] == '{' && out[1] == '"';
	json_t *root;
	bool ok;

	*budget = *budget > out_len + in_len ? *budget - out_len - in_len : 0;
	if (r == INFLATE_TOO_BIG && dict_like)
		*warnings |= IMAGE_WARN_SCRATCH_SMALL;
	if (r != INFLATE_OK) {
		if (r == INFLATE_FAILED && dict_like)
			*warnings |= IMAGE_WARN_DICT_DAMAGED;
		return false;
	}
	root = json_loadb(out, out_len, 0, NULL);
	ok = json_is_object(root) && json_is_object(json_object_get(root, "config"));
	if (ok) {
		app->has_dict = true;
		app->dict_offset = i;
		app->dict_len = in_len;
		read_dictionary(root, app);
	} else if (dict_like) {
		*warnings |= IMAGE_WARN_DICT_DAMAGED;
	}
	json_decref(root);
	return ok;
}

/*
 * images.md §4 step 3: the first zlib header whose stream inflates to JSON with "config".
 * Real candidates fail within a few bytes; the budget bounds crafted files whose every
 * candidate inflates a long way (a file with no dictionary after it is simply unknown).
 */
static bool find_dictionary(const uint8_t *p, size_t len, uint8_t *scratch, size_t cap,
			    struct image_app_part *app, unsigned *warnings)
{
	size_t budget = IMAGE_INFLATE_BUDGET;

	for (size_t i = 0; i + 2 <= len && budget; i++) {
		if (p[i] != 0x78 || (p[i] * 256u + p[i + 1]) % 31 != 0)
			continue;
		if (try_dictionary(p, len, i, scratch, cap, app, warnings, &budget))
			return true;
	}
	return false;
}

static void grid_mark(bool *seen, uint32_t w)
{
	uint32_t rel;

	if (w < IMAGE_FLASH_BASE)
		return;
	rel = w - IMAGE_FLASH_BASE;
	if (rel < GRID_STEP * GRID_SLOTS && !(rel % GRID_STEP))
		seen[rel / GRID_STEP] = true;
}

/* images.md §3.4 / §4 step 4: the base b with b and b + dict_off both among the words. */
static void find_link_base(const uint8_t *p, size_t len, struct image_app_part *app,
			   unsigned *warnings)
{
	bool base_seen[GRID_SLOTS] = {false}, anchor_seen[GRID_SLOTS] = {false};
	unsigned found = 0;
	uint32_t base = 0;

	for (size_t o = 0; o + 4 <= len; o += 4) {
		const uint32_t w = cf_get_le32(p + o);

		grid_mark(base_seen, w);
		if (w >= app->dict_offset)
			grid_mark(anchor_seen, w - (uint32_t)app->dict_offset);
	}
	for (uint32_t k = 1; k < GRID_SLOTS; k++) {
		const uint32_t b = IMAGE_FLASH_BASE + k * GRID_STEP;

		if (base_seen[k] && anchor_seen[k] && b + 0x40 <= app->vectors.reset) {
			found++;
			base = b;
		}
	}
	app->link_base_candidates = found;
	if (found == 1) {
		app->load_known = true;
		app->link_base = base;
	} else if (!found && base_seen[0] && anchor_seen[0]) {
		/* [I] a build without bootloader: report it at F so R1 refuses it everywhere. */
		app->load_known = true;
		app->link_base = IMAGE_FLASH_BASE;
		*warnings |= IMAGE_WARN_LINKED_AT_FLASH_BASE;
	} else {
		*warnings |= IMAGE_WARN_LINK_BASE_UNKNOWN;
	}
}

/* images.md §3.5: `<bLength> 03 <UTF-16LE>`, printable ASCII, at least 3 characters. */
static bool find_string_descriptor(const uint8_t *p, size_t len, char *dst, size_t cap)
{
	for (size_t i = 0; i + 8 <= len; i++) {
		const size_t n = p[i];
		size_t c;

		if (p[i + 1] != 0x03 || n < 8 || (n & 1) || n > len - i)
			continue;
		for (c = 2; c < n; c += 2)
			if (p[i + c] < 0x20 || p[i + c] > 0x7e || p[i + c + 1])
				break;
		if (c < n)
			continue;
		for (c = 0; c + 1 < cap && 2 + 2 * c < n; c++)
			dst[c] = (char)p[i + 2 + 2 * c];
		dst[c] = '\0';
		return true;
	}
	return false;
}

int image_dict_parse_text(const char *text, size_t len, struct image_app_part *app)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	const bool ok = json_is_object(root) && json_is_object(json_object_get(root, "config"));

	memset(app, 0, sizeof(*app));
	if (ok) {
		app->has_dict = true;
		read_dictionary(root, app);
	}
	json_decref(root);
	return ok ? CF_OK : CF_ERR_IMAGE;
}

bool image_app_analyse(const uint8_t *p, size_t len, uint8_t *scratch, size_t scratch_cap,
		       struct image_app_part *app, unsigned *warnings)
{
	size_t at;

	memset(app, 0, sizeof(*app));
	app->len = len;
	if (len >= 8) {
		app->vectors.sp = cf_get_le32(p);
		app->vectors.reset = cf_get_le32(p + 4);
	}
	if (!find_dictionary(p, len, scratch, scratch_cap, app, warnings))
		return false;
	find_link_base(p, len, app, warnings);
	if (image_find_usb_device(p, len, 0, 0, &at)) {
		app->usb_vid = cf_get_le16(p + at + 8);
		app->usb_pid = cf_get_le16(p + at + 10);
		find_string_descriptor(p, len, app->usb_manufacturer,
				       sizeof(app->usb_manufacturer));
	}
	return true;
}
