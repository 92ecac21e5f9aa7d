/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bit-exact length of a classic CAN frame on the wire, stuff bits included (ISO 11898-1). */
#include "tools/simbus/canwire.h"

#include <string.h>

#define MAX_STUFFED 128 /* SOF + 11 + 3 + 4 + 64 + 15 = 98 bits before stuffing */

static void put_bits(uint8_t *bits, unsigned *n, uint32_t value, unsigned width)
{
	while (width--)
		bits[(*n)++] = (uint8_t)((value >> width) & 1);
}

/* ISO 11898-1 §10.4.2.6: CRC-15, polynomial 0x4599, over SOF..data, unstuffed. */
static uint16_t crc15(const uint8_t *bits, unsigned n)
{
	uint16_t crc = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned nxt = bits[i] ^ ((crc >> 14) & 1);
		crc = (uint16_t)((crc << 1) & 0x7fff);
		if (nxt)
			crc ^= 0x4599;
	}
	return crc;
}

/* Build the stuffed region (SOF .. CRC) unstuffed; returns its length. */
static unsigned frame_bits(const struct canbus_frame *f, uint8_t *bits)
{
	unsigned n = 0, dlc = f->len > 8 ? 8 : f->len;

	put_bits(bits, &n, 0, 1);	       /* SOF, dominant */
	put_bits(bits, &n, f->id & 0x7ff, 11); /* identifier */
	put_bits(bits, &n, 0, 3);	       /* RTR, IDE, r0: data frame, standard */
	put_bits(bits, &n, dlc, 4);
	for (unsigned i = 0; i < dlc; i++)
		put_bits(bits, &n, f->data[i], 8);
	put_bits(bits, &n, crc15(bits, n), 15);
	return n;
}

unsigned canwire_stuff_bits(const struct canbus_frame *f)
{
	uint8_t bits[MAX_STUFFED];
	unsigned n = frame_bits(f, bits), run = 1, stuff = 0;
	uint8_t last = bits[0];

	/* After five equal bits a complementary stuff bit follows; it starts the next run. */
	for (unsigned i = 1; i < n; i++) {
		if (bits[i] == last) {
			run++;
		} else {
			last = bits[i];
			run = 1;
		}
		if (run == 5) {
			stuff++;
			last = (uint8_t)!last;
			run = 1;
		}
	}
	return stuff;
}

unsigned canwire_frame_bits(const struct canbus_frame *f)
{
	uint8_t bits[MAX_STUFFED];
	unsigned n = frame_bits(f, bits);

	return n + canwire_stuff_bits(f) + 1 + 2 + 7 + 3; /* CRC delim, ACK, EOF, IFS */
}

uint64_t canwire_frame_ns(const struct canbus_frame *f, uint32_t bitrate)
{
	if (!bitrate)
		return 0;
	return (uint64_t)canwire_frame_bits(f) * 1000000000ull / bitrate;
}
