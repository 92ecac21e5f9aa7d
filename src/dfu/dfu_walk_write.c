// SPDX-License-Identifier: GPL-3.0-or-later
// The write walk: read the planned pages, then the bootloader region (erase, write, read back)
// before the application's (erase, write): design rule 5, issue #15.
#include <string.h>

#include "dfu/dfu_walk.h"
#include "protocol/err.h"

/* Reading first costs one UPLOAD per transfer size; past this span it is not worth it. */
#define PRE_READ_MAX (64u * 1024)
#define ALIGN	     DFU_PLAN_ALIGN

static void region_begin(struct dfu_walk *w, int region);

/* ---- pages ---- */

static int page_of(const struct dfu_walk *w, uint32_t address)
{
	const struct dfu_plan *p = w->cfg.plan;

	for (size_t i = 0; i < p->npages; i++)
		if (address >= p->page[i] && address - p->page[i] < p->page_size[i])
			return (int)i;
	return -1;
}

static uint32_t page_end(const struct dfu_walk *w, size_t i)
{
	return w->cfg.plan->page[i] + w->cfg.plan->page_size[i];
}

/* Does the byte at address need programming? Erased flash reads 0xFF already, and a page
 * that holds the image is left alone (and must be: F0 refuses to program a written cell). */
static bool needs_write(const struct dfu_walk *w, uint32_t address)
{
	const int page = page_of(w, address);

	if (dfu_walk_target(w, address) == 0xFF)
		return false;
	return page < 0 || w->todo[page] != DFU_PAGE_SAME;
}

/* The first 8-byte group at or after from, before end, with a byte to program (end: none). */
static uint32_t next_needed(const struct dfu_walk *w, uint32_t from, uint32_t end)
{
	for (uint32_t a = from; a < end;) {
		const int page = page_of(w, a);

		if (page >= 0 && w->todo[page] == DFU_PAGE_SAME) {
			a = page_end(w, (size_t)page);
			continue;
		}
		if (needs_write(w, a))
			return a / ALIGN * ALIGN;
		a++;
	}
	return end;
}

/* Where a block starting at a must stop: before the next page that already holds the
 * image (its cells are programmed), and at end. */
static uint32_t block_limit(const struct dfu_walk *w, uint32_t a, uint32_t end)
{
	const struct dfu_plan *p = w->cfg.plan;
	uint32_t limit = end - a > w->cfg.xfer ? a + w->cfg.xfer : end;

	for (size_t i = 0; i < p->npages; i++)
		if (w->todo[i] == DFU_PAGE_SAME && p->page[i] > a && p->page[i] < limit)
			limit = p->page[i];
	return limit;
}

/* ---- reading the planned pages before anything is erased ---- */

static void pre_next(struct dfu_walk *w);

static void pre_classify(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	const struct dfu_plan *p = w->cfg.plan;

	(void)r;
	(void)d;
	for (size_t i = 0; i < p->npages; i++) {
		w->todo[i] = !w->pre_ok			? DFU_PAGE_ERASE
			     : w->pre_same[i]		? DFU_PAGE_SAME
			     : w->pre_blank[i] && w->cfg.blank_is_erased ? DFU_PAGE_BLANK
									 : DFU_PAGE_ERASE;
		if (w->todo[i] == DFU_PAGE_ERASE)
			w->stats.pages_to_erase++;
	}
	region_begin(w, 0);
}

static void pre_block(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *data)
{
	int page = -1;

	for (size_t i = 0; i < r->actual; i++) {
		const uint32_t a = w->cursor + (uint32_t)i;

		if (page < 0 || a >= page_end(w, (size_t)page))
			page = page_of(w, a);
		if (page < 0)
			continue;
		w->pre_same[page] &= data[i] == dfu_walk_target(w, a);
		w->pre_blank[page] &= data[i] == 0xFF;
	}
	w->cursor += (uint32_t)r->actual;
	if (r->actual < w->chunk) {
		/* A short read leaves the rest unknown: then every page is simply erased. */
		w->pre_ok = false;
		w->cursor = page_end(w, w->cfg.plan->npages - 1);
	}
	pre_next(w);
}

static void pre_next(struct dfu_walk *w)
{
	const uint32_t first = w->cfg.plan->page[0];
	const uint32_t end = page_end(w, w->cfg.plan->npages - 1);

	if (w->cursor >= end) {
		dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, pre_classify);
		return;
	}
	w->chunk = end - w->cursor < w->cfg.xfer ? end - w->cursor : w->cfg.xfer;
	dfu_walk_want(w, DFUSE_OP_UPLOAD, w->cursor, (uint16_t)(2 + (w->cursor - first) / w->cfg.xfer),
		      NULL, w->chunk, pre_block);
}

