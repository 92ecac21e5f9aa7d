// SPDX-License-Identifier: GPL-3.0-or-later
// The DFU write and verify steps: read the planned pages, erase what needs it, write, compare.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu/dfu_priv.h"
#include "failure.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/image.h"

/* Reading first costs one UPLOAD per transfer size; past this span it is not worth it. */
#define PRE_READ_MAX (64u * 1024)

static void erase_next(struct dfu_priv *p);

/* ---- which pages need what ---- */

static int page_index(const struct dfu_priv *p, uint32_t address)
{
	for (size_t i = 0; i < p->plan.npages; i++)
		if (address >= p->plan.page[i] && address - p->plan.page[i] < p->plan.page_size[i])
			return (int)i;
	return -1;
}

/* The image byte at address: true with *byte set, false outside every image. */
static bool image_byte(const struct dfu_priv *p, uint32_t address, uint8_t *byte)
{
	for (size_t i = 0; i < p->plan.count; i++) {
		const struct dfu_plan_image *img = &p->plan.img[i];

		if (address >= img->address && address - img->address < img->len) {
			*byte = img->data[address - img->address];
			return true;
		}
	}
	return false;
}

/* The byte erase + write would leave at address: the image byte, else erased 0xFF. */
static uint8_t target_byte(const struct dfu_priv *p, uint32_t address)
{
	uint8_t b = 0xFF;

	image_byte(p, address, &b);
	return b;
}

/* Skipping the erase of a page that reads 0xFF is safe only without flash ECC: on ECC parts
 * (G4, L4, H7) a double word once programmed with ones is not erased. */
static bool part_without_ecc(const struct dfu_priv *p)
{
	const struct image_info *info = updater_get_config(p->u)->image_info;

	return info && (!strncmp(info->mcu, "stm32f0", 7) || !strncmp(info->mcu, "stm32f1", 7) ||
			!strncmp(info->mcu, "stm32f4", 7));
}

static void classify_pages(struct dfu_priv *p)
{
	const bool blank_ok = part_without_ecc(p);
	size_t same = 0, blank = 0;

	for (size_t i = 0; i < p->plan.npages; i++) {
		const uint8_t *have = p->pre + (p->plan.page[i] - p->pre_base);
		bool is_same = true, is_blank = true;

		for (uint32_t o = 0; o < p->plan.page_size[i]; o++) {
			is_same &= have[o] == target_byte(p, p->plan.page[i] + o);
			is_blank &= have[o] == 0xFF;
		}
		p->page_todo[i] = is_same		 ? DFU_PAGE_SAME
				  : is_blank && blank_ok ? DFU_PAGE_BLANK
							 : DFU_PAGE_ERASE;
		same += is_same;
		blank += !is_same && is_blank && blank_ok;
	}
	cf_log(CF_LOG_INFO, p->cand.path, "dfu",
	       "%zu pages: %zu already hold the image, %zu are "
	       "blank, %zu to erase",
	       p->plan.npages, same, blank, p->plan.npages - same - blank);
}

/* ---- reading the planned pages before erasing ---- */

