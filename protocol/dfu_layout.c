// SPDX-License-Identifier: GPL-3.0-or-later
// DfuSe memory-layout string parser (dfu.md §1.7) and page lookup.
#include "protocol/dfu.h"

#include <string.h>

#include "protocol/err.h"

/* A cursor over the caller's bytes; the text need not be NUL-terminated. */
struct cursor {
	const char *p;
	const char *end;
};

static int peek(const struct cursor *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static int hex_value(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decimal with leading zeros ("064"); at most 9 digits so it fits without overflow checks. */
static bool read_decimal(struct cursor *c, uint32_t *v)
{
	unsigned digits = 0;

	*v = 0;
	while (is_digit(peek(c))) {
		if (++digits > 9)
			return false;
		*v = *v * 10 + (uint32_t)(*c->p - '0');
		c->p++;
	}
	return digits > 0;
}

static bool read_zone_address(struct cursor *c, uint32_t *v)
{
	unsigned digits = 0;

	if (c->end - c->p < 2 || c->p[0] != '0' || (c->p[1] != 'x' && c->p[1] != 'X'))
		return false;
	c->p += 2;
	*v = 0;
	while (hex_value(peek(c)) >= 0) {
		if (++digits > 8)
			return false;
		*v = *v << 4 | (uint32_t)hex_value(*c->p);
		c->p++;
	}
	return digits > 0;
}

static void skip_spaces(struct cursor *c)
{
	while (peek(c) == ' ')
		c->p++;
}

/*
 * segment = [count "*"] size [" "*] [mult] type. dfu.md §1.7 tolerances: no count (MATEKF722
 * "016Kg"), no multiplier ("01*32e"), a space as or before the multiplier ("01*016 e").
 */
static int read_segment(struct cursor *c, struct dfu_segment *seg)
{
	uint32_t a, size, mult = 1;
	int ch;

	if (!read_decimal(c, &a))
		return CF_ERR_FRAME;
	seg->count = 1;
	if (peek(c) == '*') {
		c->p++;
		seg->count = a;
		if (!read_decimal(c, &size))
			return CF_ERR_FRAME;
	} else {
		size = a;
	}
	skip_spaces(c);
	ch = peek(c);
	if (ch == 'B' || ch == 'K' || ch == 'M') {
		mult = ch == 'K' ? 1024u : ch == 'M' ? 1048576u : 1u;
		c->p++;
		skip_spaces(c);
		ch = peek(c);
	}
	if (ch < 'a' || ch > 'g')
		return CF_ERR_FRAME;
	c->p++;
	/* Type letter = 3-bit mask, letter - 'a' + 1 (bit0 R, bit1 E, bit2 W). */
	seg->type = (uint8_t)(ch - 'a' + 1);
	if (size == 0 || (uint64_t)size * mult > UINT32_MAX)
		return CF_ERR_FRAME;
	seg->page_size = size * mult;
	return CF_OK;
}

static int add_segment(struct dfu_layout *layout, struct dfu_segment *seg, uint64_t *next)
{
	const uint64_t bytes = (uint64_t)seg->count * seg->page_size;

	if (*next + bytes > (uint64_t)UINT32_MAX + 1)
		return CF_ERR_FRAME;
	seg->start = (uint32_t)*next;
	*next += bytes;
	if (seg->count == 0)
		return CF_OK; /* an empty segment occupies nothing; keep the table short */
	/* Zones must not overlap: a page lookup would answer for the wrong segment. */
	for (size_t i = 0; i < layout->count; i++) {
		const struct dfu_segment *o = &layout->seg[i];
		const uint64_t o_end = (uint64_t)o->start + (uint64_t)o->count * o->page_size;

		if (seg->start<o_end && * next> o->start)
			return CF_ERR_FRAME;
	}
	if (layout->count == DFU_LAYOUT_MAX_SEGMENTS)
		return CF_ERR_NOSPACE;
	layout->seg[layout->count++] = *seg;
	return CF_OK;
}

static int read_zone(struct cursor *c, struct dfu_layout *layout)
{
	uint32_t zone;
	uint64_t next;
	int err;

	if (!read_zone_address(c, &zone) || peek(c) != '/')
		return CF_ERR_FRAME;
	c->p++;
	next = zone;
	for (;;) {
		struct dfu_segment seg = {0};

		err = read_segment(c, &seg);
		if (!err)
			err = add_segment(layout, &seg, &next);
		if (err)
			return err;
		if (peek(c) != ',')
			return CF_OK;
		c->p++;
	}
}

static void copy_name(struct dfu_layout *layout, const char *from, const char *to)
{
	size_t n = (size_t)(to - from);

	if (n >= DFU_LAYOUT_NAME_MAX)
		n = DFU_LAYOUT_NAME_MAX - 1;
	memcpy(layout->name, from, n);
	layout->name[n] = '\0';
}

int dfu_parse_layout(const char *text, size_t len, struct dfu_layout *layout)
{
	struct cursor c = {text, text + len};
	const char *name;
	int err;

	memset(layout, 0, sizeof(*layout));
	/* Descriptor strings may arrive with trailing NULs; they end the text. */
	while (c.end > c.p && c.end[-1] == '\0')
		c.end--;
	if (peek(&c) != '@')
		return CF_ERR_FRAME;
	name = ++c.p;
	while (peek(&c) >= 0 && peek(&c) != '/')
		c.p++;
	copy_name(layout, name, c.p);
	if (peek(&c) != '/')
		return CF_ERR_FRAME;
	while (peek(&c) == '/') {
		c.p++;
		err = read_zone(&c, layout);
		if (err)
			return err;
	}
	skip_spaces(&c);
	if (c.p != c.end)
		return CF_ERR_FRAME;
	return CF_OK;
}

bool dfu_layout_page(const struct dfu_layout *layout, uint32_t address, uint32_t *page_start,
		     uint32_t *page_size, uint8_t *type)
{
	for (size_t i = 0; i < layout->count; i++) {
		const struct dfu_segment *s = &layout->seg[i];
		const uint64_t end = (uint64_t)s->start + (uint64_t)s->count * s->page_size;

		if (address < s->start || address >= end)
			continue;
		*page_start = s->start + (address - s->start) / s->page_size * s->page_size;
		*page_size = s->page_size;
		*type = s->type;
		return true;
	}
	return false;
}

uint64_t dfu_layout_size(const struct dfu_layout *layout)
{
	uint64_t total = 0;

	for (size_t i = 0; i < layout->count; i++)
		total += (uint64_t)layout->seg[i].count * layout->seg[i].page_size;
	return total;
}
