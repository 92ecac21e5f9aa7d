// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the DfuSe memory-layout parser and the page lookup over its result.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dfu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy so ASan catches any read past the text (style.md §2.9). */
	char *text = malloc(size ? size : 1);
	struct dfu_layout l;

	if (!text)
		return 0;
	memcpy(text, data, size);
	if (dfu_parse_layout(text, size, &l) == 0) {
		uint32_t start, page;
		uint8_t type;

		for (size_t i = 0; i < l.count; i++) {
			const struct dfu_segment *s = &l.seg[i];

			if (!dfu_layout_page(&l, s->start, &start, &page, &type) || start != s->start)
				abort();
			if (page == 0 || type == 0 || type > 7)
				abort();
		}
		(void)dfu_layout_size(&l);
	}
	free(text);
	return 0;
}
