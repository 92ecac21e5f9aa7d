// SPDX-License-Identifier: GPL-3.0-or-later
// The DFU recovery updater: find, probe, plan, erase once, write, read back, leave, follow.
#include "dfu/dfu_backend.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu/dfu_priv.h"
#include "failure.h"
#include "log.h"
#include "protocol/err.h"
#include "protocol/image.h"

#define FLASH_BASE    IMAGE_FLASH_BASE
#define APP_START     IMAGE_APP_START
#define RDP_PROBE_LEN 8
#define WAIT_POLL_US  200000
#define REOPEN_US     10000000 /* the ROM is back within a second or two after a reset */

static struct dfu_priv *priv_of(struct updater *u)
{
	struct dfu_priv *p = updater_priv(u);

	p->u = u;
	return p;
}

const struct dfu_plan *dfu_backend_get_plan(struct updater *u)
{
	struct dfu_priv *p = updater_priv(u);

	return p->planned ? &p->plan : NULL;
}

/* ---- failures ---- */

static const char *stage_name(enum stage s)
{
	switch (s) {
	case ST_NONE:
	case ST_ID_IDLE:
	case ST_ID_RDP_ADDR:
	case ST_ID_RDP_ABORT:
	case ST_ID_RDP_READ:
	case ST_ID_RDP_DONE:
	case ST_ID_UNPROTECT:
		return "identify";
	case ST_W_PRE_ADDR:
	case ST_W_PRE_ABORT:
	case ST_W_PRE_READ:
	case ST_W_PRE_DONE:
	case ST_W_ERASE:
		return "erase";
	case ST_W_ADDR:
	case ST_W_BLOCK:
	case ST_W_ABORT:
		return "write";
	case ST_W_BV_ADDR:
	case ST_W_BV_ABORT:
	case ST_W_BV_READ:
	case ST_W_BV_DONE:
		return "verify bootloader";
	case ST_V_ADDR:
	case ST_V_ABORT:
	case ST_V_BLOCK:
	case ST_V_ABORT2:
		return "verify";
	case ST_F_ADDR:
	case ST_F_LEAVE:
		return "leave";
	}
	return "dfu";
}

void dfu_backend_step_end(struct dfu_priv *p, int err)
{
	p->stage = ST_NONE;
	updater_step_done(p->u, err);
}

void dfu_backend_set_device(struct dfu_priv *p)
{
	const char *sel = updater_get_config(p->u)->target.usb_path;

	if (p->cand.path[0])
		cf_failure_set_device(updater_failure(p->u), "STM32 ROM DFU at usb %s",
				      p->cand.path);
	else
		cf_failure_set_device(updater_failure(p->u), "STM32 ROM DFU %s",
				      sel[0] ? sel : "0483:df11");
}

static void fail_op(struct dfu_priv *p, const struct dfuse_op *op, const struct dfuse_result *r)
{
	struct cf_failure *f = updater_failure(p->u);
	char what[64];

	dfu_backend_set_device(p);
	if (op->kind == DFUSE_OP_WRITE || op->kind == DFUSE_OP_UPLOAD)
		snprintf(what, sizeof(what), "%s %u", dfuse_op_name(op->kind), op->block);
	else if (op->kind == DFUSE_OP_SET_ADDRESS || op->kind == DFUSE_OP_ERASE)
		snprintf(what, sizeof(what), "%s 0x%08x", dfuse_op_name(op->kind), op->address);
	else
		snprintf(what, sizeof(what), "%s", dfuse_op_name(op->kind));
	if (r->xfer == DFUSE_XFER_STALL && r->have_status && r->st.status == DFU_STATUS_OK)
		cf_failure_set(f, r->err, stage_name(p->stage),
			       "%s: %s stalled (device in %s, "
			       "status %s)",
			       what, r->request ? r->request : "request",
			       dfu_state_name(r->st.state), dfu_status_name(r->st.status));
	else if (r->have_status && r->st.status != DFU_STATUS_OK)
		cf_failure_set(f, r->err, stage_name(p->stage), "%s: device answered %s %s (%s)",
			       what, dfu_state_name(r->st.state), dfu_status_name(r->st.status),
			       dfu_status_text(r->st.status));
	else if (r->have_status && r->err == CF_ERR_PROTOCOL)
		cf_failure_set(f, r->err, stage_name(p->stage), "%s: unexpected state %s", what,
			       dfu_state_name(r->st.state));
	else
		cf_failure_set(f, r->err, stage_name(p->stage), "%s: %s %s", what,
			       r->request ? r->request : "request", dfuse_xfer_name(r->xfer));
	if (r->have_status && r->st.status == DFU_STATUS_ERR_VENDOR)
		cf_failure_set_hint(f, "read protection is active: rerun with --unprotect "
				       "(this wipes the whole chip)");
	else if (r->err == CF_ERR_NO_DEVICE)
		cf_failure_set_hint(f, "the probe disconnected: check the cable, keep BOOT0 "
				       "bridged, replug and rerun recover");
	else
		cf_failure_set_hint(f, "the probe stays in ROM DFU mode: rerun recover");
	dfu_backend_step_end(p, r->err);
}

