/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Katapult command frames: encoder, command and reply builders, streaming parser, reply parsers. */
#ifndef CARTOFLASH_PROTOCOL_KATAPULT_H
#define CARTOFLASH_PROTOCOL_KATAPULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* katapult.md §1.1: 01 88 cmd N payload[4N] crc_lo crc_hi 99 03 */
#define KATAPULT_STX1		0x01
#define KATAPULT_STX2		0x88
#define KATAPULT_ETX1		0x99
#define KATAPULT_ETX2		0x03
#define KATAPULT_FRAME_OVERHEAD 8   /* header 4 + CRC 2 + trailer 2 bytes */
#define KATAPULT_MAX_FRAME	128 /* firmware MESSAGE_MAX, bytes */
#define KATAPULT_MAX_WORDS	((KATAPULT_MAX_FRAME - KATAPULT_FRAME_OVERHEAD) / 4) /* 30 */
#define KATAPULT_MAX_PAYLOAD	(KATAPULT_MAX_WORDS * 4)			     /* 120 bytes */
#define KATAPULT_BLOCK_SIZE	64 /* bytes per SEND_BLOCK/REQUEST_BLOCK on every platform */
/* katapult.md §1.2 vectors: SEND_BLOCK frame is 76 bytes, REQUEST_BLOCK reply 80 bytes. */
#define KATAPULT_SEND_BLOCK_FRAME_LEN (KATAPULT_FRAME_OVERHEAD + 4 + KATAPULT_BLOCK_SIZE)
#define KATAPULT_READ_ACK_FRAME_LEN   (KATAPULT_FRAME_OVERHEAD + 8 + KATAPULT_BLOCK_SIZE)
#define KATAPULT_ECHO_LEN	      4 /* every ACK payload starts with the acknowledged command */
#define KATAPULT_CANBUS_UUID_LEN      6

/* katapult.md §1.3: host -> device commands. */
#define KATAPULT_CMD_CONNECT	   0x11
#define KATAPULT_CMD_SEND_BLOCK	   0x12
#define KATAPULT_CMD_SEND_EOF	   0x13
#define KATAPULT_CMD_REQUEST_BLOCK 0x14
#define KATAPULT_CMD_COMPLETE	   0x15
#define KATAPULT_CMD_GET_CANBUS_ID 0x16
/* katapult.md §3.4: valid dummy frame that "primes" STM32 USBFS; answered by command error. */
#define KATAPULT_CMD_PRIME 0x90

/* katapult.md §1.3: device -> host responses. */
#define KATAPULT_RESP_ACK	0xa0
#define KATAPULT_RESP_NACK	0xf1 /* framing or CRC failure */
#define KATAPULT_RESP_CMD_ERROR 0xf2 /* unknown command, refused or failed write */
#define KATAPULT_RESP_BUSY	0xf3 /* defined, sent by no firmware at the reference revision */

/* katapult.md §1.4: protocol version word (digits byte2.byte1.byte0). */
#define KATAPULT_PROTO_1_0_0	     0x00010000u
#define KATAPULT_PROTO_1_1_0	     0x00010100u /* first layout with the software version string */
#define KATAPULT_PROTO_MAJOR(v)	     ((uint8_t)((v) >> 16))
#define KATAPULT_PROTO_MINOR(v)	     ((uint8_t)((v) >> 8))
#define KATAPULT_PROTO_PATCH(v)	     ((uint8_t)(v))
#define KATAPULT_CONNECT_FIXED_LEN   12 /* protocol, app start, block size (after the echo) */
#define KATAPULT_CONNECT_STRINGS_MAX (KATAPULT_MAX_PAYLOAD - KATAPULT_ECHO_LEN - 12) /* 104 */

/* katapult.md §2.7, §5: RAM flag value that keeps the device in Katapult after a reset. */
#define KATAPULT_FLAG_REQUEST_BOOTLOADER 0x5984e3fa6ca1589bull

/*
 * One decoded frame. payload points into the buffer the frame was decoded from (for the parser:
 * its own buffer, valid until the next katapult_parser_feed() or _init() on that parser).
 */
struct katapult_frame {
	uint8_t cmd;   /* command or response code */
	uint8_t words; /* N, payload length in 32-bit words */
	const uint8_t *payload;
	size_t payload_len; /* 4 * words */
	const uint8_t *raw; /* whole frame, 01 88 ... 99 03, for trace output */
	size_t raw_len;	    /* 4 * words + 8 */
};

/*
 * Host-side streaming parser. The caller embeds it; it allocates nothing. Unlike the firmware
 * (katapult.md §1.7) it never wedges: after any error it drops one byte and rescans its buffer
 * for the next 01 88. Counters only count up.
 */
struct katapult_parser {
	uint8_t buf[KATAPULT_MAX_FRAME];
	size_t fill;		    /* bytes held in buf */
	bool resyncing;		    /* an error happened; the next sync found counts as a resync */
	bool returned;		    /* buf holds a frame returned by the last feed: drop it first */
	unsigned long frames;	    /* good frames returned */
	unsigned long crc_errors;   /* CF_ERR_CRC returned */
	unsigned long frame_errors; /* CF_ERR_FRAME returned (trailer, oversize length) */
	unsigned long resyncs;	    /* times a new 01 88 was found after an error */
	unsigned long bytes_discarded; /* bytes dropped while hunting for 01 88 */
};

