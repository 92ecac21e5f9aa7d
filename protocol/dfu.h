/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DFU 1.1 and ST DfuSe as pure code: requests, status record, commands, layout, file formats. */
#ifndef CARTOFLASH_PROTOCOL_DFU_H
#define CARTOFLASH_PROTOCOL_DFU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dfu.md §1.2: class requests; wIndex = interface number (0 on ST ROMs). */
enum dfu_request {
	DFU_REQ_DETACH = 0,
	DFU_REQ_DNLOAD = 1,
	DFU_REQ_UPLOAD = 2,
	DFU_REQ_GETSTATUS = 3,
	DFU_REQ_CLRSTATUS = 4,
	DFU_REQ_GETSTATE = 5,
	DFU_REQ_ABORT = 6,
};
#define DFU_REQTYPE_OUT 0x21 /* host to device, class, interface */
#define DFU_REQTYPE_IN	0xA1 /* device to host, class, interface */
#define DFU_SETUP_LEN	8
#define DFU_STATUS_LEN	6

/* dfu.md §1.4: bState. */
enum dfu_state {
	DFU_STATE_APP_IDLE = 0,
	DFU_STATE_APP_DETACH = 1,
	DFU_STATE_IDLE = 2,
	DFU_STATE_DNLOAD_SYNC = 3,
	DFU_STATE_DNBUSY = 4,
	DFU_STATE_DNLOAD_IDLE = 5,
	DFU_STATE_MANIFEST_SYNC = 6,
	DFU_STATE_MANIFEST = 7,
	DFU_STATE_MANIFEST_WAIT_RESET = 8,
	DFU_STATE_UPLOAD_IDLE = 9,
	DFU_STATE_ERROR = 10,
};

/* dfu.md §1.4: bStatus. */
enum dfu_status {
	DFU_STATUS_OK = 0x00,
	DFU_STATUS_ERR_TARGET = 0x01,
	DFU_STATUS_ERR_FILE = 0x02,
	DFU_STATUS_ERR_WRITE = 0x03,
	DFU_STATUS_ERR_ERASE = 0x04,
	DFU_STATUS_ERR_CHECK_ERASED = 0x05,
	DFU_STATUS_ERR_PROG = 0x06,
	DFU_STATUS_ERR_VERIFY = 0x07,
	DFU_STATUS_ERR_ADDRESS = 0x08,
	DFU_STATUS_ERR_NOTDONE = 0x09,
	DFU_STATUS_ERR_FIRMWARE = 0x0A,
	DFU_STATUS_ERR_VENDOR = 0x0B,
	DFU_STATUS_ERR_USBR = 0x0C,
	DFU_STATUS_ERR_POR = 0x0D,
	DFU_STATUS_ERR_UNKNOWN = 0x0E,
	DFU_STATUS_ERR_STALLEDPKT = 0x0F,
};

/* "dfuDNBUSY"; "state(N)" style token "unknown" for values outside the table. Never NULL. */
const char *dfu_state_name(unsigned state);
/* "errVENDOR"; "unknown" outside the table. Never NULL. */
const char *dfu_status_name(unsigned status);
/* One sentence for a status ("read protection is active" for errVENDOR, ST meaning). */
const char *dfu_status_text(unsigned status);

/* A USB SETUP packet (8 bytes on the wire, little-endian words). */
struct dfu_setup {
	uint8_t request_type;
	uint8_t request;
	uint16_t value;
	uint16_t index;
	uint16_t length;
};

/* Encode a DFU class request: request type 0x21 or 0xA1 follows from req. Writes 8 bytes. */
void dfu_build_setup(uint8_t out[DFU_SETUP_LEN], enum dfu_request req, uint16_t value,
		     uint16_t interface, uint16_t length);
/* Decode any SETUP packet (standard or class). */
void dfu_parse_setup(const uint8_t in[DFU_SETUP_LEN], struct dfu_setup *s);

/* dfu.md §1.3: GETSTATUS record. */
struct dfu_status_record {
	uint8_t status;		  /* enum dfu_status */
	uint32_t poll_timeout_ms; /* 24 bits */
	uint8_t state;		  /* enum dfu_state */
	uint8_t istring;
};

/* 0, or CF_ERR_FRAME when len != 6. */
int dfu_parse_status(const uint8_t *buf, size_t len, struct dfu_status_record *st);
/* Encode; poll_timeout_ms is truncated to 24 bits. */
void dfu_build_status(uint8_t out[DFU_STATUS_LEN], const struct dfu_status_record *st);

/* dfu.md §1.6: functional descriptor (type 0x21). */
#define DFU_DESC_FUNCTIONAL	   0x21
#define DFU_ATTR_CAN_DNLOAD	   0x01
#define DFU_ATTR_CAN_UPLOAD	   0x02
#define DFU_ATTR_MANIFEST_TOLERANT 0x04
#define DFU_ATTR_WILL_DETACH	   0x08
#define DFU_BCD_DFUSE		   0x011A
struct dfu_functional {
	uint8_t attributes;
	uint16_t detach_timeout_ms;
	uint16_t transfer_size;
	uint16_t bcd_dfu; /* 0x0100 when the 7-byte DFU 1.0 form was given */
};
/*
 * Find and decode the first functional descriptor in a run of descriptors (bLength-chained,
 * e.g. libusb's `extra` bytes). 0, or CF_ERR_FRAME (malformed chain / none found).
 */
int dfu_find_functional(const uint8_t *desc, size_t len, struct dfu_functional *fd);

