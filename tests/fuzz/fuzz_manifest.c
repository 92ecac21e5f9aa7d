// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the fleet manifest reader (src/manifest.c) on arbitrary text.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "protocol/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct manifest m;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[300];
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = manifest_parse(text, size & 1 ? "/srv/farm" : NULL, &m, err, sizeof(err));
	if (rc == CF_ERR_USAGE && (!err[0] || strlen(err) >= sizeof(err)))
		abort();
	if (rc == CF_OK) {
		if (m.count < 1 || m.count > MANIFEST_MAX_PROBES)
			abort();
		for (int i = 0; i < m.count; i++) {
			const struct manifest_probe *p = &m.v[i];

			/* A complete section, nothing cut: every field within its bound. */
			if (!p->name[0] || !p->iface[0] || !p->image[0] || p->line < 1 ||
			    strlen(p->uuid) != 12 || strspn(p->uuid, "0123456789abcdef") != 12 ||
			    strlen(p->name) > MANIFEST_NAME_MAX ||
			    strlen(p->image) > MANIFEST_PATH_MAX)
				abort();
			/* Whole, not cut: each value stands in the text as accepted (no folder
			 * joined on even sizes). */
			if (!(size & 1) && (!strstr(text, p->image) || !strstr(text, p->iface) ||
					    !strstr(text, p->name)))
				abort();
			for (int j = 0; j < i; j++)
				if (!strcmp(m.v[j].name, p->name))
					abort();
		}
	} else if (rc != CF_ERR_USAGE) {
		abort();
	}
	free(text);
	return 0;
}