/* ---- running operations ---- */

void dfu_backend_run(struct dfu_priv *p, enum stage next, enum dfuse_op_kind kind, uint32_t address,
		     uint16_t block, uint8_t *data, size_t len)
{
	const struct dfuse_op op = {kind, address, block, data, len};
	int err;

	p->stage = next;
	err = dfuse_start(&p->eng, &op);
	if (err) {
		const struct dfuse_result r = {.err = err, .request = "start"};

		fail_op(p, &op, &r);
	}
}

bool dfu_backend_check_cancel(struct dfu_priv *p)
{
	if (!p->cancelled)
		return false;
	dfu_backend_set_device(p);
	cf_failure_set(updater_failure(p->u), CF_ERR_INTERRUPTED, stage_name(p->stage),
		       "stopped by the user");
	cf_failure_set_hint(updater_failure(p->u),
			    "the probe stays in ROM DFU mode: rerun recover");
	dfu_backend_step_end(p, CF_ERR_INTERRUPTED);
	return true;
}

/* ---- write ---- */

/* ---- completions ---- */

static void identify_done(struct dfu_priv *p, const struct dfuse_result *r)
{
	switch (p->stage) {
	case ST_ID_IDLE:
		dfu_backend_run(p, ST_ID_RDP_ADDR, DFUSE_OP_SET_ADDRESS, FLASH_BASE, 0, NULL, 0);
		return;
	case ST_ID_RDP_ADDR:
		dfu_backend_run(p, ST_ID_RDP_ABORT, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	case ST_ID_RDP_ABORT:
		dfu_backend_run(p, ST_ID_RDP_READ, DFUSE_OP_UPLOAD, 0, 2, p->buf, RDP_PROBE_LEN);
		return;
	case ST_ID_RDP_READ:
		dfu_backend_run(p, ST_ID_RDP_DONE, DFUSE_OP_ABORT, 0, 0, NULL, 0);
		return;
	case ST_ID_RDP_DONE:
		updater_set_summary(p->u, "ROM DFU at usb %s, %s", p->cand.path, p->layout.name);
		dfu_backend_step_end(p, CF_OK);
		return;
	case ST_ID_UNPROTECT:
		/* dfu.md §2.8: it mass-erases and resets; with BOOT0 still bridged it comes back
		 * in the ROM, unprotected. Close outside libusb's callback, then wait for it. */
		cf_log(CF_LOG_WARN, p->cand.path, "dfu",
		       "read protection removed, the chip erased "
		       "itself and resets: waiting for it to come back in the ROM");
		p->unprotected = true;
		p->reopen = true;
		p->stage = ST_NONE;
		loop_arm(updater_get_config(p->u)->loop, &p->after_leave, cf_now_us());
		return;
	case ST_NONE:
	case ST_W_PRE_ADDR:
	case ST_W_PRE_ABORT:
	case ST_W_PRE_READ:
	case ST_W_PRE_DONE:
	case ST_W_ERASE:
	case ST_W_ADDR:
	case ST_W_BV_ADDR:
	case ST_W_BV_ABORT:
	case ST_W_BV_READ:
	case ST_W_BV_DONE:
	case ST_W_BLOCK:
	case ST_W_ABORT:
	case ST_V_ADDR:
	case ST_V_ABORT:
	case ST_V_BLOCK:
	case ST_V_ABORT2:
	case ST_F_ADDR:
	case ST_F_LEAVE:
		(void)r; /* dispatched elsewhere (on_op_done) */
		return;
	}
}

static void rdp_found(struct dfu_priv *p, const struct dfuse_op *op, const struct dfuse_result *r)
{
	const struct updater_config *cfg = updater_get_config(p->u);

	p->read_protected = true;
	if (!cfg->opts.unprotect || p->unprotected) {
		fail_op(p, op, r);
		return;
	}
	cf_log(CF_LOG_WARN, p->cand.path, "dfu",
	       "read protection is active: read-unprotect now, this wipes the whole chip");
	dfu_backend_run(p, ST_ID_UNPROTECT, DFUSE_OP_UNPROTECT, 0, 0, NULL, 0);
}

static void on_op_done(void *ctx, const struct dfuse_op *op, const struct dfuse_result *r)
{
	struct dfu_priv *p = ctx;

	if (r->err) {
		if (p->stage <= ST_ID_RDP_DONE && p->stage != ST_ID_UNPROTECT &&
		    cf_now_us() < p->wait_deadline_us && dfu_usb_not_back(r->err) &&
		    !(r->have_status && r->st.status != DFU_STATUS_OK) &&
		    !(r->err == CF_ERR_PROTOCOL && r->have_status)) {
			/* Opened an instance that is gone or still resetting: wait again. */
			cf_log(CF_LOG_DEBUG, p->cand.path, "dfu",
			       "%s failed (%s) while getting it idle: not back yet",
			       dfuse_op_name(op->kind), cf_err_name(r->err));
			p->reopen = true;
			p->stage = ST_NONE;
			loop_arm(updater_get_config(p->u)->loop, &p->after_leave, cf_now_us());
			return;
		}
		if (p->stage == ST_ID_RDP_READ && r->have_status &&
		    r->st.status == DFU_STATUS_ERR_VENDOR) {
			rdp_found(p, op, r);
			return;
		}
		fail_op(p, op, r);
		return;
	}
	if (dfu_write_owns(p->stage)) {
		dfu_write_on_done(p, r);
	} else if (p->stage == ST_F_ADDR) {
		dfu_backend_run(p, ST_F_LEAVE, DFUSE_OP_LEAVE, 0, 0, NULL, 0);
	} else if (p->stage == ST_F_LEAVE) {
		/* We are inside libusb's transfer callback: libusb_close here would deadlock. */
		p->stage = ST_NONE;
		p->left_confirmed = r->left_confirmed;
		loop_arm(updater_get_config(p->u)->loop, &p->after_leave, cf_now_us());
	} else {
		identify_done(p, r);
	}
}

static void wait_fire(struct loop_timer *t, uint64_t now_us);

/* After the leave (or the reset of read-unprotect): close the handle outside libusb's
 * transfer callback, where libusb_close would deadlock; then follow the probe, or wait for
 * the ROM to come back. */
static void after_leave(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_priv *p =
	    (struct dfu_priv *)((char *)t - offsetof(struct dfu_priv, after_leave));
	const uint64_t timeout = updater_get_config(p->u)->opts.timeout_us;

	dfuse_fini(&p->eng);
	p->eng_ready = false;
	dfu_usb_close(p->dev);
	p->dev = NULL;
	if (!p->reopen) {
		dfu_follow_start(&p->follow, p->left_confirmed);
		return;
	}
	p->reopen = false;
	if (p->unprotected && !p->selector[0]) {
		/* After the reset of read unprotect: the same port, for a while. */
		snprintf(p->selector, sizeof(p->selector), "%s", p->cand.path);
		p->wait_deadline_us = now_us + (timeout > REOPEN_US ? timeout : REOPEN_US);
	}
	p->wait.fire = wait_fire;
	loop_arm(updater_get_config(p->u)->loop, &p->wait, now_us + WAIT_POLL_US);
}

/* ---- identify ---- */

static int check_device(struct dfu_priv *p)
{
	struct cf_failure *f = updater_failure(p->u);
	const struct dfu_candidate *c = &p->cand;

	dfu_backend_set_device(p);
	if (!c->has_functional || !(c->functional.attributes & DFU_ATTR_CAN_DNLOAD) ||
	    !(c->functional.attributes & DFU_ATTR_CAN_UPLOAD) ||
	    c->functional.bcd_dfu != DFU_BCD_DFUSE) {
		cf_failure_set(f, CF_ERR_NOT_SUPPORTED, "identify",
			       "not a DfuSe device that can download and upload (DFU version %04x)",
			       c->functional.bcd_dfu);
		cf_failure_set_hint(f, "recover works with the STM32 system bootloader only");
		return CF_ERR_NOT_SUPPORTED;
	}
	if (dfu_parse_layout(c->alt0_name, strlen(c->alt0_name), &p->layout)) {
		cf_failure_set(f, CF_ERR_PROTOCOL, "identify", "unreadable memory layout '%s'",
			       c->alt0_name);
		cf_failure_set_hint(f, "replug the probe with BOOT0 bridged and rerun recover");
		return CF_ERR_PROTOCOL;
	}
	p->xfer = dfu_usb_transfer_size(c);
	if (!p->xfer) {
		cf_failure_set(f, CF_ERR_NOT_SUPPORTED, "identify",
			       "wTransferSize %u unusable: the block addresses need it unclamped "
			       "and Linux limits control transfers to %u bytes",
			       c->functional.transfer_size, DFUSE_MAX_XFER);
		cf_failure_set_hint(f, "use the vendor's tool for this device");
		return CF_ERR_NOT_SUPPORTED;
	}
	return CF_OK;
}

static void fill_identity(struct dfu_priv *p)
{
	struct device_identity *id = updater_identity(p->u);

	snprintf(id->usb_path, sizeof(id->usb_path), "%s", p->cand.path);
	id->mode = DEVICE_MODE_ROM_DFU;
	id->flash_size = (uint32_t)dfu_layout_size(&p->layout);
	id->block_size = p->xfer;
	id->app_start = APP_START;
	snprintf(id->bootloader_version, sizeof(id->bootloader_version), "STM32 ROM DfuSe %04x",
		 p->cand.bcd_device);
}

/* Find, check and open the ROM, then start getting it idle. 0 when started, else the error
 * (with the failure filled); *not_back tells an absent or listed-but-gone ROM, which whoever
 * waits for it waits on. */
static int try_open(struct dfu_priv *p, bool *not_back)
{
	const struct updater_config *cfg = updater_get_config(p->u);
	int err;

	err = dfu_usb_select(p->usb, p->selector[0] ? p->selector : cfg->target.usb_path, &p->cand,
			     updater_failure(p->u));
	*not_back = err && dfu_usb_not_back(err);
	if (!err)
		err = check_device(p);
	if (!err) {
		err = dfu_usb_open(p->usb, &p->cand, &p->dev, updater_failure(p->u));
		*not_back = err && dfu_usb_not_back(err);
	}
	if (err) {
		dfu_backend_set_device(p);
		return err;
	}
	fill_identity(p);
	dfuse_init(&p->eng, &(struct dfuse_config){.loop = cfg->loop,
						   .ops = &dfu_usb_link_ops,
						   .link = p->dev,
						   .interface = p->cand.interface,
						   .done = on_op_done,
						   .ctx = p});
	p->eng_ready = true;
	dfu_usb_bind(p->dev, &p->eng);
	dfu_follow_init(&p->follow, p->u, p->usb, cfg->loop);
	p->after_leave.fire = after_leave;
	dfu_backend_run(p, ST_ID_IDLE, DFUSE_OP_IDLE, 0, 0, NULL, 0);
	return CF_OK;
}

/* --timeout at identify: wait for the ROM to appear (dfu.md §2.9: dfu-util -w waits forever). */
static void wait_fire(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_priv *p = (struct dfu_priv *)((char *)t - offsetof(struct dfu_priv, wait));
	bool not_back;
	int err;

	if (dfu_backend_check_cancel(p))
		return;
	err = try_open(p, &not_back);
	if (err && not_back && now_us < p->wait_deadline_us) {
		loop_arm(updater_get_config(p->u)->loop, &p->wait, now_us + WAIT_POLL_US);
		return;
	}
	if (err)
		dfu_backend_step_end(p, err);
}

static int op_identify(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	int err;

	bool not_back;

	if (!p->usb && (err = dfu_usb_new(cfg->loop, &p->usb)))
		return cf_failure_set(updater_failure(u), err, "identify", "libusb_init failed");
	/* --timeout: a ROM not there yet, or listed while it re-enumerates, is waited for. */
	p->wait_deadline_us = cfg->opts.timeout_us ? cf_now_us() + cfg->opts.timeout_us : 0;
	err = try_open(p, &not_back);
	if (err && not_back && cf_now_us() < p->wait_deadline_us) {
		cf_log(CF_LOG_INFO, NULL, "dfu", "waiting up to %.1f s for a ROM DFU device",
		       (double)cfg->opts.timeout_us / 1e6);
		p->wait.fire = wait_fire;
		loop_arm(cfg->loop, &p->wait, cf_now_us() + WAIT_POLL_US);
		return CF_OK;
	}
	return err;
}

/* ---- check_image ---- */

static int refuse(struct updater *u, const struct image_refusal *why, const char *name)
{
	struct cf_failure *f = updater_failure(u);
	char stage[32];

	snprintf(stage, sizeof(stage), "refusal %s", why->rule);
	cf_failure_set(f, CF_ERR_REFUSED, stage, "%s: %s: image %s, device %s (%s)", name,
		       why->what, why->image_value, why->target_value, why->reason);
	cf_failure_set_hint(f, "%s",
			    why->override ? why->override
					  : "pick the right file: cartoflash inspect FILE shows "
					    "what it is");
	return CF_ERR_REFUSED;
}

static int check_one(struct dfu_priv *p, const struct image_info *info, bool app, const char *name)
{
	const struct updater_config *cfg = updater_get_config(p->u);
	struct image_target t = {
	    .path = app ? IMAGE_PATH_KATAPULT : IMAGE_PATH_DFU,
	    .app_start = APP_START,
	    .flash_size = (uint32_t)dfu_layout_size(&p->layout),
	    .dfu_address = FLASH_BASE,
	};
	struct image_refusal why;

	if (!info)
		return CF_OK;
	if (image_check_against(info, &t, cfg->opts.force, &why))
		return refuse(p->u, &why, name);
	return CF_OK;
}

/* images.md R6 for a pair: the Katapult that will run and the application behind it must talk
 * the same interface (and CAN bitrate), as the two parts of a full image must. */
static int check_pair(struct dfu_priv *p, const struct image_info *boot,
		      const struct image_info *app)
{
	const struct image_katapult_part *k = boot ? &boot->katapult : NULL;
	struct image_refusal why = {.rule = "R6", .override = NULL};

	if (!k || !k->present || !app)
		return CF_OK;
	if (k->iface != IMAGE_IFACE_UNKNOWN && app->iface != IMAGE_IFACE_UNKNOWN &&
	    k->iface != app->iface) {
		why.what = "interface";
		snprintf(why.image_value, sizeof(why.image_value), "application %s",
			 image_iface_name(app->iface));
		snprintf(why.target_value, sizeof(why.target_value), "bootloader %s",
			 image_iface_name(k->iface));
		why.reason = "Katapult and the application must use the same interface";
		return refuse(p->u, &why, "bootloader + application");
	}
	if (k->iface == IMAGE_IFACE_CAN && k->can_bitrate && app->can_bitrate &&
	    k->can_bitrate != app->can_bitrate) {
		why.what = "can bitrate";
		snprintf(why.image_value, sizeof(why.image_value), "application %u",
			 app->can_bitrate);
		snprintf(why.target_value, sizeof(why.target_value), "bootloader %u",
			 k->can_bitrate);
		why.reason = "Katapult and the application must use the same CAN bitrate";
		return refuse(p->u, &why, "bootloader + application");
	}
	return CF_OK;
}

static int op_check_image(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	struct dfu_plan_image imgs[2];
	size_t n = 0;
	char why[200];
	int err;

	dfu_backend_set_device(p);
	if (!cfg->image)
		return cf_failure_set(updater_failure(u), CF_ERR_USAGE, "check",
				      "no image given (--full or --bootloader)");
	imgs[n++] = (struct dfu_plan_image){
	    cfg->image_info && cfg->image_info->kind == IMAGE_FULL ? "full image" : "bootloader",
	    FLASH_BASE, cfg->image, cfg->image_len};
	if (cfg->app_image)
		imgs[n++] = (struct dfu_plan_image){"application", APP_START, cfg->app_image,
						    cfg->app_image_len};
	err = check_one(p, cfg->image_info, false, imgs[0].name);
	if (!err && cfg->app_image)
		err = check_one(p, cfg->app_image_info, true, "application");
	if (!err && cfg->app_image)
		err = check_pair(p, cfg->image_info, cfg->app_image_info);
	if (err)
		return err;
	err = dfu_plan_build(&p->plan, &p->layout, imgs, n, cfg->opts.mass_erase, why, sizeof(why));
	if (err) {
		cf_failure_set(updater_failure(u), err, "plan", "%s", why);
		cf_failure_set_hint(updater_failure(u), "a full image belongs at 0x08000000, an "
							"application at 0x08002000 (--app)");
		return err;
	}
	p->planned = true;
	updater_set_summary(u, "plan: %zu bytes, %zu page erases%s", p->plan.total_len,
			    p->plan.npages, p->plan.mass_erase ? " (mass erase)" : "");
	updater_step_done(u, CF_OK);
	return CF_OK;
}

/* ---- write, verify, finish ---- */

static int op_write(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);

	if (!p->planned || !p->dev)
		return CF_ERR_USAGE;
	if (updater_get_config(u)->opts.dry_run) {
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	dfu_write_begin(p);
	return CF_OK;
}

static int op_verify(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);

	if (!p->planned || !p->dev)
		return CF_ERR_USAGE;
	dfu_write_verify_begin(p);
	return CF_OK;
}

