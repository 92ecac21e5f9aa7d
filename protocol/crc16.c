/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CRC-16/MCRF4XX in Klipper's nibble-wise per-byte form (katapult.md §1.2). */
#include "protocol/crc16.h"

uint16_t crc16_mcrf4xx_update(uint16_t crc, const uint8_t *data, size_t len)
{
	/*
	 * katapult.md §1.2: Klipper's crc16_ccitt() folds the low CRC byte into the data byte and
	 * the low nibble into the high nibble; equal to the bit-wise reflected 0x8408 loop.
	 */
	for (size_t i = 0; i < len; i++) {
		uint8_t d = data[i];

		d ^= (uint8_t)(crc & 0xff);
		d ^= (uint8_t)(d << 4);
		crc = (uint16_t)(((uint16_t)d << 8 | crc >> 8) ^ (uint8_t)(d >> 4) ^
				 ((uint16_t)d << 3));
	}
	return crc;
}

uint16_t crc16_mcrf4xx(const uint8_t *data, size_t len)
{
	return crc16_mcrf4xx_update(CRC16_MCRF4XX_INIT, data, len);
}
