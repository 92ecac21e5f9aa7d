/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Firmware image anatomy: classify a file by its bytes, check it against a device (images.md). */
#ifndef CARTOFLASH_PROTOCOL_IMAGE_H
#define CARTOFLASH_PROTOCOL_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* images.md, constants: F and A. */
#define IMAGE_FLASH_BASE      0x08000000u
#define IMAGE_APP_START	      0x08002000u
#define IMAGE_KATAPULT_REGION 0x2000u /* bytes reserved for Katapult in front of A */
/* Files above this size are not probe firmware; callers refuse to read them (inspect: 1 MiB). */
#define IMAGE_MAX_SIZE (1u << 20)
/*
 * Scratch for image_inspect: zlib's inflate state and window (about 40 KiB) are carved from the
 * front of it, the inflated dictionary goes behind. Real dictionaries inflate to 5-9 KiB;
 * upstream Klipper ones to ~40 KiB. IMAGE_SCRATCH_MIN is the least image_inspect accepts.
 */
#define IMAGE_SCRATCH_SIZE (160u * 1024)
#define IMAGE_SCRATCH_MIN  (64u * 1024)

enum image_kind {
	IMAGE_UNKNOWN,	/* nothing of images.md §4 matched: refuse everywhere */
	IMAGE_APP,	/* Klipper-derived application with a dictionary; belongs at A */
	IMAGE_FULL,	/* Katapult + padding to 0x2000 + app; belongs at F, ROM DFU only */
	IMAGE_KATAPULT, /* Katapult bootloader alone; belongs at F */
	IMAGE_DEPLOYER, /* app without dictionary that embeds a Katapult; belongs at A */
	IMAGE_UF2,	/* RP2040 v1 probe: never flashed by this tool */
};

enum image_iface {
	IMAGE_IFACE_UNKNOWN,
	IMAGE_IFACE_CAN,
	IMAGE_IFACE_USB,
	IMAGE_IFACE_USB_CAN_BRIDGE, /* dictionary CANBUS_BRIDGE=1: refused for probes */
	IMAGE_IFACE_UART,	    /* a device target only: a Katapult behind a UART */
};

enum image_bitrate_source {
	IMAGE_BITRATE_NONE,	  /* USB build, or undecidable */
	IMAGE_BITRATE_DICTIONARY, /* config.CANBUS_FREQUENCY */
	IMAGE_BITRATE_HEURISTIC,  /* images.md §5 F0 Katapult code pattern */
};

/* Content findings (bits of image_info.warnings); image_warning_name/_text describe each. */
enum image_warning {
	IMAGE_WARN_GAP_NOT_FF = 1u << 0,    /* full: bytes between Katapult and 0x2000 not 0xFF */
	IMAGE_WARN_TRAILING_DATA = 1u << 1, /* katapult: data past 0x2000, no app vectors */
	IMAGE_WARN_LINK_BASE_UNKNOWN = 1u << 2,	   /* app: zero or several link-base candidates */
	IMAGE_WARN_LINKED_AT_FLASH_BASE = 1u << 3, /* app linked at 0x08000000, no bootloader */
	IMAGE_WARN_BAD_VECTORS = 1u << 4,	   /* SP not in RAM or reset outside the image */
	IMAGE_WARN_OVERSIZE = 1u << 5,		   /* does not fit the MCU's flash (step 8) */
	IMAGE_WARN_BITRATE_UNKNOWN = 1u << 6,	   /* CAN Katapult part: §5 undecidable */
	IMAGE_WARN_DICT_DAMAGED = 1u << 7,	   /* a dictionary-like stream failed to decode */
	IMAGE_WARN_PART_MISMATCH = 1u << 8, /* full: Katapult and app iface/bitrate/MCU differ */
	IMAGE_WARN_FULL_APP_BAD = 1u << 9,  /* full: part at 0x2000 is no app linked at A */
	IMAGE_WARN_KATAPULT_TOO_BIG = 1u << 10, /* Katapult part longer than 0x2000 */
	IMAGE_WARN_MCU_UNKNOWN = 1u << 11,	/* no MCU string / dictionary MCU */
	IMAGE_WARN_USB_CAN_BRIDGE = 1u << 12,	/* USB-to-CAN bridge build */
	IMAGE_WARN_SCRATCH_SMALL = 1u << 13,	/* a dictionary did not fit the scratch buffer */
};
#define IMAGE_WARN_COUNT 14

struct image_vectors {
	uint32_t sp;	/* word 0: initial stack pointer */
	uint32_t reset; /* word 1: reset handler (Thumb, odd) */
};

