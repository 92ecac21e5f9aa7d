/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CAN side of Katapult and Klipper: admin messages, node ids, stream chunking, UUIDs. */
#ifndef CARTOFLASH_PROTOCOL_CANBUS_H
#define CARTOFLASH_PROTOCOL_CANBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One classic CAN 2.0A data frame, independent of <linux/can.h> (katapult.md §2.1). */
struct canbus_frame {
	uint32_t id; /* 11-bit standard id */
	uint8_t len; /* DLC, 0..8 */
	uint8_t data[8];
};

#define CANBUS_ADMIN_ID	     0x3f0 /* host -> all nodes */
#define CANBUS_ADMIN_RESP_ID 0x3f1 /* node -> host */

#define CANBUS_FRAME_MAX     8 /* data bytes in one classic frame */
#define CANBUS_UUID_LEN	     6
#define CANBUS_UUID_SEED     0xa16231a7u /* katapult.md §2.3 fasthash64 seed */
#define CANBUS_STM32_UID_LEN 12		 /* bytes at UID_BASE = 24 hex digits of USB serial */

/* katapult.md §2.2: admin commands (byte 0 on CANBUS_ADMIN_ID). */
#define CANBUS_CMD_QUERY_UNASSIGNED	 0x00 /* DLC 1 */
#define CANBUS_CMD_SET_KLIPPER_NODEID	 0x01 /* DLC 8: uuid, node */
#define CANBUS_CMD_REQUEST_BOOTLOADER	 0x02 /* DLC 7: uuid */
#define CANBUS_CMD_SET_KATAPULT_NODEID	 0x11 /* DLC 8: uuid, node ("SET_CANBOOT_NODEID") */
#define CANBUS_CMD_CLEAR_KATAPULT_NODEID 0x12 /* DLC 1: every Katapult node drops its id */
/* katapult.md §2.2: node answer on CANBUS_ADMIN_RESP_ID: 20 uuid app (DLC 8). */
#define CANBUS_RESP_NEED_NODEID 0x20
#define CANBUS_APP_KLIPPER	0x01
#define CANBUS_APP_KATAPULT	0x11

/* katapult.md §2.1: host -> node id 0x100 + 2n, node -> host 0x101 + 2n. */
#define CANBUS_NODEID_BASE	0x100
#define CANBUS_NODEID_FLASHTOOL 129 /* flashtool's fixed node id: 0x202 / 0x203 */

/* Frames needed to carry len stream bytes (katapult.md §2.4: 8-byte chunks, last shorter). */
#define CANBUS_FRAMES_FOR(len) (((len) + CANBUS_FRAME_MAX - 1) / CANBUS_FRAME_MAX)

/* A host admin frame as a node reads it (for the twin). has_* say which fields were present. */
struct canbus_admin {
	uint8_t cmd; /* CANBUS_CMD_* */
	bool has_uuid;
	uint8_t uuid[CANBUS_UUID_LEN]; /* wire order */
	bool has_node;
	uint8_t node; /* node id for the SET_*_NODEID commands */
};

/*
 * Admin builders (katapult.md §2.2), host side. Each fills *out completely (id 0x3f0, the exact
 * DLC of the spec, unused data bytes zero). Never fail.
 */
void canbus_build_query_unassigned(struct canbus_frame *out);
void canbus_build_set_klipper_nodeid(const uint8_t uuid[CANBUS_UUID_LEN], uint8_t node,
				     struct canbus_frame *out);
void canbus_build_request_bootloader(const uint8_t uuid[CANBUS_UUID_LEN], struct canbus_frame *out);
void canbus_build_set_katapult_nodeid(const uint8_t uuid[CANBUS_UUID_LEN], uint8_t node,
				      struct canbus_frame *out);
void canbus_build_clear_katapult_nodeid(struct canbus_frame *out);
/* Node side (twin): the 0x3f1 answer to QUERY_UNASSIGNED, DLC 8. */
void canbus_build_need_nodeid(const uint8_t uuid[CANBUS_UUID_LEN], uint8_t app,
			      struct canbus_frame *out);

/*
 * Parse a node's answer on 0x3f1: 20 uuid [app]. flashtool keeps answers of DLC >= 7
 * (katapult.md §2.6); *app is 0 when the DLC is 7. Returns 0, or CF_ERR_PROTOCOL for another
 * id, a DLC below 7 or another first byte.
 */
int canbus_parse_need_nodeid(const struct canbus_frame *f, uint8_t uuid[CANBUS_UUID_LEN],
			     uint8_t *app);

/*
 * Node side (twin): parse a host frame on 0x3f0 with the firmware's length rules (katapult.md
 * §2.2: 01 and 11 need DLC >= 8, 02 needs DLC >= 7, 00 and 12 need only the command byte).
 * Returns 0; CF_ERR_PROTOCOL for another id or DLC 0; CF_ERR_FRAME when too short for its
 * command; CF_ERR_NOT_SUPPORTED for an unknown command (out->cmd is set in both cases).
 */
int canbus_parse_admin(const struct canbus_frame *f, struct canbus_admin *out);

/* "Klipper", "Katapult" or "Unknown" for a RESP_NEED_NODEID app byte (katapult.md §2.2). */
const char *canbus_app_name(uint8_t app);

/* CAN id the host sends on to reach node (0x100 + 2n). */
uint32_t canbus_node_tx_id(uint8_t node);
/* CAN id the node answers on (0x101 + 2n). */
uint32_t canbus_node_rx_id(uint8_t node);

/*
 * Split a byte stream into frames on id: consecutive 8-byte chunks, the last one shorter, DLC =
 * chunk length (katapult.md §2.4). All or nothing: returns CANBUS_FRAMES_FOR(len) frames written,
 * or 0 (nothing written) when that exceeds cap or len is 0.
 */
size_t canbus_stream_to_frames(uint32_t id, const uint8_t *data, size_t len,
			       struct canbus_frame *frames, size_t cap);

/* fasthash64 as Klipper and Katapult compute it (katapult.md §2.3). data NULL when len is 0. */
uint64_t canbus_fasthash64(const uint8_t *data, size_t len, uint64_t seed);

/* CAN UUID = low 6 bytes, little-endian memory order, of fasthash64(uid, len, 0xA16231A7). */
void canbus_uuid_from_uid(const uint8_t *uid, size_t len, uint8_t uuid[CANBUS_UUID_LEN]);

/*
 * CAN UUID from a USB serial: exactly 24 hex digits (any case) decoded to the 12-byte chip UID.
 * Returns 0 or CF_ERR_USAGE (wrong length, non-hex digit, NULL).
 */
int canbus_uuid_from_serial(const char *hex_serial, uint8_t uuid[CANBUS_UUID_LEN]);

/* The canonical 12 lower-case hex digits, wire order, NUL-terminated ("e0ef270ca188"). */
void canbus_uuid_format(const uint8_t uuid[CANBUS_UUID_LEN], char out[2 * CANBUS_UUID_LEN + 1]);

/* Parse exactly 12 hex digits (any case, no 0x). Returns 0 or CF_ERR_USAGE. */
int canbus_uuid_parse(const char *hex12, uint8_t uuid[CANBUS_UUID_LEN]);

/*
 * The USB serial of a chip UID: upper-case hex, high nibble first (katapult.md §2.3). Writes
 * whole bytes only and always NUL-terminates when cap > 0; 2 * len + 1 bytes hold it all.
 */
void canbus_uid_format_serial(const uint8_t *uid, size_t len, char *out, size_t cap);

#endif
