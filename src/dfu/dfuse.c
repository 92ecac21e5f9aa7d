// SPDX-License-Identifier: GPL-3.0-or-later
// DfuSe request layer: DNLOAD/UPLOAD + GETSTATUS loop with bwPollTimeout waits, sans-I/O.
#include "dfu/dfuse.h"

#include <string.h>

#include "protocol/err.h"

#define REQUEST_TIMEOUT_MS    5000		/* dfu.md §1.2: dfu-util's per-request timeout */
#define MASS_ERASE_TIMEOUT_MS 45000		/* dfu.md §1.5: >= 40 s after a mass erase */
#define BUSY_CAP_US	      (60ull * 1000000) /* dfu.md §2.9: give up after 60 s in dfuDNBUSY */
#define MAX_STALLS	      3			/* dfu.md §1.3: L4 stalls GETSTATUS while busy */
#define MAX_IDLE_TRIES	      4			/* dfu.md §2.9 "repeat <= 4x" */

enum phase {
	PH_MAIN,	   /* the operation's own request */
	PH_STATUS,	   /* GETSTATUS */
	PH_IDLE_FIX,	   /* IDLE op: CLRSTATUS or ABORT, then GETSTATUS again */
	PH_ERR_STATUS,	   /* after a stalled request: what does the device say */
	PH_RECOVER_CLR,	   /* CLRSTATUS after dfuERROR (dfu.md §2.3) */
	PH_RECOVER_STATUS, /* GETSTATUS after that; then report the saved error */
	PH_PROBE,	   /* after an I/O error: is the device still there? */
};

const char *dfuse_xfer_name(enum dfuse_xfer_result r)
{
	switch (r) {
	case DFUSE_XFER_OK:
		return "ok";
	case DFUSE_XFER_STALL:
		return "stall";
	case DFUSE_XFER_IO:
		return "io";
	case DFUSE_XFER_NO_DEVICE:
		return "no_device";
	case DFUSE_XFER_TIMEOUT:
		return "timeout";
	}
	return "io";
}

const char *dfuse_op_name(enum dfuse_op_kind kind)
{
	switch (kind) {
	case DFUSE_OP_IDLE:
		return "get idle";
	case DFUSE_OP_SET_ADDRESS:
		return "set address";
	case DFUSE_OP_ERASE:
		return "erase page";
	case DFUSE_OP_MASS_ERASE:
		return "mass erase";
	case DFUSE_OP_UNPROTECT:
		return "read unprotect";
	case DFUSE_OP_WRITE:
		return "write";
	case DFUSE_OP_ABORT:
		return "abort";
	case DFUSE_OP_UPLOAD:
		return "read";
	case DFUSE_OP_LEAVE:
		return "leave";
	}
	return "operation";
}

static int xfer_err(enum dfuse_xfer_result r)
{
	switch (r) {
	case DFUSE_XFER_OK:
		return CF_OK;
	case DFUSE_XFER_STALL:
		return CF_ERR_PROTOCOL;
	case DFUSE_XFER_IO:
		return CF_ERR_IO;
	case DFUSE_XFER_NO_DEVICE:
		return CF_ERR_NO_DEVICE;
	case DFUSE_XFER_TIMEOUT:
		return CF_ERR_TIMEOUT;
	}
	return CF_ERR_IO;
}

static const char *request_name(enum dfu_request req)
{
	switch (req) {
	case DFU_REQ_DETACH:
		return "DETACH";
	case DFU_REQ_DNLOAD:
		return "DNLOAD";
	case DFU_REQ_UPLOAD:
		return "UPLOAD";
	case DFU_REQ_GETSTATUS:
		return "GETSTATUS";
	case DFU_REQ_CLRSTATUS:
		return "CLRSTATUS";
	case DFU_REQ_GETSTATE:
		return "GETSTATE";
	case DFU_REQ_ABORT:
		return "ABORT";
	}
	return "request";
}

static void finish(struct dfuse *s, int err)
{
	s->res.err = err;
	s->state = DFUSE_DONE;
}

/* The next request; the out data stage (if any) is already in s->out. */
static void send(struct dfuse *s, enum dfu_request req, uint16_t value, uint16_t len,
		 unsigned timeout_ms)
{
	const bool in = req == DFU_REQ_UPLOAD || req == DFU_REQ_GETSTATUS ||
			req == DFU_REQ_GETSTATE;

	dfu_build_setup(s->req.setup, req, value, s->interface, len);
	s->req.out = !in && len ? s->out : NULL;
	s->req.length = len;
	s->req.in = in;
	s->req.timeout_ms = timeout_ms;
	s->req.name = request_name(req);
	s->state = DFUSE_SEND;
}

