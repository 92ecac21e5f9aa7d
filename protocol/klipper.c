/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Klipper message blocks, VLQ integers, identify messages and dictionary reassembly. */
#include "protocol/klipper.h"

#include <assert.h>
#include <string.h>

#include "protocol/bytes.h"
#include "protocol/crc16.h"
#include "protocol/err.h"

/* katapult.md §3.6: a block with len 0x20, seq 0x1c and a deliberately wrong CRC */
const uint8_t klipper_serial_bootloader_request[KLIPPER_SERIAL_BOOTLOADER_REQUEST_LEN] = {
    0x7e, 0x20, 0x1c, 0x20, 'R', 'e', 'q', 'u', 'e', 's', 't', ' ', 'S', 'e', 'r', 'i',	 'a',
    'l',  ' ',	'B',  'o',  'o', 't', 'l', 'o', 'a', 'd', 'e', 'r', '!', '!', ' ', 0x7e,
};

static_assert(KLIPPER_IDENTIFY_DATA_MAX == 52, "katapult.md §8.3: ~52 data bytes per block");

/* ---- blocks (katapult.md §8.1) ----------------------------------------------------------- */

int klipper_block_encode(uint8_t seq, const uint8_t *content, size_t len, uint8_t *out, size_t cap,
			 size_t *out_len)
{
	if (len > KLIPPER_CONTENT_MAX)
		return CF_ERR_USAGE;
	const size_t total = len + KLIPPER_BLOCK_MIN;
	if (cap < total)
		return CF_ERR_NOSPACE;

	out[0] = (uint8_t)total;
	out[1] = KLIPPER_SEQ_DEST | (seq & KLIPPER_SEQ_MASK);
	if (len)
		memmove(out + KLIPPER_BLOCK_HEADER, content, len);
	/* katapult.md §8.1: same CRC as Katapult, over len, seq and content, but big-endian */
	cf_put_be16(out + total - 3, crc16_mcrf4xx(out, total - 3));
	out[total - 1] = KLIPPER_SYNC;
	*out_len = total;
	return CF_OK;
}

/* The MCU's discard after a framing error: up to and including the next sync byte. */
static int discard_to_sync(const uint8_t *b, size_t n, size_t skip, size_t *consumed, int err)
{
	const uint8_t *sync = memchr(b, KLIPPER_SYNC, n);

	*consumed = skip + (sync ? (size_t)(sync - b) + 1 : n);
	return err;
}

int klipper_block_find(const uint8_t *buf, size_t len, size_t *consumed, struct klipper_block *out)
{
	size_t skip = 0;

	/* katapult.md §8.1: a leading 0x7e before a block is allowed and skipped */
	while (skip < len && buf[skip] == KLIPPER_SYNC)
		skip++;
	*consumed = skip;
	const uint8_t *b = buf + skip;
	const size_t n = len - skip;
	if (n == 0)
		return 0;
	const size_t block_len = b[0];
	if (block_len < KLIPPER_BLOCK_MIN || block_len > KLIPPER_BLOCK_MAX)
		return discard_to_sync(b, n, skip, consumed, CF_ERR_FRAME);
	if (n < 2)
		return 0;
	if ((b[1] & ~KLIPPER_SEQ_MASK) != KLIPPER_SEQ_DEST)
		return discard_to_sync(b, n, skip, consumed, CF_ERR_FRAME);
	if (n < block_len)
		return 0;
	if (b[block_len - 1] != KLIPPER_SYNC)
		return discard_to_sync(b, n, skip, consumed, CF_ERR_FRAME);
	if (cf_get_be16(b + block_len - 3) != crc16_mcrf4xx(b, block_len - 3))
		return discard_to_sync(b, n, skip, consumed, CF_ERR_CRC);

	out->seq = b[1] & KLIPPER_SEQ_MASK;
	out->content = b + KLIPPER_BLOCK_HEADER;
	out->content_len = block_len - KLIPPER_BLOCK_MIN;
	out->block_len = block_len;
	*consumed = skip + block_len;
	return 1;
}

/* ---- integers (katapult.md §8.2) --------------------------------------------------------- */

int klipper_vlq_encode(int32_t v, uint8_t *out)
{
	const uint32_t u = (uint32_t)v;
	int n;

	/* Klipper's encode_int(): the shortest form whose first byte sign-extends correctly */
	if (v >= -(1 << 5) && v < (3 << 5))
		n = 1;
	else if (v >= -(1 << 12) && v < (3 << 12))
		n = 2;
	else if (v >= -(1 << 19) && v < (3 << 19))
		n = 3;
	else if (v >= -(1 << 26) && v < (3 << 26))
		n = 4;
	else
		n = 5;
	for (int i = 0; i < n; i++) {
		const int shift = 7 * (n - 1 - i);
		const uint8_t group = (uint8_t)((u >> shift) & 0x7f);

		out[i] = i == n - 1 ? group : (uint8_t)(group | 0x80);
	}
	return n;
}

int klipper_vlq_decode(const uint8_t *p, size_t len, int32_t *v, size_t *used)
{
	if (len == 0)
		return CF_ERR_FRAME;
	uint8_t c = p[0];
	uint32_t u = c & 0x7f;
	size_t i = 1;

	/* Klipper's parse_int(): 0x60 set in the first byte means negative, so sign-extend */
	if ((c & 0x60) == 0x60)
		u |= (uint32_t)-0x20;
	while (c & 0x80) {
		if (i == len || i == KLIPPER_VLQ_MAX)
			return CF_ERR_FRAME;
		c = p[i++];
		u = u << 7 | (c & 0x7f);
	}
	*v = (int32_t)u;
	*used = i;
	return CF_OK;
}

