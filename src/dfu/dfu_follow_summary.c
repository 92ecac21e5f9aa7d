// SPDX-License-Identifier: GPL-3.0-or-later
// What the follow after the leave says in the summary, over USB and on CAN alike.
#include "dfu/dfu_follow.h"

#include <stdio.h>

#include "can/canmux.h"
#include "log.h"
#include "protocol/image.h"
#include "updater.h"

static const struct image_info *final_image(const struct updater_config *cfg)
{
	return cfg->app_image_info ? cfg->app_image_info : cfg->image_info;
}

/* updater_set_summary formats before it lets the old text go: it may extend itself. */
void dfu_follow_append_summary(struct updater *u, const char *text)
{
	const char *before = updater_get_summary(u);

	updater_set_summary(u, "%s%s%s", before, before[0] ? "; " : "", text);
}

void dfu_follow_give_up(struct dfu_follow *f)
{
	const struct updater_config *cfg = updater_get_config(f->u);
	const struct image_info *img = final_image(cfg);
	const char *left = f->confirmed ? "left DFU mode" : "left DFU mode (status unconfirmed)";
	char text[320];

	if (img && img->iface == IMAGE_IFACE_CAN) {
		if (f->mux)
			snprintf(text, sizeof(text),
				 "%s; no new node answered on %s yet (remove the "
				 "BOOT0 bridge, power-cycle, check the bitrate)",
				 left, canmux_spec(f->mux));
		else
			snprintf(text, sizeof(text),
				 "%s; the image talks CAN: find the probe with "
				 "'cartoflash scan --can IFACE'",
				 left);
		dfu_follow_append_summary(f->u, text);
		return;
	}
	cf_log(CF_LOG_WARN, updater_identity(f->u)->usb_path, "dfu",
	       "probe not seen on USB after leaving DFU mode: remove the BOOT0 bridge, "
	       "power-cycle the probe and check 'lsusb' for 1d50:6177 (Katapult) or 1d50:614e");
	snprintf(text, sizeof(text),
		 "%s%s; not seen on USB yet (remove the BOOT0 bridge and "
		 "power-cycle)",
		 left, f->rom_gone ? "" : ", ROM still attached");
	dfu_follow_append_summary(f->u, text);
}
