// SPDX-License-Identifier: GPL-3.0-or-later
// The DFU recovery updater: find and open the ROM, run the session's phases, leave, follow.
#include "dfu/dfu_backend.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dfu/dfu_check.h"
#include "dfu/dfu_finish.h"
#include "dfu/dfu_plan.h"
#include "dfu/dfu_pump.h"
#include "dfu/dfu_session.h"
#include "dfu/dfu_usb.h"
#include "failure.h"
#include "log.h"
#include "protocol/dfu.h"
#include "protocol/err.h"
#include "protocol/image.h"

#define WAIT_POLL_US 200000
#define REOPEN_US    10000000 /* the ROM is back within a second or two after a reset */

struct dfu_priv {
	struct updater *u;
	struct dfu_usb *usb;
	struct dfu_dev *dev;
	struct dfu_candidate cand;
	struct dfu_layout layout;
	bool planned;
	struct dfu_plan plan;
	struct dfu_session *session;
	struct dfu_pump pump;
	enum updater_step step; /* the one the pump runs a phase for */
	struct dfu_finish finish;
	struct loop_timer wait;	   /* polls for the ROM: --timeout, after read unprotect */
	uint64_t wait_deadline_us; /* 0: no waiting */
	char selector[32];	   /* the port pinned after read unprotect, else "" */
	bool unprotected;
	bool cancelled;
};

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

static void set_device(struct dfu_priv *p)
{
	const char *sel = updater_get_config(p->u)->target.usb_path;

	if (p->cand.path[0])
		cf_failure_set_device(updater_failure(p->u), "STM32 ROM DFU at usb %s",
				      p->cand.path);
	else
		cf_failure_set_device(updater_failure(p->u), "STM32 ROM DFU %s",
				      sel[0] ? sel : "0483:df11");
}

/* A phase of the session ended: its failure (stage, detail, hint) becomes the updater's. */
static void step_end(struct dfu_priv *p, int err)
{
	if (err) {
		*updater_failure(p->u) = *dfu_session_failure(p->session);
		updater_failure(p->u)->code = err;
		set_device(p);
	}
	updater_step_done(p->u, err);
}

static void close_device(struct dfu_priv *p)
{
	dfu_pump_stop(&p->pump);
	dfu_usb_close(p->dev);
	p->dev = NULL;
	dfu_session_free(p->session);
	p->session = NULL;
}

static void on_progress(void *ctx, const char *stage, size_t done, size_t total);
static void on_phase_done(void *ctx, int err, uint64_t now_us);

/* ---- finding and opening the ROM ---- */

static int check_device(struct dfu_priv *p)
{
	struct cf_failure *f = updater_failure(p->u);
	const struct dfu_candidate *c = &p->cand;

	set_device(p);
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
	if (!dfu_usb_transfer_size(c)) {
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
	id->block_size = dfu_usb_transfer_size(&p->cand);
	id->app_start = IMAGE_APP_START;
	snprintf(id->bootloader_version, sizeof(id->bootloader_version), "STM32 ROM DfuSe %04x",
		 p->cand.bcd_device);
}

static int new_session(struct dfu_priv *p)
{
	const struct updater_config *cfg = updater_get_config(p->u);
	const struct dfu_session_config sc = {
	    .walk =
		{
		    .plan = &p->plan, /* filled by check_image, before the write */
		    .xfer = dfu_usb_transfer_size(&p->cand),
		    .flash_base = IMAGE_FLASH_BASE,
		    .boot_end = IMAGE_APP_START,
		    .blank_is_erased = dfu_check_blank_is_erased(cfg),
		    .unprotect = cfg->opts.unprotect && !p->unprotected,
		},
	    .interface = p->cand.interface,
	};

	return dfu_session_new(&sc, &p->session);
}

/* Find, check and open the ROM, then start the identify phase. 0 when started, else the
 * error (failure filled); *not_back tells an absent or listed-but-gone ROM, which whoever
 * waits for it waits on (issue #15). */
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
	if (!err && (err = new_session(p)))
		cf_failure_set(updater_failure(p->u), err, "identify", "out of memory");
	if (err) {
		set_device(p);
		return err;
	}
	fill_identity(p);
	dfu_finish_init(&p->finish, p->u, cfg->loop);
	p->step = UPDATER_IDENTIFY;
	dfu_pump_run(&p->pump, p->dev, p->session, DFU_PHASE_IDENTIFY);
	return CF_OK;
}

