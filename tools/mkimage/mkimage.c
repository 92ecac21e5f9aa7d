// SPDX-License-Identifier: GPL-3.0-or-later
// Builds synthetic app, Katapult, full and deployer images from the structures of images.md.
#include "mkimage.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "protocol/bytes.h"
#include "protocol/err.h"
#include "protocol/mcu.h"

#define DEFAULT_MCU (mcu_default()->name)
#define KATAPULT_CODE_LEN 4644u /* images.md §2.3: the 4644-B F042 builds */
#define KATAPULT_MIN_LEN 0xA00u
#define APP_CODE_LEN 0x1400u /* natural code area in front of the dictionary */
#define APP_TAIL_LEN 0x80u   /* initialised data behind the dictionary */
#define F0_BITRATE_AT 0x6CCu /* images.md §5: hit offset in the 4644-B builds */
#define DEPLOYER_EMBED_AT 0x538u

/* Per-MCU shape of the synthetic images, from the MCU table (images.md §1 and §2.3). */
struct mcu_profile {
	uint32_t ram_top;     /* application SP; Katapult's is 8 below */
	uint32_t clock_freq;
	size_t app_vt_len;    /* application vector table bytes */
	size_t katapult_sig;  /* "CanBoot!" offset; reset = F + sig + 9 */
	uint32_t app_reset;   /* reset handler offset in an application (odd) */
	uint32_t deployer_reset;
	bool f0;	      /* images.md §5 bitrate pattern applies */
};

/* A probe row gives its own shape; any other MCU string borrows the default probe's shape
 * (the bitrate pattern only where its own family has it). */
static struct mcu_profile profile_of(const char *mcu)
{
	const struct mcu_info *row = mcu_find(mcu);
	const struct mcu_info *m = row && row->name ? row : mcu_default();

	return (struct mcu_profile){
		.ram_top = m->ram_top,
		.clock_freq = m->variants[0].clock_freq,
		.app_vt_len = m->app_vectors,
		.katapult_sig = m->katapult_reset - 9 - MCU_FLASH_BASE,
		.app_reset = m->app_reset - mcu_app_start(m),
		.deployer_reset = m->deployer_reset - mcu_app_start(m),
		.f0 = !mcu || (row && row->bitrate_code == MCU_BITRATE_CODE_F0_BTR),
	};
}

static const uint8_t canboot_sig[8] = { 'C', 'a', 'n', 'B', 'o', 'o', 't', '!' };
/* images.md §3.5: the shipped device descriptors. */
static const uint8_t usb_dev_katapult[18] = { 0x12, 0x01, 0x00, 0x02, 0x02, 0x00, 0x00, 0x10, 0x50,
					      0x1d, 0x77, 0x61, 0x00, 0x01, 0x01, 0x02, 0x03, 0x01 };
static const uint8_t usb_dev_app[18] = { 0x12, 0x01, 0x00, 0x02, 0x02, 0x00, 0x00, 0x10, 0x50,
					 0x1d, 0x4e, 0x61, 0x00, 0x01, 0x01, 0x02, 0x03, 0x01 };

/* ---- filler that looks like code but never forms a structure the classifier reads ---- */

static void fill_code(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 0x9E3779B9u;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 11);
	}
	/* No §5 hit by chance: break every "imm8 20" with imm8 in {30, 60, C0} at even offsets. */
	for (size_t o = 0; o + 1 < len; o += 2)
		if (p[o + 1] == 0x20 && (p[o] == 0x30 || p[o] == 0x60 || p[o] == 0xC0))
			p[o] ^= 0x01;
}

static void put_string_descriptor(uint8_t *p, const char *s)
{
	const size_t n = strlen(s);

	p[0] = (uint8_t)(2 + 2 * n);
	p[1] = 0x03;
	for (size_t i = 0; i < n; i++) {
		p[2 + 2 * i] = (uint8_t)s[i];
		p[3 + 2 * i] = 0;
	}
}

