/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Klipper message blocks, VLQ integers, identify and data-dictionary reassembly (katapult.md §8).
 */
#ifndef CARTOFLASH_PROTOCOL_KLIPPER_H
#define CARTOFLASH_PROTOCOL_KLIPPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* katapult.md §8.1: [len][seq][content...][crc_hi][crc_lo][0x7e] */
#define KLIPPER_BLOCK_MIN     5	 /* empty block: ACK/NAK */
#define KLIPPER_BLOCK_MAX     64 /* bytes, whole block */
#define KLIPPER_BLOCK_HEADER  2
#define KLIPPER_BLOCK_TRAILER 3
#define KLIPPER_CONTENT_MAX   (KLIPPER_BLOCK_MAX - KLIPPER_BLOCK_MIN) /* 59 */
#define KLIPPER_SYNC	      0x7e
#define KLIPPER_SEQ_DEST      0x10
#define KLIPPER_SEQ_MASK      0x0f
#define KLIPPER_VLQ_MAX	      5 /* bytes of one encoded int32 */

/* katapult.md §8.2: the only hard-coded message ids. */
#define KLIPPER_MSGID_IDENTIFY_RESPONSE 0  /* identify_response offset=%u data=%.*s */
#define KLIPPER_MSGID_IDENTIFY		1  /* identify offset=%u count=%c */
#define KLIPPER_IDENTIFY_COUNT		40 /* bytes klippy asks for per identify (§8.3) */
/* Largest data in one identify_response block: 59 - msgid 1 - offset VLQ 5 - length 1. */
#define KLIPPER_IDENTIFY_DATA_MAX (KLIPPER_CONTENT_MAX - 1 - KLIPPER_VLQ_MAX - 1)

/* katapult.md §3.6: "~ \x1c Request Serial Bootloader!! ~", written at the MCU's UART baud. */
#define KLIPPER_SERIAL_BOOTLOADER_REQUEST_LEN 33
extern const uint8_t klipper_serial_bootloader_request[KLIPPER_SERIAL_BOOTLOADER_REQUEST_LEN];

/* One block found in a buffer; content points into that buffer. */
struct klipper_block {
	uint8_t seq;		/* low 4 bits of the seq byte */
	const uint8_t *content; /* borrowed from the buffer passed to klipper_block_find() */
	size_t content_len;	/* 0 for an ACK/NAK block */
	size_t block_len;	/* whole block, len byte to sync byte */
};

/* identify_response content (katapult.md §8.3): 00 <offset VLQ> <n> <n bytes>. */
struct klipper_identify_response {
	uint32_t offset;
	const uint8_t *data; /* borrowed from the content buffer */
	size_t data_len;     /* n; 0 marks the end of the dictionary */
	size_t used;	     /* content bytes this message took */
};

/*
 * Dictionary reassembly into a caller buffer (katapult.md §8.3). Members are read-only for the
 * caller: len is also the offset to ask for next.
 */
struct klipper_dict_reader {
	uint8_t *buf; /* borrowed, caller-owned */
	size_t cap;
	size_t len;
	bool complete;
};

/*
 * Encode one block: len, 0x10 | (seq & 0x0f), content, CRC-16/MCRF4XX big-endian, 0x7e.
 * content may be NULL when len is 0 (an ACK/NAK block). Returns 0 with *out_len; CF_ERR_USAGE
 * when len exceeds KLIPPER_CONTENT_MAX; CF_ERR_NOSPACE when cap is too small.
 */
int klipper_block_encode(uint8_t seq, const uint8_t *content, size_t len, uint8_t *out, size_t cap,
			 size_t *out_len);

/*
 * Find the block at the start of buf, with Klipper's command_find_block contract but no hidden
 * state. Always sets *consumed (bytes the caller pops) and returns:
 *   1  a block: *out set, *consumed = leading sync bytes + block length;
 *   0  need more bytes (*consumed = leading 0x7e bytes that may be popped, else 0);
 *   CF_ERR_FRAME  bad length byte, seq byte or trailer: *consumed runs through the next 0x7e
 *                 (the whole buffer if there is none), as the MCU discards (katapult.md §8.1);
 *   CF_ERR_CRC    checksum mismatch, same discard.
 * out->content points into buf. Never blocks.
 */
