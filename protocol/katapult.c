/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Katapult command frames: encoder, builders, streaming parser with resync, reply parsers. */
#include "protocol/katapult.h"

#include <assert.h>
#include <string.h>

#include "protocol/bytes.h"
#include "protocol/canbus.h"
#include "protocol/crc16.h"
#include "protocol/err.h"

static_assert(KATAPULT_SEND_BLOCK_FRAME_LEN == 76, "katapult.md §1.2: SEND_BLOCK is 76 bytes");
static_assert(KATAPULT_READ_ACK_FRAME_LEN == 80, "katapult.md §1.5: largest reply is 80 bytes");
static_assert(KATAPULT_MAX_WORDS == 30, "katapult.md §1.1: N <= 30");
static_assert(KATAPULT_READ_ACK_FRAME_LEN <= KATAPULT_MAX_FRAME, "a block must fit one frame");
static_assert(KATAPULT_CANBUS_UUID_LEN == CANBUS_UUID_LEN, "GET_CANBUS_ID carries the CAN UUID");

/* ---- encoding ---------------------------------------------------------------------------- */

int katapult_encode(uint8_t cmd, const uint8_t *payload, size_t payload_len, uint8_t *out,
		    size_t cap, size_t *out_len)
{
	if (payload_len % 4 || payload_len > KATAPULT_MAX_PAYLOAD)
		return CF_ERR_USAGE;
	const size_t total = payload_len + KATAPULT_FRAME_OVERHEAD;
	if (cap < total)
		return CF_ERR_NOSPACE;

	out[0] = KATAPULT_STX1;
	out[1] = KATAPULT_STX2;
	out[2] = cmd;
	out[3] = (uint8_t)(payload_len / 4);
	if (payload_len)
		memmove(out + 4, payload, payload_len);
	/* katapult.md §1.1: the CRC covers cmd, length and payload, and goes out low byte first */
	cf_put_le16(out + 4 + payload_len, crc16_mcrf4xx(out + 2, payload_len + 2));
	out[6 + payload_len] = KATAPULT_ETX1;
	out[7 + payload_len] = KATAPULT_ETX2;
	*out_len = total;
	return CF_OK;
}

int katapult_build_connect(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_CMD_CONNECT, NULL, 0, out, cap, out_len);
}

int katapult_build_send_block(uint32_t addr, const uint8_t *data, uint8_t *out, size_t cap,
			      size_t *out_len)
{
	uint8_t payload[4 + KATAPULT_BLOCK_SIZE];

	cf_put_le32(payload, addr);
	memcpy(payload + 4, data, KATAPULT_BLOCK_SIZE);
	return katapult_encode(KATAPULT_CMD_SEND_BLOCK, payload, sizeof(payload), out, cap,
			       out_len);
}

int katapult_build_send_eof(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_CMD_SEND_EOF, NULL, 0, out, cap, out_len);
}

int katapult_build_request_block(uint32_t addr, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t payload[4];

	cf_put_le32(payload, addr);
	return katapult_encode(KATAPULT_CMD_REQUEST_BLOCK, payload, sizeof(payload), out, cap,
			       out_len);
}

int katapult_build_complete(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_CMD_COMPLETE, NULL, 0, out, cap, out_len);
}

int katapult_build_get_canbus_id(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_CMD_GET_CANBUS_ID, NULL, 0, out, cap, out_len);
}

int katapult_build_prime(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_CMD_PRIME, NULL, 0, out, cap, out_len);
}

int katapult_build_ack(uint8_t cmd, const uint8_t *extra, size_t extra_len, uint8_t *out,
		       size_t cap, size_t *out_len)
{
	uint8_t payload[KATAPULT_MAX_PAYLOAD];

	if (extra_len % 4 || extra_len > KATAPULT_MAX_PAYLOAD - KATAPULT_ECHO_LEN)
		return CF_ERR_USAGE;
	/* katapult.md §1.3: every ACK payload starts with the 32-bit acknowledged command */
	cf_put_le32(payload, cmd);
	if (extra_len)
		memcpy(payload + KATAPULT_ECHO_LEN, extra, extra_len);
	return katapult_encode(KATAPULT_RESP_ACK, payload, KATAPULT_ECHO_LEN + extra_len, out, cap,
			       out_len);
}

int katapult_build_nack(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_RESP_NACK, NULL, 0, out, cap, out_len);
}

int katapult_build_cmd_error(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_RESP_CMD_ERROR, NULL, 0, out, cap, out_len);
}