/* A Katapult bootloader part: the whole katapult file, the front of a full, a deployer's copy. */
struct image_katapult_part {
	bool present;
	size_t offset; /* file offset of its vector table */
	size_t len;    /* up to the first run of >= 64 x 0xFF (images.md §4 step 2) or the end */
	struct image_vectors vectors;
	char mcu[32];	  /* "stm32f042x6"; "" when no MCU string was found */
	char version[64]; /* "v0.0.1-104-gfcb2f84-dirty"; "" in the v2/v3 fork builds */
	enum image_iface iface;
	uint32_t can_bitrate; /* 0 for USB or when undecidable */
	enum image_bitrate_source bitrate_source;
	unsigned app_start_literals; /* count of the word 0x08002000 inside the part */
	uint16_t usb_vid, usb_pid;   /* 1d50:6177 for USB builds, else 0 */
};

/* A Klipper-derived application: the app file, or the part at 0x2000 of a full image. */
struct image_app_part {
	bool present;
	size_t offset; /* file offset of the part (0, or 0x2000 in a full image) */
	size_t len;
	struct image_vectors vectors;
	bool has_dict;
	size_t dict_offset; /* zlib stream, relative to the part */
	size_t dict_len;    /* compressed length in bytes (what identify serves) */
	bool load_known;
	uint32_t link_base;	       /* the one §4 step 4 candidate, valid when load_known */
	unsigned link_base_candidates; /* 0 or >1 = undetermined */
	char mcu[32];
	char version[96];
	char app_name[32];     /* dictionary "app"; "" when absent (<= 5.x) */
	char initial_pins[32]; /* config.INITIAL_PINS; "" when absent */
	uint32_t clock_freq;
	enum image_iface iface;
	uint32_t can_bitrate;	   /* config.CANBUS_FREQUENCY; 0 for USB */
	uint16_t usb_vid, usb_pid; /* application USB descriptor 1d50:614e, else 0 */
	char usb_manufacturer[32]; /* first USB string descriptor ("Cartographer"), or "" */
};

/*
 * Everything image_inspect learns. The summary fields (mcu .. version) describe what the
 * device will run: the application part for app and full, the Katapult part for katapult and
 * deployer (images.md Appendix A columns).
 */
struct image_info {
	enum image_kind kind;
	size_t size;
	uint8_t sha256[32];
	struct image_vectors vectors; /* words 0 and 1 of the file (0 when shorter than 8) */
	bool load_known;
	uint32_t load_address;
	char mcu[32];
	enum image_iface iface;
	uint32_t can_bitrate;
	enum image_bitrate_source bitrate_source;
	char version[96];
	uint32_t flash_size;	   /* of the MCU (protocol/mcu.h); 0 unknown */
	uint64_t flash_end_offset; /* (load - F) + size */
	bool fits;		   /* images.md §4 step 8 */
	long overflow_bytes;	   /* > 0: bytes past the end of flash (or of the 0x2000 region) */
	struct image_app_part app;
	struct image_katapult_part katapult;
	bool gap_all_ff;   /* full: img[katapult.len .. 0x2000) is all 0xFF */
	unsigned warnings; /* enum image_warning bits */
};

/*
 * Classify img[0..len) by images.md §4-§5 and fill *out (zeroed first, always). scratch is the
 * caller's buffer (>= IMAGE_SCRATCH_MIN, IMAGE_SCRATCH_SIZE recommended) used for zlib and the
 * inflated dictionary; its contents are garbage afterwards.
 * Returns 0 when the bytes are firmware (kind != IMAGE_UNKNOWN), CF_ERR_IMAGE when kind is
 * IMAGE_UNKNOWN (too short, no vector table/signature/dictionary), CF_ERR_NOSPACE when scratch
 * is below IMAGE_SCRATCH_MIN. Never blocks; the only allocation is jansson's during the parse.
 */
int image_inspect(const uint8_t *img, size_t len, uint8_t *scratch, size_t scratch_cap,
		  struct image_info *out);

/*
 * The facts of a running application from its dictionary JSON text with at least "config" (and
 * "version", "app"), the same mapping image_inspect applies to an image's dictionary, e.g. what
 * Klipper's API reports as mcu_version and mcu_constants rebuilt as {"version":…,"config":…}.
 * Returns 0 or CF_ERR_IMAGE (not a JSON object with a "config" object).
 */
int image_dict_parse_text(const char *text, size_t len, struct image_app_part *app);