static int alloc_image(size_t len, uint8_t **out)
{
	*out = malloc(len);
	return *out ? CF_OK : CF_ERR_NOMEM;
}

/* ---- dictionary (images.md §3.3, katapult.md §8.2) ---- */

static json_t *dict_config(const struct mkimage_app_opts *o, const struct mcu_profile *prof)
{
	json_t *c = json_object();

	json_object_set_new(c, "MCU", json_string(o->mcu ? o->mcu : DEFAULT_MCU));
	json_object_set_new(c, "CLOCK_FREQ",
			    json_integer(o->clock_freq ? o->clock_freq : prof->clock_freq));
	json_object_set_new(c, "ADC_MAX", json_integer(4095));
	json_object_set_new(c, "STATS_SUMSQ_BASE", json_integer(256));
	json_object_set_new(c, "RECEIVE_WINDOW", json_integer(192));
	if (o->iface == IMAGE_IFACE_USB) {
		json_object_set_new(c, "RESERVE_PINS_USB", json_string("PA11,PA12"));
	} else if (o->iface == IMAGE_IFACE_UART) {
		/* a serial build reserves neither: images.md §4 step 7 says "unknown" */
	} else {
		json_object_set_new(c, "RESERVE_PINS_CAN", json_string("PA11,PA12"));
		json_object_set_new(c, "CANBUS_FREQUENCY",
				    json_integer(o->bitrate ? o->bitrate : 1000000));
	}
	if (o->bridge)
		json_object_set_new(c, "CANBUS_BRIDGE", json_integer(1));
	if (o->initial_pins)
		json_object_set_new(c, "INITIAL_PINS", json_string(o->initial_pins));
	return c;
}

static json_t *dict_messages(const struct mkimage_app_opts *o, bool responses)
{
	static const char *const cmds[] = { "get_uptime", "get_clock", "get_config",
					    "allocate_oids count=%c", "finalize_config crc=%u",
					    "reset", "emergency_stop" };
	static const char *const resps[] = {
		"uptime high=%u clock=%u", "clock clock=%u",
		"config is_config=%c crc=%u is_shutdown=%c move_count=%hu",
		"shutdown clock=%u static_string_id=%hu", "starting"
	};
	const bool can = o->iface != IMAGE_IFACE_USB;
	json_t *m = json_object();
	int id = responses ? 80 : 2;

	/* katapult.md §8.2: identify = 1 and identify_response = 0 are fixed. */
	if (responses) {
		json_object_set_new(m, "identify_response offset=%u data=%.*s", json_integer(0));
		for (size_t i = 0; i < sizeof(resps) / sizeof(resps[0]); i++)
			json_object_set_new(m, resps[i], json_integer(id++));
		if (can)
			json_object_set_new(m, "canbus_id canbus_uuid=%.*s canbus_nodeid=%u",
					    json_integer(id++));
	} else {
		json_object_set_new(m, "identify offset=%u count=%c", json_integer(1));
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			json_object_set_new(m, cmds[i], json_integer(id++));
		if (can)
			json_object_set_new(m, "get_canbus_id", json_integer(id++));
	}
	return m;
}

int mkimage_dictionary_json(const struct mkimage_app_opts *o, char **json)
{
	const struct mcu_profile prof = profile_of(o->mcu);
	json_t *root = json_object(), *pins = json_object();

	if (!root || !pins) {
		json_decref(root);
		json_decref(pins);
		return CF_ERR_NOMEM;
	}
	json_object_set_new(root, "version",
			    json_string(o->version ? o->version : "CARTOGRAPHER 5.1.0"));
	json_object_set_new(root, "build_versions",
			    json_string("gcc: (15:12.2.rel1-1) 12.2.1 20221205 binutils: 2.40"));
	if (o->app_name)
		json_object_set_new(root, "app", json_string(o->app_name));
	if (!o->dict_without_config)
		json_object_set_new(root, "config", dict_config(o, &prof));
	json_object_set_new(root, "commands", dict_messages(o, false));
	json_object_set_new(root, "responses", dict_messages(o, true));
	json_object_set_new(pins, "pin", json_pack("{s[ii]s[ii]s[ii]}", "PA0", 0, 16, "PB0",
						   16, 16, "PF0", 80, 16));
	json_object_set_new(root, "enumerations", pins);
	/* Klipper: json.dumps(..., separators=(',', ':'), sort_keys=True). */
	*json = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return *json ? CF_OK : CF_ERR_NOMEM;
}