static void wait_fire(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_priv *p = (struct dfu_priv *)((char *)t - offsetof(struct dfu_priv, wait));
	bool not_back;
	int err;

	if (p->cancelled) {
		cf_failure_set(updater_failure(p->u), CF_ERR_INTERRUPTED, "identify",
			       "stopped by the user while waiting for the ROM");
		cf_failure_set_hint(updater_failure(p->u), "rerun recover");
		set_device(p);
		updater_step_done(p->u, CF_ERR_INTERRUPTED);
		return;
	}
	err = try_open(p, &not_back);
	if (err && not_back && now_us < p->wait_deadline_us) {
		loop_arm(updater_get_config(p->u)->loop, &p->wait, now_us + WAIT_POLL_US);
		return;
	}
	if (err)
		updater_step_done(p->u, err);
}

static void wait_again(struct dfu_priv *p, uint64_t now_us)
{
	close_device(p);
	loop_arm(updater_get_config(p->u)->loop, &p->wait, now_us + WAIT_POLL_US);
}

/* The first requests of a ROM that is still resetting fail as those of a gone one: no
 * answer (NO_DEVICE, IO) or a stall without a status. A device that answered is there. */
static bool identify_not_back(const struct dfu_priv *p, int err)
{
	const struct dfuse_result *last = dfu_session_last(p->session);

	return dfu_usb_not_back(err) && !last->have_status && cf_now_us() < p->wait_deadline_us;
}

static void identify_done(struct dfu_priv *p, int err)
{
	const struct updater_config *cfg = updater_get_config(p->u);
	const uint64_t now = cf_now_us();

	if (err && identify_not_back(p, err)) {
		cf_log(CF_LOG_DEBUG, p->cand.path, "dfu", "identify failed (%s): not back yet",
		       cf_err_name(err));
		wait_again(p, now);
		return;
	}
	if (!err && dfu_session_stats(p->session)->unprotected) {
		/* dfu.md §2.8: it mass-erased and resets; with BOOT0 still bridged it comes back
		 * in the ROM, unprotected, on the same port. */
		cf_log(CF_LOG_WARN, p->cand.path, "dfu",
		       "read protection was active: removed it, so the chip erased itself and "
		       "resets: waiting for it to come back in the ROM");
		p->unprotected = true;
		snprintf(p->selector, sizeof(p->selector), "%s", p->cand.path);
		p->wait_deadline_us = now + (cfg->opts.timeout_us > REOPEN_US ? cfg->opts.timeout_us
									      : REOPEN_US);
		wait_again(p, now);
		return;
	}
	if (!err)
		updater_set_summary(p->u, "ROM DFU at usb %s, %s", p->cand.path, p->layout.name);
	step_end(p, err);
}

static int op_identify(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	bool not_back;
	int err;

	if (!p->usb && (err = dfu_usb_new(cfg->loop, &p->usb)))
		return cf_failure_set(updater_failure(u), err, "identify", "libusb_init failed");
	dfu_pump_init(&p->pump, cfg->loop, on_progress, on_phase_done, p);
	p->wait.fire = wait_fire;
	/* --timeout: a ROM not there yet, or listed while it re-enumerates, is waited for. */
	p->wait_deadline_us = cfg->opts.timeout_us ? cf_now_us() + cfg->opts.timeout_us : 0;
	err = try_open(p, &not_back);
	if (err && not_back && cf_now_us() < p->wait_deadline_us) {
		cf_log(CF_LOG_INFO, NULL, "dfu", "waiting up to %.1f s for a ROM DFU device",
		       (double)cfg->opts.timeout_us / 1e6);
		loop_arm(cfg->loop, &p->wait, cf_now_us() + WAIT_POLL_US);
		return CF_OK;
	}
	return err;
}

/* ---- check_image, write, verify ---- */

static int op_check_image(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);
	int err;

	set_device(p);
	err = dfu_check_plan(updater_get_config(u), &p->layout, &p->plan, updater_failure(u));
	if (err)
		return err;
	p->planned = true;
	updater_set_summary(u, "plan: %zu bytes, %zu page erases%s", p->plan.total_len,
			    p->plan.npages, p->plan.mass_erase ? " (mass erase)" : "");
	updater_step_done(u, CF_OK);
	return CF_OK;
}