static bool talks_can(const struct updater_config *cfg)
{
	const struct image_info *img = cfg->app_image_info ? cfg->app_image_info : cfg->image_info;

	return img && img->iface == IMAGE_IFACE_CAN;
}

static void leave_now(void *ctx)
{
	struct dfu_priv *p = ctx;

	/* dfu.md §2.5 pitfall: always point at the vector table before leaving. */
	dfu_backend_run(p, ST_F_ADDR, DFUSE_OP_SET_ADDRESS, FLASH_BASE, 0, NULL, 0);
}

static int op_finish(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);
	const struct updater_config *cfg = updater_get_config(u);

	if (!p->dev)
		return CF_ERR_USAGE;
	if (cfg->opts.no_reboot || cfg->opts.dry_run) {
		updater_set_summary(u, "%s; left in ROM DFU mode", updater_get_summary(u));
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	if (cfg->target.iface[0] && talks_can(cfg)) {
		/* Note the nodes already on the bus, then leave (dfu_follow_can.c). */
		if (!dfu_follow_can_baseline(&p->follow, cfg->target.iface, leave_now, p))
			return CF_OK;
		cf_log(CF_LOG_WARN, cfg->target.iface, "dfu",
		       "%s: the probe will not be followed "
		       "on CAN",
		       updater_failure(u)->detail);
		cf_failure_clear(updater_failure(u));
	}
	leave_now(p);
	return CF_OK;
}

static void op_cancel(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);

	p->cancelled = true;
	dfu_follow_cancel(&p->follow);
}

static void op_release(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);

	dfu_follow_fini(&p->follow);
	dfu_write_fini(p);
	if (p->wait.fire)
		loop_disarm(updater_get_config(u)->loop, &p->wait);
	if (p->after_leave.fire)
		loop_disarm(updater_get_config(u)->loop, &p->after_leave);
	if (p->eng_ready)
		dfuse_fini(&p->eng);
	dfu_usb_close(p->dev);
	p->dev = NULL;
	dfu_usb_free(p->usb);
	p->usb = NULL;
}

const struct updater_ops dfu_ops = {
    .name = "dfu",
    .priv_size = sizeof(struct dfu_priv),
    .identify = op_identify,
    .check_image = op_check_image,
    .write = op_write,
    .verify = op_verify,
    .finish = op_finish,
    .cancel = op_cancel,
    .release = op_release,
};
