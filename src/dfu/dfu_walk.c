// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe procedure one operation at a time: shared steps, identify, verify, leave, read.
#include "dfu/dfu_walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/err.h"

#define RDP_PROBE_LEN 8 /* dfu.md §2.9 rdp: UPLOAD block 2, 8 bytes */

void dfu_walk_init(struct dfu_walk *w, const struct dfu_walk_config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->cfg = *cfg;
	w->next = DFU_WALK_DONE;
}

/* ---- what the plan leaves in flash ---- */

static const struct dfu_plan_image *image_at(const struct dfu_walk *w, uint32_t address)
{
	const struct dfu_plan *plan = w->cfg.plan;

	for (size_t i = 0; plan && i < plan->count; i++)
		if (address >= plan->img[i].address &&
		    address - plan->img[i].address < plan->img[i].len)
			return &plan->img[i];
	return NULL;
}

uint8_t dfu_walk_target(const struct dfu_walk *w, uint32_t address)
{
	const struct dfu_plan_image *img = image_at(w, address);

	return img ? img->data[address - img->address] : 0xFF;
}

const char *dfu_walk_image_at(const struct dfu_walk *w, uint32_t address)
{
	const struct dfu_plan_image *img = image_at(w, address);

	return img ? img->name : "the erased gap between the images";
}

/* ---- shared steps ---- */

void dfu_walk_want(struct dfu_walk *w, enum dfuse_op_kind kind, uint32_t address,
		   uint16_t block, const uint8_t *data, size_t len, dfu_walk_fn then)
{
	w->op = (struct dfuse_op){kind, address, block, data, len};
	w->then = then;
	w->own_errors = false;
	w->must_run = false;
	w->next = DFU_WALK_RUN;
}

void dfu_walk_done(struct dfu_walk *w)
{
	w->next = DFU_WALK_DONE;
}

void dfu_walk_fail(struct dfu_walk *w, int code, const char *hint, const char *fmt, ...)
{
	va_list ap;
	char detail[sizeof(w->failure.detail)];

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cf_failure_set(&w->failure, code, w->stage, "%s", detail);
	cf_failure_set_hint(&w->failure, "%s", hint);
	w->next = DFU_WALK_FAILED;
}

void dfu_walk_progress(struct dfu_walk *w, const char *stage, size_t done, size_t total)
{
	w->progress_stage = stage;
	w->progress_done = done;
	w->progress_total = total;
}

void dfu_walk_step(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *data)
{
	const dfu_walk_fn then = w->then;

	w->then = NULL;
	if (then)
		then(w, r, data);
	else
		dfu_walk_done(w);
}

static const char *next_step_hint(const struct dfu_walk *w, const struct dfuse_result *r)
{
	if (r->have_status && r->st.status == DFU_STATUS_ERR_VENDOR)
		return "read protection is active: 'cartoflash recover --unprotect' removes it "
		       "(this wipes the whole chip)";
	if (r->err == CF_ERR_NO_DEVICE && w->boot_verified)
		return "the probe disconnected; its bootloader was written and read back first, "
		       "so it starts Katapult: check the cable, keep BOOT0 bridged, replug and "
		       "rerun recover";
	if (r->err == CF_ERR_NO_DEVICE)
		return "the probe disconnected: check the cable, keep BOOT0 bridged, replug and "
		       "rerun recover";
	return "the probe stays in ROM DFU mode: rerun recover";
}

