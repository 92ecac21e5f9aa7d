// SPDX-License-Identifier: GPL-3.0-or-later
// DFU 1.1 / DfuSe codec: requests, status, commands, memory layout, suffix and .dfu files.
#include "protocol/dfu.h"

#include <string.h>
#include <zlib.h> /* crc32_z for the JAMCRC of the DFU suffix */

#include "protocol/bytes.h"
#include "protocol/err.h"

/* ---- names ---- */

static const char *const state_names[] = {
    [DFU_STATE_APP_IDLE] = "appIDLE",
    [DFU_STATE_APP_DETACH] = "appDETACH",
    [DFU_STATE_IDLE] = "dfuIDLE",
    [DFU_STATE_DNLOAD_SYNC] = "dfuDNLOAD-SYNC",
    [DFU_STATE_DNBUSY] = "dfuDNBUSY",
    [DFU_STATE_DNLOAD_IDLE] = "dfuDNLOAD-IDLE",
    [DFU_STATE_MANIFEST_SYNC] = "dfuMANIFEST-SYNC",
    [DFU_STATE_MANIFEST] = "dfuMANIFEST",
    [DFU_STATE_MANIFEST_WAIT_RESET] = "dfuMANIFEST-WAIT-RESET",
    [DFU_STATE_UPLOAD_IDLE] = "dfuUPLOAD-IDLE",
    [DFU_STATE_ERROR] = "dfuERROR",
};

static const struct {
	const char *name;
	const char *text;
} status_names[] = {
    [DFU_STATUS_OK] = {"OK", "no error condition is present"},
    [DFU_STATUS_ERR_TARGET] = {"errTARGET", "address wrong or unsupported by this device"},
    [DFU_STATUS_ERR_FILE] = {"errFILE", "file failed a vendor-specific test"},
    [DFU_STATUS_ERR_WRITE] = {"errWRITE", "device cannot write memory"},
    [DFU_STATUS_ERR_ERASE] = {"errERASE", "memory erase failed"},
    [DFU_STATUS_ERR_CHECK_ERASED] = {"errCHECK_ERASED", "memory erase check failed"},
    [DFU_STATUS_ERR_PROG] = {"errPROG", "program memory function failed"},
    [DFU_STATUS_ERR_VERIFY] = {"errVERIFY", "programmed memory failed verification"},
    [DFU_STATUS_ERR_ADDRESS] = {"errADDRESS", "address out of range"},
    [DFU_STATUS_ERR_NOTDONE] = {"errNOTDONE", "zero-length download but data incomplete"},
    [DFU_STATUS_ERR_FIRMWARE] = {"errFIRMWARE", "firmware corrupt, cannot return to run-time"},
    [DFU_STATUS_ERR_VENDOR] = {"errVENDOR", "read protection is active"},
    [DFU_STATUS_ERR_USBR] = {"errUSBR", "unexpected USB reset"},
    [DFU_STATUS_ERR_POR] = {"errPOR", "unexpected power-on reset"},
    [DFU_STATUS_ERR_UNKNOWN] = {"errUNKNOWN", "unknown error"},
    [DFU_STATUS_ERR_STALLEDPKT] = {"errSTALLEDPKT", "device stalled an unexpected request"},
};

