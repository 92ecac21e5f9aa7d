/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Probe flash as Katapult's stm32/flash.c writes it: lazy erase, quarter checks, PGERR. */
#include <stdio.h>
#include <string.h>

#include "tools/twin/twin_priv.h"

bool twin_flash_is_erased(const struct twin *t, uint32_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (t->flash[off + i] != 0xff)
			return false;
	return true;
}

/*
 * Katapult's check_erased(addr, count) ends at `(void *)addr + count / 4`: GNU void-pointer
 * arithmetic counts bytes, so it tests the first quarter of the range it is given
 * (katapult.md §1.6 correction). Everything below goes through this, never the full range.
 */
static bool katapult_check_erased(const struct twin *t, uint32_t off, size_t count)
{
	return twin_flash_is_erased(t, off, count / 4);
}

/* An interrupted erase leaves the page half old, half erased (undefined on silicon). */
static bool erase_page(struct twin *t, uint32_t page_off, uint64_t *cost_us)
{
	uint32_t n = ++t->erases_seen;

	*cost_us += twin_erase_us(t);
	t->stats.pages_erased++;
	if (t->faults.power_loss_erase && n == t->faults.power_loss_erase) {
		memset(t->flash + page_off, 0xff, t->page_size / 2);
		twin_persist_write(t, page_off, t->page_size);
		return false;
	}
	memset(t->flash + page_off, 0xff, t->page_size);
	return true;
}

static bool all_of(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * The MCU's programming unit (F0: half-word, G4: double word). A unit that is not erased is
 * left as it is and the error flag set (F0 PGERR, G4 PROGERR), unless the new value is all
 * zero, which programs (RM0091 §3.2.2, RM0440 §3.3.7). Katapult never reads the flag: its
 * compare after programming finds the difference (-3).
 */
static void program_one_unit(struct twin *t, uint32_t off, const uint8_t *data, size_t unit)
{
	if (all_of(t->flash + off, unit, 0xff) || all_of(data, unit, 0x00)) {
		for (size_t i = 0; i < unit; i++)
			t->flash[off + i] &= data[i];
		return;
	}
	t->stats.program_errors++;
}

/* Programming a block unit by unit; a power loss stops half way. */
static bool program(struct twin *t, uint32_t off, const uint8_t *data, size_t len,
		    uint64_t *cost_us)
{
	const size_t unit = t->mcu->program_unit;
	uint32_t n = ++t->blocks_seen;
	size_t todo = len;
	bool ok = true;

	if (t->faults.power_loss_block && n == t->faults.power_loss_block) {
		todo = len / 2;
		ok = false;
	}
	for (size_t i = 0; i + unit <= todo; i += unit)
		program_one_unit(t, off + (uint32_t)i, data + i, unit);
	*cost_us += twin_program_us(t, todo);
	twin_persist_write(t, off & ~(t->page_size - 1), t->page_size);
	return ok;
}

static int lost_power(struct twin *t)
{
	t->stats.power_losses++;
	return 1;
}

/* A page start: 0 erased, 1 erase first, 2 retransmit (ignored). */
static int page_start_needs(struct twin *t, uint32_t off, const uint8_t *data)
{
	if (katapult_check_erased(t, off, t->page_size)) {
		/* "Page already erased" on the tested quarter: the rest may still hold data. */
		if (!twin_flash_is_erased(t, off, t->page_size))
			t->stats.quarter_misses++;
		return 0;
	}
	if (!memcmp(t->flash + off, data, TWIN_BLOCK_SIZE) &&
	    katapult_check_erased(t, off + TWIN_BLOCK_SIZE, t->page_size - TWIN_BLOCK_SIZE)) {
		if (!twin_flash_is_erased(t, off + TWIN_BLOCK_SIZE, t->page_size - TWIN_BLOCK_SIZE))
			t->stats.quarter_misses++;
		return 2;
	}
	return 1;
}

/* The corrupt_flash fault: one bit of the Nth programmed block flips after Katapult's own
 * compare passed, so only a read-back finds it (a weak cell, a disturbed page). */
static void corrupt_silently(struct twin *t, uint32_t off)
{
	const uint32_t at = off + (t->blocks_seen * 7u) % TWIN_BLOCK_SIZE;

	if (!t->faults.corrupt_flash || t->blocks_seen != t->faults.corrupt_flash)
		return;
	t->flash[at] ^= 0x10;
	twin_persist_write(t, at & ~(t->page_size - 1), t->page_size);
	t->stats.flash_corruptions++;
	twin_logf(t, "fault: flash byte 0x%08x flipped after the compare", TWIN_FLASH_BASE + at);
}

/*
 * katapult.md §1.6, flash_write_block(): returns 0 (written or retransmit ignored), -1 (not
 * aligned), -2 (out of order), -3 (compare after programming failed), 1 (power lost: the caller
 * turns the twin off) or 2 (write past the end: the device hangs).
 */
int twin_flash_write_block(struct twin *t, uint32_t addr, const uint8_t *data, uint64_t *cost_us)
{
	uint32_t off;
	int need;

	*cost_us = 0;
	if (addr % TWIN_BLOCK_SIZE)
		return -1;
	if (addr < TWIN_FLASH_BASE || addr - TWIN_FLASH_BASE >= t->flash_size) {
		/* §1.6: no upper-bound check on STM32; an F042 hangs (Arksine/katapult#148) */
		t->stats.wrote_past_end++;
		fprintf(stderr,
			"twin %s: SEND_BLOCK at 0x%08x is past the end of the %u KiB flash:"
			" the real probe hangs here\n",
			t->serial, addr, (unsigned)(t->flash_size / 1024));
		twin_logf(t, "WRITE PAST END OF FLASH at 0x%08x: device hangs", addr);
		return 2;
	}
	off = addr - TWIN_FLASH_BASE;
	if (off % t->page_size == 0) {
		need = page_start_needs(t, off, data);
		if (need == 2) {
			t->stats.blocks_retransmit++;
			return 0;
		}
		if (need == 1 && !erase_page(t, off, cost_us))
			return lost_power(t);
		t->stats.eof_page_count++;
	} else if (!katapult_check_erased(t, off, TWIN_BLOCK_SIZE)) {
		if (!memcmp(t->flash + off, data, TWIN_BLOCK_SIZE)) {
			t->stats.blocks_retransmit++;
			return 0;
		}
		return -2;
	}
	if (!program(t, off, data, TWIN_BLOCK_SIZE, cost_us))
		return lost_power(t);
	t->stats.blocks_written++;
	if (memcmp(t->flash + off, data, TWIN_BLOCK_SIZE))
		return -3;
	corrupt_silently(t, off);
	return 0;
}

