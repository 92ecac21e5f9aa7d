/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reset and boot rules: RAM request flag, application validity, double reset, deployer. */
#include <stdio.h>
#include <string.h>

#include "protocol/bytes.h"
#include "tools/twin/twin_priv.h"

#define MS 1000.0

static void set_reason(struct twin *t, const char *why)
{
	snprintf(t->reason, sizeof(t->reason), "%s", why);
}

void twin_enter(struct twin *t, enum twin_mode mode, uint64_t now_us)
{
	twin_outputs_clear(t, now_us);
	t->mode = mode;
	t->rx_len = 0;
	t->busy_until = 0;
	t->node_id = -1;
	t->kp_sync = 0;
	t->kl_sync = 0;
	t->kl_next_seq = 0x10; /* katapult.md §8.1: expected seq after reset */
	t->held_valid = false;
	t->stats.wedged = false;
	t->stats.app_shutdown = false;
	t->iface = TWIN_IFACE_NONE;
	t->bitrate = 0;
	switch (mode) {
	case TWIN_MODE_KATAPULT:
		/* No Katapult image names a UART (images.md): on a UART wire the installed one
		 * is taken for the UART build. */
		t->iface = t->cfg.uart ? TWIN_IFACE_UART : t->inst.bl_iface;
		t->bitrate = t->inst.bl_bitrate;
		t->stats.katapult_starts++;
		t->stats.eof_page_count = 0; /* a RAM counter: reset with Katapult */
		break;
	case TWIN_MODE_APP:
		t->iface = t->inst.app_iface;
		/* A UART build has neither USB descriptors nor a CAN bitrate (images.md): an
		 * application of no other interface on a UART wire is one. */
		if (t->cfg.uart && t->iface == TWIN_IFACE_NONE)
			t->iface = TWIN_IFACE_UART;
		t->bitrate = t->inst.app_bitrate;
		twin_app_dict_load(t);
		break;
	case TWIN_MODE_ROM_DFU:
		t->stats.rom_dfu_starts++;
		t->stats.usb_enumerations++;
		break;
	case TWIN_MODE_OFF:
	case TWIN_MODE_BOOTING:
	case TWIN_MODE_DEPLOYER:
	case TWIN_MODE_HALTED:
	case TWIN_MODE_HUNG:
		break;
	}
	/* katapult.md §3.4: USBFS holds the first reply after configuration */
	t->prime_hold = mode == TWIN_MODE_KATAPULT && t->iface == TWIN_IFACE_USB;
	if (t->iface == TWIN_IFACE_USB)
		t->stats.usb_enumerations++;
	if (mode != TWIN_MODE_HUNG && mode != TWIN_MODE_HALTED)
		t->reason[0] = '\0';
	twin_logf(t, "mode %s", twin_mode_name(mode));
}

void twin_hang(struct twin *t, enum twin_mode mode, const char *why)
{
	twin_enter(t, mode, t->boot_at);
	set_reason(t, why);
	t->timer = TWIN_T_NONE;
	twin_logf(t, "%s: %s", twin_mode_name(mode), why);
}

static void arm(struct twin *t, enum twin_timer which, uint64_t at_us)
{
	t->timer = which;
	t->timer_at = at_us;
}

void twin_request_reset(struct twin *t, uint64_t flag, uint64_t at_us)
{
	t->ram_flag = flag;
	arm(t, TWIN_T_RESET, at_us);
}

void twin_lose_power(struct twin *t, uint64_t now_us, const char *why)
{
	twin_logf(t, "power lost: %s", why);
	twin_power_off(t, now_us);
}

/* katapult.md §4: the deployer compares, waits 100 ms, rewrites, then requests Katapult. */
static void deployer_start(struct twin *t, uint64_t now_us)
{
	size_t len = t->inst.dep_len;

	twin_enter(t, TWIN_MODE_DEPLOYER, now_us);
	if (len > sizeof(t->deploy_img))
		len = sizeof(t->deploy_img);
	memset(t->deploy_img, 0xff, sizeof(t->deploy_img));
	memcpy(t->deploy_img, t->flash + t->inst.dep_off, len);
	t->deploy_len = (len + TWIN_BLOCK_SIZE - 1) / TWIN_BLOCK_SIZE * TWIN_BLOCK_SIZE;
	t->deploy_pos = 0;
	if (!memcmp(t->flash, t->deploy_img, len)) {
		twin_request_reset(t, TWIN_REQUEST_CANBOOT, now_us + twin_scale(t, 2 * MS));
		return;
	}
	arm(t, TWIN_T_DEPLOY_START, now_us + twin_scale(t, 100 * MS));
}

