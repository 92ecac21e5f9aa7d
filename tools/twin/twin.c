/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The probe twin object: creation, power, getters and the virtual-clock driver. */
#include "tools/twin/twin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/bytes.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/twin/twin_priv.h"

void twin_logf(struct twin *t, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!t->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	t->cfg.log(t->cfg.log_ctx, line);
}

struct twin *twin_new(const struct twin_config *config)
{
	struct twin *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cfg = *config;
	t->mcu = mcu_find(config->mcu ? config->mcu : mcu_default()->name);
	if (!t->mcu || !t->mcu->name || t->mcu->katapult_size > sizeof(t->deploy_img))
		goto err_free; /* the twin models probe MCUs only */
	t->flash_size = t->mcu->flash_size;
	t->page_size = t->mcu->page_size;
	t->app_off = t->mcu->katapult_size;
	t->cfg.mcu = t->mcu->name;
	t->flash = malloc(t->flash_size);
	if (!t->flash)
		goto err_free;
	if (!t->cfg.bus_bitrate)
		t->cfg.bus_bitrate = 1000000;
	if (t->cfg.speed < 0)
		t->cfg.speed = 0;
	t->scratch = malloc(IMAGE_SCRATCH_SIZE);
	if (!t->scratch)
		goto err_flash;
	if (config->flash_file) {
		t->flash_file = strdup(config->flash_file);
		if (!t->flash_file)
			goto err_scratch;
	}
	t->cfg.flash_file = t->flash_file;
	memcpy(t->uid, config->uid, sizeof(t->uid));
	/* katapult.md §2.3: one chip UID gives the USB serial and the CAN UUID */
	canbus_uid_format_serial(t->uid, sizeof(t->uid), t->serial, sizeof(t->serial));
	canbus_uuid_from_uid(t->uid, sizeof(t->uid), t->uuid);
	memset(t->flash, 0xff, t->flash_size);
	if (twin_persist_load(t) < 0)
		goto err_file;
	t->mode = TWIN_MODE_OFF;
	t->node_id = -1;
	return t;

err_file:
	free(t->flash_file);
err_scratch:
	free(t->scratch);
err_flash:
	free(t->flash);
err_free:
	free(t);
	return NULL;
}

void twin_free(struct twin *t)
{
	if (!t)
		return;
	twin_flash_save(t);
	free(t->flash_file);
	free(t->scratch);
	free(t->flash);
	free(t);
}

int twin_flash_write_raw(struct twin *t, uint32_t addr, const uint8_t *data, size_t len)
{
	if (addr < TWIN_FLASH_BASE || addr - TWIN_FLASH_BASE > t->flash_size ||
	    len > t->flash_size - (addr - TWIN_FLASH_BASE))
		return CF_ERR_USAGE;
	memcpy(t->flash + (addr - TWIN_FLASH_BASE), data, len);
	twin_flash_changed(t, addr - TWIN_FLASH_BASE, len);
	return CF_OK;
}

void twin_flash_erase_all(struct twin *t)
{
	memset(t->flash, 0xff, t->flash_size);
	twin_flash_changed(t, 0, t->flash_size);
}

const uint8_t *twin_flash(const struct twin *t, size_t *len)
{
	if (len)
		*len = t->flash_size;
	return t->flash;
}

uint8_t *twin_flash_mut(struct twin *t, size_t *len)
{
	if (len)
		*len = t->flash_size;
	return t->flash;
}

void twin_flash_changed(struct twin *t, uint32_t offset, size_t len)
{
	twin_persist_write(t, offset, len); /* re-inspected at the next boot */
}

int twin_flash_save(struct twin *t)
{
	return twin_persist_write(t, 0, t->flash_size);
}

const struct mcu_info *twin_mcu(const struct twin *t)
{
	return t->mcu;
}

enum twin_mode twin_get_mode(const struct twin *t)
{
	return t->mode;
}

const char *twin_mode_name(enum twin_mode mode)
{
	switch (mode) {
	case TWIN_MODE_OFF:
		return "off";
	case TWIN_MODE_BOOTING:
		return "booting";
	case TWIN_MODE_APP:
		return "app";
	case TWIN_MODE_DEPLOYER:
		return "deployer";
	case TWIN_MODE_KATAPULT:
		return "katapult";
	case TWIN_MODE_ROM_DFU:
		return "rom-dfu";
	case TWIN_MODE_HALTED:
		return "halted";
	case TWIN_MODE_HUNG:
		return "hung";
	}
	return "unknown";
}

enum twin_iface twin_get_iface(const struct twin *t)
{
	return t->iface;
}

uint32_t twin_get_can_bitrate(const struct twin *t)
{
	return t->iface == TWIN_IFACE_CAN ? t->bitrate : 0;
}

bool twin_get_usb_id(const struct twin *t, struct twin_usb_id *out)
{
	memset(out, 0, sizeof(*out));
	out->serial = t->serial;
	if (t->mode == TWIN_MODE_ROM_DFU) {
		/* katapult.md §3.1: ST ROM DFU identity */
		out->vid = 0x0483;
		out->pid = 0xdf11;
		out->manufacturer = "STMicroelectronics";
		out->product = "STM32  BOOTLOADER";
		return true;
	}
	if (t->iface != TWIN_IFACE_USB)
		return false;
	out->vid = 0x1d50;
	if (t->mode == TWIN_MODE_KATAPULT) {
		out->pid = 0x6177;
		out->manufacturer = "katapult";
		out->product = t->inst.bl_mcu[0] ? t->inst.bl_mcu : t->mcu->name;
	} else {
		out->pid = 0x614e;
		out->manufacturer = "Cartographer";
		out->product = t->inst.app_product; /* §3.1: empty in <= 5.x, the MCU in 6.x */
	}
	return true;
}