static void pre_read_next(struct dfu_priv *p)
{
	const size_t off = p->off;
	const size_t n = p->pre_len - off < p->xfer ? p->pre_len - off : p->xfer;

	if (off >= p->pre_len) {
		dfu_backend_run(p, ST_W_PRE_DONE, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	}
	dfu_backend_run(p, ST_W_PRE_READ, DFUSE_OP_UPLOAD, 0, (uint16_t)(2 + off / p->xfer),
			p->pre + off, n);
}

void dfu_write_begin(struct dfu_priv *p)
{
	const uint32_t first = p->plan.npages ? p->plan.page[0] : 0;
	const size_t last = p->plan.npages ? p->plan.npages - 1 : 0;
	const uint64_t span =
	    p->plan.npages ? (uint64_t)p->plan.page[last] + p->plan.page_size[last] - first : 0;

	memset(p->page_todo, DFU_PAGE_ERASE, sizeof(p->page_todo));
	p->page = 0;
	p->stage = ST_NONE;
	if (p->plan.mass_erase || span == 0 || span > PRE_READ_MAX) {
		erase_next(p);
		return;
	}
	free(p->pre);
	p->pre = malloc(span);
	if (!p->pre) {
		erase_next(p);
		return;
	}
	p->pre_len = span;
	p->pre_base = first;
	p->off = 0;
	dfu_backend_run(p, ST_W_PRE_ADDR, DFUSE_OP_SET_ADDRESS, first, 0, NULL, 0);
}

/* ---- erase and write ---- */

static bool needs_write(const struct dfu_priv *p, const struct dfu_plan_image *img, size_t off)
{
	int page;

	if (img->data[off] == 0xFF)
		return false; /* erased (or blank) flash reads 0xFF already */
	page = page_index(p, img->address + (uint32_t)off);
	return page < 0 || p->page_todo[page] != DFU_PAGE_SAME;
}

/* First 8-byte group at or after off that needs programming (img->len: none). */
static size_t next_needed(const struct dfu_priv *p, const struct dfu_plan_image *img, size_t off)
{
	for (; off < img->len; off++)
		if (needs_write(p, img, off))
			return off / DFU_PLAN_ALIGN * DFU_PLAN_ALIGN;
	return img->len;
}

/*
 * Write pass. Bytes that need no programming (0xFF on erased flash, pages that already hold
 * the image) are skipped: a new SET_ADDRESS starts the next run, and trailing groups of a
 * block are trimmed. Verify still compares every byte. Inside a run, block N lands at
 * pointer + (N - 2) x xfer whatever the previous block's length (dfu.md §2.2).
 */
/* Design rule 5: the bootloader region is written and read back before any application byte
 * is written, so a power loss later still leaves a verified Katapult. */
static bool boot_region_written(const struct dfu_priv *p)
{
	for (size_t i = 0; i < p->plan.count; i++)
		if (p->plan.img[i].address < IMAGE_FLASH_BASE + DFU_BOOT_REGION &&
		    p->plan.img[i].address + p->plan.img[i].len > IMAGE_FLASH_BASE)
			return true;
	return false;
}

static void boot_verify_next(struct dfu_priv *p)
{
	const size_t n =
	    DFU_BOOT_REGION - p->bv_off < p->xfer ? DFU_BOOT_REGION - p->bv_off : p->xfer;

	if (p->bv_off >= DFU_BOOT_REGION) {
		dfu_backend_run(p, ST_W_BV_DONE, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	}
	dfu_backend_run(p, ST_W_BV_READ, DFUSE_OP_UPLOAD, 0, (uint16_t)(2 + p->bv_off / p->xfer),
			p->bv + p->bv_off, n);
}

static bool boot_region_matches(struct dfu_priv *p)
{
	for (uint32_t o = 0; o < DFU_BOOT_REGION; o++) {
		const uint32_t a = IMAGE_FLASH_BASE + o;
		uint8_t want;

		/* Image bytes only, as the verify step (dfu.md §2.6). */
		if (!image_byte(p, a, &want) || p->bv[o] == want)
			continue;
		dfu_backend_set_device(p);
		cf_failure_set(updater_failure(p->u), CF_ERR_VERIFY, "verify bootloader",
			       "byte 0x%08x differs: wrote 0x%02x, read 0x%02x; the application "
			       "was not written",
			       a, target_byte(p, a), p->bv[o]);
		cf_failure_set_hint(updater_failure(p->u),
				    "the probe stays in ROM DFU mode: rerun "
				    "recover (if it repeats, pages may be write-protected)");
		return false;
	}
	return true;
}

/*
 * Write pass. Bytes that need no programming (0xFF on erased flash, pages that already hold
 * the image) are skipped: a new SET_ADDRESS starts the next run, and trailing groups of a
 * block are trimmed. Verify still compares every byte. Inside a run, block N lands at
 * pointer + (N - 2) x xfer whatever the previous block's length (dfu.md §2.2).
 */
static void write_next(struct dfu_priv *p)
{
	const struct dfu_plan_image *img;
	size_t n, start, last = 0;
	uint32_t addr;

	if (dfu_backend_check_cancel(p))
		return;
	if (p->img == p->plan.count) {
		dfu_backend_run(p, ST_W_ABORT, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	}
	img = &p->plan.img[p->img];
	start = next_needed(p, img, p->off);
	if (start >= img->len) {
		p->done += img->len - p->off;
		p->img++;
		p->off = 0;
		p->need_addr = true; /* the next image starts with its own SET_ADDRESS */
		write_next(p);
		return;
	}
	addr = img->address + (uint32_t)start;
	if (!p->boot_checked && addr >= IMAGE_APP_START && boot_region_written(p)) {
		p->boot_checked = true;
		p->bv_off = 0;
		dfu_backend_run(p, ST_W_BV_ADDR, DFUSE_OP_SET_ADDRESS, IMAGE_FLASH_BASE, 0, NULL,
				0);
		return;
	}
	if (start != p->off || p->need_addr) {
		p->done += start - p->off;
		p->off = start;
		p->block = 2;
		p->need_addr = false;
		dfu_backend_run(p, ST_W_ADDR, DFUSE_OP_SET_ADDRESS, addr, 0, NULL, 0);
		return;
	}
	p->chunk = img->len - p->off < p->xfer ? img->len - p->off : p->xfer;
	if (addr < IMAGE_APP_START && addr + p->chunk > IMAGE_APP_START) {
		/* Stop the run at 0x08002000: the region is read back before the rest. */
		p->chunk = IMAGE_APP_START - addr;
		p->need_addr = true;
	}
	for (size_t i = 0; i < p->chunk; i++)
		if (needs_write(p, img, p->off + i))
			last = i;
	n = (last + DFU_PLAN_ALIGN) / DFU_PLAN_ALIGN * DFU_PLAN_ALIGN; /* padded to 8 with 0xFF */
	memset(p->buf, 0xFF, sizeof(p->buf));
	memcpy(p->buf, img->data + p->off, n < p->chunk ? n : p->chunk);
	dfu_backend_run(p, ST_W_BLOCK, DFUSE_OP_WRITE, 0, p->block, p->buf, n);
}

static void erase_next(struct dfu_priv *p)
{
	size_t bytes = 0, all = 0;

	if (dfu_backend_check_cancel(p))
		return;
	if (p->plan.mass_erase) {
		updater_progress(p->u, "erase", p->page, 1);
		if (p->page == 0) {
			dfu_backend_run(p, ST_W_ERASE, DFUSE_OP_MASS_ERASE, 0, 0, NULL, 0);
			return;
		}
	} else {
		while (p->page < p->plan.npages && p->page_todo[p->page] != DFU_PAGE_ERASE)
			p->page++;
		for (size_t i = 0; i < p->plan.npages; i++) {
			all += p->plan.page_size[i];
			bytes += i < p->page ? p->plan.page_size[i] : 0;
		}
		updater_progress(p->u, "erase", bytes, all);
		if (p->page < p->plan.npages) {
			dfu_backend_run(p, ST_W_ERASE, DFUSE_OP_ERASE, p->plan.page[p->page], 0,
					NULL, 0);
			return;
		}
	}
	p->img = 0;
	p->off = 0;
	p->done = 0;
	p->need_addr = true;
	p->boot_checked = false;
	p->stage = ST_NONE;
	write_next(p);
}

/* ---- verify ---- */

static void verify_next(struct dfu_priv *p)
{
	const struct dfu_plan_image *img;
	size_t n;

	if (dfu_backend_check_cancel(p))
		return;
	if (p->img == p->plan.count) {
		size_t erased = 0;

		for (size_t i = 0; i < p->plan.npages; i++)
			erased += p->page_todo[i] == DFU_PAGE_ERASE;
		updater_set_summary(p->u,
				    "%zu bytes written, read back identical (%s%zu/%zu "
				    "pages erased)",
				    p->plan.total_len, p->plan.mass_erase ? "mass erase, " : "",
				    p->plan.mass_erase ? (size_t)0 : erased, p->plan.npages);
		dfu_backend_step_end(p, CF_OK);
		return;
	}
	img = &p->plan.img[p->img];
	if (p->off >= img->len) {
		/* dfu.md §2.4: ABORT leaves dfuUPLOAD-IDLE before the next SET_ADDRESS. */
		p->img++;
		p->off = 0;
		dfu_backend_run(p, ST_V_ABORT2, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	}
	if (p->off == 0 && p->stage != ST_V_ABORT) {
		/* dfu.md §2.4: SET_ADDRESS, then ABORT: UPLOAD is refused in dfuDNLOAD-IDLE. */
		dfu_backend_run(p, ST_V_ADDR, DFUSE_OP_SET_ADDRESS, img->address, 0, NULL, 0);
		return;
	}
	n = img->len - p->off < p->xfer ? img->len - p->off : p->xfer;
	dfu_backend_run(p, ST_V_BLOCK, DFUSE_OP_UPLOAD, 0, (uint16_t)(2 + p->off / p->xfer), p->buf,
			n);
}

void dfu_write_verify_begin(struct dfu_priv *p)
{
	p->img = 0;
	p->off = 0;
	p->done = 0;
	p->stage = ST_NONE;
	verify_next(p);
}

static bool compare_block(struct dfu_priv *p, const struct dfuse_result *r)
{
	const struct dfu_plan_image *img = &p->plan.img[p->img];
	const size_t want = img->len - p->off < p->xfer ? img->len - p->off : p->xfer;
	struct cf_failure *f = updater_failure(p->u);

	for (size_t i = 0; i < want; i++) {
		if (i < r->actual && p->buf[i] == img->data[p->off + i])
			continue;
		dfu_backend_set_device(p);
		if (i >= r->actual)
			cf_failure_set(f, CF_ERR_VERIFY, "verify",
				       "%s: read %zu of %zu bytes at 0x%08zx", img->name, r->actual,
				       want, img->address + p->off);
		else
			cf_failure_set(f, CF_ERR_VERIFY, "verify",
				       "%s: byte 0x%08zx differs: wrote 0x%02x, read 0x%02x",
				       img->name, img->address + p->off + i, img->data[p->off + i],
				       p->buf[i]);
		cf_failure_set_hint(f, "the probe stays in ROM DFU mode: rerun recover (if it "
				       "repeats, pages may be write-protected)");
		return false;
	}
	return true;
}

/* ---- dispatch ---- */

bool dfu_write_owns(enum stage stage)
{
	return stage >= ST_W_PRE_ADDR && stage <= ST_V_ABORT2;
}

void dfu_write_on_done(struct dfu_priv *p, const struct dfuse_result *r)
{
	switch (p->stage) {
	case ST_W_PRE_ADDR:
		dfu_backend_run(p, ST_W_PRE_ABORT, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	case ST_W_PRE_READ: {
		const size_t want = p->pre_len - p->off < p->xfer ? p->pre_len - p->off : p->xfer;

		/* A short read leaves the rest unknown: then every page is simply erased. */
		p->off = r->actual < want ? p->pre_len + 1 : p->off + r->actual;
	}
		/* fall through */
	case ST_W_PRE_ABORT:
		pre_read_next(p);
		return;
	case ST_W_PRE_DONE:
		if (p->off == p->pre_len)
			classify_pages(p);
		p->stage = ST_NONE;
		erase_next(p);
		return;
	case ST_W_ERASE:
		p->page++;
		erase_next(p);
		return;
	case ST_W_BLOCK:
		p->off += p->chunk;
		p->done += p->chunk;
		p->block++;
		updater_progress(p->u, "write", p->done, p->plan.total_len);
		/* fall through */
	case ST_W_ADDR:
		write_next(p);
		return;
	case ST_W_ABORT:
		dfu_backend_step_end(p, CF_OK);
		return;
	case ST_W_BV_ADDR:
		dfu_backend_run(p, ST_W_BV_ABORT, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	case ST_W_BV_READ:
		p->bv_off += r->actual ? r->actual : DFU_BOOT_REGION; /* a short read ends it */
								      /* fall through */
	case ST_W_BV_ABORT:
		boot_verify_next(p);
		return;
	case ST_W_BV_DONE:
		if (!boot_region_matches(p)) {
			dfu_backend_step_end(p, CF_ERR_VERIFY);
			return;
		}
		p->need_addr = true;
		write_next(p);
		return;
	case ST_V_ADDR:
		dfu_backend_run(p, ST_V_ABORT, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	case ST_V_BLOCK:
		if (!compare_block(p, r)) {
			dfu_backend_step_end(p, CF_ERR_VERIFY);
			return;
		}
		p->off += r->actual;
		p->done += r->actual;
		updater_progress(p->u, "verify", p->done, p->plan.total_len);
		/* fall through */
	case ST_V_ABORT:
	case ST_V_ABORT2:
		verify_next(p);
		return;
	case ST_NONE:
	case ST_ID_IDLE:
	case ST_ID_RDP_ADDR:
	case ST_ID_RDP_ABORT:
	case ST_ID_RDP_READ:
	case ST_ID_RDP_DONE:
	case ST_ID_UNPROTECT:
	case ST_F_ADDR:
	case ST_F_LEAVE:
		return; /* not a write or verify stage: dfu_write_owns() said no */
	}
}

void dfu_write_fini(struct dfu_priv *p)
{
	free(p->pre);
	p->pre = NULL;
}
