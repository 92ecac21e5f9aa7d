// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: image_inspect, the name warnings and the refusal rules on arbitrary bytes.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t scratch[IMAGE_SCRATCH_SIZE];

static const struct image_target targets[] = {
	{ .path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
	  .iface = IMAGE_IFACE_CAN, .bus_bitrate = 1000000 },
	{ .path = IMAGE_PATH_KATAPULT, .mcu = "stm32f042x6", .app_start = 0x08002000,
	  .iface = IMAGE_IFACE_USB, .switch_to = IMAGE_IFACE_CAN, .stated_load_address = 0x08002000 },
	{ .path = IMAGE_PATH_DFU, .flash_size = 32768 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees every read past the end. */
	uint8_t *img = malloc(size ? size : 1);
	struct image_info info;
	struct image_refusal why;
	int rc;

	if (!img || size > IMAGE_MAX_SIZE) {
		free(img);
		return 0;
	}
	memcpy(img, data, size);
	rc = image_inspect(img, size, scratch, sizeof(scratch), &info);
	if (rc != CF_OK && rc != CF_ERR_IMAGE)
		abort();
	if ((rc == CF_OK) != (info.kind != IMAGE_UNKNOWN))
		abort();
	if (info.size != size || (info.fits && info.overflow_bytes))
		abort();
	image_name_warnings("Full_Cartographer_CAN_1M_12kib_offset_v4_HT.bin", &info);
	/* The same bytes as a file name: the token scanner sees arbitrary text too. */
	{
		char name[256];
		const size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

		memcpy(name, data, n);
		name[n] = '\0';
		image_name_warnings(name, &info);
	}
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		rc = image_check_against(&info, &targets[i], i == 1 ? ~0u : 0, &why);
		if (rc != CF_OK && (rc != CF_ERR_REFUSED || why.rule[0] != 'R' || !why.reason))
			abort();
	}
	free(img);
	return 0;
}
