/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The ROM model on a virtual clock, for the DfuSe request layer and session tests. Include
 * after <cmocka.h>. */
#ifndef CARTOFLASH_TESTS_UNIT_DFU_VIRTUAL_H
#define CARTOFLASH_TESTS_UNIT_DFU_VIRTUAL_H

#include <stdint.h>
#include <string.h>

#include "dfu/dfu_session.h"
#include "dfu/dfuse.h"
#include "tools/twin/rom_dfu.h"

#define VROM_FLASH_SIZE 32768
#define VROM_BASE	0x08000000u
#define VROM_LATENCY_US 125 /* one full-speed frame per control transfer */

/*
 * What stands between a session and the chip: every request goes to the model at the
 * virtual time now_us, which advances by a transfer's latency and jumps to each deadline.
 * inject (optional) may replace a transfer's outcome (lost, stalled) for fault schedules.
 */
struct vrom {
	uint8_t flash[VROM_FLASH_SIZE];
	struct rom_dfu model;
	uint64_t now_us;
	unsigned requests[8]; /* per bRequest */
	bool gone_reported;   /* the first request after a reset dies with -EPROTO, then ENODEV */
	bool (*inject)(struct vrom *v, const struct dfuse_request *req, uint8_t *buf,
		       size_t *len, enum dfuse_xfer_result *r);
	void *ctx;
};

static inline void vrom_init(struct vrom *v, unsigned faults, double speed)
{
	const struct rom_dfu_config cfg = {
		.flash = v->flash,
		.flash_size = VROM_FLASH_SIZE,
		.flash_base = VROM_BASE,
		.page_size = 1024,
		.speed = speed,
		.faults = faults,
	};

	memset(v->requests, 0, sizeof(v->requests));
	v->now_us = 1000000;
	v->gone_reported = false;
	v->inject = NULL;
	rom_dfu_init(&v->model, &cfg);
}

static inline enum dfuse_xfer_result vrom_xfer(struct vrom *v, const struct dfuse_request *req,
					       uint8_t *buf, size_t *len)
{
	enum dfuse_xfer_result r;
	enum rom_dfu_xfer x;

	*len = 0;
	if (req->out)
		memcpy(buf, req->out, req->length);
	v->requests[req->setup[1] & 7]++;
	v->now_us += VROM_LATENCY_US;
	if (v->inject && v->inject(v, req, buf, len, &r))
		return r;
	rom_dfu_tick(&v->model, v->now_us);
	x = rom_dfu_control(&v->model, req->setup, buf, len, v->now_us);
	if (x == ROM_DFU_XFER_OK)
		return DFUSE_XFER_OK;
	if (x == ROM_DFU_XFER_STALL)
		return DFUSE_XFER_STALL;
	r = v->gone_reported ? DFUSE_XFER_NO_DEVICE : DFUSE_XFER_IO;
	v->gone_reported = true;
	return r;
}

/* Run one phase to its end on the virtual clock; returns the session's result. */
static inline int vrom_run(struct vrom *v, struct dfu_session *s, enum dfu_session_phase phase)
{
	static uint8_t buf[DFUSE_MAX_XFER];
	struct dfuse_request req;
	enum dfuse_xfer_result r;
	size_t len;

	dfu_session_start(s, phase, v->now_us);
	for (unsigned turns = 0; turns < 1000000; turns++) {
		switch (dfu_session_state(s)) {
		case DFU_SESSION_SEND:
			assert_true(dfu_session_poll_request(s, &req));
			r = vrom_xfer(v, &req, buf, &len);
			dfu_session_complete(s, r, buf, len, v->now_us);
			break;
		case DFU_SESSION_IN_FLIGHT:
			fail_msg("in flight with no transfer out");
			break;
		case DFU_SESSION_WAIT:
			if (dfu_session_deadline(s) > v->now_us)
				v->now_us = dfu_session_deadline(s);
			dfu_session_tick(s, v->now_us);
			break;
		case DFU_SESSION_DONE:
			return dfu_session_result(s);
		}
	}
	fail_msg("the phase never ended");
	return -1;
}

/* One operation of the request layer alone, to its end; UPLOAD bytes land in data. */
static inline struct dfuse_result vrom_op(struct vrom *v, struct dfuse *e, enum dfuse_op_kind kind,
					  uint32_t addr, uint16_t block, uint8_t *data, size_t len)
{
	static uint8_t buf[DFUSE_MAX_XFER];
	const struct dfuse_op op = { kind, addr, block, data, len };
	struct dfuse_request req;
	enum dfuse_xfer_result r;
	size_t got;

	assert_int_equal(dfuse_start(e, &op, v->now_us), 0);
	for (unsigned turns = 0; dfuse_state(e) != DFUSE_DONE; turns++) {
		if (turns > 100000)
			fail_msg("%s never ended", dfuse_op_name(kind));
		if (dfuse_state(e) == DFUSE_SEND) {
			assert_true(dfuse_poll_request(e, &req));
			r = vrom_xfer(v, &req, buf, &got);
			dfuse_complete(e, r, buf, got, v->now_us);
		} else if (dfuse_state(e) == DFUSE_WAIT) {
			if (dfuse_deadline(e) > v->now_us)
				v->now_us = dfuse_deadline(e);
			dfuse_tick(e, v->now_us);
		} else {
			fail_msg("in flight with no transfer out");
		}
	}
	if (kind == DFUSE_OP_UPLOAD && data)
		memcpy(data, dfuse_upload_data(e), dfuse_get_result(e)->actual);
	return *dfuse_get_result(e);
}

#endif
