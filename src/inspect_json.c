// SPDX-License-Identifier: GPL-3.0-or-later
// JSON lines for `cartoflash inspect --json`, named like ../shared/firmware/expected.json.
#include "inspect_json.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <nettle/sha1.h>

#include "inspect_check.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "jsonout.h"

#define KATAPULT_BLOCK 64u /* katapult.md §1.4: block size on every platform */

void inspect_katapult_transfer(const uint8_t *img, size_t len, size_t *blocks, size_t *last,
			       char sha1_hex[41])
{
	struct sha1_ctx sha;
	uint8_t digest[SHA1_DIGEST_SIZE], pad[KATAPULT_BLOCK];

	*blocks = (len + KATAPULT_BLOCK - 1) / KATAPULT_BLOCK;
	*last = len - (*blocks ? (*blocks - 1) * KATAPULT_BLOCK : 0);
	sha1_init(&sha);
	sha1_update(&sha, len, img);
	/* katapult.md §1.8: flashtool pads the last block with 0xFF and hashes what it sent. */
	memset(pad, 0xFF, sizeof(pad));
	if (*blocks && *last < KATAPULT_BLOCK)
		sha1_update(&sha, KATAPULT_BLOCK - *last, pad);
	sha1_digest(&sha, sizeof(digest), digest);
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(sha1_hex + 2 * i, 3, "%02X", digest[i]);
}

static json_t *hex32(uint32_t v)
{
	char buf[11];

	snprintf(buf, sizeof(buf), "0x%08X", v);
	return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *iface_or_null(enum image_iface iface)
{
	return iface == IMAGE_IFACE_UNKNOWN ? json_null() : json_string(image_iface_name(iface));
}

static json_t *bitrate_or_null(uint32_t bitrate)
{
	return bitrate ? json_integer(bitrate) : json_null();
}

static json_t *usb_id(uint16_t vid, uint16_t pid)
{
	char buf[10];

	if (!vid && !pid)
		return json_null();
	snprintf(buf, sizeof(buf), "%04x:%04x", vid, pid);
	return json_string(buf);
}

static json_t *vectors(const struct image_vectors *v)
{
	return json_pack("{s:o,s:o}", "sp", hex32(v->sp), "reset", hex32(v->reset));
}

static json_t *katapult_part(const struct image_katapult_part *k, bool with_vectors)
{
	json_t *o = json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:I}", "offset", (json_int_t)k->offset,
			      "length", (json_int_t)k->len, "mcu", str_or_null(k->mcu), "interface",
			      iface_or_null(k->iface), "can_bitrate",
			      bitrate_or_null(k->can_bitrate), "version", str_or_null(k->version),
			      "app_start_literals", (json_int_t)k->app_start_literals);

	if (o && with_vectors)
		json_object_set_new(o, "vectors", vectors(&k->vectors));
	return o;
}

static json_t *dictionary(const struct image_app_part *a)
{
	return json_pack("{s:I,s:I,s:I,s:o,s:o}", "offset", (json_int_t)a->dict_offset, "length",
			 (json_int_t)a->dict_len, "clock_freq", (json_int_t)a->clock_freq, "app",
			 str_or_null(a->app_name), "initial_pins", str_or_null(a->initial_pins));
}

static json_t *app_part(const struct image_app_part *a)
{
	return json_pack("{s:I,s:I,s:o,s:o,s:I,s:I}", "offset", (json_int_t)a->offset, "length",
			 (json_int_t)a->len, "link_base",
			 a->load_known ? hex32(a->link_base) : json_null(), "vectors",
			 vectors(&a->vectors), "dictionary_offset_in_app_part",
			 (json_int_t)a->dict_offset, "clock_freq", (json_int_t)a->clock_freq);
}

static json_t *transfer(const uint8_t *img, size_t len)
{
	size_t blocks, last;
	char sha1[41];

	inspect_katapult_transfer(img, len, &blocks, &last, sha1);
	return json_pack("{s:i,s:I,s:I,s:s}", "block_size", (int)KATAPULT_BLOCK, "blocks",
			 (json_int_t)blocks, "last_block_data_bytes", (json_int_t)last,
			 "sha1_of_0xff_padded_blocks", sha1);
}

static json_t *bit_names(unsigned mask, unsigned count, const char *(*name)(unsigned))
{
	json_t *a = json_array();

	for (unsigned i = 0; i < count; i++)
		if (mask & (1u << i))
			json_array_append_new(a, json_string(name(1u << i)));
	return a;
}

static json_t *known_release(const struct image_info *in)
{
	const struct image_known *k = image_known_build(in->sha256);
	char path[160];

	if (!k)
		return json_null();
	snprintf(path, sizeof(path), "firmware/%s", k->path);
	return json_pack("{s:s,s:s}", "repository",
			 k->repo == 'k' ? "Cartographer3D/cartographer-klipper"
					: "Cartographer3D/cartographer_firmware",
			 "path", path);
}