int katapult_build_busy(uint8_t *out, size_t cap, size_t *out_len)
{
	return katapult_encode(KATAPULT_RESP_BUSY, NULL, 0, out, cap, out_len);
}

int katapult_build_block_ack(uint32_t addr, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t extra[4];

	cf_put_le32(extra, addr);
	return katapult_build_ack(KATAPULT_CMD_SEND_BLOCK, extra, sizeof(extra), out, cap, out_len);
}

int katapult_build_read_ack(uint32_t addr, const uint8_t *data, uint8_t *out, size_t cap,
			    size_t *out_len)
{
	uint8_t extra[4 + KATAPULT_BLOCK_SIZE];

	cf_put_le32(extra, addr);
	memcpy(extra + 4, data, KATAPULT_BLOCK_SIZE);
	return katapult_build_ack(KATAPULT_CMD_REQUEST_BLOCK, extra, sizeof(extra), out, cap,
				  out_len);
}

int katapult_build_eof_ack(uint32_t page_count, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t extra[4];

	cf_put_le32(extra, page_count);
	return katapult_build_ack(KATAPULT_CMD_SEND_EOF, extra, sizeof(extra), out, cap, out_len);
}

int katapult_build_canbus_id_ack(const uint8_t uuid[KATAPULT_CANBUS_UUID_LEN], uint8_t *out,
				 size_t cap, size_t *out_len)
{
	uint8_t extra[8] = {0};

	memcpy(extra, uuid, KATAPULT_CANBUS_UUID_LEN);
	return katapult_build_ack(KATAPULT_CMD_GET_CANBUS_ID, extra, sizeof(extra), out, cap,
				  out_len);
}

/* Append s NUL-padded to ceil(strlen / 4) words, as the firmware's word array holds it. */
static size_t put_padded(uint8_t *dst, const char *s)
{
	const size_t n = strlen(s);
	const size_t padded = (n + 3) / 4 * 4;

	memcpy(dst, s, n);
	memset(dst + n, 0, padded - n);
	return padded;
}

int katapult_build_connect_ack(const struct katapult_connect_info *info, uint8_t *out, size_t cap,
			       size_t *out_len)
{
	uint8_t extra[KATAPULT_MAX_PAYLOAD];
	const bool v110 = info->proto_version >= KATAPULT_PROTO_1_1_0;
	const size_t mcu_len = strnlen(info->mcu, sizeof(info->mcu));
	const size_t ver_len = v110 ? strnlen(info->version, sizeof(info->version)) : 0;
	/* katapult.md §1.4: 3 fixed words, the MCU, and for 1.1.0 a zero word and the version */
	const size_t need = KATAPULT_CONNECT_FIXED_LEN + (mcu_len + 3) / 4 * 4 +
			    (v110 ? 4 + (ver_len + 3) / 4 * 4 : 0);
	size_t pos = KATAPULT_CONNECT_FIXED_LEN;

	if (mcu_len == sizeof(info->mcu) || ver_len == sizeof(info->version) ||
	    need > sizeof(extra) - KATAPULT_ECHO_LEN)
		return CF_ERR_USAGE;
	cf_put_le32(extra, info->proto_version);
	cf_put_le32(extra + 4, info->app_start);
	cf_put_le32(extra + 8, info->block_size);
	pos += put_padded(extra + pos, info->mcu);
	if (v110) {
		memset(extra + pos, 0, 4);
		pos += 4;
		pos += put_padded(extra + pos, info->version);
	}
	return katapult_build_ack(KATAPULT_CMD_CONNECT, extra, pos, out, cap, out_len);
}

/* ---- decoding ---------------------------------------------------------------------------- */

int katapult_decode(const uint8_t *buf, size_t len, size_t *frame_len, struct katapult_frame *out)
{
	if ((len >= 1 && buf[0] != KATAPULT_STX1) || (len >= 2 && buf[1] != KATAPULT_STX2))
		return CF_ERR_FRAME;
	if (len < 4)
		return 0;
	const size_t payload_len = (size_t)buf[3] * 4;
	const size_t total = payload_len + KATAPULT_FRAME_OVERHEAD;
	*frame_len = total;
	/* katapult.md §1.1: the firmware refuses frames over MESSAGE_MAX */
	if (total > KATAPULT_MAX_FRAME)
		return CF_ERR_FRAME;
	if (len < total)
		return 0;
	/* katapult.md §1.8: trailer first, then CRC, as flashtool validates */
	if (buf[total - 2] != KATAPULT_ETX1 || buf[total - 1] != KATAPULT_ETX2)
		return CF_ERR_FRAME;
	if (cf_get_le16(buf + 4 + payload_len) != crc16_mcrf4xx(buf + 2, payload_len + 2))
		return CF_ERR_CRC;
	out->cmd = buf[2];
	out->words = buf[3];
	out->payload = buf + 4;
	out->payload_len = payload_len;
	out->raw = buf;
	out->raw_len = total;
	return 1;
}