int klipper_block_find(const uint8_t *buf, size_t len, size_t *consumed, struct klipper_block *out);

/* Klipper VLQ of v into out (KLIPPER_VLQ_MAX bytes room); returns the length 1..5. */
int klipper_vlq_encode(int32_t v, uint8_t *out);

/*
 * Decode one VLQ at p (at most len bytes). Returns 0 with *v and *used set; CF_ERR_FRAME when
 * len runs out before the last byte or the value takes more than 5 bytes.
 */
int klipper_vlq_decode(const uint8_t *p, size_t len, int32_t *v, size_t *used);

/* Message id (katapult.md §8.2: id >= 0x80 -> 0x80 | id >> 7, id & 0x7f); returns 1 or 2. */
int klipper_msgid_encode(uint16_t id, uint8_t *out);
/* Decode a message id; 0 with *id, *used, or CF_ERR_FRAME when truncated. */
int klipper_msgid_decode(const uint8_t *p, size_t len, uint16_t *id, size_t *used);

/*
 * Host: the block "identify offset count" with sequence seq (katapult.md §8.3 vectors).
 * 0, or CF_ERR_NOSPACE.
 */
int klipper_build_identify(uint8_t seq, uint32_t offset, uint8_t count, uint8_t *out, size_t cap,
			   size_t *out_len);

/*
 * Twin: parse identify from block content. Returns 0 with *offset, *count and *used; or
 * CF_ERR_PROTOCOL when the message id is not 1, CF_ERR_FRAME when truncated.
 */
int klipper_parse_identify(const uint8_t *content, size_t len, uint32_t *offset, uint8_t *count,
			   size_t *used);

/*
 * Twin: the block "identify_response offset data" with sequence seq. CF_ERR_USAGE when n exceeds
 * KLIPPER_IDENTIFY_DATA_MAX or the block would not fit 64 bytes; CF_ERR_NOSPACE for cap.
 */
int klipper_build_identify_response(uint8_t seq, uint32_t offset, const uint8_t *data, size_t n,
				    uint8_t *out, size_t cap, size_t *out_len);

/*
 * Host: parse identify_response from block content. Returns 0 with *r filled (r->data borrows
 * from content); CF_ERR_PROTOCOL when the message id is not 0; CF_ERR_FRAME when truncated.
 */
int klipper_parse_identify_response(const uint8_t *content, size_t len,
				    struct klipper_identify_response *r);

/*
 * Host: the block of a command without parameters ("get_canbus_id", id from the dictionary)
 * with sequence seq. 0, or CF_ERR_NOSPACE.
 */
int klipper_build_command(uint8_t seq, uint16_t msgid, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Host: parse "canbus_id canbus_uuid=%.*s canbus_nodeid=%u" (katapult.md §8.4) from block
 * content, msgid being its response id from the dictionary. Returns 0 with uuid and *node;
 * CF_ERR_PROTOCOL for another message id or a uuid that is not 6 bytes, CF_ERR_FRAME when
 * truncated.
 */
int klipper_parse_canbus_id(const uint8_t *content, size_t len, uint16_t msgid, uint8_t uuid[6],
			    uint8_t *node);

/* Start reassembly into buf (cap bytes, caller-owned, must outlive the reader). Never fails. */
void klipper_dict_init(struct klipper_dict_reader *r, uint8_t *buf, size_t cap);

/*
 * Add one identify_response chunk. Returns 1 when n == 0 at the right offset (complete: the
 * dictionary is buf[0 .. len)); 0 when appended; CF_ERR_PROTOCOL when offset != r->len
 * (nothing changes: ask again at r->len); CF_ERR_NOSPACE when the chunk does not fit.
 */
int klipper_dict_add(struct klipper_dict_reader *r, uint32_t offset, const uint8_t *data, size_t n);

#endif
