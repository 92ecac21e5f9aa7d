/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CAN admin messages, node ids, byte-stream chunking and the chip-UID -> CAN UUID hash. */
#include "protocol/canbus.h"

#include <string.h>

#include "protocol/bytes.h"
#include "protocol/err.h"

/* ---- admin messages (katapult.md §2.2) --------------------------------------------------- */

static void admin_frame(uint8_t cmd, const uint8_t *uuid, const uint8_t *node,
			struct canbus_frame *out)
{
	memset(out, 0, sizeof(*out));
	out->id = CANBUS_ADMIN_ID;
	out->data[0] = cmd;
	out->len = 1;
	if (uuid) {
		memcpy(out->data + 1, uuid, CANBUS_UUID_LEN);
		out->len += CANBUS_UUID_LEN;
	}
	if (node)
		out->data[out->len++] = *node;
}

void canbus_build_query_unassigned(struct canbus_frame *out)
{
	admin_frame(CANBUS_CMD_QUERY_UNASSIGNED, NULL, NULL, out);
}

void canbus_build_set_klipper_nodeid(const uint8_t uuid[CANBUS_UUID_LEN], uint8_t node,
				     struct canbus_frame *out)
{
	admin_frame(CANBUS_CMD_SET_KLIPPER_NODEID, uuid, &node, out);
}

void canbus_build_request_bootloader(const uint8_t uuid[CANBUS_UUID_LEN], struct canbus_frame *out)
{
	admin_frame(CANBUS_CMD_REQUEST_BOOTLOADER, uuid, NULL, out);
}

void canbus_build_set_katapult_nodeid(const uint8_t uuid[CANBUS_UUID_LEN], uint8_t node,
				      struct canbus_frame *out)
{
	admin_frame(CANBUS_CMD_SET_KATAPULT_NODEID, uuid, &node, out);
}

void canbus_build_clear_katapult_nodeid(struct canbus_frame *out)
{
	admin_frame(CANBUS_CMD_CLEAR_KATAPULT_NODEID, NULL, NULL, out);
}

void canbus_build_need_nodeid(const uint8_t uuid[CANBUS_UUID_LEN], uint8_t app,
			      struct canbus_frame *out)
{
	admin_frame(CANBUS_RESP_NEED_NODEID, uuid, &app, out);
	out->id = CANBUS_ADMIN_RESP_ID;
}

int canbus_parse_need_nodeid(const struct canbus_frame *f, uint8_t uuid[CANBUS_UUID_LEN],
			     uint8_t *app)
{
	/* katapult.md §2.6: flashtool keeps answers with length >= 7 and byte0 == 0x20 */
	if (f->id != CANBUS_ADMIN_RESP_ID || f->len < 1 + CANBUS_UUID_LEN || f->len > 8 ||
	    f->data[0] != CANBUS_RESP_NEED_NODEID)
		return CF_ERR_PROTOCOL;
	memcpy(uuid, f->data + 1, CANBUS_UUID_LEN);
	*app = f->len >= 8 ? f->data[7] : 0;
	return CF_OK;
}

int canbus_parse_admin(const struct canbus_frame *f, struct canbus_admin *out)
{
	size_t need;

	memset(out, 0, sizeof(*out));
	if (f->id != CANBUS_ADMIN_ID || f->len == 0 || f->len > 8)
		return CF_ERR_PROTOCOL;
	out->cmd = f->data[0];
	switch (out->cmd) {
	case CANBUS_CMD_QUERY_UNASSIGNED:
	case CANBUS_CMD_CLEAR_KATAPULT_NODEID:
		return CF_OK;
	case CANBUS_CMD_REQUEST_BOOTLOADER:
		need = 1 + CANBUS_UUID_LEN;
		break;
	case CANBUS_CMD_SET_KLIPPER_NODEID:
	case CANBUS_CMD_SET_KATAPULT_NODEID:
		need = 2 + CANBUS_UUID_LEN;
		break;
	default:
		/* both firmwares ignore unknown admin commands */
		return CF_ERR_NOT_SUPPORTED;
	}
	if (f->len < need)
		return CF_ERR_FRAME;
	out->has_uuid = true;
	memcpy(out->uuid, f->data + 1, CANBUS_UUID_LEN);
	if (need == 2 + CANBUS_UUID_LEN) {
		out->has_node = true;
		out->node = f->data[1 + CANBUS_UUID_LEN];
	}
	return CF_OK;
}