static void send_getstatus(struct dfuse *s, enum phase next)
{
	const bool long_wait = s->op.kind == DFUSE_OP_MASS_ERASE;

	s->phase = next;
	send(s, DFU_REQ_GETSTATUS, 0, DFU_STATUS_LEN,
	     long_wait ? MASS_ERASE_TIMEOUT_MS : REQUEST_TIMEOUT_MS);
}

static void wait_poll(struct dfuse *s, uint32_t ms, uint64_t now_us)
{
	s->last_poll_ms = ms;
	s->wait_until_us = now_us + (uint64_t)ms * 1000;
	s->state = DFUSE_WAIT;
}

static void fail_xfer(struct dfuse *s, const char *request, enum dfuse_xfer_result r)
{
	s->res.request = request;
	s->res.xfer = r;
	if (r == DFUSE_XFER_IO || r == DFUSE_XFER_TIMEOUT) {
		/* An unplugged device often fails one transfer with -EPROTO first: one GETSTATUS
		 * tells "gone" (ENODEV) from a real I/O error. */
		s->phase = PH_PROBE;
		send(s, DFU_REQ_GETSTATUS, 0, DFU_STATUS_LEN, REQUEST_TIMEOUT_MS);
		return;
	}
	finish(s, xfer_err(r));
}

void dfuse_init(struct dfuse *s, uint16_t interface)
{
	memset(s, 0, sizeof(*s));
	s->interface = interface;
	s->state = DFUSE_DONE;
}

static size_t build_command(struct dfuse *s)
{
	switch (s->op.kind) {
	case DFUSE_OP_SET_ADDRESS:
		return dfuse_build_set_address(s->out, s->op.address);
	case DFUSE_OP_ERASE:
		return dfuse_build_erase_page(s->out, s->op.address);
	case DFUSE_OP_MASS_ERASE:
		return dfuse_build_mass_erase(s->out);
	case DFUSE_OP_UNPROTECT:
		return dfuse_build_read_unprotect(s->out);
	case DFUSE_OP_IDLE:
	case DFUSE_OP_WRITE:
	case DFUSE_OP_ABORT:
	case DFUSE_OP_UPLOAD:
	case DFUSE_OP_LEAVE:
		break;
	}
	return 0;
}

int dfuse_start(struct dfuse *s, const struct dfuse_op *op, uint64_t now_us)
{
	if (s->state != DFUSE_DONE)
		return CF_ERR_BUSY;
	if ((op->kind == DFUSE_OP_WRITE || op->kind == DFUSE_OP_UPLOAD) &&
	    (op->len == 0 || op->len > DFUSE_MAX_XFER || op->block < 2 ||
	     (op->kind == DFUSE_OP_WRITE && !op->data)))
		return CF_ERR_USAGE;
	s->op = *op;
	s->op.data = NULL; /* copied below: the caller's buffer may change */
	memset(&s->res, 0, sizeof(s->res));
	s->tries = 0;
	s->stalls = 0;
	s->last_poll_ms = 0;
	s->busy_deadline_us = now_us + BUSY_CAP_US;
	s->phase = PH_MAIN;
	switch (op->kind) {
	case DFUSE_OP_IDLE:
		send_getstatus(s, PH_STATUS);
		break;
	case DFUSE_OP_SET_ADDRESS:
	case DFUSE_OP_ERASE:
	case DFUSE_OP_MASS_ERASE:
	case DFUSE_OP_UNPROTECT:
		send(s, DFU_REQ_DNLOAD, 0, (uint16_t)build_command(s), REQUEST_TIMEOUT_MS);
		break;
	case DFUSE_OP_WRITE:
		memcpy(s->out, op->data, op->len);
		send(s, DFU_REQ_DNLOAD, op->block, (uint16_t)op->len, REQUEST_TIMEOUT_MS);
		break;
	case DFUSE_OP_ABORT:
		send(s, DFU_REQ_ABORT, 0, 0, REQUEST_TIMEOUT_MS);
		break;
	case DFUSE_OP_UPLOAD:
		send(s, DFU_REQ_UPLOAD, op->block, (uint16_t)op->len, REQUEST_TIMEOUT_MS);
		break;
	case DFUSE_OP_LEAVE:
		/* dfu.md §2.3: wValue 2, wLength 0, after SET_ADDRESS of the vector table. */
		send(s, DFU_REQ_DNLOAD, 2, 0, REQUEST_TIMEOUT_MS);
		break;
	}
	return CF_OK;
}

bool dfuse_poll_request(struct dfuse *s, struct dfuse_request *req)
{
	if (s->state != DFUSE_SEND)
		return false;
	*req = s->req;
	s->state = DFUSE_IN_FLIGHT;
	return true;
}

uint64_t dfuse_deadline(const struct dfuse *s)
{
	return s->state == DFUSE_WAIT ? s->wait_until_us : UINT64_MAX;
}

