// SPDX-License-Identifier: GPL-3.0-or-later
// The MCU table: every per-MCU fact the classifier, the engine, mkimage and the twin use.
#include "protocol/mcu.h"

#include <string.h>

#define KIB 1024u

/*
 * Probe rows first (images.md §1, §2.3; katapult.md §1.6, §9), then family rows in the order
 * Katapult's flash_get_page_size() decides (the F072 before the F0 density rows). Adding a
 * probe MCU is one row here.
 */
static const struct mcu_info rows[] = {
    {
	.pattern = "stm32f042",
	.name = "stm32f042x6",
	.generation = "v2/v3",
	.variants = {{48000000u, "v2/v3"}},
	.flash_size = 32 * KIB,
	.ram_top = 0x20001800u,
	.page_size = 1 * KIB,
	.program_unit = 2,
	.ecc = MCU_ECC_NO,
	.katapult_size = 8 * KIB,
	.rom_dfu = 0x1FFFC400u,
	.bitrate_code = MCU_BITRATE_CODE_F0_BTR,
	.app_vectors = 0xC0,
	.katapult_reset = 0x080000C9u,
	.app_reset = 0x080021B9u,
	.deployer_reset = 0x08002071u,
    },
    {
	.pattern = "stm32g431",
	.name = "stm32g431xx",
	.generation = "v4/HT",
	.variants = {{150000000u, "HT"}, {170000000u, "v4"}},
	.flash_size = 128 * KIB,
	.ram_top = 0x20008000u,
	.page_size = 2 * KIB,
	.program_unit = 8,
	.ecc = MCU_ECC_YES,
	.katapult_size = 8 * KIB,
	.rom_dfu = 0x1FFF0000u,
	.bitrate_code = MCU_BITRATE_CODE_NONE,
	.app_vectors = 0x1D8,
	.katapult_reset = 0x080000A1u,
	.app_reset = 0x080021F1u,
	.deployer_reset = 0x08002079u,
    },
    /* Families: only what holds for every member. */
    {.pattern = "stm32f072",
     .page_size = 2 * KIB,
     .program_unit = 2,
     .ecc = MCU_ECC_NO,
     .bitrate_code = MCU_BITRATE_CODE_F0_BTR},
    /* F0 density letter after 'x': 4/6/8 = 16/32/64 KiB parts with 1 KiB pages. */
    {.pattern = "stm32f0??x4",
     .page_size = 1 * KIB,
     .program_unit = 2,
     .ecc = MCU_ECC_NO,
     .bitrate_code = MCU_BITRATE_CODE_F0_BTR},
    {.pattern = "stm32f0??x6",
     .page_size = 1 * KIB,
     .program_unit = 2,
     .ecc = MCU_ECC_NO,
     .bitrate_code = MCU_BITRATE_CODE_F0_BTR},
    {.pattern = "stm32f0??x8",
     .page_size = 1 * KIB,
     .program_unit = 2,
     .ecc = MCU_ECC_NO,
     .bitrate_code = MCU_BITRATE_CODE_F0_BTR},
    {.pattern = "stm32f0",
     .page_size = 2 * KIB,
     .program_unit = 2,
     .ecc = MCU_ECC_NO,
     .bitrate_code = MCU_BITRATE_CODE_F0_BTR},
    /* F103: 1 KiB pages below 256 KiB of flash, else 2 KiB: the larger. */
    {.pattern = "stm32f1", .page_size = 2 * KIB, .program_unit = 2, .ecc = MCU_ECC_NO},
    /* F2/F4 sectors are 16, 64 and 128 KiB: the largest. */
    {.pattern = "stm32f2", .page_size = 128 * KIB, .program_unit = 4},
    {.pattern = "stm32f4", .page_size = 128 * KIB, .program_unit = 4, .ecc = MCU_ECC_NO},
    {.pattern = "stm32f7", .page_size = 128 * KIB},
    {.pattern = "stm32h7", .page_size = 128 * KIB, .program_unit = 32, .ecc = MCU_ECC_YES},
    {.pattern = "stm32g0", .page_size = 2 * KIB, .program_unit = 8, .ecc = MCU_ECC_YES},
    {.pattern = "stm32g4", .page_size = 2 * KIB, .program_unit = 8, .ecc = MCU_ECC_YES},
    {.pattern = "stm32", .page_size = 2 * KIB},
    /* Not STM32: Katapult buffers or bounds-checks differently; plain ascending order. */
    {.pattern = "rp2", .page_size = 0},
    {.pattern = "lpc", .page_size = 0},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static bool matches(const char *pattern, const char *mcu)
{
	for (; *pattern; pattern++, mcu++)
		if (!*mcu || (*pattern != '?' && *pattern != *mcu))
			return false;
	return true;
}

const struct mcu_info *mcu_find(const char *mcu)
{
	if (!mcu || !mcu[0])
		return NULL;
	for (size_t i = 0; i < NROWS; i++)
		if (matches(rows[i].pattern, mcu))
			return &rows[i];
	return NULL;
}

const struct mcu_info *mcu_default(void)
{
	return &rows[0];
}

const struct mcu_info *mcu_at(size_t i)
{
	return i < NROWS ? &rows[i] : NULL;
}

uint32_t mcu_flash_size(const char *mcu)
{
	const struct mcu_info *m = mcu_find(mcu);

	return m ? m->flash_size : 0;
}

uint32_t mcu_ram_top(const char *mcu)
{
	const struct mcu_info *m = mcu_find(mcu);

	return m ? m->ram_top : 0;
}

uint32_t mcu_page_size(const char *mcu)
{
	const struct mcu_info *m = mcu_find(mcu);

	return m ? m->page_size : 2 * KIB;
}

bool mcu_has_ecc(const char *mcu)
{
	const struct mcu_info *m = mcu_find(mcu);

	return !m || m->ecc != MCU_ECC_NO;
}

const char *mcu_generation(const char *mcu, uint32_t clock_freq)
{
	const struct mcu_info *m = mcu_find(mcu);

	if (!m || !m->generation)
		return NULL;
	for (size_t i = 0; clock_freq && i < 2 && m->variants[i].clock_freq; i++)
		if (m->variants[i].clock_freq == clock_freq)
			return m->variants[i].generation;
	return m->generation;
}

uint32_t mcu_app_start(const struct mcu_info *m)
{
	return MCU_FLASH_BASE + m->katapult_size;
}
