// SPDX-License-Identifier: GPL-3.0-or-later
// Before the first byte is written: the refusal rules against the CONNECT reply, page sizes.
#include "katapult/engine.h"

#include <stdio.h>
#include <string.h>

#include "katapult/engine_internal.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/mcu.h"

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int refuse(struct katapult_engine *e, const struct image_refusal *why)
{
	char stage[16] = "refusal ";

	copy_str(stage + 8, sizeof(stage) - 8, why->rule);
	cf_failure_set(&e->failure, CF_ERR_REFUSED, stage, "%s: image %s, device %s (%s)",
		       why->what ? why->what : "image", why->image_value, why->target_value,
		       why->reason ? why->reason : "refused");
	if (why->override)
		cf_failure_set_hint(&e->failure,
				    "nothing written, probe left in Katapult; %s lifts this rule",
				    why->override);
	else
		cf_failure_set_hint(&e->failure, "nothing written, probe left in Katapult; use an "
						 "image built for this probe");
	return CF_ERR_REFUSED;
}

/* images.md R1-R6 through image_check_against, with the device facts from CONNECT. */
static int check_rules(struct katapult_engine *e)
{
	struct image_target t = e->cfg.target;
	struct image_refusal why;

	memset(&why, 0, sizeof(why));
	t.path = IMAGE_PATH_KATAPULT;
	copy_str(t.mcu, sizeof(t.mcu), e->info.mcu);
	t.app_start = e->info.app_start;
	if (image_check_against(e->cfg.image_info, &t, e->cfg.force, &why) < 0)
		return refuse(e, &why);
	return 0;
}

/*
 * katapult.md §1.6: STM32 Katapult has no upper-bound check and an oversize image hangs an
 * F042 (Arksine/katapult#148), and REQUEST_BLOCK past the end of flash reads unmapped memory.
 * This backstop holds even when the caller passed no image_info.
 */
static int check_budget(struct katapult_engine *e)
{
	const uint32_t flash = mcu_flash_size(e->info.mcu);
	const uint64_t padded = (uint64_t)e->nblocks * KATAPULT_BLOCK_SIZE;
	struct image_refusal why = {
	    .rule = "R5",
	    .what = "size",
	    .reason = "the image does not fit the flash behind the bootloader",
	};
	uint64_t room;

	if (!flash || e->info.app_start < IMAGE_FLASH_BASE)
		return 0;
	room = (uint64_t)IMAGE_FLASH_BASE + flash > e->info.app_start
		   ? (uint64_t)IMAGE_FLASH_BASE + flash - e->info.app_start
		   : 0;
	if (padded <= room)
		return 0;
	snprintf(why.image_value, sizeof(why.image_value), "%llu bytes",
		 (unsigned long long)padded);
	snprintf(why.target_value, sizeof(why.target_value), "%llu bytes free at 0x%08x",
		 (unsigned long long)room, e->info.app_start);
	return refuse(e, &why);
}

int engine_check_image(struct katapult_engine *e)
{
	int rc;

	if (e->cfg.op == KATAPULT_ENGINE_FLASH && e->cfg.image_info) {
		rc = check_rules(e);
		if (rc < 0)
			return rc;
	}
	rc = check_budget(e);
	if (rc < 0)
		return rc;
	if (!e->cfg.check)
		return 0;
	rc = e->cfg.check(e->cfg.check_ctx, &e->info, &e->failure);
	if (rc >= 0)
		return 0;
	e->failure.code = rc;
	if (!e->failure.stage[0])
		copy_str(e->failure.stage, sizeof(e->failure.stage), "check");
	return rc;
}
