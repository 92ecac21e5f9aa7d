// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the firmware_list.csv reader (protocol/catalog_csv.c) on arbitrary text -
// the header, then every line as a row (under Cartographer's own header when the first line is
// none), and the version and variant of every row's firmware_version.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/catalog.h"
#include "protocol/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cartographer_header[] =
	"filepath,filename,firmware_type,protocol,process,probe_version,firmware_version,"
	"can_speed,is_lite,min_plugin_version,sha256";

/* A string field is terminated inside its slot (the row is zeroed, then copied into). */
static void terminated(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static void check_row(const struct catalog_row *r)
{
	char ver[16];
	unsigned variant;

	terminated(r->filepath, sizeof(r->filepath));
	terminated(r->filename, sizeof(r->filename));
	terminated(r->firmware_type, sizeof(r->firmware_type));
	terminated(r->protocol, sizeof(r->protocol));
	terminated(r->process, sizeof(r->process));
	terminated(r->probe_version, sizeof(r->probe_version));
	terminated(r->firmware_version, sizeof(r->firmware_version));
	terminated(r->min_plugin_version, sizeof(r->min_plugin_version));
	terminated(r->sha256, sizeof(r->sha256));
	/* a row names its file; a hash is whole lower-case hex or absent */
	if (!r->filepath[0] || r->is_lite < -1 || r->is_lite > 1)
		abort();
	if (r->sha256[0] && (strlen(r->sha256) != 64 ||
			     strspn(r->sha256, "0123456789abcdef") != 64))
		abort();
	/* the version round-trips through its packed form */
	catalog_version_format(catalog_version_number(r->firmware_version), ver, sizeof(ver));
	if (ver[0] && catalog_version_number(ver) != catalog_version_number(r->firmware_version))
		abort();
	variant = catalog_variant(r->firmware_version, "stm32f042x6", 48000000);
	catalog_variant_name(variant, ver, sizeof(ver));
	terminated(ver, sizeof(ver));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct catalog_csv csv;
	struct catalog_row row;
	const char *nl = memchr(p, '\n', size);
	const size_t first = nl ? (size_t)(nl - p) : size;
	bool header = catalog_csv_header(&csv, p, first) == 0;

	if (!header && catalog_csv_header(&csv, cartographer_header,
					  sizeof(cartographer_header) - 1) != 0)
		abort(); /* Cartographer's own header is a header */
	if (header)
		p += first + (nl ? 1 : 0);
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		const size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
		const int rc = catalog_csv_row(&csv, p, n, &row);

		if (rc == 1)
			check_row(&row);
		else if (rc != 0 && rc != CF_ERR_IMAGE)
			abort();
		p += n + 1;
	}
	return 0;
}
