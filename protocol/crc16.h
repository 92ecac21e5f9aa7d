/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CRC-16/MCRF4XX, the checksum of Katapult frames and Klipper message blocks (katapult.md §1.2). */
#ifndef CARTOFLASH_PROTOCOL_CRC16_H
#define CARTOFLASH_PROTOCOL_CRC16_H

#include <stddef.h>
#include <stdint.h>

/* katapult.md §1.2: init 0xFFFF, reflected poly 0x8408, xorout 0; "123456789" -> 0x6F91. */
#define CRC16_MCRF4XX_INIT  0xffff
#define CRC16_MCRF4XX_CHECK 0x6f91

/*
 * CRC-16/MCRF4XX of len bytes at data (data may be NULL when len is 0). Pure, never fails.
 * Katapult puts the result on the wire little-endian, Klipper big-endian (katapult.md §1.2, §8.1).
 */
uint16_t crc16_mcrf4xx(const uint8_t *data, size_t len);

/*
 * Continue a CRC over more bytes: crc16_mcrf4xx_update(CRC16_MCRF4XX_INIT, d, n) equals
 * crc16_mcrf4xx(d, n), and splitting the input anywhere gives the same result.
 */
uint16_t crc16_mcrf4xx_update(uint16_t crc, const uint8_t *data, size_t len);

#endif
