/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Starting states for a twin (blank chip, Katapult only, an installed application) from mkimage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/err.h"
#include "tools/mkimage/mkimage.h"
#include "tools/twin/twin_priv.h"

#define FIELD_MAX 96

/* Split "a:b:c" into at most n fields (empty ones allowed); returns the count. */
static int split(const char *spec, char fields[][FIELD_MAX], int n)
{
	int count = 0;
	const char *p = spec;

	while (count < n) {
		const char *colon = count == n - 1 ? NULL : strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);

		if (len >= FIELD_MAX)
			len = FIELD_MAX - 1;
		memcpy(fields[count], p, len);
		fields[count][len] = '\0';
		count++;
		if (!colon)
			break;
		p = colon + 1;
	}
	return count;
}

static int parse_iface(const char *s, enum image_iface *out)
{
	if (!strcmp(s, "can"))
		*out = IMAGE_IFACE_CAN;
	else if (!strcmp(s, "usb"))
		*out = IMAGE_IFACE_USB;
	else
		return CF_ERR_USAGE;
	return CF_OK;
}

static int install(struct twin *t, uint32_t addr, size_t region, uint8_t *img, size_t len)
{
	int rc = CF_ERR_USAGE;

	if (len <= region) {
		uint8_t *f = twin_flash_mut(t, NULL) + (addr - TWIN_FLASH_BASE);
		memset(f, 0xff, region);
		memcpy(f, img, len);
		twin_flash_changed(t, addr - TWIN_FLASH_BASE, region);
		rc = CF_OK;
	}
	free(img);
	return rc;
}

static int init_katapult(struct twin *t, enum image_iface iface, uint32_t bitrate,
			 const char *version)
{
	struct mkimage_katapult_opts o = {.mcu = t->mcu->name, .iface = iface, .bitrate = bitrate};
	uint8_t *img;
	size_t len;
	int rc;

	o.version = version && version[0] ? version : NULL;
	rc = mkimage_katapult(&o, &img, &len);
	if (rc)
		return rc;
	return install(t, TWIN_FLASH_BASE, t->app_off, img, len);
}

static int init_app(struct twin *t, enum image_iface iface, uint32_t bitrate, const char *version)
{
	struct mkimage_app_opts o = {.mcu = t->mcu->name, .iface = iface, .bitrate = bitrate};
	uint8_t *img;
	size_t len;
	int rc;

	o.version = version && version[0] ? version : NULL;
	rc = mkimage_app(&o, &img, &len);
	if (rc)
		return rc;
	return install(t, TWIN_FLASH_BASE + t->app_off, t->flash_size - t->app_off, img, len);
}

static int init_file(struct twin *t, const char *addr_s, const char *path)
{
	unsigned long addr = strtoul(addr_s, NULL, 0);
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = malloc(t->flash_size);
	size_t n;
	int rc = CF_ERR_NOINPUT;

	if (f && buf) {
		n = fread(buf, 1, t->flash_size, f);
		rc = twin_flash_write_raw(t, (uint32_t)addr, buf, n);
	}
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

int twin_init_state(struct twin *t, const char *spec)
{
	char f[4][FIELD_MAX];
	enum image_iface iface;
	uint32_t bitrate;
	int n = split(spec, f, 4);

	if (!strcmp(spec, "katapult-only")) /* the brief's name for a CAN 1M Katapult alone */
		return init_katapult(t, IMAGE_IFACE_CAN, 1000000, NULL);
	if (!strcmp(f[0], "blank")) {
		twin_flash_erase_all(t);
		return CF_OK;
	}
	if (!strcmp(f[0], "file"))
		return n == 3 ? init_file(t, f[1], f[2]) : CF_ERR_USAGE;
	if (n < 2 || parse_iface(f[1], &iface))
		return CF_ERR_USAGE;
	bitrate = n > 2 && f[2][0] ? (uint32_t)strtoul(f[2], NULL, 10) : 0;
	if (iface == IMAGE_IFACE_CAN && !bitrate)
		bitrate = 1000000;
	if (iface == IMAGE_IFACE_USB)
		bitrate = 0;
	if (!strcmp(f[0], "katapult"))
		return init_katapult(t, iface, bitrate, n > 3 ? f[3] : NULL);
	if (!strcmp(f[0], "app")) {
		int rc = init_katapult(t, iface, bitrate, NULL);
		return rc ? rc : init_app(t, iface, bitrate, n > 3 ? f[3] : NULL);
	}
	if (!strcmp(f[0], "app-only"))
		return init_app(t, iface, bitrate, n > 3 ? f[3] : NULL);
	return CF_ERR_USAGE;
}