static int run_phase(struct dfu_priv *p, enum updater_step step, enum dfu_session_phase phase)
{
	if (!p->planned || !p->dev)
		return CF_ERR_USAGE;
	p->step = step;
	dfu_pump_run(&p->pump, p->dev, p->session, phase);
	return CF_OK;
}

static int op_write(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);

	if (updater_get_config(u)->opts.dry_run) {
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	return run_phase(p, UPDATER_WRITE, DFU_PHASE_WRITE);
}

static int op_verify(struct updater *u)
{
	return run_phase(priv_of(u), UPDATER_VERIFY, DFU_PHASE_VERIFY);
}

/* Issue #15: the count is what was programmed, not the image size. */
static void written_summary(struct dfu_priv *p)
{
	const struct dfu_walk_stats *st = dfu_session_stats(p->session);
	const size_t span = p->plan.span_end - p->plan.span_start;
	char erased[48], written[96];

	if (st->mass_erased)
		snprintf(erased, sizeof(erased), "mass erase");
	else
		snprintf(erased, sizeof(erased), "%zu/%zu pages erased", st->pages_erased,
			 p->plan.npages);
	if (!st->bytes_written)
		snprintf(written, sizeof(written), "nothing written (the flash held the image)");
	else if (st->bytes_written >= span)
		snprintf(written, sizeof(written), "%zu bytes written", st->bytes_written);
	else
		snprintf(written, sizeof(written),
			 "%zu of %zu bytes written (the rest erased or already in place)",
			 st->bytes_written, span);
	updater_set_summary(p->u, "%s, read back identical (%s)", written, erased);
}

/* ---- finish: leave, then follow ---- */

static void leave_now(void *ctx)
{
	struct dfu_priv *p = ctx;

	p->step = UPDATER_FINISH;
	dfu_pump_run(&p->pump, p->dev, p->session, DFU_PHASE_LEAVE);
}

static void leave_done(struct dfu_priv *p, int err)
{
	const bool confirmed = dfu_session_stats(p->session)->left_confirmed;

	if (err) {
		step_end(p, err);
		return;
	}
	close_device(p); /* from the pump's timer, outside libusb's callback */
	dfu_finish_follow(&p->finish, confirmed);
}

static int op_finish(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);
	const struct updater_config *cfg = updater_get_config(u);
	int err;

	if (!p->dev)
		return CF_ERR_USAGE;
	if (cfg->opts.no_reboot || cfg->opts.dry_run) {
		updater_set_summary(u, "%s; left in ROM DFU mode", updater_get_summary(u));
		updater_step_done(u, CF_OK);
		return CF_OK;
	}
	/* A CAN build and --can: note who answers on the bus, then leave (dfu_finish.c). */
	err = dfu_finish_census(&p->finish, leave_now, p);
	if (err == CF_OK)
		return CF_OK;
	if (err != CF_ERR_NOT_SUPPORTED) {
		cf_log(CF_LOG_WARN, cfg->target.iface, "dfu",
		       "%s: the probe will not be followed on CAN", updater_failure(u)->detail);
		cf_failure_clear(updater_failure(u));
	}
	leave_now(p);
	return CF_OK;
}

/* ---- the pump's callbacks ---- */

static void on_progress(void *ctx, const char *stage, size_t done, size_t total)
{
	struct dfu_priv *p = ctx;

	updater_progress(p->u, stage, done, total);
}

static void on_phase_done(void *ctx, int err, uint64_t now_us)
{
	struct dfu_priv *p = ctx;

	(void)now_us;
	switch (p->step) {
	case UPDATER_IDENTIFY:
		identify_done(p, err);
		return;
	case UPDATER_VERIFY:
		if (!err)
			written_summary(p);
		step_end(p, err);
		return;
	case UPDATER_FINISH:
		leave_done(p, err);
		return;
	case UPDATER_CHECK_IMAGE:
	case UPDATER_WRITE:
		step_end(p, err);
		return;
	}
}

static void op_cancel(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);

	p->cancelled = true;
	dfu_pump_cancel(&p->pump);
	dfu_finish_cancel(&p->finish);
}

static void op_release(struct updater *u)
{
	struct dfu_priv *p = priv_of(u);

	dfu_finish_fini(&p->finish);
	if (p->wait.fire)
		loop_disarm(updater_get_config(u)->loop, &p->wait);
	close_device(p);
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
