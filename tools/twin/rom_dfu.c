// SPDX-License-Identifier: GPL-3.0-or-later
// STM32F042 ROM DfuSe bootloader model: ST state machine, F0 flash rules, timing and faults.
#include "rom_dfu.h"

#include <string.h>

#include "protocol/bytes.h"
#include "protocol/dfu.h"

/* dfu.md §2.7 (F0): page erase 20-40 ms, ~53.5 us per half-word. */
#define ERASE_US	  25000u
#define UNPROTECT_US	  40000u /* tME, the F0 mass erase, at most 40 ms */
#define HALFWORD_NS	  53500u
#define SLOW_ERASE_FACTOR 10u
#define STALL_MIN_BUSY_US 20000u
#define BOOT_REGION	  0x2000u /* Katapult's 8 KiB in front of the application */

/* USB standard requests the model answers (USB 2.0 §9.4). */
#define REQ_GET_STATUS	      0x00
#define REQ_GET_DESCRIPTOR    0x06
#define REQ_GET_CONFIGURATION 0x08
#define REQ_SET_CONFIGURATION 0x09
#define REQ_SET_INTERFACE     0x0B
#define DESC_DEVICE	      1
#define DESC_CONFIG	      2
#define DESC_STRING	      3

static const uint8_t device_desc[18] = {
    18,	  DESC_DEVICE, 0x00, 0x02, /* bcdUSB 2.00 */
    0x00, 0x00,	       0x00, 64,   /* class 0/0/0, bMaxPacketSize0 */
    0x83, 0x04,	       0x11, 0xdf, /* 0483:df11 */
    0x00, 0x22,			   /* bcdDevice 0x2200 (F0 ROM, dfu.md §1.1) */
    1,	  2,	       3,    1,	   /* iManufacturer, iProduct, iSerial, 1 configuration */
};

/* Configuration: interface 0 with alts 0 (flash) and 1 (option bytes), functional descriptor
 * after the last alt as ST ROMs place it (dfu.md §1.1, §1.4). */
static const uint8_t config_desc[36] = {
    9,	  DESC_CONFIG, 36,   0,	   1,	 1,    0,    0x80, 50,	 9,    4,    0,
    0,	  0,	       0xfe, 0x01, 0x02, 4,    9,    4,	   0,	 1,    0,    0xfe,
    0x01, 0x02,	       5,    9,	   0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01,
};

static const char *const strings[] = {
    NULL,	    "STMicroelectronics", "STM32  BOOTLOADER",
    ROM_DFU_SERIAL, ROM_DFU_ALT0_NAME,	  ROM_DFU_ALT1_NAME,
};

size_t rom_dfu_descriptors(uint8_t *out, size_t cap)
{
	if (cap < sizeof(device_desc) + sizeof(config_desc))
		return 0;
	memcpy(out, device_desc, sizeof(device_desc));
	memcpy(out + sizeof(device_desc), config_desc, sizeof(config_desc));
	return sizeof(device_desc) + sizeof(config_desc);
}

void rom_dfu_init(struct rom_dfu *d, const struct rom_dfu_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->state = DFU_STATE_IDLE;
	d->status = DFU_STATUS_OK;
	d->pointer = cfg->flash_base;
	d->rdp = cfg->faults & ROM_DFU_FAULT_RDP;
	/* F0 option bytes: RDP 0xAA (level 0) or anything else (level 1), each with complement. */
	memset(d->option_bytes, 0xFF, sizeof(d->option_bytes));
	d->option_bytes[0] = d->rdp ? 0xBB : 0xAA;
	d->option_bytes[1] = (uint8_t)~d->option_bytes[0];
}

void rom_dfu_reset(struct rom_dfu *d)
{
	d->state = DFU_STATE_IDLE;
	d->status = DFU_STATUS_OK;
	d->alt = 0;
	d->gone = false;
	d->left = false;
	d->reset = false;
	d->pending = false;
	d->reset_after_busy = false;
	d->busy_until_us = 0;
	d->poll_due_us = 0;
	d->pointer = d->cfg.flash_base;
	d->rdp = d->option_bytes[0] != 0xAA;
}

uint64_t rom_dfu_next_event_us(const struct rom_dfu *d)
{
	return !d->gone && d->reset_after_busy && d->state == DFU_STATE_DNBUSY ? d->busy_until_us
										: UINT64_MAX;
}

