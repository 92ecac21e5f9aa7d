// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: CAN admin parsers, stream chunking, UUID text parsers and fasthash64.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/canbus.h"
#include "protocol/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input as frames of 11 bytes: id (2, little-endian), DLC (1, any value), 8 data bytes. */
#define REC 11

static void check_frames(const uint8_t *in, size_t size)
{
	for (size_t pos = 0; pos + REC <= size; pos += REC) {
		struct canbus_frame f;
		struct canbus_admin a;
		uint8_t uuid[CANBUS_UUID_LEN], app;

		f.id = (uint32_t)(in[pos] | in[pos + 1] << 8) & 0x7ff;
		f.len = in[pos + 2];
		memcpy(f.data, in + pos + 3, 8);
		const int r = canbus_parse_admin(&f, &a);
		if (r == 0 && (a.has_node && !a.has_uuid))
			abort();
		if (canbus_parse_need_nodeid(&f, uuid, &app) == 0 && f.id != CANBUS_ADMIN_RESP_ID)
			abort();
		(void)canbus_app_name(app);
	}
}

/* Chunking then concatenating the frames gives the stream back. */
static void check_stream(const uint8_t *in, size_t size)
{
	struct canbus_frame frames[64];
	uint8_t back[64 * CANBUS_FRAME_MAX];
	const size_t len = size < sizeof(back) ? size : sizeof(back);
	const size_t n = canbus_stream_to_frames(0x202, in, len, frames, 64);
	size_t pos = 0;

	if (n != CANBUS_FRAMES_FOR(len))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (frames[i].id != 0x202 || frames[i].len == 0 || frames[i].len > 8)
			abort();
		memcpy(back + pos, frames[i].data, frames[i].len);
		pos += frames[i].len;
	}
	if (pos != len || memcmp(back, in, len) != 0)
		abort();
}

static void check_text(const uint8_t *in, size_t size)
{
	char *s = malloc(size + 1);
	uint8_t uuid[CANBUS_UUID_LEN];
	char text[2 * CANBUS_UUID_LEN + 1];

	if (!s)
		return;
	memcpy(s, in, size);
	s[size] = '\0';
	if (canbus_uuid_parse(s, uuid) == 0) {
		canbus_uuid_format(uuid, text);
		uint8_t again[CANBUS_UUID_LEN];
		if (canbus_uuid_parse(text, again) != 0 || memcmp(again, uuid, sizeof(uuid)) != 0)
			abort();
	}
	(void)canbus_uuid_from_serial(s, uuid);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy so ASan catches any read past the input (style.md §2.9). */
	uint8_t *in = malloc(size ? size : 1);
	char serial[2 * 64 + 1];
	uint8_t uuid[CANBUS_UUID_LEN];

	if (!in)
		return 0;
	memcpy(in, data, size);
	check_frames(in, size);
	check_stream(in, size);
	check_text(in, size);
	(void)canbus_fasthash64(in, size, CANBUS_UUID_SEED);
	canbus_uuid_from_uid(in, size, uuid);
	canbus_uid_format_serial(in, size, serial, sizeof(serial));
	if (strlen(serial) != 2 * (size < 64 ? size : 64))
		abort();
	free(in);
	return 0;
}
