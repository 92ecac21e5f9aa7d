/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `cartoflash inspect --check`: the pre-flash refusal rules R1-R6 offline, for a stated device. */
#ifndef CARTOFLASH_SRC_INSPECT_CHECK_H
#define CARTOFLASH_SRC_INSPECT_CHECK_H

#include <stdbool.h>

#include "protocol/image.h"

/* Long-only option values, above the common ones (cli.h). */
enum {
	INSPECT_OPT_ALLOW_BITRATE_MISMATCH = 0x1020,
	INSPECT_OPT_ALLOW_VARIANT_CHANGE,
	INSPECT_OPT_APP_START,
	INSPECT_OPT_BUS_BITRATE,
	INSPECT_OPT_CHECK,
	INSPECT_OPT_DEVICE_IFACE,
	INSPECT_OPT_DEVICE_MCU,
	INSPECT_OPT_FLASH_SIZE,
	INSPECT_OPT_FORCE_UNKNOWN,
	INSPECT_OPT_LOAD_ADDRESS,
	INSPECT_OPT_REQUIRE_KNOWN,
	INSPECT_OPT_RUNNING_VERSION,
	INSPECT_OPT_SWITCH_TO,
};

/* What the user stated about the device, and the rules' verdict for one file. */
struct inspect_check {
	bool enabled; /* --check given */
	struct image_target target;
	unsigned force;		  /* enum image_force */
	bool require_known;	  /* also R7: a known release build (--require-known) */
	char running_version[96]; /* R8: what the probe runs now (--running-version) */
	int rc;			  /* last verdict: 0 or CF_ERR_REFUSED */
	struct image_refusal why; /* valid when rc != 0 */
};

/*
 * Apply one option (an INSPECT_OPT_* value with its argument). Returns 1 when handled,
 * 0 when opt is not a check option, CF_ERR_USAGE after printing a usage error.
 */
int inspect_check_option(struct inspect_check *c, int opt, const char *arg);
/* Run R1-R6, R8 (with a running version) and R7 (with require_known) for img; store the
 * verdict in c->rc / c->why and return it. */
int inspect_check_run(struct inspect_check *c, const struct image_info *img);
/* "katapult" or "dfu". */
const char *inspect_check_path_name(const struct inspect_check *c);

#endif
