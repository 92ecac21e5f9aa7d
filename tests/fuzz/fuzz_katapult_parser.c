// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the Katapult stream parser, one-shot decoder and every reply parser.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/katapult.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEN 512

struct seen {
	size_t count;
	uint8_t cmd[MAX_SEEN];
	uint32_t sum[MAX_SEEN];
};

static uint32_t checksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Round-trip the CONNECT info through our builder: parse(build(info)) must give info back. */
static void check_connect(const struct katapult_connect_info *info)
{
	uint8_t out[KATAPULT_MAX_FRAME];
	size_t len, frame_len;
	struct katapult_frame f;
	struct katapult_reply r;
	struct katapult_connect_info back;

	if (katapult_build_connect_ack(info, out, sizeof(out), &len) != 0)
		return;
	if (katapult_decode(out, len, &frame_len, &f) != 1 ||
	    katapult_parse_reply(&f, KATAPULT_CMD_CONNECT, &r) != 0)
		abort();
	katapult_parse_connect(r.payload, r.payload_len, &back);
	if (back.proto_version != info->proto_version || strcmp(back.mcu, info->mcu) != 0)
		abort();
	if (info->proto_version >= KATAPULT_PROTO_1_1_0 && strcmp(back.version, info->version))
		abort();
}

static void check_reply_parsers(const struct katapult_frame *f)
{
	static const uint8_t cmds[] = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16};
	struct katapult_reply r;
	struct katapult_connect_info info;
	uint8_t block[KATAPULT_BLOCK_SIZE], uuid[KATAPULT_CANBUS_UUID_LEN];
	uint32_t v;
	const uint8_t *p;

	for (size_t i = 0; i < sizeof(cmds); i++) {
		if (katapult_parse_reply(f, cmds[i], &r) != 0)
			continue;
		if (r.payload + r.payload_len != f->payload + f->payload_len)
			abort();
		if (katapult_parse_connect(r.payload, r.payload_len, &info) == 0 ||
		    info.block_size != 0)
			check_connect(&info);
		(void)katapult_parse_block_ack(r.payload, r.payload_len, &v);
		(void)katapult_parse_read_ack(r.payload, r.payload_len, &v, block);
		(void)katapult_parse_eof_ack(r.payload, r.payload_len, &v);
		(void)katapult_parse_canbus_id(r.payload, r.payload_len, uuid);
	}
	(void)katapult_parse_send_block(f, &v, &p);
	(void)katapult_parse_request_block(f, &v);
	(void)katapult_cmd_name(f->cmd);
}

static void check_frame(const struct katapult_frame *f)
{
	uint8_t again[KATAPULT_MAX_FRAME];
	size_t len;

	if (f->raw_len != f->payload_len + KATAPULT_FRAME_OVERHEAD ||
	    f->raw_len > KATAPULT_MAX_FRAME || f->payload != f->raw + 4)
		abort();
	/* every accepted frame is exactly what our encoder makes of its fields */
	if (katapult_encode(f->cmd, f->payload, f->payload_len, again, sizeof(again), &len) != 0 ||
	    len != f->raw_len || memcmp(again, f->raw, len) != 0)
		abort();
	check_reply_parsers(f);
}

static void run(const uint8_t *in, size_t size, size_t step, struct seen *s)
{
	struct katapult_parser p;
	size_t pos = 0;

	katapult_parser_init(&p);
	memset(s, 0, sizeof(*s));
	while (pos < size) {
		const size_t chunk = size - pos < step ? size - pos : step;
		size_t off = 0;

		for (;;) {
			struct katapult_frame f;
			size_t used = 0;
			const int r =
			    katapult_parser_feed(&p, in + pos + off, chunk - off, &used, &f);

			off += used;
			if (off > chunk)
				abort();
			if (r == 0)
				break;
			if (r == 1) {
				if (step == 1)
					check_frame(&f);
				if (s->count < MAX_SEEN) {
					s->cmd[s->count] = f.cmd;
					s->sum[s->count] = checksum(f.raw, f.raw_len);
				}
				s->count++;
			} else if (r != CF_ERR_CRC && r != CF_ERR_FRAME) {
				abort();
			}
		}
		pos += chunk;
	}
	if (p.fill > KATAPULT_MAX_FRAME)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy so ASan catches any read past the input (style.md §2.9). */
	uint8_t *in = malloc(size ? size : 1);
	static struct seen whole, bytes;
	struct katapult_frame f;
	size_t frame_len;

	if (!in)
		return 0;
	memcpy(in, data, size);
	if (katapult_decode(in, size, &frame_len, &f) == 1)
		check_frame(&f);
	/* byte-by-byte feeding must find exactly what feeding it whole finds */
	run(in, size, size ? size : 1, &whole);
	run(in, size, 1, &bytes);
	if (memcmp(&whole, &bytes, sizeof(whole)) != 0)
		abort();
	free(in);
	return 0;
}