void katapult_parser_init(struct katapult_parser *p)
{
	memset(p, 0, sizeof(*p));
}

static void drop_front(struct katapult_parser *p, size_t n)
{
	memmove(p->buf, p->buf + n, p->fill - n);
	p->fill -= n;
}

/* Drop bytes until buf starts with a possible 01 88; count them as discarded. */
static void hunt_sync(struct katapult_parser *p)
{
	size_t skip = 0;

	while (skip < p->fill) {
		if (p->buf[skip] == KATAPULT_STX1 &&
		    (skip + 1 == p->fill || p->buf[skip + 1] == KATAPULT_STX2))
			break;
		skip++;
	}
	if (skip) {
		p->bytes_discarded += skip;
		drop_front(p, skip);
	}
	if (p->resyncing && p->fill >= 2) {
		p->resyncing = false;
		p->resyncs++;
	}
}

/* Try the buffer: 1 frame, 0 need more, <0 error (one byte dropped so the next scan moves on). */
static int parse_buffer(struct katapult_parser *p, struct katapult_frame *out)
{
	size_t frame_len = 0;

	hunt_sync(p);
	const int r = katapult_decode(p->buf, p->fill, &frame_len, out);
	if (r == 1) {
		p->frames++;
		p->returned = true;
		return 1;
	}
	if (r == 0)
		return 0;
	if (r == CF_ERR_CRC)
		p->crc_errors++;
	else
		p->frame_errors++;
	/* katapult.md §1.7: the firmware rescans from the same 0x01 and wedges; the host must not
	 */
	p->bytes_discarded++;
	drop_front(p, 1);
	p->resyncing = true;
	return r;
}

int katapult_parser_feed(struct katapult_parser *p, const uint8_t *data, size_t len,
			 size_t *consumed, struct katapult_frame *out)
{
	size_t used = 0;

	if (p->returned) {
		/* the frame handed out last time is still at the front of buf */
		drop_front(p, (size_t)p->buf[3] * 4 + KATAPULT_FRAME_OVERHEAD);
		p->returned = false;
	}
	for (;;) {
		const int r = parse_buffer(p, out);
		if (r != 0) {
			*consumed = used;
			return r;
		}
		if (used == len)
			break;
		/* parse_buffer() left fill < frame length <= KATAPULT_MAX_FRAME: room for one byte
		 */
		p->buf[p->fill++] = data[used++];
	}
	*consumed = used;
	return 0;
}

int katapult_parse_reply(const struct katapult_frame *f, uint8_t sent_cmd, struct katapult_reply *r)
{
	memset(r, 0, sizeof(*r));
	switch (f->cmd) {
	case KATAPULT_RESP_NACK:
		r->kind = KATAPULT_REPLY_NACK;
		return CF_ERR_NACK;
	case KATAPULT_RESP_CMD_ERROR:
		r->kind = KATAPULT_REPLY_CMD_ERROR;
		return CF_ERR_NACK;
	case KATAPULT_RESP_BUSY:
		r->kind = KATAPULT_REPLY_BUSY;
		return CF_ERR_BUSY;
	case KATAPULT_RESP_ACK:
		break;
	default:
		r->kind = KATAPULT_REPLY_UNKNOWN;
		return CF_ERR_PROTOCOL;
	}
	if (f->payload_len < KATAPULT_ECHO_LEN) {
		r->kind = KATAPULT_REPLY_UNKNOWN;
		return CF_ERR_PROTOCOL;
	}
	r->echoed = cf_get_le32(f->payload);
	r->payload = f->payload + KATAPULT_ECHO_LEN;
	r->payload_len = f->payload_len - KATAPULT_ECHO_LEN;
	/* katapult.md §1.3: no sequence number; the echoed command is the only match */
	if (r->echoed != sent_cmd) {
		r->kind = KATAPULT_REPLY_ACK_OTHER;
		return CF_ERR_PROTOCOL;
	}
	r->kind = KATAPULT_REPLY_ACK;
	return CF_OK;
}

/* Copy at most n bytes of src up to its first NUL into a NUL-terminated dst. */
static void copy_string(char *dst, const uint8_t *src, size_t n)
{
	const uint8_t *nul = memchr(src, 0, n);
	const size_t len = nul ? (size_t)(nul - src) : n;

	memcpy(dst, src, len);
	dst[len] = '\0';
}