const char *dfu_state_name(unsigned state)
{
	if (state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[state];
}

const char *dfu_status_name(unsigned status)
{
	if (status >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[status].name;
}

const char *dfu_status_text(unsigned status)
{
	if (status >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown status";
	return status_names[status].text;
}

/* ---- setup and status ---- */

void dfu_build_setup(uint8_t out[DFU_SETUP_LEN], enum dfu_request req, uint16_t value,
		     uint16_t interface, uint16_t length)
{
	uint8_t type = DFU_REQTYPE_OUT;

	switch (req) {
	case DFU_REQ_UPLOAD:
	case DFU_REQ_GETSTATUS:
	case DFU_REQ_GETSTATE:
		type = DFU_REQTYPE_IN;
		break;
	case DFU_REQ_DETACH:
	case DFU_REQ_DNLOAD:
	case DFU_REQ_CLRSTATUS:
	case DFU_REQ_ABORT:
		break;
	}
	out[0] = type;
	out[1] = (uint8_t)req;
	cf_put_le16(out + 2, value);
	cf_put_le16(out + 4, interface);
	cf_put_le16(out + 6, length);
}

void dfu_parse_setup(const uint8_t in[DFU_SETUP_LEN], struct dfu_setup *s)
{
	s->request_type = in[0];
	s->request = in[1];
	s->value = cf_get_le16(in + 2);
	s->index = cf_get_le16(in + 4);
	s->length = cf_get_le16(in + 6);
}

int dfu_parse_status(const uint8_t *buf, size_t len, struct dfu_status_record *st)
{
	if (len != DFU_STATUS_LEN)
		return CF_ERR_FRAME;
	st->status = buf[0];
	st->poll_timeout_ms = (uint32_t)buf[1] | (uint32_t)buf[2] << 8 | (uint32_t)buf[3] << 16;
	st->state = buf[4];
	st->istring = buf[5];
	return CF_OK;
}

void dfu_build_status(uint8_t out[DFU_STATUS_LEN], const struct dfu_status_record *st)
{
	out[0] = st->status;
	out[1] = (uint8_t)st->poll_timeout_ms;
	out[2] = (uint8_t)(st->poll_timeout_ms >> 8);
	out[3] = (uint8_t)(st->poll_timeout_ms >> 16);
	out[4] = st->state;
	out[5] = st->istring;
}

int dfu_find_functional(const uint8_t *desc, size_t len, struct dfu_functional *fd)
{
	size_t off = 0;

	while (off + 2 <= len) {
		const uint8_t blen = desc[off];

		if (blen < 2 || blen > len - off)
			return CF_ERR_FRAME;
		/* dfu.md §1.6: 9 bytes, or 7 for DFU 1.0 without bcdDFUVersion. */
		if (desc[off + 1] == DFU_DESC_FUNCTIONAL && blen >= 7) {
			fd->attributes = desc[off + 2];
			fd->detach_timeout_ms = cf_get_le16(desc + off + 3);
			fd->transfer_size = cf_get_le16(desc + off + 5);
			fd->bcd_dfu = blen >= 9 ? cf_get_le16(desc + off + 7) : 0x0100;
			return CF_OK;
		}
		off += blen;
	}
	return CF_ERR_FRAME;
}

/* ---- DfuSe commands ---- */

static size_t build_addr_cmd(uint8_t *out, uint8_t cmd, uint32_t address)
{
	out[0] = cmd;
	cf_put_le32(out + 1, address);
	return 5;
}

size_t dfuse_build_set_address(uint8_t out[DFUSE_CMD_MAX_LEN], uint32_t address)
{
	return build_addr_cmd(out, DFUSE_CMD_SET_ADDRESS, address);
}

size_t dfuse_build_erase_page(uint8_t out[DFUSE_CMD_MAX_LEN], uint32_t address)
{
	return build_addr_cmd(out, DFUSE_CMD_ERASE, address);
}

size_t dfuse_build_mass_erase(uint8_t out[DFUSE_CMD_MAX_LEN])
{
	out[0] = DFUSE_CMD_ERASE;
	return 1;
}

size_t dfuse_build_read_unprotect(uint8_t out[DFUSE_CMD_MAX_LEN])
{
	out[0] = DFUSE_CMD_READ_UNPROTECT;
	return 1;
}

int dfuse_parse_command(const uint8_t *buf, size_t len, struct dfuse_command *cmd)
{
	if (len == 0)
		return CF_ERR_FRAME;
	cmd->address = 0;
	switch (buf[0]) {
	case DFUSE_CMD_SET_ADDRESS:
		if (len != 5)
			return CF_ERR_FRAME;
		cmd->kind = DFUSE_SET_ADDRESS;
		cmd->address = cf_get_le32(buf + 1);
		return CF_OK;
	case DFUSE_CMD_ERASE:
		if (len == 1) {
			cmd->kind = DFUSE_MASS_ERASE;
			return CF_OK;
		}
		if (len != 5)
			return CF_ERR_FRAME;
		cmd->kind = DFUSE_ERASE_PAGE;
		cmd->address = cf_get_le32(buf + 1);
		return CF_OK;
	case DFUSE_CMD_READ_UNPROTECT:
		if (len != 1)
			return CF_ERR_FRAME;
		cmd->kind = DFUSE_READ_UNPROTECT;
		return CF_OK;
	default:
		/* dfu.md §2.1: unknown command byte -> errSTALLEDPKT on the device. */
		return CF_ERR_FRAME;
	}
}

int dfuse_block_address(uint32_t pointer, uint16_t block, uint16_t transfer_size, uint32_t *address)
{
	uint64_t a;

	if (block < 2)
		return CF_ERR_FRAME;
	a = (uint64_t)pointer + (uint64_t)(block - 2) * transfer_size;
	if (a > UINT32_MAX)
		return CF_ERR_FRAME;
	*address = (uint32_t)a;
	return CF_OK;
}

/* ---- suffix and CRC ---- */

uint32_t dfu_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
	/* zlib keeps the register inverted on both ends; JAMCRC is that register without the
	 * final XOR (dfu.md §1.8), so invert in and out. */
	return ~(uint32_t)crc32_z(~crc & 0xFFFFFFFFu, data, len);
}

int dfu_parse_suffix(const uint8_t *file, size_t len, struct dfu_suffix *sfx)
{
	const uint8_t *s;

	if (len < DFU_SUFFIX_LEN)
		return CF_ERR_FRAME;
	s = file + len - DFU_SUFFIX_LEN;
	if (s[8] != 'U' || s[9] != 'F' || s[10] != 'D')
		return CF_ERR_FRAME;
	sfx->bcd_device = cf_get_le16(s);
	sfx->id_product = cf_get_le16(s + 2);
	sfx->id_vendor = cf_get_le16(s + 4);
	sfx->bcd_dfu = cf_get_le16(s + 6);
	sfx->length = s[11];
	sfx->crc = cf_get_le32(s + 12);
	if (sfx->length < DFU_SUFFIX_LEN || sfx->length > len)
		return CF_ERR_FRAME;
	if (dfu_crc32(0xFFFFFFFFu, file, len - 4) != sfx->crc)
		return CF_ERR_CRC;
	return CF_OK;
}

void dfu_build_suffix(uint8_t out[DFU_SUFFIX_LEN], const uint8_t *body, size_t len,
		      const struct dfu_suffix *sfx)
{
	uint32_t crc;

	cf_put_le16(out, sfx->bcd_device);
	cf_put_le16(out + 2, sfx->id_product);
	cf_put_le16(out + 4, sfx->id_vendor);
	cf_put_le16(out + 6, sfx->bcd_dfu);
	out[8] = 'U';
	out[9] = 'F';
	out[10] = 'D';
	out[11] = DFU_SUFFIX_LEN;
	crc = dfu_crc32(0xFFFFFFFFu, body, len);
	crc = dfu_crc32(crc, out, 12);
	cf_put_le32(out + 12, crc);
}

/* ---- DfuSe file ---- */

static int parse_target(const uint8_t *t, size_t avail, struct dfuse_element *elems, size_t cap,
			size_t *count, size_t *used)
{
	size_t off = DFUSE_TARGET_LEN;
	uint32_t n;

	if (avail < DFUSE_TARGET_LEN || memcmp(t, "Target", 6))
		return CF_ERR_FRAME;
	n = cf_get_le32(t + 270);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t size;

		if (avail - off < DFUSE_ELEMENT_HDR_LEN)
			return CF_ERR_FRAME;
		size = cf_get_le32(t + off + 4);
		if (avail - off - DFUSE_ELEMENT_HDR_LEN < size)
			return CF_ERR_FRAME;
		if (*count == cap)
			return CF_ERR_NOSPACE;
		elems[*count] = (struct dfuse_element){
		    .alt = t[6],
		    .address = cf_get_le32(t + off),
		    .size = size,
		    .data = t + off + DFUSE_ELEMENT_HDR_LEN,
		};
		(*count)++;
		off += DFUSE_ELEMENT_HDR_LEN + (size_t)size;
	}
	*used = off;
	return CF_OK;
}

int dfuse_parse_file(const uint8_t *file, size_t len, struct dfuse_element *elems, size_t cap,
		     size_t *count)
{
	struct dfu_suffix sfx;
	size_t body, off = DFUSE_PREFIX_LEN;
	int err;

	*count = 0;
	err = dfu_parse_suffix(file, len, &sfx);
	if (err)
		return err;
	if (sfx.bcd_dfu != DFU_BCD_DFUSE)
		return CF_ERR_FRAME;
	body = len - sfx.length;
	/* dfu.md §1.9: DFUImageSize is ignored (tools disagree about the suffix). */
	if (body < DFUSE_PREFIX_LEN || memcmp(file, "DfuSe", 5) || file[5] != 0x01)
		return CF_ERR_FRAME;
	for (unsigned t = 0; t < file[10]; t++) {
		size_t used;

		err = parse_target(file + off, body - off, elems, cap, count, &used);
		if (err)
			return err;
		off += used;
	}
	return CF_OK;
}
