// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the DFU suffix and DfuSe .dfu parsers.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dfu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *file = malloc(size ? size : 1);
	struct dfuse_element el[8];
	struct dfu_suffix sfx;
	size_t n = 0;

	if (!file)
		return 0;
	memcpy(file, data, size);
	(void)dfu_parse_suffix(file, size, &sfx);
	if (dfuse_parse_file(file, size, el, 8, &n) == 0) {
		volatile uint8_t sink = 0;

		/* Every element must lie inside the file: touch its first and last byte. */
		for (size_t i = 0; i < n; i++) {
			if (el[i].data < file || el[i].data + el[i].size > file + size)
				abort();
			if (el[i].size)
				sink ^= el[i].data[0] ^ el[i].data[el[i].size - 1];
		}
		(void)sink;
	}
	free(file);
	return 0;
}
