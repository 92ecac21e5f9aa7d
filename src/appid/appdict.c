// SPDX-License-Identifier: GPL-3.0-or-later
// A running application's data dictionary: inflate it, read its facts and the ids we may send.
#include "appid/appdict.h"

#include <jansson.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "protocol/err.h"

/* Upstream Klipper dictionaries inflate to ~40 KiB (images.md); anything past 1 MiB is not one. */
#define APPDICT_TEXT_MAX (1u << 20)

/* The id of the entry whose format starts with name followed by a space or the end. */
static int id_of(const json_t *map, const char *name)
{
	const size_t n = strlen(name);
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)map, key, v)
	{
		if (!strncmp(key, name, n) && (key[n] == ' ' || key[n] == '\0') &&
		    json_is_integer(v))
			return (int)json_integer_value(v);
	}
	return -1;
}

int appdict_read_text(const char *json, size_t len, struct appdict *out)
{
	json_t *root;
	const json_t *bv, *freq;

	memset(out, 0, sizeof(*out));
	out->get_canbus_id = out->canbus_id = -1;
	if (image_dict_parse_text(json, len, &out->app) < 0)
		return CF_ERR_PROTOCOL;
	root = json_loadb(json, len, 0, NULL);
	bv = json_object_get(root, "build_versions");
	if (json_is_string(bv))
		snprintf(out->build_versions, sizeof(out->build_versions), "%s",
			 json_string_value(bv));
	freq = json_object_get(json_object_get(root, "config"), "CANBUS_FREQUENCY");
	if (json_is_integer(freq) && json_integer_value(freq) > 0)
		out->canbus_frequency = (uint32_t)json_integer_value(freq);
	else if (json_is_string(freq))
		out->canbus_frequency = (uint32_t)strtoul(json_string_value(freq), NULL, 10);
	out->get_canbus_id = id_of(json_object_get(root, "commands"), "get_canbus_id");
	out->canbus_id = id_of(json_object_get(root, "responses"), "canbus_id");
	json_decref(root);
	return CF_OK;
}

int appdict_read(const uint8_t *zdict, size_t len, struct appdict *out)
{
	struct sha256_ctx sha;
	uLongf cap = 64 * 1024;
	char *text = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* uncompress has no streaming size query: grow until the text fits (bounded). */
	for (;;) {
		uLongf n = cap;
		char *bigger = realloc(text, cap);

		if (!bigger) {
			free(text);
			return CF_ERR_NOMEM;
		}
		text = bigger;
		rc = uncompress((Bytef *)text, &n, zdict, (uLong)len);
		if (rc == Z_OK) {
			rc = appdict_read_text(text, n, out);
			break;
		}
		if (rc != Z_BUF_ERROR || cap >= APPDICT_TEXT_MAX) {
			rc = CF_ERR_PROTOCOL;
			break;
		}
		cap *= 4;
	}
	free(text);
	if (rc == CF_OK) {
		sha256_init(&sha);
		sha256_update(&sha, len, zdict);
		sha256_digest(&sha, sizeof(out->zdict_sha256), out->zdict_sha256);
		out->has_zdict_sha256 = true;
	}
	return rc;
}

void appdict_variant(const struct appdict *d, char *buf, size_t cap)
{
	static const struct {
		unsigned bit;
		const char *name;
	} words[] = {
		{ IMAGE_VARIANT_LITE, "lite" },
		{ IMAGE_VARIANT_K1, "K1" },
		{ IMAGE_VARIANT_HT, "HT" },
		{ IMAGE_VARIANT_IDM, "IDM" },
	};
	const unsigned v = image_variant_of(d->app.version);
	size_t n = 0;

	if (!cap)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (v & words[i].bit)
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "",
					      words[i].name);
	if (!v)
		snprintf(buf, cap, "full");
}