static void pre_go(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	pre_next(w);
}

static void pre_abort(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, pre_go);
}

/* ---- erase ---- */

static void erase_next(struct dfu_walk *w);

static size_t erase_total(const struct dfu_walk *w)
{
	size_t bytes = 0;

	for (size_t i = 0; i < w->cfg.plan->npages; i++)
		bytes += w->todo[i] == DFU_PAGE_ERASE ? w->cfg.plan->page_size[i] : 0;
	return bytes;
}

static void erased(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	w->erased[w->page] = true;
	w->stats.pages_erased++;
	w->erase_done += w->cfg.plan->page_size[w->page];
	dfu_walk_progress(w, "erase", w->erase_done, erase_total(w));
	w->page++;
	erase_next(w);
}

static void write_next(struct dfu_walk *w);

/* Each page of the region that needs it, once in the whole run (the F4's sector 0 holds both
 * regions: erased with the first). */
static void erase_next(struct dfu_walk *w)
{
	const struct dfu_plan *p = w->cfg.plan;

	for (; w->page < p->npages; w->page++) {
		const size_t i = w->page;

		if (w->todo[i] != DFU_PAGE_ERASE || w->erased[i] || p->page[i] >= w->r_end ||
		    page_end(w, i) <= w->r_start)
			continue;
		w->stage = "erase";
		dfu_walk_want(w, DFUSE_OP_ERASE, p->page[i], 0, NULL, 0, erased);
		return;
	}
	w->stage = "write";
	w->cursor = w->r_start;
	w->in_run = false;
	write_next(w);
}

/* ---- write ---- */

static void block_written(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	w->stats.bytes_written += w->chunk;
	w->cursor += (uint32_t)w->chunk;
	w->block++;
	dfu_walk_progress(w, "write", w->cursor - w->span_start, w->span_end - w->span_start);
	write_next(w);
}

/* One block at w->cursor: image bytes up to the last one that needs programming, padded to 8
 * with 0xFF (dfu.md §2.2), never into a page that already holds the image. */
static void write_block(struct dfu_walk *w)
{
	const uint32_t a = w->cursor, limit = block_limit(w, a, w->r_end);
	uint32_t last = a;

	for (uint32_t x = a; x < limit; x++)
		if (needs_write(w, x))
			last = x;
	w->chunk = (last - a + ALIGN) / ALIGN * ALIGN;
	for (size_t i = 0; i < w->chunk; i++)
		w->buf[i] = dfu_walk_target(w, a + (uint32_t)i);
	dfu_walk_want(w, DFUSE_OP_WRITE, a, w->block, w->buf, w->chunk, block_written);
}

static void run_started(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	write_block(w);
}

static void boot_readback(struct dfu_walk *w);

/*
 * Bytes that need no programming (0xFF on erased flash, pages that already hold the image)
 * are skipped. Inside a run, block N lands at run_start + (N - 2) x xfer whatever the length
 * of the blocks before (dfu.md §2.2), so a run goes on exactly when the next byte to write is
 * where its next block lands; else a SET_ADDRESS starts a new run.
 */
static void write_next(struct dfu_walk *w)
{
	const uint32_t a = next_needed(w, w->cursor, w->r_end);

	if (a >= w->r_end) {
		w->cursor = w->r_end;
		dfu_walk_progress(w, "write", w->cursor - w->span_start, w->span_end - w->span_start);
		if (w->region == 0)
			boot_readback(w);
		else
			region_begin(w, w->region + 1);
		return;
	}
	w->cursor = a;
	if (w->in_run && a == w->run_start + (uint32_t)(w->block - 2) * w->cfg.xfer) {
		write_block(w);
		return;
	}
	w->run_start = a;
	w->block = 2;
	w->in_run = true;
	dfu_walk_want(w, DFUSE_OP_SET_ADDRESS, a, 0, NULL, 0, run_started);
}

/* ---- the bootloader region read back before any application page is touched ---- */

static void bv_next(struct dfu_walk *w);

static void bv_failed(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	w->next = DFU_WALK_FAILED; /* set before the ABORT */
}