const char *canbus_app_name(uint8_t app)
{
	switch (app) {
	case CANBUS_APP_KLIPPER:
		return "Klipper";
	case CANBUS_APP_KATAPULT:
		return "Katapult";
	}
	return "Unknown";
}

/* ---- node ids and stream chunking (katapult.md §2.1, §2.4) ------------------------------- */

uint32_t canbus_node_tx_id(uint8_t node)
{
	return CANBUS_NODEID_BASE + 2u * node;
}

uint32_t canbus_node_rx_id(uint8_t node)
{
	return CANBUS_NODEID_BASE + 2u * node + 1u;
}

size_t canbus_stream_to_frames(uint32_t id, const uint8_t *data, size_t len,
			       struct canbus_frame *frames, size_t cap)
{
	const size_t count = CANBUS_FRAMES_FOR(len);

	/* design rule 1: never a partial command, so all frames or none */
	if (count == 0 || count > cap)
		return 0;
	for (size_t i = 0; i < count; i++) {
		const size_t off = i * CANBUS_FRAME_MAX;
		const size_t n = len - off < CANBUS_FRAME_MAX ? len - off : CANBUS_FRAME_MAX;

		memset(&frames[i], 0, sizeof(frames[i]));
		frames[i].id = id;
		frames[i].len = (uint8_t)n;
		memcpy(frames[i].data, data + off, n);
	}
	return count;
}

/* ---- UUIDs (katapult.md §2.3) ------------------------------------------------------------ */

#define FASTHASH_M 0x880355f21e6d1965ull

static uint64_t fasthash_mix(uint64_t h)
{
	h ^= h >> 23;
	h *= 0x2127599bf4325c37ull;
	h ^= h >> 47;
	return h;
}

uint64_t canbus_fasthash64(const uint8_t *data, size_t len, uint64_t seed)
{
	uint64_t h = seed ^ (len * FASTHASH_M);
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		h ^= fasthash_mix(cf_get_le64(data + i));
		h *= FASTHASH_M;
	}
	if (i < len) {
		uint64_t v = 0;

		for (size_t k = len; k > i; k--)
			v = v << 8 | data[k - 1];
		h ^= fasthash_mix(v);
		h *= FASTHASH_M;
	}
	return fasthash_mix(h);
}

void canbus_uuid_from_uid(const uint8_t *uid, size_t len, uint8_t uuid[CANBUS_UUID_LEN])
{
	const uint64_t h = canbus_fasthash64(uid, len, CANBUS_UUID_SEED);

	/* the low 6 bytes in little-endian memory order */
	for (size_t i = 0; i < CANBUS_UUID_LEN; i++)
		uuid[i] = (uint8_t)(h >> (8 * i));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly 2 * n hex digits followed by the NUL. */
static int hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (!s || strnlen(s, 2 * n + 1) != 2 * n)
		return CF_ERR_USAGE;
	for (size_t i = 0; i < n; i++) {
		const int hi = hex_digit(s[2 * i]);
		const int lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return CF_ERR_USAGE;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return CF_OK;
}

int canbus_uuid_from_serial(const char *hex_serial, uint8_t uuid[CANBUS_UUID_LEN])
{
	uint8_t uid[CANBUS_STM32_UID_LEN];
	const int err = hex_decode(hex_serial, uid, sizeof(uid));

	if (err)
		return err;
	canbus_uuid_from_uid(uid, sizeof(uid), uuid);
	return CF_OK;
}

static void hex_encode(const uint8_t *in, size_t n, const char *digits, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

void canbus_uuid_format(const uint8_t uuid[CANBUS_UUID_LEN], char out[2 * CANBUS_UUID_LEN + 1])
{
	hex_encode(uuid, CANBUS_UUID_LEN, "0123456789abcdef", out);
}

int canbus_uuid_parse(const char *hex12, uint8_t uuid[CANBUS_UUID_LEN])
{
	uint8_t tmp[CANBUS_UUID_LEN];
	const int err = hex_decode(hex12, tmp, sizeof(tmp));

	/* leave uuid untouched on a bad string */
	if (err)
		return err;
	memcpy(uuid, tmp, sizeof(tmp));
	return CF_OK;
}

void canbus_uid_format_serial(const uint8_t *uid, size_t len, char *out, size_t cap)
{
	if (cap == 0)
		return;
	const size_t n = len < (cap - 1) / 2 ? len : (cap - 1) / 2;
	hex_encode(uid, n, "0123456789ABCDEF", out);
}