/* katapult.md §1.4: the CONNECT reply, either layout. Strings are NUL-terminated. */
struct katapult_connect_info {
	uint32_t proto_version; /* KATAPULT_PROTO_1_0_0, KATAPULT_PROTO_1_1_0, ... */
	uint32_t app_start;	/* 0x08002000 on Cartographer */
	uint32_t block_size;	/* bytes, 64 in practice */
	char mcu[KATAPULT_CONNECT_STRINGS_MAX + 1];	/* "stm32f042x6" */
	char version[KATAPULT_CONNECT_STRINGS_MAX + 1]; /* "" for 1.0.0 or a 1.1.0 build without */
};

/* How a reply relates to the command it answers (katapult.md §1.8 validation order). */
enum katapult_reply_kind {
	KATAPULT_REPLY_ACK,	  /* ACK echoing the sent command */
	KATAPULT_REPLY_ACK_OTHER, /* ACK for another command: stale (e.g. after a prime) */
	KATAPULT_REPLY_NACK,	  /* 0xf1: the device saw a broken frame */
	KATAPULT_REPLY_CMD_ERROR, /* 0xf2: the device refused the command */
	KATAPULT_REPLY_BUSY,	  /* 0xf3 */
	KATAPULT_REPLY_UNKNOWN,	  /* any other code, or an ACK too short to carry the echo */
};

struct katapult_reply {
	enum katapult_reply_kind kind;
	uint32_t echoed;	/* acknowledged command word (ACK kinds only) */
	const uint8_t *payload; /* ACK payload after the echo; borrowed from the frame */
	size_t payload_len;
};

/* ---- encoding ---------------------------------------------------------------------------- */

/*
 * Encode one frame into out: header, cmd, N = payload_len / 4, payload, CRC little-endian,
 * trailer. payload may be NULL when payload_len is 0. Returns 0 and *out_len = payload_len + 8;
 * CF_ERR_USAGE if payload_len is not a multiple of 4 or exceeds KATAPULT_MAX_PAYLOAD;
 * CF_ERR_NOSPACE if cap is too small (out untouched).
 */
int katapult_encode(uint8_t cmd, const uint8_t *payload, size_t payload_len, uint8_t *out,
		    size_t cap, size_t *out_len);

/*
 * Host command builders (katapult.md §1.2, §1.3). Each writes one whole frame into out and
 * returns 0 with *out_len set, or CF_ERR_NOSPACE. Never partial.
 */
int katapult_build_connect(uint8_t *out, size_t cap, size_t *out_len);
/* data: exactly KATAPULT_BLOCK_SIZE bytes (the caller pads the last block with 0xFF, §1.8). */
int katapult_build_send_block(uint32_t addr, const uint8_t *data, uint8_t *out, size_t cap,
			      size_t *out_len);
int katapult_build_send_eof(uint8_t *out, size_t cap, size_t *out_len);
int katapult_build_request_block(uint32_t addr, uint8_t *out, size_t cap, size_t *out_len);
int katapult_build_complete(uint8_t *out, size_t cap, size_t *out_len);
int katapult_build_get_canbus_id(uint8_t *out, size_t cap, size_t *out_len);
int katapult_build_prime(uint8_t *out, size_t cap, size_t *out_len);

/*
 * Device reply builders, for the probe twin. katapult_build_ack() writes an ACK whose payload
 * is the u32 cmd followed by extra (extra_len a multiple of 4, extra NULL when 0): 0,
 * CF_ERR_USAGE (extra_len) or CF_ERR_NOSPACE.
 */
int katapult_build_ack(uint8_t cmd, const uint8_t *extra, size_t extra_len, uint8_t *out,
		       size_t cap, size_t *out_len);
int katapult_build_nack(uint8_t *out, size_t cap, size_t *out_len);
int katapult_build_cmd_error(uint8_t *out, size_t cap, size_t *out_len);
int katapult_build_busy(uint8_t *out, size_t cap, size_t *out_len);
/* ACK SEND_BLOCK: echoes the block address. */
int katapult_build_block_ack(uint32_t addr, uint8_t *out, size_t cap, size_t *out_len);
/* ACK REQUEST_BLOCK: address + KATAPULT_BLOCK_SIZE bytes of flash at data. */
int katapult_build_read_ack(uint32_t addr, const uint8_t *data, uint8_t *out, size_t cap,
			    size_t *out_len);
/* ACK SEND_EOF: the page count (katapult.md §1.6). */
int katapult_build_eof_ack(uint32_t page_count, uint8_t *out, size_t cap, size_t *out_len);
/* ACK GET_CANBUS_ID: 6 UUID bytes in wire order, then 00 00. */
int katapult_build_canbus_id_ack(const uint8_t uuid[KATAPULT_CANBUS_UUID_LEN], uint8_t *out,
				 size_t cap, size_t *out_len);