enum dfuse_state dfuse_state(const struct dfuse *s)
{
	return s->state;
}

const struct dfuse_result *dfuse_get_result(const struct dfuse *s)
{
	return &s->res;
}

const uint8_t *dfuse_upload_data(const struct dfuse *s)
{
	return s->in;
}

void dfuse_tick(struct dfuse *s, uint64_t now_us)
{
	if (s->state != DFUSE_WAIT || now_us < s->wait_until_us)
		return;
	send_getstatus(s, PH_STATUS);
}

/* ---- completions ---- */

static void main_done(struct dfuse *s, enum dfuse_xfer_result r, size_t actual)
{
	if (s->op.kind == DFUSE_OP_LEAVE && r != DFUSE_XFER_OK) {
		/* dfu.md §2.5: GD32 fails the DNLOAD itself while resetting: left. */
		finish(s, CF_OK);
		return;
	}
	if (s->op.kind == DFUSE_OP_UPLOAD) {
		if (r == DFUSE_XFER_OK) {
			s->res.actual = actual;
			finish(s, CF_OK);
			return;
		}
		s->res.request = "UPLOAD";
		s->res.xfer = r;
		if (r == DFUSE_XFER_STALL) /* ask why: errVENDOR under read protection */
			send_getstatus(s, PH_ERR_STATUS);
		else
			fail_xfer(s, "UPLOAD", r);
		return;
	}
	if (r == DFUSE_XFER_STALL) {
		/* Ask for the state and status so the report can name them. */
		s->res.request = s->req.name;
		s->res.xfer = r;
		send_getstatus(s, PH_ERR_STATUS);
		return;
	}
	if (r != DFUSE_XFER_OK) {
		fail_xfer(s, s->req.name, r);
		return;
	}
	send_getstatus(s, PH_STATUS);
}

static void recover(struct dfuse *s)
{
	/* dfu.md §2.3: report, then CLRSTATUS + GETSTATUS back to dfuIDLE before anything else. */
	s->phase = PH_RECOVER_CLR;
	send(s, DFU_REQ_CLRSTATUS, 0, 0, REQUEST_TIMEOUT_MS);
}

static void idle_status(struct dfuse *s, const struct dfu_status_record *st, uint64_t now_us)
{
	if (st->state == DFU_STATE_IDLE && st->status == DFU_STATUS_OK) {
		finish(s, CF_OK);
		return;
	}
	if (++s->tries > MAX_IDLE_TRIES) {
		s->res.request = "GETSTATUS";
		finish(s, CF_ERR_PROTOCOL);
		return;
	}
	switch (st->state) {
	case DFU_STATE_ERROR: /* the only state where CLRSTATUS is safe (dfu.md §1.5) */
		s->phase = PH_IDLE_FIX;
		send(s, DFU_REQ_CLRSTATUS, 0, 0, REQUEST_TIMEOUT_MS);
		return;
	case DFU_STATE_DNBUSY:
		s->phase = PH_STATUS;
		wait_poll(s, st->poll_timeout_ms, now_us);
		return;
	case DFU_STATE_IDLE:
	case DFU_STATE_DNLOAD_SYNC:
	case DFU_STATE_DNLOAD_IDLE:
	case DFU_STATE_MANIFEST_SYNC:
	case DFU_STATE_UPLOAD_IDLE:
		s->phase = PH_IDLE_FIX;
		send(s, DFU_REQ_ABORT, 0, 0, REQUEST_TIMEOUT_MS);
		return;
	default:
		s->res.request = "GETSTATUS"; /* appIDLE, manifest states: not a DFU-mode device */
		finish(s, CF_ERR_PROTOCOL);
		return;
	}
}

static void dnload_status(struct dfuse *s, const struct dfu_status_record *st, uint64_t now_us)
{
	if (st->state == DFU_STATE_ERROR || st->status != DFU_STATUS_OK) {
		s->res.request = "GETSTATUS";
		recover(s);
		return;
	}
	if (s->op.kind == DFUSE_OP_UNPROTECT) {
		/* dfu.md §2.8: it mass-erases, then resets without a second answer. Honour the
		 * erase time before the next request; whatever that poll meets ends the op. */
		if (st->state == DFU_STATE_DNBUSY && !s->last_poll_ms && st->poll_timeout_ms) {
			wait_poll(s, st->poll_timeout_ms, now_us);
			return;
		}
		finish(s, CF_OK);
		return;
	}
	if (st->state == DFU_STATE_DNBUSY || st->state == DFU_STATE_DNLOAD_SYNC) {
		if (now_us > s->busy_deadline_us) {
			s->res.request = "GETSTATUS";
			finish(s, CF_ERR_TIMEOUT);
			return;
		}
		wait_poll(s, st->poll_timeout_ms, now_us);
		return;
	}
	if (st->state == DFU_STATE_DNLOAD_IDLE) {
		finish(s, CF_OK);
		return;
	}
	s->res.request = "GETSTATUS";
	finish(s, CF_ERR_PROTOCOL);
}