static void bv_block(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *data)
{
	for (size_t i = 0; i < w->chunk; i++) {
		const uint32_t a = w->cursor + (uint32_t)i;

		if (i < r->actual && data[i] == dfu_walk_target(w, a))
			continue;
		if (i >= r->actual)
			cf_failure_set(&w->failure, CF_ERR_VERIFY, w->stage,
				       "read %zu of %zu bytes at 0x%08x; the application was not "
				       "written",
				       r->actual, w->chunk, w->cursor);
		else
			cf_failure_set(&w->failure, CF_ERR_VERIFY, w->stage,
				       "byte 0x%08x differs: wrote 0x%02x, read 0x%02x; the "
				       "application was not written",
				       a, dfu_walk_target(w, a), data[i]);
		cf_failure_set_hint(&w->failure, "the probe stays in ROM DFU mode: rerun recover "
						 "(if it repeats, pages may be write-protected)");
		/* Back to dfuIDLE first (issue #15), then the failure stands. */
		dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, bv_failed);
		w->own_errors = true;
		w->must_run = true;
		return;
	}
	w->cursor += (uint32_t)r->actual;
	dfu_walk_progress(w, "verify bootloader", w->cursor - w->r_start, w->r_end - w->r_start);
	bv_next(w);
}

static void bv_done(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	w->boot_verified = true;
	region_begin(w, 1);
}

static void bv_next(struct dfu_walk *w)
{
	const uint32_t left = w->r_end - w->cursor;

	if (!left) {
		dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, bv_done);
		return;
	}
	w->chunk = left < w->cfg.xfer ? left : w->cfg.xfer;
	dfu_walk_want(w, DFUSE_OP_UPLOAD, w->cursor,
		      (uint16_t)(2 + (w->cursor - w->r_start) / w->cfg.xfer), NULL, w->chunk,
		      bv_block);
}

static void bv_go(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	bv_next(w);
}

static void bv_abort(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, bv_go);
}

static void boot_readback(struct dfu_walk *w)
{
	w->stage = "verify bootloader";
	w->cursor = w->r_start;
	dfu_walk_want(w, DFUSE_OP_SET_ADDRESS, w->r_start, 0, NULL, 0, bv_abort);
}

/* ---- regions ---- */

static void write_end(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_done(w);
}

/* Region 0: the bootloader's [span start, boot_end); region 1: the application's, after. */
static void region_begin(struct dfu_walk *w, int region)
{
	const uint32_t boot_end = w->cfg.boot_end;

	w->region = region;
	if (region == 0) {
		w->r_start = w->span_start;
		w->r_end = w->span_end < boot_end ? w->span_end : boot_end;
	} else if (region == 1) {
		w->r_start = w->span_start > boot_end ? w->span_start : boot_end;
		w->r_end = w->span_end;
	} else {
		dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, write_end); /* back to dfuIDLE */
		return;
	}
	if (w->r_start >= w->r_end) {
		region_begin(w, region + 1);
		return;
	}
	w->page = 0;
	erase_next(w);
}

static void mass_erased(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	w->stats.mass_erased = true;
	dfu_walk_progress(w, "erase", 1, 1);
	region_begin(w, 0);
}

void dfu_walk_begin_write(struct dfu_walk *w)
{
	const struct dfu_plan *p = w->cfg.plan;
	const uint64_t pages = p->npages ? (uint64_t)page_end(w, p->npages - 1) - p->page[0] : 0;

	dfu_walk_start_phase(w, "erase");
	memset(&w->stats, 0, sizeof(w->stats));
	w->erase_done = 0;
	w->boot_verified = false;
	for (size_t i = 0; i < p->npages; i++) {
		w->todo[i] = DFU_PAGE_ERASE;
		w->erased[i] = false;
		w->pre_same[i] = w->pre_blank[i] = true;
	}
	if (p->mass_erase) {
		dfu_walk_want(w, DFUSE_OP_MASS_ERASE, 0, 0, NULL, 0, mass_erased);
		return;
	}
	if (pages == 0 || pages > PRE_READ_MAX) {
		w->stats.pages_to_erase = p->npages;
		region_begin(w, 0);
		return;
	}
	/* Read the planned pages first (cheap: no flash time): pages that already hold exactly
	 * what erase + write would leave, and blank ones on parts without ECC, are skipped. */
	w->pre_ok = true;
	w->cursor = p->page[0];
	dfu_walk_want(w, DFUSE_OP_SET_ADDRESS, p->page[0], 0, NULL, 0, pre_abort);
}