/*
 * ACK CONNECT (katapult.md §1.4). proto_version < KATAPULT_PROTO_1_1_0 gives the 1.0.0 layout
 * (no version field, info->version ignored); otherwise the 1.1.0 layout with a zero separator
 * word and the version string (which may be empty). Each string is padded with NULs to
 * ceil(strlen / 4) words, as the firmware does. CF_ERR_USAGE when the strings do not fit in
 * one frame, else 0 or CF_ERR_NOSPACE.
 */
int katapult_build_connect_ack(const struct katapult_connect_info *info, uint8_t *out, size_t cap,
			       size_t *out_len);

/* ---- decoding ---------------------------------------------------------------------------- */

/*
 * Check one frame that starts exactly at buf[0], as the firmware scanner does (no resync, no
 * state): the twin uses it to model the device parser. Returns 1 with *frame_len and *out
 * set (payload points into buf); 0 if buf holds a valid prefix and more bytes are needed;
 * CF_ERR_FRAME for no 01 88 at buf[0], a length over KATAPULT_MAX_FRAME or a bad trailer;
 * CF_ERR_CRC for a checksum mismatch. *frame_len is set to the declared frame length when known.
 */
int katapult_decode(const uint8_t *buf, size_t len, size_t *frame_len, struct katapult_frame *out);

/* Reset the parser: empty buffer, counters zero. Never fails. */
void katapult_parser_init(struct katapult_parser *p);

/*
 * Feed received bytes. Sets *consumed to the bytes of data taken and returns:
 *   1  a frame is complete in *out (payload in the parser's buffer, valid until the next feed);
 *   0  every byte was taken and no frame is complete yet;
 *   CF_ERR_CRC    a complete frame had a bad CRC;
 *   CF_ERR_FRAME  a bad trailer, or a length byte above KATAPULT_MAX_WORDS.
 * After a frame or an error, call again with data + *consumed, even when nothing remains: bytes
 * already buffered behind a broken frame may hold the next frame. Bytes before 01 88 are dropped
 * and counted. Never blocks; data may be NULL when len is 0.
 */
int katapult_parser_feed(struct katapult_parser *p, const uint8_t *data, size_t len,
			 size_t *consumed, struct katapult_frame *out);

/*
 * Classify a device frame as the reply to sent_cmd (katapult.md §1.8). Fills *r in every case
 * and returns 0 for an ACK echoing sent_cmd; CF_ERR_PROTOCOL for an ACK of another command
 * (stale) or an unknown code; CF_ERR_NACK for NACK and command error; CF_ERR_BUSY for busy.
 * r->payload borrows from f.
 */
int katapult_parse_reply(const struct katapult_frame *f, uint8_t sent_cmd,
			 struct katapult_reply *r);

/*
 * Parse the CONNECT ACK payload after the echo (r->payload) in the 1.0.0 or 1.1.0 layout:
 * MCU = bytes up to the first NUL, version = the rest after skipping all NULs, trailing NULs
 * stripped (katapult.md §1.4). Returns 0, or CF_ERR_PROTOCOL when shorter than 12 bytes or the
 * block size is not 64, 128, 256 or 512 (info is filled as far as parsed).
 */
int katapult_parse_connect(const uint8_t *payload, size_t len, struct katapult_connect_info *info);

/* SEND_BLOCK ACK payload (after the echo): exactly the u32 address. 0 or CF_ERR_PROTOCOL. */
int katapult_parse_block_ack(const uint8_t *payload, size_t len, uint32_t *addr);
/* REQUEST_BLOCK ACK: u32 address + KATAPULT_BLOCK_SIZE bytes copied into data. 0/PROTOCOL. */
int katapult_parse_read_ack(const uint8_t *payload, size_t len, uint32_t *addr, uint8_t *data);
/* SEND_EOF ACK: u32 page count. 0 or CF_ERR_PROTOCOL. */
int katapult_parse_eof_ack(const uint8_t *payload, size_t len, uint32_t *page_count);
/* GET_CANBUS_ID ACK: 6 UUID bytes (then 00 00). 0 or CF_ERR_PROTOCOL. */
int katapult_parse_canbus_id(const uint8_t *payload, size_t len,
			     uint8_t uuid[KATAPULT_CANBUS_UUID_LEN]);

/*
 * Device side, for the twin: the host SEND_BLOCK frame's address and data (points into the frame;
 * KATAPULT_BLOCK_SIZE bytes). CF_ERR_PROTOCOL unless the command is SEND_BLOCK with N == 17,
 * the firmware's own rule (katapult.md §1.3).
 */
int katapult_parse_send_block(const struct katapult_frame *f, uint32_t *addr, const uint8_t **data);
/* Device side: the REQUEST_BLOCK address. CF_ERR_PROTOCOL unless REQUEST_BLOCK with N >= 1. */
int katapult_parse_request_block(const struct katapult_frame *f, uint32_t *addr);

/* Stable upper-case name of a command or response code for logs ("SEND_BLOCK"); "UNKNOWN". */
const char *katapult_cmd_name(uint8_t code);

#endif