static void status_answer(struct dfuse *s, const struct dfu_status_record *st, uint64_t now_us)
{
	switch (s->op.kind) {
	case DFUSE_OP_IDLE:
		idle_status(s, st, now_us);
		return;
	case DFUSE_OP_ABORT:
		s->res.request = "ABORT";
		finish(s, st->state == DFU_STATE_IDLE ? CF_OK : CF_ERR_PROTOCOL);
		return;
	case DFUSE_OP_LEAVE:
		/* dfu.md §2.5: a correct answer is dfuMANIFEST (7). */
		s->res.left_confirmed = st->state == DFU_STATE_MANIFEST ||
					st->state == DFU_STATE_MANIFEST_WAIT_RESET ||
					st->state == DFU_STATE_MANIFEST_SYNC;
		s->res.request = "GETSTATUS";
		finish(s, s->res.left_confirmed ? CF_OK : CF_ERR_PROTOCOL);
		return;
	case DFUSE_OP_SET_ADDRESS:
	case DFUSE_OP_ERASE:
	case DFUSE_OP_MASS_ERASE:
	case DFUSE_OP_UNPROTECT:
	case DFUSE_OP_WRITE:
	case DFUSE_OP_UPLOAD:
		dnload_status(s, st, now_us);
		return;
	}
}

static void status_done(struct dfuse *s, enum dfuse_xfer_result r, size_t actual, uint64_t now_us)
{
	struct dfu_status_record st;

	if (r != DFUSE_XFER_OK) {
		if (s->op.kind == DFUSE_OP_LEAVE || s->op.kind == DFUSE_OP_UNPROTECT) {
			/* dfu.md §2.5 required handling: IO/PIPE/NO_DEVICE/TIMEOUT = left (or, for
			 * read unprotect, reset). */
			finish(s, CF_OK);
			return;
		}
		if (r == DFUSE_XFER_STALL && s->last_poll_ms && ++s->stalls <= MAX_STALLS) {
			/* dfu.md §1.3, L4: stalled while busy: wait the last timeout again. */
			wait_poll(s, s->last_poll_ms, now_us);
			return;
		}
		fail_xfer(s, "GETSTATUS", r);
		return;
	}
	if (dfu_parse_status(s->in, actual, &st)) {
		s->res.request = "GETSTATUS";
		finish(s, CF_ERR_PROTOCOL);
		return;
	}
	s->res.have_status = true;
	s->res.st = st;
	status_answer(s, &st, now_us);
}

static void err_status_done(struct dfuse *s, enum dfuse_xfer_result r, size_t actual)
{
	struct dfu_status_record st;

	if (r == DFUSE_XFER_NO_DEVICE) {
		s->res.xfer = r;
		finish(s, CF_ERR_NO_DEVICE);
		return;
	}
	if (r == DFUSE_XFER_OK && !dfu_parse_status(s->in, actual, &st)) {
		s->res.have_status = true;
		s->res.st = st;
		if (st.state == DFU_STATE_ERROR) {
			recover(s);
			return;
		}
	}
	finish(s, CF_ERR_PROTOCOL);
}

void dfuse_complete(struct dfuse *s, enum dfuse_xfer_result r, const uint8_t *in, size_t actual,
		    uint64_t now_us)
{
	if (s->state != DFUSE_IN_FLIGHT)
		return;
	if (r != DFUSE_XFER_OK || !s->req.in)
		actual = 0;
	if (actual > s->req.length)
		actual = s->req.length;
	if (actual && in)
		memcpy(s->in, in, actual);
	switch ((enum phase)s->phase) {
	case PH_MAIN:
		main_done(s, r, actual);
		return;
	case PH_STATUS:
		status_done(s, r, actual, now_us);
		return;
	case PH_IDLE_FIX:
		if (r != DFUSE_XFER_OK) {
			fail_xfer(s, s->req.name, r);
			return;
		}
		send_getstatus(s, PH_STATUS);
		return;
	case PH_ERR_STATUS:
		err_status_done(s, r, actual);
		return;
	case PH_RECOVER_CLR:
		s->phase = PH_RECOVER_STATUS;
		send(s, DFU_REQ_GETSTATUS, 0, DFU_STATUS_LEN, REQUEST_TIMEOUT_MS);
		return;
	case PH_RECOVER_STATUS:
		finish(s, CF_ERR_PROTOCOL); /* the saved status says why */
		return;
	case PH_PROBE:
		if (r == DFUSE_XFER_NO_DEVICE)
			s->res.xfer = r;
		finish(s, xfer_err(s->res.xfer));
		return;
	}
}