void rom_dfu_tick(struct rom_dfu *d, uint64_t now_us)
{
	if (now_us < rom_dfu_next_event_us(d))
		return;
	/* dfu.md §2.8: done erasing, the chip resets without answering. */
	d->gone = true;
	d->left = true;
	d->reset = true;
}

bool rom_dfu_set_alt(struct rom_dfu *d, unsigned alt)
{
	if (alt > 1)
		return false;
	d->alt = (uint8_t)alt;
	return true;
}

/* ---- standard requests ---- */

static size_t string_desc(unsigned index, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (index == 0) {
		static const uint8_t langids[4] = {4, DESC_STRING, 0x09, 0x04};

		n = cap < 4 ? cap : 4;
		memcpy(out, langids, n);
		return n;
	}
	if (index >= sizeof(strings) / sizeof(strings[0]))
		return SIZE_MAX;
	const char *s = strings[index];
	const size_t full = 2 + 2 * strlen(s);
	uint8_t buf[2 + 2 * 64];

	buf[0] = (uint8_t)full;
	buf[1] = DESC_STRING;
	for (size_t i = 0; s[i]; i++) {
		buf[2 + 2 * i] = (uint8_t)s[i];
		buf[3 + 2 * i] = 0;
	}
	n = full < cap ? full : cap;
	memcpy(out, buf, n);
	return n;
}

static enum rom_dfu_xfer standard_request(struct rom_dfu *d, const struct dfu_setup *s,
					  uint8_t *data, size_t *len)
{
	const size_t cap = s->length;
	size_t n;

	switch (s->request) {
	case REQ_GET_DESCRIPTOR:
		if (s->value >> 8 == DESC_DEVICE)
			n = sizeof(device_desc);
		else if (s->value >> 8 == DESC_CONFIG && (s->value & 0xff) == 0)
			n = sizeof(config_desc);
		else if (s->value >> 8 == DESC_STRING) {
			n = string_desc(s->value & 0xff, data, cap);
			if (n == SIZE_MAX)
				return ROM_DFU_XFER_STALL;
			*len = n;
			return ROM_DFU_XFER_OK;
		} else
			return ROM_DFU_XFER_STALL;
		n = n < cap ? n : cap;
		memcpy(data, s->value >> 8 == DESC_DEVICE ? device_desc : config_desc, n);
		*len = n;
		return ROM_DFU_XFER_OK;
	case REQ_GET_CONFIGURATION:
		if (cap < 1)
			return ROM_DFU_XFER_STALL;
		data[0] = 1;
		*len = 1;
		return ROM_DFU_XFER_OK;
	case REQ_GET_STATUS:
		n = cap < 2 ? cap : 2;
		memset(data, 0, n);
		*len = n;
		return ROM_DFU_XFER_OK;
	case REQ_SET_CONFIGURATION:
		return s->value == 1 ? ROM_DFU_XFER_OK : ROM_DFU_XFER_STALL;
	case REQ_SET_INTERFACE:
		return rom_dfu_set_alt(d, s->value) ? ROM_DFU_XFER_OK : ROM_DFU_XFER_STALL;
	default:
		return ROM_DFU_XFER_STALL;
	}
}

/* ---- flash operations, executed at the first GETSTATUS after a DNLOAD ---- */

static uint64_t scaled_us(const struct rom_dfu *d, uint64_t nominal_us)
{
	return (uint64_t)((double)nominal_us * d->cfg.speed);
}

static bool in_flash(const struct rom_dfu *d, uint32_t addr, size_t len)
{
	return addr >= d->cfg.flash_base &&
	       (uint64_t)addr - d->cfg.flash_base + len <= d->cfg.flash_size;
}

static void changed(struct rom_dfu *d, uint32_t offset, size_t len)
{
	if (d->cfg.flash_changed)
		d->cfg.flash_changed(d->cfg.ctx, offset, len);
}

static bool write_protected(const struct rom_dfu *d, uint32_t offset)
{
	return (d->cfg.faults & ROM_DFU_FAULT_WRP) && offset / d->cfg.page_size == d->cfg.wrp_page;
}

