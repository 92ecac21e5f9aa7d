/* SPDX-License-Identifier: GPL-3.0-or-later */
/* struct canbus_frame <-> the kernel's struct can_frame, shared by the socketcan and sim
 * transports (simbus carries the kernel layout on its socket). */
#ifndef CARTOFLASH_SRC_TRANSPORT_CANFRAME_H
#define CARTOFLASH_SRC_TRANSPORT_CANFRAME_H

#include <linux/can.h>
#include <stdbool.h>
#include <string.h>

#include "protocol/canbus.h"

/* Only classic standard data frames go out (katapult.md §2.1); false for anything else. */
static inline bool canframe_from_bus(const struct canbus_frame *in, struct can_frame *out)
{
	if (in->len > 8 || in->id > CAN_SFF_MASK)
		return false;
	memset(out, 0, sizeof(*out));
	out->can_id = in->id;
	out->len = in->len;
	memcpy(out->data, in->data, in->len);
	return true;
}

/* The caller has already filtered error, RTR and extended frames. */
static inline void canframe_to_bus(const struct can_frame *in, struct canbus_frame *out)
{
	memset(out, 0, sizeof(*out));
	out->id = in->can_id & CAN_SFF_MASK;
	out->len = in->len > 8 ? 8 : in->len;
	memcpy(out->data, in->data, out->len);
}

#endif