/* One erase page per step, so a power loss can land in the middle of the rewrite. */
static void deployer_step(struct twin *t, uint64_t now_us)
{
	uint32_t saved_pages = t->stats.eof_page_count, saved_blocks = t->stats.blocks_written;
	uint64_t cost = 0, c;
	int rc = 0;

	do {
		rc = twin_flash_write_block(t, TWIN_FLASH_BASE + (uint32_t)t->deploy_pos,
					    t->deploy_img + t->deploy_pos, &c);
		cost += c;
		t->deploy_pos += TWIN_BLOCK_SIZE;
	} while (!rc && t->deploy_pos < t->deploy_len && t->deploy_pos % t->page_size);
	t->stats.eof_page_count = saved_pages;
	t->stats.blocks_written = saved_blocks;
	if (rc == 1) {
		twin_lose_power(t, now_us, "during the deployer's bootloader rewrite");
		return;
	}
	if (rc) {
		twin_hang(t, TWIN_MODE_HALTED, "deployer: flash write failed, halted forever");
		return;
	}
	if (t->deploy_pos < t->deploy_len) {
		arm(t, TWIN_T_DEPLOY_PAGE, now_us + cost);
		return;
	}
	t->stats.deployer_rewrites++;
	twin_logf(t, "deployer: bootloader region rewritten (%zu bytes)", t->deploy_len);
	twin_request_reset(t, TWIN_REQUEST_CANBOOT, now_us + cost + twin_scale(t, 2 * MS));
}

/* Stage one of the reset handler jumped here: the application runs whatever it holds. */
static void start_app(struct twin *t, uint64_t now_us)
{
	t->stats.app_starts++;
	switch (t->inst.app_kind) {
	case TWIN_APP_KLIPPER:
		twin_enter(t, TWIN_MODE_APP, now_us);
		return;
	case TWIN_APP_DEPLOYER:
		deployer_start(t, now_us);
		return;
	case TWIN_APP_NONE:
		twin_hang(t, TWIN_MODE_HUNG, "application area erased: jumped into 0xFFFFFFFF");
		return;
	case TWIN_APP_GARBAGE:
		twin_hang(t, TWIN_MODE_HUNG, t->inst.garbage_reason);
		return;
	}
}

void twin_boot(struct twin *t, uint64_t now_us)
{
	bool leave = t->leave_once;
	uint32_t bl_sp;

	t->leave_once = false;
	t->boot_at = now_us;
	t->timer = TWIN_T_NONE;
	t->stats.boots++;
	twin_inspect(t);
	if (t->boot0 && !leave) {
		twin_enter(t, TWIN_MODE_ROM_DFU, now_us);
		return;
	}
	/* katapult.md §5 step 1: stage two of the reset handler */
	if (t->ram_flag == TWIN_REQUEST_START_APP) {
		t->ram_flag = 0;
		start_app(t, now_us);
		return;
	}
	bl_sp = cf_get_le32(t->flash);
	if (bl_sp == 0xffffffffu && !leave) {
		/* [I] STM32F04x boot "empty check": blank main flash boots system memory */
		twin_enter(t, TWIN_MODE_ROM_DFU, now_us);
		return;
	}
	if (!t->inst.katapult_ok) {
		twin_hang(t, TWIN_MODE_HUNG,
			  "bootloader region holds no Katapult (broken rewrite?)");
		return;
	}
	if (t->ram_flag == TWIN_REQUEST_CANBOOT || !t->inst.app_valid_word) {
		t->ram_flag = 0;
		twin_enter(t, TWIN_MODE_KATAPULT, now_us);
		return;
	}
	if (t->cfg.no_double_reset) {
		start_app(t, now_us);
		return;
	}
	/* §5 step 2: wait 10 ms, set REQUEST_CANBOOT, wait 490 ms, clear it, jump */
	twin_enter(t, TWIN_MODE_BOOTING, now_us);
	arm(t, TWIN_T_DR_ARM, now_us + twin_scale(t, 10 * MS));
}

void twin_bootloader_request(struct twin *t, uint64_t now_us)
{
	if (t->timer == TWIN_T_RESET)
		return; /* already on its way down */
	t->stats.bootloader_requests++;
	if (t->inst.katapult_ok) {
		/* katapult.md §2.7: try_request_canboot() then NVIC reset */
		twin_request_reset(t, TWIN_REQUEST_CANBOOT, now_us + twin_scale(t, 1 * MS));
		return;
	}
	if (t->iface == TWIN_IFACE_USB) {
		/* dfu_reboot(): F042 USB builds jump to the ROM at 0x1FFFC400 */
		twin_enter(t, TWIN_MODE_ROM_DFU, now_us);
		return;
	}
	twin_logf(t, "bootloader request ignored: no Katapult signature, no DFU address (CAN)");
}

void twin_timer_fire(struct twin *t, uint64_t now_us)
{
	enum twin_timer which = t->timer;

	t->timer = TWIN_T_NONE;
	switch (which) {
	case TWIN_T_NONE:
		break;
	case TWIN_T_DR_ARM:
		t->ram_flag = TWIN_REQUEST_CANBOOT;
		arm(t, TWIN_T_DR_END, t->boot_at + twin_scale(t, 500 * MS));
		break;
	case TWIN_T_DR_END:
		t->ram_flag = TWIN_REQUEST_START_APP; /* application_jump(): flag + reset */
		twin_boot(t, now_us);
		break;
	case TWIN_T_RESET:
		twin_boot(t, now_us);
		break;
	case TWIN_T_DEPLOY_START:
	case TWIN_T_DEPLOY_PAGE:
		deployer_step(t, now_us);
		break;
	}
}