void dfu_walk_op_failed(struct dfu_walk *w, const struct dfuse_result *r)
{
	const struct dfuse_op *op = &w->op;
	char what[64];

	/* Issue #15: the address, never a DfuSe block number, names where it went wrong. */
	if (op->kind == DFUSE_OP_WRITE || op->kind == DFUSE_OP_UPLOAD)
		snprintf(what, sizeof(what), "%s at 0x%08x", dfuse_op_name(op->kind), op->address);
	else if (op->kind == DFUSE_OP_SET_ADDRESS || op->kind == DFUSE_OP_ERASE)
		snprintf(what, sizeof(what), "%s 0x%08x", dfuse_op_name(op->kind), op->address);
	else
		snprintf(what, sizeof(what), "%s", dfuse_op_name(op->kind));
	if (r->xfer == DFUSE_XFER_STALL && r->have_status && r->st.status == DFU_STATUS_OK)
		dfu_walk_fail(w, r->err, next_step_hint(w, r),
			      "%s: %s stalled (device in %s, status %s)", what,
			      r->request ? r->request : "request", dfu_state_name(r->st.state),
			      dfu_status_name(r->st.status));
	else if (r->have_status && r->st.status != DFU_STATUS_OK)
		dfu_walk_fail(w, r->err, next_step_hint(w, r), "%s: device answered %s %s (%s)",
			      what, dfu_state_name(r->st.state), dfu_status_name(r->st.status),
			      dfu_status_text(r->st.status));
	else if (r->have_status && r->err == CF_ERR_PROTOCOL)
		dfu_walk_fail(w, r->err, next_step_hint(w, r), "%s: unexpected state %s", what,
			      dfu_state_name(r->st.state));
	else
		dfu_walk_fail(w, r->err, next_step_hint(w, r), "%s: %s %s", what,
			      r->request ? r->request : "request", dfuse_xfer_name(r->xfer));
}

void dfu_walk_start_phase(struct dfu_walk *w, const char *stage)
{
	cf_failure_clear(&w->failure);
	w->stage = stage;
	dfu_walk_progress(w, NULL, 0, 0);
	if (w->cfg.plan && w->cfg.plan->count) {
		const struct dfu_plan_image *last = &w->cfg.plan->img[w->cfg.plan->count - 1];

		w->span_start = w->cfg.plan->img[0].address;
		w->span_end = last->address + (uint32_t)last->len;
	}
}

static void end_ok(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *data)
{
	(void)r;
	(void)data;
	dfu_walk_done(w);
}

/* ---- identify: idle, then the read-protection probe (dfu.md §2.9 rdp) ---- */

static void id_unprotected(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	w->stats.unprotected = true; /* dfu.md §2.8: it wiped itself and resets */
	dfu_walk_done(w);
}

static void id_read_done(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)d;
	if (r->err && r->have_status && r->st.status == DFU_STATUS_ERR_VENDOR) {
		w->stats.read_protected = true;
		if (w->cfg.unprotect) {
			dfu_walk_want(w, DFUSE_OP_UNPROTECT, 0, 0, NULL, 0, id_unprotected);
			return;
		}
	}
	if (r->err) {
		dfu_walk_op_failed(w, r);
		return;
	}
	dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, end_ok);
}

static void id_read(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_UPLOAD, w->cfg.flash_base, 2, NULL, RDP_PROBE_LEN, id_read_done);
	w->own_errors = true;
}

static void id_abort(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	/* dfu.md §2.4: UPLOAD is refused in dfuDNLOAD-IDLE: ABORT to dfuIDLE first. */
	dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, id_read);
}

static void id_address(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_SET_ADDRESS, w->cfg.flash_base, 0, NULL, 0, id_abort);
}

void dfu_walk_begin_identify(struct dfu_walk *w)
{
	dfu_walk_start_phase(w, "identify");
	dfu_walk_want(w, DFUSE_OP_IDLE, 0, 0, NULL, 0, id_address);
}

/* ---- reading a range back: VERIFY, READ ---- */

static void verify_next(struct dfu_walk *w);

static void verify_failed(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	w->next = DFU_WALK_FAILED; /* the failure was set before the ABORT */
}

/* A mismatch: ABORT first (issue #15: the ROM must not stay in dfuUPLOAD-IDLE), then fail. */
static void abort_then_fail(struct dfu_walk *w)
{
	dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, verify_failed);
	w->own_errors = true;
	w->must_run = true;
}

