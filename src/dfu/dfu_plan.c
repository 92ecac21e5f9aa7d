// SPDX-License-Identifier: GPL-3.0-or-later
// Erase/write planning for DFU recovery: checks against the DfuSe layout, union of pages.
#include "dfu/dfu_plan.h"

#include <string.h>

#include "protocol/err.h"

size_t dfu_plan_padded_len(const struct dfu_plan_image *img)
{
	return (img->len + DFU_PLAN_ALIGN - 1) / DFU_PLAN_ALIGN * DFU_PLAN_ALIGN;
}

static int refuse(char *why, size_t cap, const char *fmt, uint32_t a, const char *name)
{
	snprintf(why, cap, fmt, name, a);
	return CF_ERR_REFUSED;
}

static int add_page(struct dfu_plan *p, uint32_t start, uint32_t size)
{
	size_t i = 0;

	while (i < p->npages && p->page[i] < start)
		i++;
	if (i < p->npages && p->page[i] == start)
		return CF_OK; /* dfu.md §2.6: F4 sector 0 holds both images: erase it once */
	if (p->npages == DFU_PLAN_MAX_PAGES)
		return CF_ERR_NOSPACE;
	memmove(&p->page[i + 1], &p->page[i], (p->npages - i) * sizeof(p->page[0]));
	memmove(&p->page_size[i + 1], &p->page_size[i], (p->npages - i) * sizeof(p->page_size[0]));
	p->page[i] = start;
	p->page_size[i] = size;
	p->npages++;
	return CF_OK;
}

/* Walk the pages [start, end) touches: all must exist and be writeable (and erasable). */
static int plan_range(struct dfu_plan *p, const struct dfu_layout *l, uint32_t start,
		      uint64_t end, const char *name, char *why, size_t cap)
{
	uint64_t a = start;

	if (end > (uint64_t)UINT32_MAX + 1)
		return refuse(why, cap, "%s ends past 4 GiB (starts at 0x%08x)", start, name);
	while (a < end) {
		uint32_t page, size;
		uint8_t type;

		if (!dfu_layout_page(l, (uint32_t)a, &page, &size, &type))
			return refuse(why, cap, "%s: 0x%08x is outside the device's flash layout",
				      (uint32_t)a, name);
		if (!(type & DFU_MEM_WRITEABLE))
			return refuse(why, cap, "%s: the page at 0x%08x is not writeable", page, name);
		if (!p->mass_erase && !(type & DFU_MEM_ERASABLE))
			return refuse(why, cap, "%s: the page at 0x%08x is not erasable", page, name);
		if (!p->mass_erase && add_page(p, page, size))
			return refuse(why, cap, "%s: more pages than a plan holds (at 0x%08x)", page,
				      name);
		a = (uint64_t)page + size;
	}
	return CF_OK;
}

int dfu_plan_build(struct dfu_plan *plan, const struct dfu_layout *layout,
		   const struct dfu_plan_image *imgs, size_t n, bool mass_erase, char *why,
		   size_t why_cap)
{
	int err;

	memset(plan, 0, sizeof(*plan));
	why[0] = '\0';
	if (n == 0 || n > DFU_PLAN_MAX_IMAGES)
		return CF_ERR_USAGE;
	plan->mass_erase = mass_erase;
	for (size_t i = 0; i < n; i++) {
		if (imgs[i].len == 0)
			return refuse(why, why_cap, "%s is empty (at 0x%08x)", imgs[i].address,
				      imgs[i].name);
		/* Insert in address order: design rule 5, the bootloader region first. */
		size_t at = plan->count;

		while (at > 0 && plan->img[at - 1].address > imgs[i].address) {
			plan->img[at] = plan->img[at - 1];
			at--;
		}
		plan->img[at] = imgs[i];
		plan->count++;
		plan->total_len += imgs[i].len;
	}
	for (size_t i = 0; i + 1 < plan->count; i++) {
		const struct dfu_plan_image *a = &plan->img[i], *b = &plan->img[i + 1];

		if ((uint64_t)a->address + dfu_plan_padded_len(a) > b->address)
			return refuse(why, why_cap, "%s overlaps the next image at 0x%08x",
				      b->address, a->name);
	}
	for (size_t i = 0; i < plan->count; i++) {
		const struct dfu_plan_image *img = &plan->img[i];

		err = plan_range(plan, layout, img->address,
				 (uint64_t)img->address + dfu_plan_padded_len(img), img->name, why,
				 why_cap);
		/* The gap up to the next image ends up 0xFF, as in a full image. */
		if (!err && i + 1 < plan->count)
			err = plan_range(plan, layout, img->address + (uint32_t)img->len,
					 plan->img[i + 1].address, "the gap between the images",
					 why, why_cap);
		if (err)
			return err;
	}
	plan->span_start = plan->img[0].address;
	plan->span_end = plan->img[plan->count - 1].address + (uint32_t)plan->img[plan->count - 1].len;
	return CF_OK;
}

void dfu_plan_print(const struct dfu_plan *plan, FILE *out)
{
	if (plan->mass_erase) {
		fprintf(out, "erase: mass erase (whole flash)\n");
	} else {
		fprintf(out,
			"erase: %zu page%s, each at most once (read first: pages that already "
			"hold the image, or blank ones, are skipped):",
			plan->npages, plan->npages == 1 ? "" : "s");
		for (size_t i = 0; i < plan->npages; i++)
			fprintf(out, "%s0x%08x", i % 8 ? " " : "\n  ", plan->page[i]);
		fprintf(out, "\n");
	}
	for (size_t i = 0; i < plan->count; i++) {
		const struct dfu_plan_image *img = &plan->img[i];

		fprintf(out, "write %zu: %s, %zu bytes at 0x%08x-0x%08zx\n", i + 1, img->name,
			img->len, img->address, img->address + img->len - 1);
		if (i + 1 < plan->count && img->address + img->len < plan->img[i + 1].address)
			fprintf(out, "  then 0x%08zx-0x%08x stays erased (0xFF), as in a full image\n",
				img->address + img->len, plan->img[i + 1].address - 1);
	}
	fprintf(out, "then: read back and compare every byte, then leave DFU mode\n");
}