int mkimage_dictionary(const struct mkimage_app_opts *o, uint8_t **zdict, size_t *zlen)
{
	char *json;
	uLongf cap;
	int rc = mkimage_dictionary_json(o, &json);

	if (rc)
		return rc;
	cap = compressBound(strlen(json));
	*zdict = malloc(cap);
	if (!*zdict) {
		free(json);
		return CF_ERR_NOMEM;
	}
	/* Level 9 gives the 78 da header of the shipped images. */
	if (compress2(*zdict, &cap, (const Bytef *)json, strlen(json), 9) != Z_OK) {
		free(json);
		free(*zdict);
		*zdict = NULL;
		return CF_ERR_OTHER;
	}
	free(json);
	*zlen = cap;
	return CF_OK;
}

/* ---- application ---- */

static void app_vectors(uint8_t *img, const struct mkimage_app_opts *o,
			const struct mcu_profile *prof, uint32_t base)
{
	cf_put_le32(img, o->sp ? o->sp : prof->ram_top);
	cf_put_le32(img + 4, o->reset ? o->reset : base + prof->app_reset);
	for (size_t v = 8; v < prof->app_vt_len; v += 4)
		cf_put_le32(img + v, base + prof->app_reset + 0x0C); /* DefaultHandler */
}

/* images.md §3.4: the literal pool holding base and base + dict_off. */
static void app_literals(uint8_t *pool, const struct mkimage_app_opts *o, uint32_t base,
			 size_t dict_off)
{
	if (!o->no_anchors) {
		cf_put_le32(pool, base);
		cf_put_le32(pool + 8, base + (uint32_t)dict_off);
	}
	if (o->ambiguous_base) {
		cf_put_le32(pool + 16, base - 0x400);
		cf_put_le32(pool + 24, base - 0x400 + (uint32_t)dict_off);
	}
}

static void app_usb(uint8_t *p, const struct mkimage_app_opts *o)
{
	if (o->iface != IMAGE_IFACE_USB)
		return;
	memcpy(p, usb_dev_app, sizeof(usb_dev_app));
	p[sizeof(usb_dev_app)] = 0x04; /* language descriptor 0x0409 */
	p[sizeof(usb_dev_app) + 1] = 0x03;
	p[sizeof(usb_dev_app) + 2] = 0x09;
	p[sizeof(usb_dev_app) + 3] = 0x04;
	put_string_descriptor(p + sizeof(usb_dev_app) + 4, "Cartographer");
}

int mkimage_app(const struct mkimage_app_opts *o, uint8_t **out, size_t *len)
{
	const struct mcu_profile prof = profile_of(o->mcu);
	const uint32_t base = o->link_base ? o->link_base : IMAGE_APP_START;
	const size_t pool = (prof.app_vt_len + 0x100) & ~(size_t)3;
	uint8_t *z = NULL, *img;
	size_t zlen = 0, dict_off, total;
	int rc;

	if (!o->no_dict && (rc = mkimage_dictionary(o, &z, &zlen)))
		return rc;
	/* The dictionary sits near the end, as in the shipped images (images.md §2.3). */
	total = o->size ? o->size : APP_CODE_LEN + zlen + APP_TAIL_LEN;
	dict_off = total > zlen + APP_TAIL_LEN ? total - zlen - APP_TAIL_LEN : 0;
	if (dict_off < pool + 0x100) {
		free(z);
		return CF_ERR_NOSPACE;
	}
	if ((rc = alloc_image(total, &img))) {
		free(z);
		return rc;
	}
	fill_code(img, total, base ^ (uint32_t)total);
	app_vectors(img, o, &prof, base);
	app_literals(img + pool, o, base, dict_off);
	app_usb(img + pool + 0x40, o);
	if (o->canboot_constant)
		memcpy(img + pool + 0xA0, canboot_sig, sizeof(canboot_sig));
	if (z) {
		memcpy(img + dict_off, z, zlen);
		if (o->corrupt_dict)
			img[dict_off + zlen / 2] ^= 0x55;
	}
	free(z);
	*out = img;
	*len = total;
	return CF_OK;
}

