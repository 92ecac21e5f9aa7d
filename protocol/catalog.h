/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A firmware catalog: firmware_list.csv rows, candidates judged by content, and the choice of
 * the build each probe should run (ecosystem.md §1 and §4, images.md §2 and §7). */
#ifndef CARTOFLASH_PROTOCOL_CATALOG_H
#define CARTOFLASH_PROTOCOL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/image.h"

/* ---- firmware_list.csv (Cartographer3D/cartographer_firmware) ---- */

/* The columns cartoflash reads; the file may order them freely and add others. sha256 is our
 * extension (images.md R7: a manifest with hashes); Cartographer's own file has none. */
enum catalog_col {
	CATALOG_COL_FILEPATH, /* relative to the firmware/ folder next to the CSV */
	CATALOG_COL_FILENAME,
	CATALOG_COL_FIRMWARE_TYPE, /* "Cartographer" (app) or "Cartographer + Katapult" (full) */
	CATALOG_COL_PROTOCOL,	   /* "CAN" or "USB" */
	CATALOG_COL_PROCESS,	   /* "Update" (through Katapult) or "DFU" */
	CATALOG_COL_PROBE_VERSION, /* "v3" (STM32F042), "v4" (STM32G431) */
	CATALOG_COL_FIRMWARE_VERSION, /* "6.1.0" */
	CATALOG_COL_CAN_SPEED,	      /* "1000000", empty for USB */
	CATALOG_COL_IS_LITE,	      /* "Yes" / "No" */
	CATALOG_COL_MIN_PLUGIN,	      /* min_plugin_version: host plugin the build needs, or "" */
	CATALOG_COL_SHA256,	      /* 64 hex digits, or absent */
	CATALOG_COL_COUNT,
};

#define CATALOG_CSV_LINE_MAX 1024 /* a longer line is refused, not cut */

/* Which field of a line holds which column: filled from the header line. */
struct catalog_csv {
	int field_of[CATALOG_COL_COUNT]; /* field index, -1 when the header lacks the column */
};

/* One data row, fields copied and trimmed. Empty strings / 0 = the cell was empty. */
struct catalog_row {
	char filepath[256];
	char filename[128];
	char firmware_type[40];
	char protocol[8];
	char process[16];
	char probe_version[8];
	char firmware_version[24];
	uint32_t can_speed;
	int is_lite; /* 1 "Yes", 0 "No", -1 empty or anything else */
	char min_plugin_version[24];
	char sha256[65]; /* lower-case hex, or "" */
	unsigned line;	 /* 1-based line number in the file, set by the caller */
};

/*
 * Read the header line (len bytes, no line end needed; a trailing CR/LF is ignored). Returns 0,
 * or CF_ERR_IMAGE when filepath or firmware_version is missing (not a firmware list) or the line
 * is longer than CATALOG_CSV_LINE_MAX. Pure.
 */
int catalog_csv_header(struct catalog_csv *csv, const char *line, size_t len);
/*
 * Parse one data line (RFC 4180 quoting within the line) into *row (zeroed first). Returns 1
 * for a row, 0 for an empty line, CF_ERR_IMAGE for a malformed line (bad quote, a field too
 * long for its slot, can_speed or sha256 not a number/hash, no filepath). Pure.
 */
int catalog_csv_row(const struct catalog_csv *csv, const char *line, size_t len,
		    struct catalog_row *row);

/* How a row disagrees with the content of its file (bits). */
enum catalog_row_mismatch {
	CATALOG_ROW_KIND = 1u << 0,	/* firmware_type/process vs app/full */
	CATALOG_ROW_IFACE = 1u << 1,	/* protocol */
	CATALOG_ROW_BITRATE = 1u << 2,	/* can_speed */
	CATALOG_ROW_MCU = 1u << 3,	/* probe_version vs the MCU */
	CATALOG_ROW_VERSION = 1u << 4,	/* firmware_version not in the dictionary version */
	CATALOG_ROW_VARIANT = 1u << 5,	/* is_lite vs the version's lite/K1 token */
	CATALOG_ROW_SHA256 = 1u << 6,	/* sha256 column vs the file's hash */
};
#define CATALOG_ROW_MISMATCH_COUNT 7

