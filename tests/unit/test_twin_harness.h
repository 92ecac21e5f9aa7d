/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers for the twin tests: install images, talk to a twin over CAN or bytes on a virtual clock.
 */
#ifndef CARTOFLASH_TESTS_UNIT_TEST_TWIN_HARNESS_H
#define CARTOFLASH_TESTS_UNIT_TEST_TWIN_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/mkimage/mkimage.h"
#include "tools/twin/twin.h"

/* katapult.md §2.3 vector: serial 16000C000F43304253373820 -> UUID e0ef270ca188 */
static const uint8_t th_uid[12] = {0x16, 0x00, 0x0c, 0x00, 0x0f, 0x43,
				   0x30, 0x42, 0x53, 0x37, 0x38, 0x20};
static const uint8_t th_uuid[6] = {0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88};

struct th {
	struct twin *t;
	uint64_t now;
	uint8_t node; /* Katapult node id used by the host (flashtool: 129) */
};

static inline struct twin *th_twin(double speed, const uint8_t *uid)
{
	struct twin_config c;

	memset(&c, 0, sizeof(c));
	memcpy(c.uid, uid ? uid : th_uid, 12);
	c.speed = speed;
	c.bus_bitrate = 1000000;
	return twin_new(&c);
}

static inline int th_install_katapult(struct twin *t, enum image_iface iface, uint32_t bitrate,
				      const char *version)
{
	struct mkimage_katapult_opts o;
	uint8_t *img;
	size_t len;
	int rc;

	memset(&o, 0, sizeof(o));
	o.iface = iface;
	o.bitrate = bitrate;
	o.version = version;
	rc = mkimage_katapult(&o, &img, &len);
	if (rc)
		return rc;
	rc = twin_flash_write_raw(t, TWIN_FLASH_BASE, img, len);
	free(img);
	return rc;
}

static inline int th_make_app(enum image_iface iface, uint32_t bitrate, const char *version,
			      uint8_t **img, size_t *len)
{
	struct mkimage_app_opts o;

	memset(&o, 0, sizeof(o));
	o.iface = iface;
	o.bitrate = bitrate;
	o.version = version;
	return mkimage_app(&o, img, len);
}

static inline int th_install_app(struct twin *t, enum image_iface iface, uint32_t bitrate,
				 const char *version)
{
	uint8_t *img;
	size_t len;
	int rc = th_make_app(iface, bitrate, version, &img, &len);

	if (rc)
		return rc;
	rc = twin_flash_write_raw(t, TWIN_APP_START, img, len);
	free(img);
	return rc;
}

/* Send a byte stream as consecutive 8-byte frames on id (katapult.md §2.4). */
static inline void th_can_stream(struct th *h, uint32_t id, const uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len; off += 8) {
		struct canbus_frame f = {.id = id, .len = (uint8_t)(len - off > 8 ? 8 : len - off)};
		memcpy(f.data, buf + off, f.len);
		twin_can_receive(h->t, &f, h->now);
	}
}

static inline void th_can_frame(struct th *h, uint32_t id, const uint8_t *data, uint8_t len)
{
	struct canbus_frame f = {.id = id, .len = len};

	memcpy(f.data, data, len);
	twin_can_receive(h->t, &f, h->now);
}

/* Advance the clock to the next event of the twin (none: stays). */
static inline int th_step(struct th *h)
{
	uint64_t next = twin_next_event_us(h->t);

	if (next == UINT64_MAX)
		return 0;
	if (next > h->now)
		h->now = next;
	twin_advance(h->t, h->now);
	return 1;
}

/* Collect the bytes the twin sends on id until want bytes arrived or nothing more is coming
 * (or limit_us of virtual time passed). Returns the count. */
static inline size_t th_can_collect(struct th *h, uint32_t id, uint8_t *out, size_t want,
				    uint64_t limit_us)
{
	uint64_t end = h->now + limit_us;
	struct canbus_frame f;
	size_t n = 0;

	for (;;) {
		while (twin_can_pop(h->t, h->now, &f) == 0) {
			if (f.id == id && n + f.len <= want) {
				memcpy(out + n, f.data, f.len);
				n += f.len;
			}
		}
		if (n >= want)
			return n;
		if (twin_next_event_us(h->t) > end || !th_step(h))
			return n;
	}
}

/* Send a Katapult frame to node h->node and collect want reply bytes. */
static inline size_t th_kp(struct th *h, const uint8_t *cmd, size_t len, uint8_t *reply,
			   size_t want)
{
	th_can_stream(h, 0x100u + 2u * h->node, cmd, len);
	return th_can_collect(h, 0x101u + 2u * h->node, reply, want, 10000000);
}

/* Byte side: send all bytes (respecting flow control) and collect want bytes. */
static inline size_t th_usb(struct th *h, const uint8_t *cmd, size_t len, uint8_t *reply,
			    size_t want, uint64_t limit_us)
{
	uint64_t end = h->now + limit_us;
	size_t sent = 0, n = 0;

	for (;;) {
		if (sent < len)
			sent += twin_serial_receive(h->t, cmd + sent, len - sent, h->now);
		n += twin_serial_pop(h->t, h->now, reply + n, want - n);
		if (n >= want && sent >= len)
			return n;
		if (twin_next_event_us(h->t) > end || !th_step(h))
			return n;
	}
}

#endif