static uint8_t erase_page(struct rom_dfu *d, uint32_t addr, uint64_t *busy_us)
{
	uint32_t off, page;

	if (d->rdp)
		return DFU_STATUS_ERR_VENDOR; /* dfu.md §2.8: RDP level 1 refuses every erase */
	if (d->alt != 0 || !in_flash(d, addr, 1))
		return DFU_STATUS_ERR_TARGET;
	off = (addr - d->cfg.flash_base) / d->cfg.page_size * d->cfg.page_size;
	page = off / d->cfg.page_size;
	if (page < ROM_DFU_MAX_PAGES)
		d->stats.page_erases[page]++;
	d->stats.erase_commands++;
	if (off < BOOT_REGION)
		d->boot_unread = true;
	else if (d->boot_unread)
		d->stats.app_erases_before_boot_read++;
	*busy_us = ERASE_US;
	if (write_protected(d, off))
		return DFU_STATUS_OK; /* dfu.md §2.1: "erases" a protected page without error */
	memset(d->cfg.flash + off, 0xFF, d->cfg.page_size);
	changed(d, off, d->cfg.page_size);
	*busy_us = ERASE_US;
	return DFU_STATUS_OK;
}

static uint8_t mass_erase(struct rom_dfu *d, uint64_t *busy_us)
{
	if (d->rdp)
		return DFU_STATUS_ERR_VENDOR;
	memset(d->cfg.flash, 0xFF, d->cfg.flash_size);
	d->stats.mass_erases++;
	d->boot_unread = true;
	changed(d, 0, d->cfg.flash_size);
	*busy_us = ERASE_US;
	return DFU_STATUS_OK;
}

/* ROM_DFU_FAULT_FLIP: a weak cell keeps its lowest bit to be programmed at 1. */
static uint16_t weak_cell(const struct rom_dfu *d, uint32_t offset, uint16_t val)
{
	const uint32_t at = d->cfg.flip_address - d->cfg.flash_base;
	uint8_t b;

	if (!(d->cfg.faults & ROM_DFU_FAULT_FLIP) || at / 2 != offset / 2)
		return val;
	b = (uint8_t)(val >> (8 * (at % 2)));
	b |= (uint8_t)(~b & (b + 1)); /* lowest 0 bit of b stays 1; 0xFF stays 0xFF */
	return (uint16_t)(at % 2 ? (val & 0x00FF) | b << 8 : (val & 0xFF00) | b);
}

/* RM0091: a half-word is programmed only onto 0xFFFF (or 0x0000 written); else PGERR. */
static uint8_t program(struct rom_dfu *d, uint32_t addr, const uint8_t *src, size_t len,
		       uint64_t *busy_us)
{
	uint8_t *dst = d->cfg.flash + (addr - d->cfg.flash_base);
	uint8_t result = DFU_STATUS_OK;

	for (size_t i = 0; i < len; i += 2) {
		if (write_protected(d, addr - d->cfg.flash_base + (uint32_t)i))
			continue; /* silently unchanged: only a read-back shows it */
		const uint16_t old = (uint16_t)(dst[i] | (i + 1 < len ? dst[i + 1] << 8 : 0xFF00));
		const uint16_t val = weak_cell(
		    d, addr - d->cfg.flash_base + (uint32_t)i,
		    (uint16_t)(src[i] | (i + 1 < len ? src[i + 1] << 8 : 0xFF00)));

		if (old != 0xFFFF && val != 0x0000) {
			d->stats.prog_errors++;
			result = DFU_STATUS_ERR_PROG;
			continue;
		}
		dst[i] = (uint8_t)val;
		if (i + 1 < len)
			dst[i + 1] = (uint8_t)(val >> 8);
	}
	changed(d, addr - d->cfg.flash_base, len);
	*busy_us = (uint64_t)(len + 1) / 2 * HALFWORD_NS / 1000;
	return result;
}