int katapult_parse_connect(const uint8_t *payload, size_t len, struct katapult_connect_info *info)
{
	memset(info, 0, sizeof(*info));
	if (len < KATAPULT_CONNECT_FIXED_LEN)
		return CF_ERR_PROTOCOL;
	info->proto_version = cf_get_le32(payload);
	info->app_start = cf_get_le32(payload + 4);
	info->block_size = cf_get_le32(payload + 8);

	const uint8_t *s = payload + KATAPULT_CONNECT_FIXED_LEN;
	size_t n = len - KATAPULT_CONNECT_FIXED_LEN;
	if (n > KATAPULT_CONNECT_STRINGS_MAX)
		n = KATAPULT_CONNECT_STRINGS_MAX;
	/* katapult.md §1.4: strip trailing NULs; MCU to the first NUL; version after all NULs */
	while (n && s[n - 1] == 0)
		n--;
	copy_string(info->mcu, s, n);
	size_t pos = strlen(info->mcu);
	while (pos < n && s[pos] == 0)
		pos++;
	copy_string(info->version, s + pos, n - pos);

	switch (info->block_size) {
	case 64:
	case 128:
	case 256:
	case 512:
		return CF_OK;
	}
	return CF_ERR_PROTOCOL;
}

int katapult_parse_block_ack(const uint8_t *payload, size_t len, uint32_t *addr)
{
	if (len != 4)
		return CF_ERR_PROTOCOL;
	*addr = cf_get_le32(payload);
	return CF_OK;
}

int katapult_parse_read_ack(const uint8_t *payload, size_t len, uint32_t *addr, uint8_t *data)
{
	if (len != 4 + KATAPULT_BLOCK_SIZE)
		return CF_ERR_PROTOCOL;
	*addr = cf_get_le32(payload);
	memcpy(data, payload + 4, KATAPULT_BLOCK_SIZE);
	return CF_OK;
}

int katapult_parse_eof_ack(const uint8_t *payload, size_t len, uint32_t *page_count)
{
	if (len != 4)
		return CF_ERR_PROTOCOL;
	*page_count = cf_get_le32(payload);
	return CF_OK;
}

int katapult_parse_canbus_id(const uint8_t *payload, size_t len,
			     uint8_t uuid[KATAPULT_CANBUS_UUID_LEN])
{
	/* katapult.md §1.3: N = 3 -> 4 echo + 6 uuid + 2 pad; accept a missing pad */
	if (len < KATAPULT_CANBUS_UUID_LEN || len > 8)
		return CF_ERR_PROTOCOL;
	memcpy(uuid, payload, KATAPULT_CANBUS_UUID_LEN);
	return CF_OK;
}

int katapult_parse_send_block(const struct katapult_frame *f, uint32_t *addr, const uint8_t **data)
{
	/* katapult.md §1.3: word count must be block_size / 4 + 1, so the last block is padded */
	if (f->cmd != KATAPULT_CMD_SEND_BLOCK || f->payload_len != 4 + KATAPULT_BLOCK_SIZE)
		return CF_ERR_PROTOCOL;
	*addr = cf_get_le32(f->payload);
	*data = f->payload + 4;
	return CF_OK;
}

int katapult_parse_request_block(const struct katapult_frame *f, uint32_t *addr)
{
	if (f->cmd != KATAPULT_CMD_REQUEST_BLOCK || f->payload_len < 4)
		return CF_ERR_PROTOCOL;
	*addr = cf_get_le32(f->payload);
	return CF_OK;
}

const char *katapult_cmd_name(uint8_t code)
{
	switch (code) {
	case KATAPULT_CMD_CONNECT:
		return "CONNECT";
	case KATAPULT_CMD_SEND_BLOCK:
		return "SEND_BLOCK";
	case KATAPULT_CMD_SEND_EOF:
		return "SEND_EOF";
	case KATAPULT_CMD_REQUEST_BLOCK:
		return "REQUEST_BLOCK";
	case KATAPULT_CMD_COMPLETE:
		return "COMPLETE";
	case KATAPULT_CMD_GET_CANBUS_ID:
		return "GET_CANBUS_ID";
	case KATAPULT_CMD_PRIME:
		return "PRIME";
	case KATAPULT_RESP_ACK:
		return "ACK";
	case KATAPULT_RESP_NACK:
		return "NACK";
	case KATAPULT_RESP_CMD_ERROR:
		return "CMD_ERROR";
	case KATAPULT_RESP_BUSY:
		return "BUSY";
	}
	return "UNKNOWN";
}