/* Stable lower-case tokens ("app", "full", "katapult", "deployer", "uf2", "unknown"). */
const char *image_kind_name(enum image_kind kind);
/* "can", "usb", "usb-can-bridge", "unknown". */
const char *image_iface_name(enum image_iface iface);
/* Parse "can" or "usb" (command lines); false for anything else, *iface untouched. */
bool image_iface_from_name(const char *name, enum image_iface *iface);
/* "dictionary", "katapult-code-heuristic", "none" (expected.json can_bitrate_source). */
const char *image_bitrate_source_name(enum image_bitrate_source src);
/* For one IMAGE_WARN_* bit: snake_case token, and one sentence; "unknown" for other values. */
const char *image_warning_name(unsigned bit);
const char *image_warning_text(unsigned bit);
/*
 * Probe generation the image is built for (images.md §1): "v2/v3" (STM32F042, also IDM), "HT"
 * (STM32G431 at 150 MHz), "v4" (STM32G431 at 170 MHz), "v4/HT" (G431, clock unknown, e.g. a
 * Katapult), "v1" (uf2); NULL when the MCU is unknown. Static string.
 */
const char *image_probe_generation(const struct image_info *img);

/* ---- name-vs-content warnings (inspect) ---- */

enum image_name_warning {
	IMAGE_NAME_12KIB = 1u << 0,	  /* "_12kib_offset" but linked at 0x08002000 */
	IMAGE_NAME_IFACE = 1u << 1,	  /* "CAN" name with a USB image, or "USB" with CAN */
	IMAGE_NAME_BITRATE = 1u << 2,	  /* 1M/500k/250k token differs from the content */
	IMAGE_NAME_FULL_NO_APP = 1u << 3, /* "Full_"/"Katapult_plus_" but no app vector table */
	IMAGE_NAME_KIND = 1u << 4,	  /* "Katapult"/"deployer" name, other content */
	IMAGE_NAME_MCU = 1u << 5,	  /* "V4"/"HT" with an F042 image, "V3"/"v2-v3" with G431 */
	IMAGE_NAME_VERSION = 1u << 6,	  /* "5_1_0"/"6.1.0" not in the dictionary version */
	IMAGE_NAME_VARIANT = 1u << 7,	  /* "lite"/"full" (6.x) against the version's "lite" */
};
#define IMAGE_NAME_WARNING_COUNT 8

/*
 * Compare tokens of file_name's base name (a path may be given; case-insensitive) with the
 * classified content (images.md §2.2). Returns a mask of enum image_name_warning bits, 0 when
 * nothing disagrees.
 */
unsigned image_name_warnings(const char *file_name, const struct image_info *img);
/* For one IMAGE_NAME_* bit: token and one sentence; "unknown" for other values. */
const char *image_name_warning_name(unsigned bit);
const char *image_name_warning_text(unsigned bit);

/* ---- pre-flash refusal rules R1-R6 (images.md §7) ---- */

enum image_path {
	IMAGE_PATH_KATAPULT, /* through Katapult: image written at the CONNECT app_start */
	IMAGE_PATH_DFU,	     /* through ROM DFU at dfu_address (normally 0x08000000) */
};

/* Overrides; bits 0-3 equal enum updater_force (src/updater.h) bit for bit. */
enum image_force {
	IMAGE_FORCE_BITRATE = 1u << 0,	 /* lifts R3 (--allow-bitrate-mismatch) */
	IMAGE_FORCE_SWITCH = 1u << 1,	 /* R4: the user asked for an interface switch */
	IMAGE_FORCE_UNKNOWN = 1u << 2,	 /* lifts R7 (image_check_known, --allow-unknown) */
	IMAGE_FORCE_LINK_BASE = 1u << 3, /* R1: use stated_load_address for an undetermined base */
	IMAGE_FORCE_VARIANT = 1u << 4,	 /* lifts R8 (--allow-variant-change) */
};

/* What the device reported and what the user asked for. 0 / "" / UNKNOWN = not known. */
struct image_target {
	enum image_path path;
	char mcu[32];		/* Katapult CONNECT mcu */
	uint32_t app_start;	/* Katapult CONNECT application start (0x08002000) */
	uint32_t flash_size;	/* DFU: from the parsed alt-0 layout */
	uint32_t dfu_address;	/* DFU download address; 0 means 0x08000000 */
	enum image_iface iface; /* how the device talks now (Katapult transport; DFU: last known) */
	uint32_t bus_bitrate;	/* bitrate of the CAN bus the device will be on afterwards */
	enum image_iface switch_to;   /* --switch-to; UNKNOWN = no switch requested */
	uint32_t stated_load_address; /* with IMAGE_FORCE_LINK_BASE */
	/* What the probe's application runs now (identify), for R8; "" / 0 = not known, and then
	 * R8 is not checked. The MCU is mcu above. */
	char running_version[96];
	uint32_t running_clock; /* CLOCK_FREQ: tells HT (150 MHz) from v4 (170 MHz) */
};

