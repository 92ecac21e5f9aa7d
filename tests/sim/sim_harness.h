/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine wired to the in-process probe twin on a virtual clock, over CAN or USB bytes. */
#ifndef CARTOFLASH_TESTS_SIM_SIM_HARNESS_H
#define CARTOFLASH_TESTS_SIM_SIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "katapult/engine.h"
#include "protocol/bytes.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "protocol/katapult.h"
#include "tools/mkimage/mkimage.h"
#include "tools/twin/twin.h"

#define SIM_UNUSED __attribute__((unused))
#define SIM_NODE 129		   /* flashtool's node id (katapult.md §2.1) */
#define SIM_CAN_FRAME_US 130u	   /* one 8-byte frame at 1 Mbit/s, stuff bits included */
#define SIM_USB_PACKET 64u
#define SIM_APP_OFF (TWIN_APP_START - TWIN_FLASH_BASE)
#define SIM_FLASH_MAX (128u * 1024) /* the largest probe flash of protocol/mcu.c */

/* katapult.md §2.3: serial 16000C000F43304253373820 -> UUID e0ef270ca188 */
static const uint8_t sim_uid[12] = { 0x16, 0x00, 0x0c, 0x00, 0x0f, 0x43,
				     0x30, 0x42, 0x53, 0x37, 0x38, 0x20 };

struct sim;
/* Called after each whole frame reached the twin (n counts from 1 per run). */
typedef void (*sim_frame_hook)(struct sim *s, unsigned n, const uint8_t *frame, size_t len);

struct sim {
	struct twin *t;
	bool usb;
	uint64_t now;
	uint32_t rng;	     /* drives channel stalls (EAGAIN) */
	unsigned stall_pct;  /* chance in % that a CAN frame send meets a full queue */
	/* The image under test and what the app area held before. */
	uint8_t *img;
	size_t img_len;
	struct image_info info;
	uint8_t before[SIM_FLASH_MAX];
	/* Run hooks. */
	sim_frame_hook hook;
	void *hook_ctx;
	unsigned cancel_after; /* cancel once this many frames went out; 0 never */
	/* Design rule 1 bookkeeping, per run. */
	unsigned frames;
	unsigned changed_mid_send;  /* the engine offered other bytes while a frame was going out */
	unsigned abandoned_mid_send; /* the engine withdrew or finished with a frame half sent */
	unsigned stalled_out; /* ... because the device took no bytes for the stall limit */
	unsigned stalls;
	unsigned units; /* CAN frames or USB packets that reached the device */
	/* The last whole frame sent: its command, address and whether its data was all 0xFF. */
	uint8_t last_cmd;
	uint32_t last_addr;
	bool last_ff;
	enum katapult_engine_app app; /* what the engine knew of the app area at its end */
};

/* SIM_TWIN_LOG=1 in the environment prints the twin's own log (faults, modes, wedges). */
static SIM_UNUSED void sim_twin_log(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "twin: %s\n", line);
}

static SIM_UNUSED void sim_twin_config(struct twin_config *c, double speed)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->uid, sim_uid, sizeof(c->uid));
	c->bus_bitrate = 1000000;
	c->speed = speed;
	if (getenv("SIM_TWIN_LOG"))
		c->log = sim_twin_log;
}

