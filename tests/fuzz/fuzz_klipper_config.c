// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the Klipper config reader (src/klipper_config.c): inih with Klipper's
// settings on arbitrary text (long lines, continuation lines, comments), and the include scanner.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "klipper_config.h"
#include "protocol/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct klipper_config cfg = { 0 };
	char *text = malloc(size + 1), pattern[64];
	const char *pos;
	unsigned includes = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (klipper_config_parse(&cfg, "printer.cfg", text) != CF_OK)
		abort();
	for (size_t i = 0; i < cfg.count; i++)
		if (strlen(cfg.v[i].uuid) != 12 ||
		    strspn(cfg.v[i].uuid, "0123456789abcdef") != 12 ||
		    klipper_config_find(&cfg, cfg.v[i].uuid) == NULL)
			abort();
	/* Each include found moves forward, and its pattern is non-empty and bounded. */
	for (pos = text; (pos = klipper_config_next_include(pos, pattern, sizeof(pattern)));) {
		if (!pattern[0] || strlen(pattern) >= sizeof(pattern) || pos > text + size ||
		    ++includes > size)
			abort();
	}
	klipper_config_fini(&cfg);
	free(text);
	return 0;
}
