/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Synthetic firmware images built from the structures of images.md, for tests, twins and demos. */
#ifndef CARTOFLASH_TOOLS_MKIMAGE_H
#define CARTOFLASH_TOOLS_MKIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/image.h"

/*
 * Every builder returns 0 and a malloc'd buffer in *out (caller frees with free()) with its
 * length in *len, or CF_ERR_USAGE for contradictory options / CF_ERR_NOMEM / CF_ERR_NOSPACE
 * (requested size too small for the content). Zero-valued option fields mean "the realistic
 * default" named in the comment. The bytes follow images.md so that image_inspect classifies
 * them; they are not executable code.
 */

/* A Klipper-derived application (images.md §3.1, §3.3, §3.4, §3.5). */
struct mkimage_app_opts {
	const char *mcu;	  /* NULL = mcu_default() */
	enum image_iface iface;	  /* UNKNOWN = CAN; USB adds 1d50:614e + "Cartographer"; UART: no pins */
	uint32_t bitrate;	  /* CAN: CANBUS_FREQUENCY; 0 = 1000000 */
	const char *version;	  /* NULL = "CARTOGRAPHER 5.1.0" */
	const char *app_name;	  /* dictionary "app"; NULL = key absent (as in <= 5.x) */
	const char *initial_pins; /* config.INITIAL_PINS; NULL = absent */
	uint32_t clock_freq;	  /* 0 = 48 MHz on F042, 150 MHz on G431 */
	uint32_t link_base;	  /* 0 = 0x08002000 */
	uint32_t sp, reset;	  /* 0 = SP at RAM top (0x20001800 F042), reset base + 0x1B9 */
	size_t size;		  /* total file length; 0 = natural (~9 KiB); more pads with code */
	bool no_anchors;	  /* leave out both link-base anchor literals (§3.4) */
	bool ambiguous_base;	  /* add a second anchor pair for base + 0x400: two candidates */
	bool no_dict;		  /* no dictionary at all */
	bool corrupt_dict;	  /* flip one byte inside the compressed stream (Adler-32 fails) */
	bool dict_without_config; /* valid zlib JSON but no "config" key */
	bool bridge;		  /* config.CANBUS_BRIDGE = 1 */
	bool canboot_constant;	  /* contain "CanBoot!" as a plain constant, as real apps do */
};

/* A Katapult bootloader (images.md §3.2, §4 step 6, §5). */
struct mkimage_katapult_opts {
	const char *mcu;	 /* NULL = mcu_default(); "" = no MCU string */
	enum image_iface iface;	 /* UNKNOWN = CAN; USB adds descriptor 1d50:6177 + "katapult" */
	uint32_t bitrate;	 /* CAN on F0: the §5 movs/bl pattern; 0 = 1000000 */
	const char *version;	 /* NULL = none (fork builds); "v0.0.1-104-gfcb2f84-dirty" */
	size_t pad_to;		 /* 0 = natural (~4.6 KiB); 8192 = Katapult_1m.bin style */
	bool no_signature;	 /* leave out "CanBoot!" before the reset handler */
	bool no_bitrate_pattern; /* CAN build without the §5 pattern (G431-like) */
	bool two_bitrates;	 /* two distinct §5 hits: undecidable */
	size_t code_len;	 /* 0 = 4644; the part length before padding */
};

/* Katapult + padding to 0x2000 + application (images.md §2.1 full). */
struct mkimage_full_opts {
	struct mkimage_katapult_opts katapult;
	struct mkimage_app_opts app;
	bool gap_not_ff;     /* app-like fragment between the Katapult end and 0x2000 */
	bool no_app_vectors; /* 0xFF over the app's vector table (the IDM dd1b2b72e6 case) */
};

/* An application without dictionary embedding a Katapult (images.md §4 step 5). */
struct mkimage_deployer_opts {
	struct mkimage_katapult_opts katapult; /* the embedded build (pad_to ignored) */
	uint32_t sp, reset;     /* own vectors; 0 = 0x20001800 / 0x08002071 */
	size_t embed_offset;    /* 0 = 0x538 */
	unsigned app_start_literals; /* 0 = 1 word 0x08002000 in the deployer's own code */
};

int mkimage_app(const struct mkimage_app_opts *o, uint8_t **out, size_t *len);
int mkimage_katapult(const struct mkimage_katapult_opts *o, uint8_t **out, size_t *len);
int mkimage_full(const struct mkimage_full_opts *o, uint8_t **out, size_t *len);
int mkimage_deployer(const struct mkimage_deployer_opts *o, uint8_t **out, size_t *len);

/*
 * The JSON data dictionary an application built with o carries (images.md §3.3): version,
 * optional app, config (MCU, CLOCK_FREQ, CANBUS_FREQUENCY, RESERVE_PINS_CAN/USB, ...), and
 * commands/responses with identify = 1 / identify_response = 0 (katapult.md §8.2).
 * mkimage_dictionary_json: NUL-terminated text; mkimage_dictionary: the zlib stream (header
 * 78 da). Both malloc'd; caller frees.
 */
int mkimage_dictionary_json(const struct mkimage_app_opts *o, char **json);
int mkimage_dictionary(const struct mkimage_app_opts *o, uint8_t **zdict, size_t *zlen);

#endif