/* Compare a row with the classified file. Returns a mask of catalog_row_mismatch bits. */
unsigned catalog_row_check(const struct catalog_row *row, const struct image_info *img);
/* For one CATALOG_ROW_* bit: column name ("protocol") and one sentence; "unknown" otherwise. */
const char *catalog_row_mismatch_name(unsigned bit);
const char *catalog_row_mismatch_text(unsigned bit);
/* What the row itself claims for the column of bit, e.g. "CAN" or "1000000"; "" if empty. */
void catalog_row_claim(const struct catalog_row *row, unsigned bit, char *out, size_t cap);

/* ---- versions and variants ---- */

/* The first "d.d.d" of a dictionary version ("CARTOGRAPHER V3 6.1.0 lite" -> 6.1.0), packed as
 * major << 20 | minor << 10 | patch; 0 when there is none ("CARTOGRAPHER V3"). */
uint32_t catalog_version_number(const char *version);
/* Unpack into "6.1.0"; "" for 0. */
void catalog_version_format(uint32_t number, char *out, size_t cap);

/* The build variant (enum image_variant bits): image_variant_of_build, R8's own rule. */
unsigned catalog_variant(const char *version, const char *mcu, uint32_t clock_freq);
/* "full" for 0, else the tokens joined by '+': "k1", "lite", "ht", "idm", "ht+lite". */
void catalog_variant_name(unsigned variant, char *out, size_t cap);
/* Parse --variant: "full", "lite", "k1", "ht", "ht+lite" ... Returns false for other text. */
bool catalog_variant_parse(const char *text, unsigned *variant);

/* ---- what a file's path says (beyond image_name_warnings on its base name) ---- */

/* Folder and name tokens checked against the content (images.md §2.1, §2.2). */
enum catalog_path_warning {
	CATALOG_PATH_FOLDER_VERSION = 1u << 0, /* a ".../5.1.0/..." folder, another version */
	CATALOG_PATH_HT = 1u << 1,	       /* an "HT" folder or name token, no HT build */
	CATALOG_PATH_K1 = 1u << 2,	       /* "K1"/"CrealityK1" in the name, no K1 build */
};
#define CATALOG_PATH_WARNING_COUNT 3
/* Check the folders and base name of path (case-insensitive) against the build. Pure. */
unsigned catalog_path_warnings(const char *path, const struct image_info *img);
const char *catalog_path_warning_name(unsigned bit); /* "folder_version", "ht", "k1" */

/* ---- candidates and the choice ---- */

/* Why a candidate is never chosen (bits). */
enum catalog_reject {
	CATALOG_REJECT_NOT_FIRMWARE = 1u << 0, /* image_inspect found no firmware */
	CATALOG_REJECT_NAME = 1u << 1,	       /* its file name says something else */
	CATALOG_REJECT_ROW = 1u << 2,	       /* its firmware_list.csv row says something else */
	CATALOG_REJECT_DAMAGED = 1u << 3,      /* vectors, oversize, damaged dictionary, base */
	CATALOG_REJECT_MISSING = 1u << 4,      /* a CSV row whose file is not there */
};
#define CATALOG_REJECT_COUNT 5
const char *catalog_reject_name(unsigned bit);

/* Where knowledge of a build comes from (images.md R7). */
enum catalog_known {
	CATALOG_KNOWN_NO,	/* not a known build: needs --allow-unknown */
	CATALOG_KNOWN_RELEASE,	/* SHA-256 in images.md Appendix A (protocol/image_known.c) */
	CATALOG_KNOWN_MANIFEST, /* SHA-256 in the sha256 column of the manifest the user named */
};
const char *catalog_known_name(enum catalog_known k); /* "no", "release", "manifest" */

