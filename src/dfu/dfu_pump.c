// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe binding: session requests to libusb transfers, their ends back into the session.
#include "dfu/dfu_pump.h"

#include "dfu/dfu_usb.h"
#include "log.h"
#include "protocol/err.h"

/* ---- the DfuSe session as the one pump sees it ---- */

static uint64_t session_deadline(const void *s)
{
	return dfu_session_deadline(s); /* bwPollTimeout in WAIT, UINT64_MAX otherwise */
}

static void session_tick(void *s, uint64_t now)
{
	dfu_session_tick(s, now);
}

static bool session_ended(const void *s, int *result)
{
	if (dfu_session_state(s) != DFU_SESSION_DONE)
		return false;
	*result = dfu_session_result(s);
	return true;
}

static bool session_progress(const void *s, struct pump_progress *out)
{
	struct dfu_session_progress pr;

	dfu_session_progress(s, &pr);
	*out = (struct pump_progress){ .stage = pr.stage, .done = pr.done, .total = pr.total };
	return pr.stage != NULL;
}

static void session_cancel(void *s, uint64_t now)
{
	(void)now;
	dfu_session_cancel(s); /* takes effect between operations */
}

static const struct pump_session_ops session_ops = {
	.deadline = session_deadline,
	.tick = session_tick,
	.ended = session_ended,
	.progress = session_progress,
	.cancel = session_cancel,
};

/* ---- requests to libusb ---- */

static void on_xfer(void *ctx, enum dfuse_xfer_result r, const uint8_t *in, size_t actual)
{
	struct dfu_pump *p = ctx;
	const uint64_t now = cf_now_us();

	if (!pump_active(&p->core))
		return;
	dfu_session_complete(p->session, r, in, actual, now);
	pump_drive(&p->core, now);
}

static int flush(void *binding, uint64_t now)
{
	struct dfu_pump *p = binding;
	struct dfuse_request req;

	(void)now;
	if (dfu_session_state(p->session) == DFU_SESSION_SEND &&
	    dfu_session_poll_request(p->session, &req))
		dfu_usb_submit(p->dev, &req, on_xfer, p); /* a failure comes back as IO */
	return CF_OK;
}

void dfu_pump_init(struct dfu_pump *p, struct loop *loop,
		   void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
		   void (*done)(void *ctx, int err, uint64_t now_us), void *ctx)
{
	*p = (struct dfu_pump){ .dev = NULL };
	pump_init(&p->core, loop, progress, done, ctx);
}

void dfu_pump_run(struct dfu_pump *p, struct dfu_dev *dev, struct dfu_session *session,
		  enum dfu_session_phase phase)
{
	p->dev = dev;
	p->session = session;
	dfu_session_start(session, phase, cf_now_us());
	pump_start(&p->core, &session_ops, session, flush, p, UINT64_MAX);
}

void dfu_pump_cancel(struct dfu_pump *p)
{
	pump_cancel(&p->core, cf_now_us());
}

void dfu_pump_stop(struct dfu_pump *p)
{
	pump_stop(&p->core);
}
