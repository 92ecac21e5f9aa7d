/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bit-exact length of a classic CAN frame on the wire, stuff bits included (ISO 11898-1). */
#ifndef CARTOFLASH_TOOLS_SIMBUS_CANWIRE_H
#define CARTOFLASH_TOOLS_SIMBUS_CANWIRE_H

#include <stdint.h>

#include "protocol/canbus.h"

/*
 * Bits a standard (11-bit) data frame occupies on the bus: SOF, arbitration, control, data and
 * CRC-15 with the stuff bits the real bit pattern needs, then CRC delimiter, ACK slot and
 * delimiter, 7 EOF bits and the 3-bit interframe space. Pure; never fails. DLC is clamped to 8.
 */
unsigned canwire_frame_bits(const struct canbus_frame *f);
/* Stuff bits alone (0 .. 24 for a standard frame), for tests. */
unsigned canwire_stuff_bits(const struct canbus_frame *f);
/* Time on the wire in nanoseconds at bitrate bit/s. */
uint64_t canwire_frame_ns(const struct canbus_frame *f, uint32_t bitrate);

#endif