/* dfu.md §2.1: DfuSe commands sent as DNLOAD wValue 0. */
#define DFUSE_CMD_GET_COMMANDS	 0x00
#define DFUSE_CMD_SET_ADDRESS	 0x21
#define DFUSE_CMD_ERASE		 0x41
#define DFUSE_CMD_READ_UNPROTECT 0x92
#define DFUSE_CMD_MAX_LEN	 5

/* Each writes the command bytes and returns their count (5 or 1). */
size_t dfuse_build_set_address(uint8_t out[DFUSE_CMD_MAX_LEN], uint32_t address);
size_t dfuse_build_erase_page(uint8_t out[DFUSE_CMD_MAX_LEN], uint32_t address);
size_t dfuse_build_mass_erase(uint8_t out[DFUSE_CMD_MAX_LEN]);
size_t dfuse_build_read_unprotect(uint8_t out[DFUSE_CMD_MAX_LEN]);

enum dfuse_command_kind {
	DFUSE_SET_ADDRESS,
	DFUSE_ERASE_PAGE,
	DFUSE_MASS_ERASE,
	DFUSE_READ_UNPROTECT,
};
struct dfuse_command {
	enum dfuse_command_kind kind;
	uint32_t address; /* SET_ADDRESS, ERASE_PAGE */
};
/* Decode a wValue-0 DNLOAD payload (device side). 0, or CF_ERR_FRAME for unknown / bad length. */
int dfuse_parse_command(const uint8_t *buf, size_t len, struct dfuse_command *cmd);

/*
 * dfu.md §2.2: address = pointer + (block - 2) * transfer_size, with the descriptor's fixed
 * transfer size. 0, or CF_ERR_FRAME for block < 2 (commands) or an address past 4 GiB.
 */
int dfuse_block_address(uint32_t pointer, uint16_t block, uint16_t transfer_size,
			uint32_t *address);

/* dfu.md §1.7: memory layout from the alt-setting name. */
#define DFU_MEM_READABLE	0x1
#define DFU_MEM_ERASABLE	0x2
#define DFU_MEM_WRITEABLE	0x4
#define DFU_LAYOUT_MAX_SEGMENTS 16
#define DFU_LAYOUT_NAME_MAX	64
struct dfu_segment {
	uint32_t start;	    /* first byte */
	uint32_t count;	    /* pages */
	uint32_t page_size; /* bytes */
	uint8_t type;	    /* DFU_MEM_* mask */
};
struct dfu_layout {
	char name[DFU_LAYOUT_NAME_MAX]; /* trailing spaces kept, NUL-terminated, may be truncated */
	size_t count;			/* segments over all zones */
	struct dfu_segment seg[DFU_LAYOUT_MAX_SEGMENTS];
};
/*
 * Parse "@Internal Flash  /0x08000000/032*001Kg" (len bytes, need not be NUL-terminated).
 * Tolerates a missing multiplier ("01*32e"), a space as multiplier ("01*016 e"), a space
 * between size and multiplier, and a missing count ("016Kg", count 1). 0, CF_ERR_FRAME
 * (syntax), or CF_ERR_NOSPACE (more than DFU_LAYOUT_MAX_SEGMENTS segments).
 */
int dfu_parse_layout(const char *text, size_t len, struct dfu_layout *layout);
/*
 * The page containing address: its start, size and type. false when address is in no segment.
 */
bool dfu_layout_page(const struct dfu_layout *layout, uint32_t address, uint32_t *page_start,
		     uint32_t *page_size, uint8_t *type);
/* Sum of all segment bytes. */
uint64_t dfu_layout_size(const struct dfu_layout *layout);

/* dfu.md §1.8: the 16-byte DFU suffix and its CRC (CRC-32/JAMCRC). */
#define DFU_SUFFIX_LEN 16
struct dfu_suffix {
	uint16_t bcd_device;
	uint16_t id_product;
	uint16_t id_vendor;
	uint16_t bcd_dfu;
	uint8_t length;
	uint32_t crc;
};
/* CRC-32/JAMCRC: reflected 0xEDB88320, init 0xFFFFFFFF, no final XOR. Pass crc = 0xFFFFFFFF. */
uint32_t dfu_crc32(uint32_t crc, const uint8_t *data, size_t len);
/*
 * Decode the suffix at the end of file. 0; CF_ERR_FRAME (shorter than 16 bytes, no "UFD"
 * signature, bLength < 16 or > len); CF_ERR_CRC (suffix readable but CRC differs: *sfx filled).
 */
int dfu_parse_suffix(const uint8_t *file, size_t len, struct dfu_suffix *sfx);
/*
 * Write a suffix for the len bytes of body into out (16 bytes); crc covers body + the first
 * 12 suffix bytes. sfx->length and sfx->crc are ignored (16 and computed).
 */
void dfu_build_suffix(uint8_t out[DFU_SUFFIX_LEN], const uint8_t *body, size_t len,
		      const struct dfu_suffix *sfx);

/* dfu.md §1.9: DfuSe .dfu file (prefix, targets, elements, suffix). */
#define DFUSE_PREFIX_LEN      11
#define DFUSE_TARGET_LEN      274
#define DFUSE_ELEMENT_HDR_LEN 8
struct dfuse_element {
	uint8_t alt;
	uint32_t address;
	uint32_t size;
	const uint8_t *data; /* points into the caller's file buffer, valid while it lives */
};
/*
 * Parse a whole .dfu file (suffix included and checked: bcdDFU 0x011A, CRC). Fills up to cap
 * elements in order. 0; CF_ERR_FRAME (bad signature/version, truncated target or element);
 * CF_ERR_CRC; CF_ERR_NOSPACE (more than cap elements).
 */
int dfuse_parse_file(const uint8_t *file, size_t len, struct dfuse_element *elems, size_t cap,
		     size_t *count);

#endif