static void add_summary(json_t *o, const struct image_info *in)
{
	char sha[65];
	const bool decidable = in->load_known && in->flash_size;

	for (size_t i = 0; i < sizeof(in->sha256); i++)
		snprintf(sha + 2 * i, 3, "%02x", in->sha256[i]);
	json_object_set_new(o, "sha256", json_string(sha));
	json_object_set_new(o, "size", json_integer((json_int_t)in->size));
	json_object_set_new(o, "kind", json_string(image_kind_name(in->kind)));
	json_object_set_new(o, "load_address",
			    in->load_known ? hex32(in->load_address) : json_null());
	json_object_set_new(o, "mcu", str_or_null(in->mcu));
	json_object_set_new(o, "probe", str_or_null(image_probe_generation(in)));
	json_object_set_new(o, "interface", iface_or_null(in->iface));
	json_object_set_new(o, "can_bitrate", bitrate_or_null(in->can_bitrate));
	json_object_set_new(o, "can_bitrate_source",
			    in->bitrate_source == IMAGE_BITRATE_NONE
				? json_null()
				: json_string(image_bitrate_source_name(in->bitrate_source)));
	json_object_set_new(o, "version", str_or_null(in->version));
	json_object_set_new(o, "fits", decidable ? json_boolean(in->fits) : json_null());
	json_object_set_new(o, "overflow_bytes", json_integer(in->overflow_bytes));
	json_object_set_new(o, "flash_size",
			    in->flash_size ? json_integer(in->flash_size) : json_null());
	json_object_set_new(o, "flash_end_offset",
			    in->load_known ? json_integer((json_int_t)in->flash_end_offset)
					   : json_null());
	json_object_set_new(o, "vectors", vectors(&in->vectors));
	json_object_set_new(o, "known_release", known_release(in));
}

static void add_parts(json_t *o, const uint8_t *img, const struct image_info *in)
{
	const struct image_app_part *a = &in->app;
	const struct image_katapult_part *k = &in->katapult;

	switch (in->kind) {
	case IMAGE_APP:
		json_object_set_new(o, "dictionary", dictionary(a));
		json_object_set_new(o, "usb_id", usb_id(a->usb_vid, a->usb_pid));
		json_object_set_new(o, "link_base_candidates",
				    json_integer(a->link_base_candidates));
		json_object_set_new(o, "katapult_transfer", transfer(img, in->size));
		break;
	case IMAGE_FULL:
		json_object_set_new(o, "katapult_part", katapult_part(k, false));
		json_object_set_new(o, "padding_to_0x2000_all_0xff", json_boolean(in->gap_all_ff));
		json_object_set_new(o, "app_part", app_part(a));
		json_object_set_new(o, "usb_id", usb_id(a->usb_vid, a->usb_pid));
		break;
	case IMAGE_KATAPULT:
		json_object_set_new(o, "katapult_part", katapult_part(k, false));
		json_object_set_new(o, "usb_id", usb_id(k->usb_vid, k->usb_pid));
		if (a->has_dict)
			json_object_set_new(o, "trailing_data_version", str_or_null(a->version));
		break;
	case IMAGE_DEPLOYER:
		json_object_set_new(o, "embedded_katapult", katapult_part(k, true));
		json_object_set_new(o, "katapult_transfer", transfer(img, in->size));
		break;
	case IMAGE_UF2:
	case IMAGE_UNKNOWN:
		break;
	}
}

static json_t *verdict(const struct inspect_check *c)
{
	const struct image_refusal *w = &c->why;
	json_t *o = json_pack("{s:s,s:b}", "path", inspect_check_path_name(c), "accepted", !c->rc);

	if (o && c->rc)
		json_object_update_new(o, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "rule", w->rule,
						    "what", w->what ? w->what : "", "image_value",
						    w->image_value, "target_value", w->target_value,
						    "reason", w->reason ? w->reason : "",
						    "override", str_or_null(w->override)));
	return o;
}

int inspect_json_print(const struct inspect_json_src *src, const uint8_t *img,
		       const struct image_info *info, unsigned name_warnings,
		       const struct inspect_check *check, int err, const char *detail)
{
	json_t *o = json_object();
	int rc = CF_OK;

	if (!o)
		return CF_ERR_NOMEM;
	json_object_set_new(o, "event", json_string("image"));
	json_object_set_new(o, "file", json_string(src->file));
	if (src->alt >= 0) {
		char addr[11];

		snprintf(addr, sizeof(addr), "0x%08X", src->address);
		json_object_set_new(o, "dfuse_element",
				    json_pack("{s:i,s:s}", "alt", src->alt, "address", addr));
	}
	if (info) {
		add_summary(o, info);
		add_parts(o, img, info);
		json_object_set_new(
		    o, "warnings", bit_names(info->warnings, IMAGE_WARN_COUNT, image_warning_name));
		json_object_set_new(
		    o, "name_warnings",
		    bit_names(name_warnings, IMAGE_NAME_WARNING_COUNT, image_name_warning_name));
	}
	if (check)
		json_object_set_new(o, "check", verdict(check));
	if (err)
		json_object_set_new(o, "error",
				    json_pack("{s:s,s:s}", "code", cf_err_name(err), "detail",
					      detail ? detail : ""));
	jsonout_emit(o);
	if (ferror(stdout))
		rc = CF_ERR_IO;
	return rc;
}