static void verify_block(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *data)
{
	const uint32_t at = w->cursor;

	for (size_t i = 0; i < w->chunk; i++) {
		const uint32_t a = at + (uint32_t)i;

		if (i < r->actual && data[i] == dfu_walk_target(w, a))
			continue;
		if (i >= r->actual)
			cf_failure_set(&w->failure, CF_ERR_VERIFY, w->stage,
				       "%s: read %zu of %zu bytes at 0x%08x", dfu_walk_image_at(w, at),
				       r->actual, w->chunk, at);
		else
			cf_failure_set(&w->failure, CF_ERR_VERIFY, w->stage,
				       "%s: byte 0x%08x differs: wrote 0x%02x, read 0x%02x",
				       dfu_walk_image_at(w, a), a, dfu_walk_target(w, a), data[i]);
		cf_failure_set_hint(&w->failure, "the probe stays in ROM DFU mode: rerun recover "
						 "(if it repeats, pages may be write-protected)");
		abort_then_fail(w);
		return;
	}
	w->cursor += (uint32_t)r->actual;
	w->stats.bytes_verified += r->actual;
	dfu_walk_progress(w, "verify", w->cursor - w->span_start, w->span_end - w->span_start);
	verify_next(w);
}

static void verify_next(struct dfu_walk *w)
{
	const uint32_t left = w->span_end - w->cursor;

	if (!left) {
		dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, end_ok);
		return;
	}
	w->chunk = left < w->cfg.xfer ? left : w->cfg.xfer;
	dfu_walk_want(w, DFUSE_OP_UPLOAD, w->cursor,
		      (uint16_t)(2 + (w->cursor - w->span_start) / w->cfg.xfer), NULL, w->chunk,
		      verify_block);
}

static void verify_go(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	verify_next(w);
}

static void verify_abort(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, verify_go);
}

void dfu_walk_begin_verify(struct dfu_walk *w)
{
	dfu_walk_start_phase(w, "verify");
	w->cursor = w->span_start;
	/* dfu.md §2.4: SET_ADDRESS, then ABORT: UPLOAD is refused in dfuDNLOAD-IDLE. */
	dfu_walk_want(w, DFUSE_OP_SET_ADDRESS, w->span_start, 0, NULL, 0, verify_abort);
}

static void read_next(struct dfu_walk *w);

static void read_block(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *data)
{
	memcpy(w->cfg.read_buf + w->stats.bytes_read, data, r->actual);
	w->stats.bytes_read += r->actual;
	if (r->actual < w->chunk)
		w->cfg.read_len = w->stats.bytes_read; /* a short frame ends the memory */
	dfu_walk_progress(w, "read", w->stats.bytes_read, w->cfg.read_len);
	read_next(w);
}

static void read_next(struct dfu_walk *w)
{
	const size_t off = w->stats.bytes_read, left = w->cfg.read_len - off;

	if (!left) {
		dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, end_ok);
		return;
	}
	w->chunk = left < w->cfg.xfer ? left : w->cfg.xfer;
	dfu_walk_want(w, DFUSE_OP_UPLOAD, w->cfg.read_address + (uint32_t)off,
		      (uint16_t)(2 + off / w->cfg.xfer), NULL, w->chunk, read_block);
}

static void read_go(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	read_next(w);
}

static void read_abort(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_ABORT, 0, 0, NULL, 0, read_go);
}

static void read_address(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_SET_ADDRESS, w->cfg.read_address, 0, NULL, 0, read_abort);
}

void dfu_walk_begin_read(struct dfu_walk *w)
{
	dfu_walk_start_phase(w, "read");
	w->stats.bytes_read = 0;
	dfu_walk_want(w, DFUSE_OP_IDLE, 0, 0, NULL, 0, read_address);
}

/* ---- leave (dfu.md §2.5) ---- */

static void leave_done(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)d;
	w->stats.left_confirmed = r->left_confirmed;
	dfu_walk_done(w);
}

static void leave_go(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *d)
{
	(void)r;
	(void)d;
	dfu_walk_want(w, DFUSE_OP_LEAVE, 0, 0, NULL, 0, leave_done);
	w->must_run = true; /* the vector table is set: leave now, never half-way */
}

void dfu_walk_begin_leave(struct dfu_walk *w)
{
	dfu_walk_start_phase(w, "leave");
	/* dfu.md §2.5 pitfall: always point at the vector table before leaving. */
	dfu_walk_want(w, DFUSE_OP_SET_ADDRESS, w->cfg.flash_base, 0, NULL, 0, leave_go);
}