static uint8_t write_block(struct rom_dfu *d, uint64_t *busy_us)
{
	uint32_t addr;

	if (d->rdp)
		return DFU_STATUS_ERR_VENDOR;
	if (dfuse_block_address(d->pointer, d->pending_block, ROM_DFU_TRANSFER_SIZE, &addr))
		return DFU_STATUS_ERR_TARGET;
	if (d->alt == 1) {
		/* dfu.md §2.8: option bytes are written as one block, then the chip resets. */
		if (addr != ROM_DFU_OPTION_BASE || d->pending_len != ROM_DFU_OPTION_LEN)
			return DFU_STATUS_ERR_TARGET;
		memcpy(d->option_bytes, d->pending_data, ROM_DFU_OPTION_LEN);
		d->rdp = d->option_bytes[0] != 0xAA;
		d->reset_after_busy = true;
		return DFU_STATUS_OK;
	}
	if (!in_flash(d, addr, d->pending_len))
		return DFU_STATUS_ERR_TARGET;
	d->stats.blocks_written++;
	if (addr < d->cfg.flash_base + BOOT_REGION)
		d->boot_unread = true;
	else if (d->boot_unread)
		d->stats.app_writes_before_boot_read++;
	return program(d, addr, d->pending_data, d->pending_len, busy_us);
}

static uint8_t run_command(struct rom_dfu *d, uint64_t *busy_us)
{
	struct dfuse_command cmd;

	if (dfuse_parse_command(d->pending_data, d->pending_len, &cmd))
		return DFU_STATUS_ERR_STALLEDPKT; /* dfu.md §2.1: unknown command byte */
	switch (cmd.kind) {
	case DFUSE_SET_ADDRESS:
		d->pointer = cmd.address; /* allowed under read protection (dfu.md §2.1) */
		return DFU_STATUS_OK;
	case DFUSE_ERASE_PAGE:
		return erase_page(d, cmd.address, busy_us);
	case DFUSE_MASS_ERASE:
		return mass_erase(d, busy_us);
	case DFUSE_READ_UNPROTECT:
		/* dfu.md §2.8: RDP 1 -> 0 mass-erases and resets; no second GETSTATUS answer. */
		memset(d->cfg.flash, 0xFF, d->cfg.flash_size);
		changed(d, 0, d->cfg.flash_size);
		d->rdp = false;
		d->option_bytes[0] = 0xAA;
		d->option_bytes[1] = 0x55;
		d->reset_after_busy = true;
		*busy_us = d->cfg.unprotect_us ? d->cfg.unprotect_us : UNPROTECT_US;
		return DFU_STATUS_OK;
	}
	return DFU_STATUS_ERR_UNKNOWN;
}

/* ---- DFU class requests ---- */

static void status_reply(struct rom_dfu *d, uint8_t *data, size_t *len, uint32_t poll_ms,
			 uint64_t now_us)
{
	const struct dfu_status_record st = {
	    .status = d->status,
	    .poll_timeout_ms = poll_ms,
	    .state = d->state,
	    .istring = 0,
	};

	dfu_build_status(data, &st);
	*len = DFU_STATUS_LEN;
	d->poll_due_us = now_us + (uint64_t)poll_ms * 1000;
	if (poll_ms > d->stats.max_poll_ms)
		d->stats.max_poll_ms = poll_ms;
}

static uint32_t ms_ceil(uint64_t us)
{
	return (uint32_t)((us + 999) / 1000);
}

/* First GETSTATUS after a DNLOAD: execute, report dfuDNBUSY with the operation time. */
static void start_operation(struct rom_dfu *d, uint8_t *data, size_t *len, uint64_t now_us)
{
	uint64_t nominal = 0, busy, reported;

	d->pending = false;
	d->result_status =
	    d->pending_block == 0 ? run_command(d, &nominal) : write_block(d, &nominal);
	busy = scaled_us(d, nominal);
	reported = busy;
	if (d->pending_block == 0 && d->pending_data[0] == DFUSE_CMD_ERASE &&
	    (d->cfg.faults & ROM_DFU_FAULT_SLOW_ERASE)) {
		busy = (busy > 20000 ? busy : 20000) * SLOW_ERASE_FACTOR;
		reported = busy / SLOW_ERASE_FACTOR;
	}
	if (d->cfg.faults & ROM_DFU_FAULT_STALL_WHILE_BUSY) {
		/* dfu.md §1.3, L4: the timeout is too short and early polls are stalled. */
		busy = busy > STALL_MIN_BUSY_US ? busy : STALL_MIN_BUSY_US;
		reported = busy / 2;
	}
	d->busy_until_us = now_us + busy;
	d->state = DFU_STATE_DNBUSY;
	status_reply(d, data, len, ms_ceil(reported), now_us);
}

