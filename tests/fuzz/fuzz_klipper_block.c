// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the Klipper block finder, VLQ and msgid decoders, identify parsers.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/klipper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk the content as klippy would: message id, then VLQ parameters until it runs out. */
static void check_content(const uint8_t *c, size_t n, struct klipper_dict_reader *dict)
{
	struct klipper_identify_response resp;
	uint32_t offset;
	uint8_t count;
	size_t used, pos = 0;
	uint16_t id;

	if (klipper_parse_identify_response(c, n, &resp) == 0) {
		if (resp.used > n || resp.data + resp.data_len > c + n)
			abort();
		(void)klipper_dict_add(dict, resp.offset, resp.data, resp.data_len);
		if (dict->len > dict->cap)
			abort();
	}
	if (klipper_parse_identify(c, n, &offset, &count, &used) == 0 && used > n)
		abort();
	if (klipper_msgid_decode(c, n, &id, &used) != 0)
		return;
	pos = used;
	while (pos < n) {
		int32_t v;
		uint8_t again[KLIPPER_VLQ_MAX];

		if (klipper_vlq_decode(c + pos, n - pos, &v, &used) != 0)
			break;
		if (used == 0 || used > n - pos)
			abort();
		/* the encoder's form is never longer than what was decoded */
		if ((size_t)klipper_vlq_encode(v, again) > used)
			abort();
		pos += used;
	}
}

static void check_block(const uint8_t *buf, const struct klipper_block *b, size_t at,
			struct klipper_dict_reader *dict)
{
	uint8_t again[KLIPPER_BLOCK_MAX];
	size_t len;
	const uint8_t *start = buf + at;

	if (b->block_len < KLIPPER_BLOCK_MIN || b->block_len > KLIPPER_BLOCK_MAX ||
	    b->content_len != b->block_len - KLIPPER_BLOCK_MIN)
		abort();
	/* the block must be exactly our encoding of its seq and content */
	while (*start == KLIPPER_SYNC)
		start++;
	if (klipper_block_encode(b->seq, b->content, b->content_len, again, sizeof(again), &len) ||
	    len != b->block_len || memcmp(again, start, len) != 0)
		abort();
	check_content(b->content, b->content_len, dict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy so ASan catches any read past the input (style.md §2.9). */
	uint8_t *in = malloc(size ? size : 1);
	uint8_t dict_buf[256];
	struct klipper_dict_reader dict;
	size_t pos = 0;

	if (!in)
		return 0;
	memcpy(in, data, size);
	klipper_dict_init(&dict, dict_buf, sizeof(dict_buf));
	while (pos < size) {
		struct klipper_block b;
		size_t consumed = 0;
		const int r = klipper_block_find(in + pos, size - pos, &consumed, &b);

		if (consumed > size - pos)
			abort();
		if (r == 1)
			check_block(in, &b, pos, &dict);
		else if (r < 0 && consumed == 0)
			abort(); /* an error must always make progress */
		else if (r == 0 && consumed == 0)
			break;
		pos += consumed;
	}
	free(in);
	return 0;
}
