/* SPDX-License-Identifier: GPL-3.0-or-later */
/* STM32F042 flash as Katapult's stm32/flash.c writes it: lazy erase, retransmits, verify. */
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

/* Programming only clears bits, as NOR flash does; a power loss stops half way. */
static bool program(struct twin *t, uint32_t off, const uint8_t *data, size_t len,
		    uint64_t *cost_us)
{
	uint32_t n = ++t->blocks_seen;
	size_t todo = len;
	bool ok = true;

	if (t->faults.power_loss_block && n == t->faults.power_loss_block) {
		todo = len / 2;
		ok = false;
	}
	for (size_t i = 0; i < todo; i++)
		t->flash[off + i] &= data[i];
	*cost_us += twin_program_us(t, todo);
	twin_persist_write(t, off & ~(t->page_size - 1), t->page_size);
	return ok;
}

static int lost_power(struct twin *t)
{
	t->stats.power_losses++;
	return 1;
}

/*
 * katapult.md §1.6, flash_write_block(): returns 0 (written or retransmit ignored), -1 (not
 * aligned), -2 (out of order), -3 (compare after programming failed), 1 (power lost: the caller
 * turns the twin off) or 2 (write past the end: the device hangs).
 */
int twin_flash_write_block(struct twin *t, uint32_t addr, const uint8_t *data, uint64_t *cost_us)
{
	uint32_t off, page;

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
	page = off & ~(t->page_size - 1);
	if (off == page) {
		if (!twin_flash_is_erased(t, page, t->page_size)) {
			if (!memcmp(t->flash + off, data, TWIN_BLOCK_SIZE) &&
			    twin_flash_is_erased(t, off + TWIN_BLOCK_SIZE,
						 t->page_size - TWIN_BLOCK_SIZE)) {
				t->stats.blocks_retransmit++;
				return 0;
			}
			if (!erase_page(t, page, cost_us))
				return lost_power(t);
		}
		t->stats.eof_page_count++;
	} else if (!twin_flash_is_erased(t, off, TWIN_BLOCK_SIZE)) {
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
	return 0;
}