/* ---- Katapult ---- */

static void katapult_body(uint8_t *p, size_t code_len, const struct mkimage_katapult_opts *o,
			  const struct mcu_profile *prof)
{
	const char *mcu = o->mcu ? o->mcu : DEFAULT_MCU;
	const bool usb = o->iface == IMAGE_IFACE_USB;
	const uint32_t bitrate = o->bitrate ? o->bitrate : 1000000;

	fill_code(p, code_len, 0xCA7A9011u ^ (uint32_t)code_len ^ bitrate ^ (usb ? 1u : 0u));
	cf_put_le32(p, prof->ram_top - 8); /* images.md §3.2: RAM top minus the request flag */
	cf_put_le32(p + 4, IMAGE_FLASH_BASE + (uint32_t)prof->katapult_sig + 9);
	for (size_t v = 8; v < prof->katapult_sig; v += 4)
		cf_put_le32(p + v, IMAGE_FLASH_BASE + (uint32_t)prof->katapult_sig + 0x41);
	if (!o->no_signature)
		memcpy(p + prof->katapult_sig, canboot_sig, sizeof(canboot_sig));
	/* LAUNCH_APP_ADDRESS appears twice in every Katapult part (images.md §3.4). */
	cf_put_le32(p + 0x400, IMAGE_APP_START);
	cf_put_le32(p + 0x800, IMAGE_APP_START);
	if (usb) {
		memcpy(p + 0x900, usb_dev_katapult, sizeof(usb_dev_katapult));
		put_string_descriptor(p + 0x920, "katapult");
		if (mcu[0])
			put_string_descriptor(p + 0x940, mcu);
	} else if (prof->f0 && !o->no_bitrate_pattern) {
		/* images.md §5: movs r0, #(48 MHz / bitrate); bl compute_btr */
		const uint8_t pat[6] = { (uint8_t)(48000000u / bitrate), 0x20, 0x00, 0xF0, 0x12, 0xF8 };

		memcpy(p + F0_BITRATE_AT, pat, sizeof(pat));
		if (o->two_bitrates) {
			memcpy(p + F0_BITRATE_AT + 0x40, pat, sizeof(pat));
			p[F0_BITRATE_AT + 0x40] = bitrate == 500000 ? 0x30 : 0x60;
		}
	}
	if (mcu[0]) {
		memcpy(p + code_len - 0x60, mcu, strlen(mcu) < 31 ? strlen(mcu) : 31);
		p[code_len - 0x60 + (strlen(mcu) < 31 ? strlen(mcu) : 31)] = 0;
	}
	if (o->version)
		memcpy(p + code_len - 0x40, o->version, strlen(o->version) + 1);
}

static int katapult_check(const struct mkimage_katapult_opts *o, size_t code_len)
{
	const uint32_t bitrate = o->bitrate ? o->bitrate : 1000000;

	if (code_len < KATAPULT_MIN_LEN || (o->version && strlen(o->version) >= 0x30))
		return CF_ERR_USAGE;
	if (bitrate != 1000000 && bitrate != 500000 && bitrate != 250000 &&
	    o->iface != IMAGE_IFACE_USB)
		return CF_ERR_USAGE; /* the §5 pattern encodes only these three */
	return CF_OK;
}

