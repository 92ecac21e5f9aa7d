/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MCU facts in one table: flash, RAM, erase pages, programming, ECC, Katapult's layout. */
#ifndef CARTOFLASH_PROTOCOL_MCU_H
#define CARTOFLASH_PROTOCOL_MCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* images.md: F, the flash base of every STM32 row. */
#define MCU_FLASH_BASE 0x08000000u

/* How the CAN bitrate of a Katapult build can be read from its code (images.md §5). */
enum mcu_bitrate_code {
	MCU_BITRATE_CODE_NONE,	 /* not readable from the bytes (G4 FDCAN): manifest or hash */
	MCU_BITRATE_CODE_F0_BTR, /* F0 at 48 MHz: `movs r0, #48000000/bitrate` before a BL */
};

/* Flash ECC. With ECC a unit once programmed, even with 0xFF, is not erased: only an erase
 * makes it writable again, so "reads 0xFF" does not mean "writable" (dfu.md). */
enum mcu_ecc {
	MCU_ECC_UNKNOWN, /* treated as ECC: every doubt takes the safe side */
	MCU_ECC_NO,
	MCU_ECC_YES,
};

/* A probe build clock and the generation it names (images.md §1: v4 170 MHz, HT 150 MHz). */
struct mcu_variant {
	uint32_t clock_freq;
	const char *generation;
};

/*
 * One row. A probe row (name != NULL) carries every field; a family row carries what holds
 * for the whole family and leaves the rest 0/NULL ("unknown"). Where a family has several
 * erase page sizes the row holds the largest: overestimating is safe for the engine's write
 * order, underestimating is not (katapult.md §5 "Safer ordering").
 */
struct mcu_info {
	const char *pattern;	/* prefix of the MCU string; '?' matches any one character */
	const char *name;	/* the string Katapult's CONNECT and the dictionary report, which
				 * is also Katapult's USB product string (images.md §3.5);
				 * NULL for a family row */
	const char *generation; /* Cartographer probe generation ("v2/v3"); NULL: not a probe */
	struct mcu_variant variants[2]; /* clock -> finer generation; clock 0 ends the list */
	uint32_t flash_size;		/* bytes from MCU_FLASH_BASE; 0 unknown */
	uint32_t ram_top;		/* end of RAM = application initial SP; 0 unknown */
	uint32_t page_size;		/* Katapult's erase page (flash.c flash_get_page_size);
					 * 0: no STM32 erase pages (rp2040, lpc: ascending) */
	uint8_t program_unit;		/* bytes programmed at once: 2 F0/F1, 8 G0/G4; 0 unknown.
					 * A unit that is not erased is left as it is (F0 PGERR,
					 * G4 PROGERR) unless the new value is all zero */
	enum mcu_ecc ecc;
	uint32_t katapult_size; /* bootloader region in front of the application */
	uint32_t rom_dfu;	/* system memory (ROM DFU) address; 0 unknown */
	enum mcu_bitrate_code bitrate_code;
	/* Shape of the shipped images (images.md §2.3), for synthetic images that look real. */
	uint16_t app_vectors;	 /* bytes of an application's vector table */
	uint32_t katapult_reset; /* Katapult's reset handler ("CanBoot!" at reset - 9) */
	uint32_t app_reset;	 /* reset handler of the 5.1.0 application */
	uint32_t deployer_reset; /* reset handler of the deployers */
};

/*
 * The first row whose pattern matches the MCU string (probe rows before family rows), or
 * NULL for NULL, "" or an MCU no row knows. The row is static and never freed.
 */
const struct mcu_info *mcu_find(const char *mcu);
/* The probe the tools model when nothing else is said: the STM32F042 of the v2/v3 probes. */
const struct mcu_info *mcu_default(void);
/* Rows in table order, for listings and tests: NULL past the end. */
const struct mcu_info *mcu_at(size_t i);

/* Flash size in bytes, 0 when unknown (no row or a family row). */
uint32_t mcu_flash_size(const char *mcu);
/* End of RAM (the application's SP), 0 when unknown. */
uint32_t mcu_ram_top(const char *mcu);
/* Erase page size the engine must assume: the row's, 2048 for an MCU no row knows. */
uint32_t mcu_page_size(const char *mcu);
/* Flash ECC: true unless a row says the part has none (every doubt assumes ECC). */
bool mcu_has_ecc(const char *mcu);
/* Probe generation: the variant of clock_freq when a row has one, else the row's ("v4/HT");
 * NULL for an MCU that is no probe. */
const char *mcu_generation(const char *mcu, uint32_t clock_freq);
/* Application start behind the row's Katapult: MCU_FLASH_BASE + katapult_size. */
uint32_t mcu_app_start(const struct mcu_info *m);

#endif
