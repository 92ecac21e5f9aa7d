/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CAN side of Katapult and Klipper: admin messages, node ids, stream chunking, UUIDs. */
#ifndef CARTOFLASH_PROTOCOL_CANBUS_H
#define CARTOFLASH_PROTOCOL_CANBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One classic CAN 2.0A data frame, independent of <linux/can.h> (katapult.md §2.1). */
struct canbus_frame {
	uint32_t id;	  /* 11-bit standard id */
	uint8_t len;	  /* DLC, 0..8 */
	uint8_t data[8];
};

#define CANBUS_ADMIN_ID 0x3f0	   /* host -> all nodes */
#define CANBUS_ADMIN_RESP_ID 0x3f1 /* node -> host */

#endif