static enum rom_dfu_xfer getstatus(struct rom_dfu *d, uint8_t *data, size_t *len, uint64_t now_us)
{
	d->stats.getstatus++;
	if (d->state == DFU_STATE_DNLOAD_SYNC && d->pending) {
		start_operation(d, data, len, now_us);
		return ROM_DFU_XFER_OK;
	}
	if (d->state == DFU_STATE_DNBUSY) {
		if (now_us < d->poll_due_us)
			d->stats.early_polls++;
		if (now_us < d->busy_until_us) {
			if (d->cfg.faults & ROM_DFU_FAULT_STALL_WHILE_BUSY)
				return ROM_DFU_XFER_STALL;
			status_reply(d, data, len, ms_ceil(d->busy_until_us - now_us), now_us);
			return ROM_DFU_XFER_OK;
		}
		if (d->reset_after_busy) {
			d->gone = true;
			d->left = true;
			d->reset = true;
			return ROM_DFU_XFER_GONE;
		}
		d->status = d->result_status;
		d->state = d->status ? DFU_STATE_ERROR : DFU_STATE_DNLOAD_IDLE;
	}
	if (d->state == DFU_STATE_MANIFEST_SYNC) {
		/* dfu.md §2.5: answer dfuMANIFEST, then stop USB and jump to the pointer. */
		d->left = true;
		d->gone = true;
		d->jump_address = d->pointer;
		if (d->cfg.faults & ROM_DFU_FAULT_RESET_BEFORE_LEAVE_STATUS)
			return ROM_DFU_XFER_GONE;
		d->state = DFU_STATE_MANIFEST;
		status_reply(d, data, len, 1, now_us);
		return ROM_DFU_XFER_OK;
	}
	status_reply(d, data, len, 0, now_us);
	return ROM_DFU_XFER_OK;
}

static enum rom_dfu_xfer dnload(struct rom_dfu *d, const struct dfu_setup *s, const uint8_t *data)
{
	if (d->state != DFU_STATE_IDLE && d->state != DFU_STATE_DNLOAD_IDLE)
		return ROM_DFU_XFER_STALL; /* dfu.md §1.5: accepted only there */
	if (s->length == 0) {
		/* ST: zero-length DNLOAD is accepted in dfuIDLE too -> manifestation (leave). */
		d->state = DFU_STATE_MANIFEST_SYNC;
		return ROM_DFU_XFER_OK;
	}
	if (s->value == 1) {
		d->state = DFU_STATE_ERROR;
		d->status = DFU_STATUS_ERR_STALLEDPKT;
		return ROM_DFU_XFER_STALL;
	}
	if (s->value >= 2 && (d->cfg.faults & ROM_DFU_FAULT_VANISH_MID_WRITE) &&
	    d->stats.blocks_written >= d->cfg.vanish_after_blocks) {
		d->gone = true;
		return ROM_DFU_XFER_GONE;
	}
	if (s->value == 0 && s->length == 5 && data[0] == DFUSE_CMD_ERASE &&
	    (d->cfg.faults & ROM_DFU_FAULT_VANISH_MID_ERASE) &&
	    d->stats.erase_commands >= d->cfg.vanish_after_erases) {
		d->gone = true;
		return ROM_DFU_XFER_GONE;
	}
	d->pending = true;
	d->pending_block = s->value;
	d->pending_len = s->length < ROM_DFU_TRANSFER_SIZE ? s->length : ROM_DFU_TRANSFER_SIZE;
	memcpy(d->pending_data, data, d->pending_len);
	d->state = DFU_STATE_DNLOAD_SYNC;
	return ROM_DFU_XFER_OK;
}

static enum rom_dfu_xfer upload_fail(struct rom_dfu *d, uint8_t status)
{
	d->state = DFU_STATE_ERROR;
	d->status = status;
	return ROM_DFU_XFER_STALL;
}