int klipper_msgid_encode(uint16_t id, uint8_t *out)
{
	if (id < 0x80) {
		out[0] = (uint8_t)id;
		return 1;
	}
	out[0] = (uint8_t)(0x80 | ((id >> 7) & 0x7f));
	out[1] = id & 0x7f;
	return 2;
}

int klipper_msgid_decode(const uint8_t *p, size_t len, uint16_t *id, size_t *used)
{
	if (len == 0)
		return CF_ERR_FRAME;
	if (!(p[0] & 0x80)) {
		*id = p[0];
		*used = 1;
		return CF_OK;
	}
	if (len < 2)
		return CF_ERR_FRAME;
	*id = (uint16_t)((p[0] & 0x7f) << 7 | (p[1] & 0x7f));
	*used = 2;
	return CF_OK;
}

/* ---- identify (katapult.md §8.3) --------------------------------------------------------- */

int klipper_build_identify(uint8_t seq, uint32_t offset, uint8_t count, uint8_t *out, size_t cap,
			   size_t *out_len)
{
	uint8_t content[1 + 2 * KLIPPER_VLQ_MAX];
	size_t n = 0;

	n += (size_t)klipper_msgid_encode(KLIPPER_MSGID_IDENTIFY, content);
	n += (size_t)klipper_vlq_encode((int32_t)offset, content + n);
	n += (size_t)klipper_vlq_encode(count, content + n);
	return klipper_block_encode(seq, content, n, out, cap, out_len);
}

/* Read the message id and check it; the rest of the content follows at *pos. */
static int expect_msgid(const uint8_t *content, size_t len, uint16_t want, size_t *pos)
{
	uint16_t id;
	const int err = klipper_msgid_decode(content, len, &id, pos);

	if (err)
		return err;
	return id == want ? CF_OK : CF_ERR_PROTOCOL;
}

int klipper_parse_identify(const uint8_t *content, size_t len, uint32_t *offset, uint8_t *count,
			   size_t *used)
{
	size_t pos, n;
	int32_t v;
	int err = expect_msgid(content, len, KLIPPER_MSGID_IDENTIFY, &pos);

	if (err)
		return err;
	err = klipper_vlq_decode(content + pos, len - pos, &v, &n);
	if (err)
		return err;
	*offset = (uint32_t)v;
	pos += n;
	err = klipper_vlq_decode(content + pos, len - pos, &v, &n);
	if (err)
		return err;
	/* %c: Klipper truncates the VLQ to its low byte */
	*count = (uint8_t)v;
	*used = pos + n;
	return CF_OK;
}

int klipper_build_identify_response(uint8_t seq, uint32_t offset, const uint8_t *data, size_t n,
				    uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t content[KLIPPER_CONTENT_MAX];
	size_t pos = 0;

	if (n > KLIPPER_IDENTIFY_DATA_MAX)
		return CF_ERR_USAGE;
	pos += (size_t)klipper_msgid_encode(KLIPPER_MSGID_IDENTIFY_RESPONSE, content);
	pos += (size_t)klipper_vlq_encode((int32_t)offset, content + pos);
	content[pos++] = (uint8_t)n;
	if (n)
		memcpy(content + pos, data, n);
	return klipper_block_encode(seq, content, pos + n, out, cap, out_len);
}

int klipper_parse_identify_response(const uint8_t *content, size_t len,
				    struct klipper_identify_response *r)
{
	size_t pos, n;
	int32_t v;
	int err = expect_msgid(content, len, KLIPPER_MSGID_IDENTIFY_RESPONSE, &pos);

	memset(r, 0, sizeof(*r));
	if (err)
		return err;
	err = klipper_vlq_decode(content + pos, len - pos, &v, &n);
	if (err)
		return err;
	pos += n;
	/* katapult.md §8.2: a buffer is one length byte, then raw bytes */
	if (pos == len || content[pos] > len - pos - 1)
		return CF_ERR_FRAME;
	r->offset = (uint32_t)v;
	r->data_len = content[pos];
	r->data = content + pos + 1;
	r->used = pos + 1 + r->data_len;
	return CF_OK;
}

int klipper_build_command(uint8_t seq, uint16_t msgid, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t content[2];
	const int n = klipper_msgid_encode(msgid, content);

	return klipper_block_encode(seq, content, (size_t)n, out, cap, out_len);
}

int klipper_parse_canbus_id(const uint8_t *content, size_t len, uint16_t msgid, uint8_t uuid[6],
			    uint8_t *node)
{
	size_t pos, n;
	int32_t v;
	int err = expect_msgid(content, len, msgid, &pos);

	if (err)
		return err;
	if (pos == len || content[pos] > len - pos - 1)
		return CF_ERR_FRAME;
	if (content[pos] != 6)
		return CF_ERR_PROTOCOL;
	memcpy(uuid, content + pos + 1, 6);
	pos += 7;
	err = klipper_vlq_decode(content + pos, len - pos, &v, &n);
	if (err)
		return err;
	*node = (uint8_t)v;
	return CF_OK;
}

/* ---- dictionary ------------------------------------------------------------------------- */

void klipper_dict_init(struct klipper_dict_reader *r, uint8_t *buf, size_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->len = 0;
	r->complete = false;
}

int klipper_dict_add(struct klipper_dict_reader *r, uint32_t offset, const uint8_t *data, size_t n)
{
	/* katapult.md §8.3: append only at the expected offset; n == 0 ends the dictionary */
	if (offset != r->len)
		return CF_ERR_PROTOCOL;
	if (n == 0) {
		r->complete = true;
		return 1;
	}
	if (n > r->cap - r->len)
		return CF_ERR_NOSPACE;
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return CF_OK;
}