bool twin_app_is_valid(const struct twin *t)
{
	uint32_t w0 = cf_get_le32(t->flash + t->app_off);

	return w0 != 0 && w0 != 0xffffffffu;
}

const char *twin_get_reason(const struct twin *t)
{
	return t->reason;
}

const struct twin_stats *twin_get_stats(const struct twin *t)
{
	return &t->stats;
}

void twin_uuid(const struct twin *t, uint8_t out[6])
{
	memcpy(out, t->uuid, 6);
}

const char *twin_serial(const struct twin *t)
{
	return t->serial;
}

void twin_set_faults(struct twin *t, const struct twin_faults *faults)
{
	t->faults = *faults;
	t->delayed.on = false;
	t->rx_seen = t->tx_seen = t->blocks_seen = t->erases_seen = 0;
	t->delay_fired_rx = 0;
	t->slow_seen = 0;
	t->late_next = 0;
	if (faults->wedge && t->mode == TWIN_MODE_KATAPULT && !t->stats.wedged) {
		/* katapult.md §1.7: a partial frame at offset 0 keeps the parser stuck */
		static const uint8_t partial[] = {0x01, 0x88, 0x12, 0x11, 0x00, 0x20, 0x00, 0x08};
		if (t->rx_len + sizeof(partial) <= TWIN_RX_MAX) {
			memmove(t->rx + sizeof(partial), t->rx, t->rx_len);
			memcpy(t->rx, partial, sizeof(partial));
			t->rx_len += sizeof(partial);
		}
		t->stats.wedged = true;
		t->stats.wedges++;
		t->kp_sync = 2; /* NEED_VALID: the one NACK was "already sent" */
	}
}

uint64_t twin_next_event_us(const struct twin *t)
{
	uint64_t next = UINT64_MAX;

	/* Only future work counts: what is due now was run by the last twin_advance, and frames
	 * already deliverable are the caller's to pop. */
	if (t->timer != TWIN_T_NONE)
		next = t->timer_at;
	if (t->delayed.on && t->delayed.due > t->now && t->delayed.due < next)
		next = t->delayed.due;
	if (t->rx_len && t->busy_until > t->now && t->busy_until < next &&
	    (t->mode == TWIN_MODE_KATAPULT || t->mode == TWIN_MODE_APP))
		next = t->busy_until;
	for (size_t i = 0; i < t->txf_count; i++) {
		uint64_t r = t->txf[(t->txf_head + i) % TWIN_TXQ_FRAMES].ready_us;
		if (r > t->now && r < next)
			next = r;
	}
	for (size_t i = 0; i < t->txc_count; i++) {
		uint64_t r = t->txc[(t->txc_head + i) % 32].ready_us;
		if (r > t->now && r < next)
			next = r;
	}
	return next;
}

/* Run the firmware's main loop once the previous command is finished. */
static void run_firmware(struct twin *t, uint64_t now_us)
{
	if (now_us < t->busy_until || !t->rx_len)
		return;
	switch (t->mode) {
	case TWIN_MODE_KATAPULT:
		twin_katapult_run(t, now_us);
		break;
	case TWIN_MODE_APP:
		twin_app_run(t, now_us);
		break;
	case TWIN_MODE_OFF:
	case TWIN_MODE_BOOTING:
	case TWIN_MODE_DEPLOYER:
	case TWIN_MODE_ROM_DFU:
	case TWIN_MODE_HALTED:
	case TWIN_MODE_HUNG:
		break;
	}
}

void twin_advance(struct twin *t, uint64_t now_us)
{
	if (now_us > t->now)
		t->now = now_us;
	/* Timers may chain (reset -> boot -> window); bound the loop by the work available. */
	for (int guard = 0; guard < 64; guard++) {
		if (t->timer != TWIN_T_NONE && t->timer_at <= now_us) {
			uint64_t at = t->timer_at;
			twin_timer_fire(t, at);
			continue;
		}
		break;
	}
	if (t->delayed.on && t->delayed.due <= now_us) {
		t->delayed.on = false;
		if (t->delayed.can)
			twin_can_deliver(t, &t->delayed.f, now_us);
		else
			twin_serial_deliver(t, t->delayed.bytes, t->delayed.len, now_us);
	}
	run_firmware(t, now_us);
}

void twin_power_on(struct twin *t, uint64_t now_us)
{
	if (t->mode != TWIN_MODE_OFF)
		return;
	t->ram_flag = 0; /* katapult.md §5 (c): RAM content is lost */
	twin_boot(t, now_us);
	twin_advance(t, now_us); /* speed 0: the boot completes at once */
}

void twin_power_off(struct twin *t, uint64_t now_us)
{
	(void)now_us;
	twin_enter(t, TWIN_MODE_OFF, now_us);
	t->ram_flag = 0;
	t->timer = TWIN_T_NONE;
	t->reason[0] = '\0';
}

void twin_power_cycle(struct twin *t, uint64_t now_us)
{
	twin_power_off(t, now_us);
	twin_power_on(t, now_us);
}

void twin_reset(struct twin *t, uint64_t now_us)
{
	if (t->mode == TWIN_MODE_OFF)
		return;
	twin_advance(t, now_us); /* the double-reset window may have armed the flag */
	t->timer = TWIN_T_NONE;
	twin_boot(t, now_us);
	twin_advance(t, now_us);
}

void twin_set_boot0(struct twin *t, bool high)
{
	t->boot0 = high;
}

void twin_rom_dfu_leave(struct twin *t, uint64_t now_us)
{
	t->leave_once = true;
	t->timer = TWIN_T_NONE;
	twin_boot(t, now_us);
	twin_advance(t, now_us);
}
