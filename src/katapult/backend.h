/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The "katapult" updater backend over CAN: the engine wrapped with the CAN entry flow. */
#ifndef CARTOFLASH_SRC_KATAPULT_BACKEND_H
#define CARTOFLASH_SRC_KATAPULT_BACKEND_H

#include "updater.h"

/*
 * updater_ops for a Katapult node on a CAN bus. cfg->target names it: iface ("can0",
 * "sim:/tmp/bus") and can_uuid (12 hex digits). Every updater on one (loop, iface) shares
 * one bus mux and gets its own node id.
 *
 *   identify     reach Katapult: REQUEST_BOOTLOADER (skipped when target.mode is
 *                DEVICE_MODE_KATAPULT, as flashtool -s does), set-id + CONNECT rounds until
 *                opts.timeout_us (default 11 s, flashtool's), then CONNECT and GET_CANBUS_ID through the
 *                engine; fills the identity (mcu, versions, app start, block size, bitrate).
 *   check_image  refusal rules R1-R5 (image_check_against) against the CONNECT info and the
 *                interface bitrate; lifted rules are named in a warning. Writes nothing.
 *   write        the engine's flash session: safe order, EOF and the read-back of every
 *                block (no COMPLETE here).
 *   verify       after write: its verify result; alone: read back and compare.
 *   finish       COMPLETE (unless opts.no_reboot), then wait until the node answers the
 *                admin query as its application again.
 *   cancel       stop after the command in flight; the node stays in Katapult.
 */
extern const struct updater_ops katapult_can_ops;

#define KATAPULT_CAN_CONFIRM_US 5000000u /* application must answer within this after COMPLETE */
#define KATAPULT_CAN_CONFIRM_MAX_US 120000000u /* ... counting only time the bus was idle */
#define KATAPULT_CAN_APP_START_US 100000u /* katapult.md §1.3: COMPLETE ACK -> application */
#define KATAPULT_CAN_QUERY_US 25000u	 /* admin query period while waiting for it */

#endif