struct image_refusal {
	char rule[4];	       /* "R1" .. "R6" */
	const char *what;      /* the quantity compared: "load address", "mcu", "can bitrate" ... */
	char image_value[64];  /* what the image says */
	char target_value[64]; /* what the device / bus / request says */
	const char *reason;    /* one sentence, static */
	const char *override;  /* "--allow-bitrate-mismatch", "--switch-to usb" ...; NULL if none */
	unsigned force_bit;    /* enum image_force bit that lifts it; 0 when none is sane */
};

/*
 * Apply R1-R6 for writing img over path t->path, and R8 when t->running_version is known. force_mask (enum image_force) lifts only the
 * rules that have a sane override. Returns 0 when the image may be written, CF_ERR_REFUSED with
 * *why filled for the first rule that fails (why may be NULL). Pure and never blocks.
 */
int image_check_against(const struct image_info *img, const struct image_target *t,
			unsigned force_mask, struct image_refusal *why);

/*
 * The rules a run can decide before it reboots a probe into Katapult, in the order and words of
 * image_check_against: R2 against t->mcu (the running application's MCU; "" = unknown, not
 * checked), R3 against t->bus_bitrate (0 = unknown), R8 against t->running_version. The rest need
 * Katapult's CONNECT. Pure.
 */
int image_check_before_entry(const struct image_info *img, const struct image_target *t,
			     unsigned force_mask, struct image_refusal *why);

/* ---- known release builds (images.md Appendix A: the R7 allowlist seed) ---- */

struct image_known {
	const char *sha256; /* lower-case hex */
	char repo;     /* 'k' Cartographer3D/cartographer-klipper, 'f' .../cartographer_firmware */
	uint32_t size; /* bytes */
	enum image_kind kind;
	uint32_t load_address; /* 0 for uf2 */
	/* The summary image_inspect gives: app part for app/full, Katapult part otherwise;
	 * can_bitrate 0 for USB, and where only the file name tells it (G431 Katapult). */
	const char *mcu;
	enum image_iface iface;
	uint32_t can_bitrate;
	const char *version; /* dictionary version, also of a Katapult's trailing data; else "" */
	const char *path;    /* first repository path of the blob, under firmware/ */
};

/* Number of known builds (136), and the i-th one (NULL past the end). Static data. */
size_t image_known_count(void);
const struct image_known *image_known_at(size_t i);
/* The known build with this SHA-256, or NULL. Borrowed static data. */
const struct image_known *image_known_build(const uint8_t sha256[32]);

/* ---- R7 and R8: release builds and variants (protocol/image_release.c) ---- */

/*
 * R7 (images.md §7): refuse an image whose SHA-256 is no known release build, unless
 * force_mask has IMAGE_FORCE_UNKNOWN ("--allow-unknown"). Every write checks it before any
 * device is reached. Returns 0 or CF_ERR_REFUSED with *why filled (why may be NULL).
 */
int image_check_known(const struct image_info *img, unsigned force_mask, struct image_refusal *why);

/* Variant tokens of a build (images.md §2.2). */
enum image_variant {
	IMAGE_VARIANT_K1 = 1u << 0,   /* "K1": Creality K1 build */
	IMAGE_VARIANT_HT = 1u << 1,   /* "HT": high-temperature probe */
	IMAGE_VARIANT_LITE = 1u << 2, /* "lite" (6.x) */
	IMAGE_VARIANT_IDM = 1u << 3,  /* "IDM": another product on the same MCU */
};
/* The variant words of a dictionary version string, case-insensitive whole words. */
unsigned image_variant_of(const char *version);
/*
 * The variant of a build from its facts: K1, lite and IDM from the version's words; HT from the
 * hardware, since the v4 5.1.0 build at 170 MHz carries the same "Cartographer HT 5.1.0" as the
 * HT build at 150 MHz (images.md §1, §2.2): an STM32G431 at 150 MHz is HT, at 170 MHz it is
 * not; with the clock unknown (0) the version's word decides.
 */
unsigned image_variant_of_build(const char *version, const char *mcu, uint32_t clock_freq);

/*
 * R8: the image's variant must equal the variant of the build the probe runs now
 * (t->running_version, t->running_clock, t->mcu; "" version = unknown, nothing checked),
 * unless force_mask has IMAGE_FORCE_VARIANT ("--allow-variant-change"). Generations (V3/V4)
 * are R2's business. Returns 0 or CF_ERR_REFUSED with *why filled (why may be NULL).
 */
int image_check_variant(const struct image_info *img, const struct image_target *t,
			unsigned force_mask, struct image_refusal *why);

#endif
