/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What a running application's data dictionary says: build facts and the ids identify needs. */
#ifndef CARTOFLASH_SRC_APPID_APPDICT_H
#define CARTOFLASH_SRC_APPID_APPDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/image.h"

struct appdict {
	/* version, app, MCU, interface, CAN bitrate: image_dict_parse_text's mapping, the one an
	 * image's embedded dictionary gets (so a file and a running probe compare field by
	 * field) */
	struct image_app_part app;
	/* config.CANBUS_FREQUENCY whatever the interface: a USB-to-CAN bridge's dictionary names
	 * the bus bitrate too (app.can_bitrate is set for CAN builds only) */
	uint32_t canbus_frequency;
	char build_versions[160]; /* "gcc: (…) 10.3.1 binutils: (…) 2.38", "" when absent */
	int get_canbus_id;	  /* command id of get_canbus_id, -1 when the build has none */
	int canbus_id;		  /* response id of "canbus_id canbus_uuid=%.*s canbus_nodeid=%u" */
	/* SHA-256 of the zlib stream identify served: equal to an image's embedded dictionary
	 * hash exactly when the probe runs that build's dictionary (update's "up to date") */
	bool has_zdict_sha256;
	uint8_t zdict_sha256[32];
};

/*
 * Inflate the zlib stream identify served (katapult.md §8.3) and read it. Returns 0,
 * CF_ERR_PROTOCOL when it is no Klipper dictionary (bad zlib, not JSON, no "config"),
 * CF_ERR_NOMEM. Allocates only while it runs.
 */
int appdict_read(const uint8_t *zdict, size_t len, struct appdict *out);

/*
 * The same facts from the dictionary JSON text itself (already inflated), e.g. rebuilt from
 * Klipper's API mcu object. Returns 0 or CF_ERR_PROTOCOL.
 */
int appdict_read_text(const char *json, size_t len, struct appdict *out);

/* Variant words of the running version ("lite", "K1", "HT", "IDM"), "full" when none: written
 * into buf (NUL-terminated). */
void appdict_variant(const struct appdict *d, char *buf, size_t cap);

#endif
