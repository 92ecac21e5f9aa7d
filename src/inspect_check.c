// SPDX-License-Identifier: GPL-3.0-or-later
// Offline refusal check for `cartoflash inspect --check katapult|dfu` (images.md §7).
#include "inspect_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "protocol/err.h"

static bool parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long u;

	errno = 0;
	u = strtoul(s, &end, 0);
	if (errno || end == s || *end || u > 0xFFFFFFFFul)
		return false;
	*v = (uint32_t)u;
	return true;
}

static int bad(const char *what, const char *arg)
{
	cli_usage_error("inspect", "invalid %s '%s'", what, arg);
	return CF_ERR_USAGE;
}

static int number_option(struct inspect_check *c, int opt, const char *arg)
{
	uint32_t *dst;

	switch (opt) {
	case INSPECT_OPT_APP_START:
		dst = &c->target.app_start;
		break;
	case INSPECT_OPT_BUS_BITRATE:
		dst = &c->target.bus_bitrate;
		break;
	case INSPECT_OPT_FLASH_SIZE:
		dst = &c->target.flash_size;
		break;
	case INSPECT_OPT_LOAD_ADDRESS:
		dst = &c->target.stated_load_address;
		c->force |= IMAGE_FORCE_LINK_BASE;
		break;
	default:
		return 0;
	}
	return arg && parse_u32(arg, dst) ? 1 : bad("number", arg ? arg : "");
}

int inspect_check_option(struct inspect_check *c, int opt, const char *arg)
{
	switch (opt) {
	case INSPECT_OPT_CHECK:
		c->enabled = true;
		if (!strcmp(arg, "katapult"))
			c->target.path = IMAGE_PATH_KATAPULT;
		else if (!strcmp(arg, "dfu"))
			c->target.path = IMAGE_PATH_DFU;
		else
			return bad("--check path (katapult or dfu)", arg);
		return 1;
	case INSPECT_OPT_DEVICE_MCU:
		snprintf(c->target.mcu, sizeof(c->target.mcu), "%s", arg);
		return 1;
	case INSPECT_OPT_DEVICE_IFACE:
		return image_iface_from_name(arg, &c->target.iface)
			   ? 1
			   : bad("interface (can or usb)", arg);
	case INSPECT_OPT_SWITCH_TO:
		return image_iface_from_name(arg, &c->target.switch_to)
			   ? 1
			   : bad("interface (can or usb)", arg);
	case INSPECT_OPT_ALLOW_BITRATE_MISMATCH:
		c->force |= IMAGE_FORCE_BITRATE;
		return 1;
	case INSPECT_OPT_FORCE_UNKNOWN:
		c->force |= IMAGE_FORCE_UNKNOWN;
		return 1;
	case INSPECT_OPT_REQUIRE_KNOWN:
		c->require_known = true;
		return 1;
	case INSPECT_OPT_RUNNING_VERSION:
		snprintf(c->running_version, sizeof(c->running_version), "%s", arg);
		return 1;
	case INSPECT_OPT_ALLOW_VARIANT_CHANGE:
		c->force |= IMAGE_FORCE_VARIANT;
		return 1;
	}
	return number_option(c, opt, arg);
}

int inspect_check_run(struct inspect_check *c, const struct image_info *img)
{
	snprintf(c->target.running_version, sizeof(c->target.running_version), "%s",
		 c->running_version);
	c->rc = image_check_against(img, &c->target, c->force, &c->why); /* R1-R6, R8 */
	if (!c->rc && c->require_known)
		c->rc = image_check_known(img, c->force, &c->why);
	return c->rc;
}

const char *inspect_check_path_name(const struct inspect_check *c)
{
	switch (c->target.path) {
	case IMAGE_PATH_KATAPULT:
		return "katapult";
	case IMAGE_PATH_DFU:
		return "dfu";
	}
	return "katapult";
}
