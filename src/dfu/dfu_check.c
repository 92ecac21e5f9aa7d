// SPDX-License-Identifier: GPL-3.0-or-later
// Recovery images against the ROM's layout: R1/R2/R5/R6 per image, R6 for a pair, the plan.
#include "dfu/dfu_check.h"

#include <stdio.h>

#include "dfu/dfu_plan.h"
#include "failure.h"
#include "protocol/dfu.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/mcu.h"
#include "updater.h"

static int refuse(struct cf_failure *f, const struct image_refusal *why, const char *name)
{
	char stage[32];

	snprintf(stage, sizeof(stage), "refusal %s", why->rule);
	cf_failure_set(f, CF_ERR_REFUSED, stage, "%s: %s: image %s, device %s (%s)", name,
		       why->what, why->image_value, why->target_value, why->reason);
	cf_failure_set_hint(f, "%s",
			    why->override ? why->override
					  : "pick the right file: cartoflash inspect FILE shows "
					    "what it is");
	return CF_ERR_REFUSED;
}

static int check_one(const struct updater_config *cfg, const struct dfu_layout *layout,
		     const struct image_info *info, bool app, const char *name,
		     struct cf_failure *f)
{
	struct image_target t = {
	    .path = app ? IMAGE_PATH_KATAPULT : IMAGE_PATH_DFU,
	    .app_start = IMAGE_APP_START,
	    .flash_size = (uint32_t)dfu_layout_size(layout),
	    .dfu_address = IMAGE_FLASH_BASE,
	};
	struct image_refusal why;

	if (!info)
		return CF_OK;
	if (image_check_against(info, &t, cfg->opts.force, &why))
		return refuse(f, &why, name);
	return CF_OK;
}

/* images.md R6 for a pair: the Katapult that will run and the application behind it must talk
 * the same interface (and CAN bitrate), as the two parts of a full image must. */
static int check_pair(const struct image_info *boot, const struct image_info *app,
		      struct cf_failure *f)
{
	const struct image_katapult_part *k = boot ? &boot->katapult : NULL;
	struct image_refusal why = {.rule = "R6", .override = NULL};

	if (!k || !k->present || !app)
		return CF_OK;
	if (k->iface != IMAGE_IFACE_UNKNOWN && app->iface != IMAGE_IFACE_UNKNOWN &&
	    k->iface != app->iface) {
		why.what = "interface";
		snprintf(why.image_value, sizeof(why.image_value), "application %s",
			 image_iface_name(app->iface));
		snprintf(why.target_value, sizeof(why.target_value), "bootloader %s",
			 image_iface_name(k->iface));
		why.reason = "Katapult and the application must use the same interface";
		return refuse(f, &why, "bootloader + application");
	}
	if (k->iface == IMAGE_IFACE_CAN && k->can_bitrate && app->can_bitrate &&
	    k->can_bitrate != app->can_bitrate) {
		why.what = "can bitrate";
		snprintf(why.image_value, sizeof(why.image_value), "application %u",
			 app->can_bitrate);
		snprintf(why.target_value, sizeof(why.target_value), "bootloader %u",
			 k->can_bitrate);
		why.reason = "Katapult and the application must use the same CAN bitrate";
		return refuse(f, &why, "bootloader + application");
	}
	return CF_OK;
}

int dfu_check_plan(const struct updater_config *cfg, const struct dfu_layout *layout,
		   struct dfu_plan *plan, struct cf_failure *f)
{
	struct dfu_plan_image imgs[2];
	size_t n = 0;
	char why[200];
	int err;

	if (!cfg->image)
		return cf_failure_set(f, CF_ERR_USAGE, "check",
				      "no image given (--full or --bootloader)");
	imgs[n++] = (struct dfu_plan_image){
	    cfg->image_info && cfg->image_info->kind == IMAGE_FULL ? "full image" : "bootloader",
	    IMAGE_FLASH_BASE, cfg->image, cfg->image_len};
	if (cfg->app_image)
		imgs[n++] = (struct dfu_plan_image){"application", IMAGE_APP_START, cfg->app_image,
						    cfg->app_image_len};
	err = check_one(cfg, layout, cfg->image_info, false, imgs[0].name, f);
	if (!err && cfg->app_image)
		err = check_one(cfg, layout, cfg->app_image_info, true, "application", f);
	if (!err && cfg->app_image)
		err = check_pair(cfg->image_info, cfg->app_image_info, f);
	if (err)
		return err;
	err = dfu_plan_build(plan, layout, imgs, n, cfg->opts.mass_erase, why, sizeof(why));
	if (err) {
		cf_failure_set(f, err, "plan", "%s", why);
		cf_failure_set_hint(f, "a full image belongs at 0x08000000, an application at "
				       "0x08002000 (--app)");
	}
	return err;
}

bool dfu_check_blank_is_erased(const struct updater_config *cfg)
{
	/* protocol/mcu: every doubt (no image MCU, an MCU no row knows) assumes ECC. */
	return cfg->image_info && !mcu_has_ecc(cfg->image_info->mcu);
}