/* One file of a firmware source, judged. Pointers are borrowed from the caller's catalog. */
struct catalog_entry {
	const char *path;
	const struct image_info *info; /* NULL for CATALOG_REJECT_MISSING */
	const struct catalog_row *row; /* its CSV row, or NULL */
	unsigned rejected;	       /* catalog_reject bits; 0 = may be chosen */
	unsigned name_warnings;	       /* image_name_warnings bits */
	unsigned row_mismatch;	       /* catalog_row_check bits */
	enum catalog_known known;
	bool has_dict;
	uint8_t dict_sha256[32]; /* of the compressed dictionary: what identify serves */
	uint32_t version;	 /* catalog_version_number(info->version) */
	unsigned variant;	 /* catalog_variant of the build */
};

/* The facts of one probe, as it runs now. "" / 0 = unknown. */
struct catalog_probe {
	char mcu[32];
	enum image_iface iface;
	uint32_t bitrate; /* CAN bitrate the probe must keep talking at */
	char version[96]; /* dictionary version it runs */
	uint32_t clock_freq;
	bool has_dict;
	uint8_t dict_sha256[32]; /* of the dictionary identify returned */
};

/* What the user asked for. */
struct catalog_want {
	uint32_t version;    /* --version, catalog_version_number form; 0 = the newest */
	bool variant_set;    /* --variant given: choose that variant (lifts R8 for this run) */
	unsigned variant;    /* with variant_set */
	bool allow_unknown;  /* --allow-unknown: builds that are no known release may be chosen */
};

enum catalog_verdict {
	CATALOG_FLASH,	 /* entry index differs from what runs: write it */
	CATALOG_CURRENT, /* the probe runs the chosen build already (same dictionary) */
	CATALOG_AHEAD,	 /* the probe runs a newer version than any match: left alone */
	CATALOG_NONE,	 /* nothing fits: refused, why says which constraint emptied the list */
};

struct catalog_choice {
	enum catalog_verdict verdict;
	int index;	   /* chosen entry (FLASH, CURRENT), else -1 */
	unsigned variant;  /* the variant looked for */
	size_t matched;	   /* entries fitting MCU, interface, bitrate and variant */
	size_t rejected;   /* entries that would have fitted but are rejected (name, row ...) */
	size_t unknown;	   /* fitting entries left out by R7 (no --allow-unknown) */
	char reason[24];   /* stable token: "newest", "version", "current", "ahead", "no_match" ... */
	char why[256];	   /* one sentence for the plan */
};

/*
 * Choose the build for probe p among v[0..n): the newest (or want->version) app whose MCU,
 * interface, CAN bitrate and variant match, that is not rejected and, unless allow_unknown, is
 * a known build. Ties (same version) prefer the build the probe runs, then a known release, then
 * the earlier entry. A probe running the chosen build's dictionary is CURRENT ("current"); one
 * running the chosen version and variant without a dictionary to compare ("same_version") or
 * with another dictionary ("other_build") is CURRENT too, its reason saying so: never rewritten
 * with the same version unasked. One running a newer version than every match (no
 * want->version) is AHEAD, never downgraded. Returns 0 with
 * *out filled (verdict NONE included), CF_ERR_USAGE when p lacks the MCU or interface. Pure.
 */
int catalog_choose(const struct catalog_probe *p, const struct catalog_want *want,
		   const struct catalog_entry *v, size_t n, struct catalog_choice *out);
const char *catalog_verdict_name(enum catalog_verdict v); /* "flash", "current", "ahead", "none" */
/*
 * What a move from version running to chosen (catalog_version_number form; 0 = unknown) needs
 * besides the write, after Cartographer's 6.x notes (images.md R9): a recalibration when it
 * crosses into 6.x, a full one and a newer host plugin when it crosses 6.2.0. One sentence,
 * or NULL when nothing is needed. Pure.
 */
const char *catalog_recalibration(uint32_t running, uint32_t chosen);

#endif