int mkimage_katapult(const struct mkimage_katapult_opts *o, uint8_t **out, size_t *len)
{
	const struct mcu_profile prof = profile_of(o->mcu);
	const size_t code_len = o->code_len ? o->code_len : KATAPULT_CODE_LEN;
	const size_t total = o->pad_to > code_len ? o->pad_to : code_len;
	uint8_t *img;
	int rc;

	if ((rc = katapult_check(o, code_len)) || (rc = alloc_image(total, &img)))
		return rc;
	katapult_body(img, code_len, o, &prof);
	memset(img + code_len, 0xFF, total - code_len);
	*out = img;
	*len = total;
	return CF_OK;
}

/* ---- full and deployer ---- */

int mkimage_full(const struct mkimage_full_opts *o, uint8_t **out, size_t *len)
{
	struct mkimage_katapult_opts k = o->katapult;
	uint8_t *kat, *app, *img;
	size_t klen, alen;
	int rc;

	k.pad_to = 0;
	if ((rc = mkimage_katapult(&k, &kat, &klen)))
		return rc;
	if (klen + 64 > IMAGE_KATAPULT_REGION) {
		free(kat);
		return CF_ERR_USAGE;
	}
	if ((rc = mkimage_app(&o->app, &app, &alen))) {
		free(kat);
		return rc;
	}
	rc = alloc_image(IMAGE_KATAPULT_REGION + alen, &img);
	if (!rc) {
		memcpy(img, kat, klen);
		memset(img + klen, 0xFF, IMAGE_KATAPULT_REGION - klen);
		/* images.md §2.3: fragments of an app between the Katapult end and 0x2000. */
		if (o->gap_not_ff && klen + 128 < IMAGE_KATAPULT_REGION)
			memcpy(img + klen + 64, app + 0x200, IMAGE_KATAPULT_REGION - klen - 64);
		memcpy(img + IMAGE_KATAPULT_REGION, app, alen);
		if (o->no_app_vectors)
			memset(img + IMAGE_KATAPULT_REGION, 0xFF, 0x100);
		*out = img;
		*len = IMAGE_KATAPULT_REGION + alen;
	}
	free(kat);
	free(app);
	return rc;
}

int mkimage_deployer(const struct mkimage_deployer_opts *o, uint8_t **out, size_t *len)
{
	const struct mcu_profile prof = profile_of(o->katapult.mcu);
	const size_t at = o->embed_offset ? o->embed_offset : DEPLOYER_EMBED_AT;
	const unsigned literals = o->app_start_literals ? o->app_start_literals : 1;
	struct mkimage_katapult_opts k = o->katapult;
	uint8_t *kat, *img;
	size_t klen;
	int rc;

	k.pad_to = 0;
	if ((at & 3) || at < 0x364 + 4 * literals)
		return CF_ERR_USAGE;
	if ((rc = mkimage_katapult(&k, &kat, &klen)))
		return rc;
	if ((rc = alloc_image(at + klen, &img))) {
		free(kat);
		return rc;
	}
	fill_code(img, at, 0xDE9107E4u ^ (uint32_t)klen);
	cf_put_le32(img, o->sp ? o->sp : prof.ram_top);
	cf_put_le32(img + 4, o->reset ? o->reset : IMAGE_APP_START + prof.deployer_reset);
	for (size_t v = 8; v < (prof.deployer_reset & ~1u); v += 4)
		cf_put_le32(img + v, IMAGE_APP_START + prof.deployer_reset + 0x10);
	/* images.md §3.4: a deployer holds 0x08002000 three times, once in its own code (file
	 * offset 868 in the shipped F042 deployers) and twice in the embedded Katapult. */
	for (unsigned i = 0; i < literals; i++)
		cf_put_le32(img + 0x364 + 4 * i, IMAGE_APP_START);
	memcpy(img + at, kat, klen);
	free(kat);
	*out = img;
	*len = at + klen;
	return CF_OK;
}