static enum rom_dfu_xfer upload(struct rom_dfu *d, const struct dfu_setup *s, uint8_t *data,
				size_t *len)
{
	static const uint8_t commands[] = {DFUSE_CMD_GET_COMMANDS, DFUSE_CMD_SET_ADDRESS,
					   DFUSE_CMD_ERASE, DFUSE_CMD_READ_UNPROTECT};
	uint32_t addr;
	size_t n;

	if (d->state != DFU_STATE_IDLE && d->state != DFU_STATE_UPLOAD_IDLE)
		return ROM_DFU_XFER_STALL;
	d->state = DFU_STATE_UPLOAD_IDLE; /* ST: stays there even after a short frame */
	if (s->value == 0) {
		n = s->length < sizeof(commands) ? s->length : sizeof(commands);
		memcpy(data, commands, n);
		*len = n;
		return ROM_DFU_XFER_OK;
	}
	if (d->rdp)
		return upload_fail(d, DFU_STATUS_ERR_VENDOR); /* dfu.md §2.4: the RDP probe */
	if (dfuse_block_address(d->pointer, s->value, ROM_DFU_TRANSFER_SIZE, &addr))
		return upload_fail(d, DFU_STATUS_ERR_TARGET);
	n = s->length;
	if (d->alt == 1) {
		if (addr != ROM_DFU_OPTION_BASE || n > ROM_DFU_OPTION_LEN)
			return upload_fail(d, DFU_STATUS_ERR_TARGET);
		memcpy(data, d->option_bytes, n);
	} else {
		if (!in_flash(d, addr, n))
			return upload_fail(d, DFU_STATUS_ERR_TARGET);
		memcpy(data, d->cfg.flash + (addr - d->cfg.flash_base), n);
		if (addr < d->cfg.flash_base + BOOT_REGION &&
		    addr + n >= d->cfg.flash_base + BOOT_REGION)
			d->boot_unread = false;
	}
	*len = n;
	return ROM_DFU_XFER_OK;
}

static enum rom_dfu_xfer simple_request(struct rom_dfu *d, uint8_t req)
{
	switch (req) {
	case DFU_REQ_CLRSTATUS:
		if (d->state != DFU_STATE_ERROR) {
			/* dfu.md §1.5: the ST library turns a stray CLRSTATUS into errUNKNOWN. */
			d->stats.clrstatus_outside_error++;
			d->state = DFU_STATE_ERROR;
			d->status = DFU_STATUS_ERR_UNKNOWN;
			return ROM_DFU_XFER_OK;
		}
		d->state = DFU_STATE_IDLE;
		d->status = DFU_STATUS_OK;
		return ROM_DFU_XFER_OK;
	case DFU_REQ_ABORT:
		if (d->state == DFU_STATE_ERROR || d->state == DFU_STATE_DNBUSY)
			return ROM_DFU_XFER_STALL;
		d->state = DFU_STATE_IDLE;
		d->pending = false;
		return ROM_DFU_XFER_OK;
	case DFU_REQ_DETACH:
		/* dfu.md §1.5: resets the state; does not leave the ROM. */
		d->state = DFU_STATE_IDLE;
		d->status = DFU_STATUS_OK;
		return ROM_DFU_XFER_OK;
	default:
		return ROM_DFU_XFER_STALL;
	}
}

enum rom_dfu_xfer rom_dfu_control(struct rom_dfu *d, const uint8_t setup[8], uint8_t *data,
				  size_t *len, uint64_t now_us)
{
	struct dfu_setup s;

	*len = 0;
	if (d->gone)
		return ROM_DFU_XFER_GONE;
	dfu_parse_setup(setup, &s);
	if ((s.request_type & 0x60) == 0)
		return standard_request(d, &s, data, len);
	if (s.request_type != DFU_REQTYPE_OUT && s.request_type != DFU_REQTYPE_IN)
		return ROM_DFU_XFER_STALL;
	if (s.index != 0)
		return ROM_DFU_XFER_STALL;
	switch (s.request) {
	case DFU_REQ_GETSTATUS:
		if (s.length < DFU_STATUS_LEN)
			return ROM_DFU_XFER_STALL;
		return getstatus(d, data, len, now_us);
	case DFU_REQ_GETSTATE:
		if (s.length < 1)
			return ROM_DFU_XFER_STALL;
		data[0] = d->state;
		*len = 1;
		return ROM_DFU_XFER_OK;
	case DFU_REQ_DNLOAD:
		*len = s.length;
		return dnload(d, &s, data);
	case DFU_REQ_UPLOAD:
		return upload(d, &s, data, len);
	default:
		return simple_request(d, s.request);
	}
}