static SIM_UNUSED uint32_t sim_rand(uint32_t *x)
{
	/* xorshift32: reproducible from the printed seed */
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static SIM_UNUSED int sim_install(struct sim *s, uint32_t addr, const uint8_t *data, size_t len)
{
	return twin_flash_write_raw(s->t, addr, data, len);
}

/* Settle the twin: run its events until none is due before now + limit_us. */
static SIM_UNUSED void sim_settle(struct sim *s, uint64_t limit_us)
{
	const uint64_t end = s->now + limit_us;
	uint8_t buf[256];
	struct canbus_frame f;

	for (;;) {
		twin_advance(s->t, s->now);
		while (twin_can_pop(s->t, s->now, &f) == 0)
			;
		while (twin_serial_pop(s->t, s->now, buf, sizeof(buf)))
			;
		uint64_t next = twin_next_event_us(s->t);
		if (next == UINT64_MAX || next > end)
			break;
		s->now = next > s->now ? next : s->now + 1;
	}
	if (s->now < end)
		s->now = end;
	twin_advance(s->t, s->now);
}

static SIM_UNUSED void sim_can_admin(struct sim *s, const struct canbus_frame *f)
{
	twin_can_receive(s->t, f, s->now);
	sim_settle(s, 1000);
}

/*
 * Bring the twin into Katapult as the backends do: from its application by CAN 0x02 or the USB
 * 1200-baud touch; from a wedged or hung state by a power cycle; CAN: assign node 129.
 * Returns true when the twin runs Katapult.
 */
static SIM_UNUSED bool sim_enter_katapult(struct sim *s)
{
	uint8_t uuid[6];
	struct canbus_frame f;

	twin_uuid(s->t, uuid);
	if (twin_get_mode(s->t) == TWIN_MODE_OFF)
		twin_power_on(s->t, s->now);
	sim_settle(s, 1000000);
	if (twin_get_mode(s->t) == TWIN_MODE_KATAPULT && twin_get_stats(s->t)->wedged) {
		twin_power_cycle(s->t, s->now);
		sim_settle(s, 1000000);
	}
	if (twin_get_mode(s->t) == TWIN_MODE_APP) {
		if (s->usb) {
			twin_serial_line(s->t, 1200, true, true, s->now);
			twin_serial_line(s->t, 1200, false, true, s->now);
		} else {
			canbus_build_request_bootloader(uuid, &f);
			twin_can_receive(s->t, &f, s->now);
		}
		sim_settle(s, 1000000);
	}
	if (twin_get_mode(s->t) == TWIN_MODE_HUNG || twin_get_mode(s->t) == TWIN_MODE_APP) {
		/* katapult.md §5: a second reset inside the double-reset window (the RESET pads),
		 * i.e. just after Katapult armed its request flag. Needs a twin speed above 0,
		 * where the window has a length. */
		uint64_t armed;

		twin_reset(s->t, s->now);
		armed = twin_next_event_us(s->t);
		if (armed != UINT64_MAX && armed > s->now)
			s->now = armed;
		twin_advance(s->t, s->now);
		twin_reset(s->t, s->now);
		sim_settle(s, 1000000);
	}
	if (twin_get_mode(s->t) != TWIN_MODE_KATAPULT)
		return false;
	if (s->usb) {
		twin_serial_line(s->t, 250000, true, true, s->now);
		return true;
	}
	canbus_build_set_katapult_nodeid(uuid, SIM_NODE, &f);
	sim_can_admin(s, &f);
	return true;
}

/*
 * A twin of the MCU (a probe row of protocol/mcu.c; NULL the default F042) holding a Katapult
 * build (CAN at 1 Mbit/s or USB; kp_version NULL = protocol 1.0.0) and, when app_version is
 * not NULL, an application of that version. Powered on, not yet in Katapult. Returns 0 or a
 * negative cf_err.
 */
static SIM_UNUSED int sim_open_mcu(struct sim *s, const char *mcu, bool usb,
				   const char *kp_version, const char *app_version)
{
	struct twin_config c;
	struct mkimage_katapult_opts ko;
	struct mkimage_app_opts ao;
	uint8_t *img;
	size_t len;
	int rc;

	memset(s, 0, sizeof(*s));
	sim_twin_config(&c, 0);
	c.mcu = mcu;
	s->usb = usb;
	s->rng = 1;
	s->t = twin_new(&c);
	if (!s->t)
		return CF_ERR_NOMEM;
	memset(&ko, 0, sizeof(ko));
	ko.mcu = mcu;
	ko.iface = usb ? IMAGE_IFACE_USB : IMAGE_IFACE_CAN;
	ko.version = kp_version;
	rc = mkimage_katapult(&ko, &img, &len);
	if (rc)
		return rc;
	rc = sim_install(s, TWIN_FLASH_BASE, img, len);
	free(img);
	if (rc)
		return rc;
	if (app_version) {
		memset(&ao, 0, sizeof(ao));
		ao.mcu = mcu;
		ao.iface = ko.iface;
		ao.version = app_version;
		rc = mkimage_app(&ao, &img, &len);
		if (rc)
			return rc;
		rc = sim_install(s, TWIN_APP_START, img, len);
		free(img);
		if (rc)
			return rc;
	}
	twin_power_on(s->t, s->now);
	sim_settle(s, 1000000);
	return 0;
}

static SIM_UNUSED int sim_open(struct sim *s, bool usb, const char *kp_version,
			       const char *app_version)
{
	return sim_open_mcu(s, NULL, usb, kp_version, app_version);
}

static SIM_UNUSED void sim_close(struct sim *s)
{
	twin_free(s->t);
	free(s->img);
	s->t = NULL;
	s->img = NULL;
}

/* The image to write: an application for this twin's interface of total size len (0 =
 * mkimage's natural size), classified with image_inspect. */
static SIM_UNUSED int sim_make_app(struct sim *s, size_t size, const char *mcu, const char *version)
{
	struct mkimage_app_opts o;
	uint8_t *scratch = malloc(IMAGE_SCRATCH_SIZE);
	int rc;

	if (!scratch)
		return CF_ERR_NOMEM;
	memset(&o, 0, sizeof(o));
	o.iface = s->usb ? IMAGE_IFACE_USB : IMAGE_IFACE_CAN;
	o.version = version;
	o.mcu = mcu;
	o.size = size;
	free(s->img);
	rc = mkimage_app(&o, &s->img, &s->img_len);
	if (!rc)
		rc = image_inspect(s->img, s->img_len, scratch, IMAGE_SCRATCH_SIZE, &s->info);
	free(scratch);
	return rc;
}

/* Use raw bytes as the image (taken over; freed by sim_close), classified when possible. */
static SIM_UNUSED void sim_set_image(struct sim *s, uint8_t *img, size_t len)
{
	uint8_t *scratch = malloc(IMAGE_SCRATCH_SIZE);

	free(s->img);
	s->img = img;
	s->img_len = len;
	memset(&s->info, 0, sizeof(s->info));
	if (scratch)
		image_inspect(img, len, scratch, IMAGE_SCRATCH_SIZE, &s->info);
	free(scratch);
}

static SIM_UNUSED struct katapult_engine_config sim_config(const struct sim *s,
							   enum katapult_engine_op op)
{
	struct katapult_engine_config c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.image = s->img;
	c.image_len = s->img_len;
	c.image_info = s->img ? &s->info : NULL;
	c.target.iface = s->usb ? IMAGE_IFACE_USB : IMAGE_IFACE_CAN;
	c.target.bus_bitrate = s->usb ? 0 : 1000000;
	/* katapult.md §10: always prime USB; CAN checks the UUID. */
	c.prime = s->usb;
	c.expect_uuid = !s->usb;
	twin_uuid(s->t, c.uuid);
	return c;
}

/* Deliver the twin's output for this node to the engine. */
static SIM_UNUSED void sim_drain(struct sim *s, struct katapult_engine *e)
{
	struct canbus_frame f;
	uint8_t buf[256];
	size_t n;

	if (s->usb) {
		while ((n = twin_serial_pop(s->t, s->now, buf, sizeof(buf))))
			katapult_engine_feed(e, buf, n, s->now);
		return;
	}
	while (twin_can_pop(s->t, s->now, &f) == 0)
		if (f.id == canbus_node_rx_id(SIM_NODE))
			katapult_engine_feed(e, f.data, f.len, s->now);
}

struct sim_tx {
	uint8_t frame[KATAPULT_MAX_FRAME];
	size_t len, off;
	bool busy;
	uint64_t next_us;
	uint64_t blocked_since; /* the device refuses bytes since then; UINT64_MAX when not */
};

/* Put the next unit of the frame in flight on the wire: one CAN frame, or one USB packet
 * as far as the device's flow control takes it. Returns true when the frame is complete. */
static SIM_UNUSED bool sim_send_unit(struct sim *s, struct sim_tx *tx)
{
	size_t n;

	if (s->usb) {
		n = tx->len - tx->off > SIM_USB_PACKET ? SIM_USB_PACKET : tx->len - tx->off;
		n = twin_serial_receive(s->t, tx->frame + tx->off, n, s->now);
		/* a NAKed packet: the host controller retries it */
		tx->next_us = s->now + (n ? 0 : 100);
		if (!n && tx->blocked_since == UINT64_MAX)
			tx->blocked_since = s->now;
		if (n)
			tx->blocked_since = UINT64_MAX;
	} else {
		struct canbus_frame f[KATAPULT_MAX_FRAME / 8 + 1];
		size_t count = canbus_stream_to_frames(canbus_node_tx_id(SIM_NODE),
						       tx->frame + tx->off, tx->len - tx->off, f,
						       sizeof(f) / sizeof(f[0]));
		/* design.md rule 1: a full queue (EAGAIN) means wait and resend the same frame */
		if (count && s->stall_pct && sim_rand(&s->rng) % 100 < s->stall_pct) {
			s->stalls++;
			tx->next_us = s->now + 1000;
			return false;
		}
		twin_can_receive(s->t, &f[0], s->now);
		n = f[0].len;
		tx->next_us = s->now + SIM_CAN_FRAME_US;
	}
	tx->off += n;
	s->units += n != 0;
	return tx->off == tx->len;
}

/* A frame left half sent is a rule 1 violation unless the device refused every byte for
 * the engine's stall limit (a wedged USB device with a full buffer). */
static SIM_UNUSED void sim_abandoned(struct sim *s, const struct sim_tx *tx)
{
	if (tx->blocked_since != UINT64_MAX &&
	    s->now - tx->blocked_since >= KATAPULT_ENGINE_TX_STALL_US - 1000)
		s->stalled_out++;
	else
		s->abandoned_mid_send++;
}

static SIM_UNUSED void sim_check_frame(struct sim *s, struct katapult_engine *e,
				       const struct sim_tx *tx)
{
	const uint8_t *frame;
	size_t len;

	if (!tx->busy)
		return;
	if (katapult_engine_poll_tx(e, &frame, &len) <= 0)
		sim_abandoned(s, tx);
	else if (len != tx->len || memcmp(frame, tx->frame, len))
		s->changed_mid_send++;
}

static SIM_UNUSED uint64_t sim_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static SIM_UNUSED void sim_note_frame(struct sim *s, const uint8_t *frame, size_t len)
{
	struct katapult_frame f;
	size_t used;

	s->last_cmd = 0;
	if (katapult_decode(frame, len, &used, &f) != 1)
		return;
	s->last_cmd = f.cmd;
	s->last_addr = f.payload_len >= 4 ? cf_get_le32(f.payload) : 0;
	s->last_ff = f.payload_len == 4 + TWIN_BLOCK_SIZE;
	for (size_t i = 4; s->last_ff && i < f.payload_len; i++)
		s->last_ff = f.payload[i] == 0xff;
}

/* One step of the loop; false when nothing can happen any more. */
static SIM_UNUSED bool sim_step(struct sim *s, struct katapult_engine *e, struct sim_tx *tx)
{
	const uint8_t *frame;
	uint64_t next;

	twin_advance(s->t, s->now);
	sim_drain(s, e);
	if (katapult_engine_state(e) == KATAPULT_ENGINE_DONE)
		return false;
	sim_check_frame(s, e, tx);
	if (!tx->busy && katapult_engine_poll_tx(e, &frame, &tx->len) > 0) {
		memcpy(tx->frame, frame, tx->len);
		tx->off = 0;
		tx->busy = true;
		tx->next_us = s->now;
		tx->blocked_since = UINT64_MAX;
	}
	if (tx->busy && s->now >= tx->next_us) {
		if (sim_send_unit(s, tx)) {
			tx->busy = false;
			katapult_engine_tx_done(e, s->now);
			s->frames++;
			sim_note_frame(s, tx->frame, tx->len);
			if (s->hook)
				s->hook(s, s->frames, tx->frame, tx->len);
			if (s->cancel_after && s->frames == s->cancel_after)
				katapult_engine_cancel(e, s->now);
		}
		return true;
	}
	if (s->now >= katapult_engine_deadline(e)) {
		katapult_engine_tick(e, s->now);
		return true;
	}
	/* Everything due by now ran in twin_advance above; an event time not after now is a
	 * stale busy mark (a partial command waiting for its bytes), not work. */
	next = twin_next_event_us(s->t);
	if (next <= s->now)
		next = UINT64_MAX;
	next = sim_min(katapult_engine_deadline(e), next);
	if (tx->busy)
		next = sim_min(next, tx->next_us);
	if (next == UINT64_MAX)
		return false;
	if (next > s->now)
		s->now = next;
	return true;
}

/* Run one engine session to its end. Returns the engine's result. */
static SIM_UNUSED int sim_run(struct sim *s, struct katapult_engine *e)
{
	struct sim_tx tx = { .busy = false, .blocked_since = UINT64_MAX };
	unsigned long guard = 0;

	s->frames = s->changed_mid_send = s->abandoned_mid_send = s->stalled_out = 0;
	while (sim_step(s, e, &tx) && ++guard < 20000000ul)
		;
	if (tx.busy)
		sim_abandoned(s, &tx);
	return katapult_engine_result(e);
}

/* Create an engine for cfg, run it, free it. *stats and the failure are copied out. */
static SIM_UNUSED int sim_session(struct sim *s, const struct katapult_engine_config *cfg,
				  struct katapult_engine_stats *stats, struct cf_failure *why)
{
	struct katapult_engine *e;
	int rc = katapult_engine_new(cfg, &e);

	if (rc)
		return rc;
	rc = sim_run(s, e);
	s->app = katapult_engine_app(e);
	if (stats)
		*stats = *katapult_engine_stats(e);
	if (why)
		*why = *katapult_engine_failure(e);
	katapult_engine_free(e);
	return rc;
}

/* ---- the application area after the fact (design.md rule 3) ----------------------------- */

enum sim_app_state {
	SIM_APP_NEW,	 /* exactly the new image, last block padded with 0xFF */
	SIM_APP_OLD,	 /* untouched since the session began */
	SIM_APP_INVALID, /* first word 0xFFFFFFFF or 0: Katapult keeps control (§5) */
	SIM_APP_WINDOW,	 /* §5 safer order step 3-4: page 0 partly written, the rest complete */
	SIM_APP_BROKEN,	 /* anything else: a valid-looking half image */
};

static SIM_UNUSED bool sim_block_is(const struct sim *s, const uint8_t *app, size_t i)
{
	uint8_t want[TWIN_BLOCK_SIZE];
	size_t off = i * TWIN_BLOCK_SIZE, n;

	memset(want, 0xff, sizeof(want));
	n = s->img_len - off < TWIN_BLOCK_SIZE ? s->img_len - off : TWIN_BLOCK_SIZE;
	memcpy(want, s->img + off, n);
	return !memcmp(app + off, want, sizeof(want));
}

static SIM_UNUSED enum sim_app_state sim_app_state(const struct sim *s)
{
	size_t flash_len;
	const uint8_t *app = twin_flash(s->t, &flash_len) + SIM_APP_OFF;
	const size_t nblocks = (s->img_len + TWIN_BLOCK_SIZE - 1) / TWIN_BLOCK_SIZE;
	const size_t page_blocks = twin_mcu(s->t)->page_size / TWIN_BLOCK_SIZE;
	const uint32_t first = cf_get_le32(app);
	size_t i;

	for (i = 0; i < nblocks && sim_block_is(s, app, i); i++)
		;
	if (nblocks && i == nblocks)
		return SIM_APP_NEW;
	if (!memcmp(app, s->before, flash_len - SIM_APP_OFF))
		return SIM_APP_OLD;
	if (first == 0xffffffffu || first == 0)
		return SIM_APP_INVALID;
	/* Valid-looking: acceptable only inside the window the spec names (§5, step 4). */
	if (!nblocks || first != cf_get_le32(s->img))
		return SIM_APP_BROKEN;
	for (i = page_blocks; i < nblocks; i++)
		if (!sim_block_is(s, app, i))
			return SIM_APP_BROKEN;
	return SIM_APP_WINDOW;
}

static SIM_UNUSED const char *sim_app_state_name(enum sim_app_state st)
{
	switch (st) {
	case SIM_APP_NEW:
		return "new";
	case SIM_APP_OLD:
		return "old";
	case SIM_APP_INVALID:
		return "invalid";
	case SIM_APP_WINDOW:
		return "window";
	case SIM_APP_BROKEN:
		return "broken";
	}
	return "?";
}

/* Remember the application area as it is now (the "old" state). */
static SIM_UNUSED void sim_snapshot(struct sim *s)
{
	size_t len;

	const uint8_t *flash = twin_flash(s->t, &len);

	memcpy(s->before, flash + SIM_APP_OFF, len - SIM_APP_OFF);
}

#endif
