// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe pump: session requests to libusb transfers, their ends and the loop's timers back.
#include "dfu/dfu_pump.h"

#include <stddef.h>

#include "dfu/dfu_usb.h"
#include "log.h"

#define container(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static void report_progress(struct dfu_pump *p)
{
	struct dfu_session_progress pr;

	dfu_session_progress(p->session, &pr);
	if (!pr.stage || !p->progress || (pr.stage == p->last_stage && pr.done == p->last_done))
		return;
	p->last_stage = pr.stage;
	p->last_done = pr.done;
	p->progress(p->ctx, pr.stage, pr.done, pr.total);
}

static void on_xfer(void *ctx, enum dfuse_xfer_result r, const uint8_t *in, size_t actual);

/* After every event: submit what the session wants, or arm its deadline, or end. */
static void drive(struct dfu_pump *p, uint64_t now)
{
	struct dfuse_request req;

	report_progress(p);
	switch (dfu_session_state(p->session)) {
	case DFU_SESSION_SEND:
		if (dfu_session_poll_request(p->session, &req))
			dfu_usb_submit(p->dev, &req, on_xfer, p); /* a failure comes back as IO */
		return;
	case DFU_SESSION_IN_FLIGHT:
		return;
	case DFU_SESSION_WAIT:
		loop_arm(p->loop, &p->timer, dfu_session_deadline(p->session));
		return;
	case DFU_SESSION_DONE:
		loop_disarm(p->loop, &p->timer);
		loop_arm(p->loop, &p->end, now); /* out of libusb's callback before done */
		return;
	}
}

static void on_xfer(void *ctx, enum dfuse_xfer_result r, const uint8_t *in, size_t actual)
{
	struct dfu_pump *p = ctx;
	const uint64_t now = cf_now_us();

	if (!p->running)
		return;
	dfu_session_complete(p->session, r, in, actual, now);
	drive(p, now);
}

static void timer_fire(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_pump *p = container(t, struct dfu_pump, timer);

	if (!p->running)
		return;
	dfu_session_tick(p->session, now_us);
	drive(p, now_us);
}

static void end_fire(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_pump *p = container(t, struct dfu_pump, end);

	(void)now_us;
	if (!p->running)
		return;
	p->running = false;
	p->done(p->ctx, dfu_session_result(p->session));
}

void dfu_pump_init(struct dfu_pump *p, struct loop *loop,
		   void (*progress)(void *ctx, const char *stage, size_t done, size_t total),
		   void (*done)(void *ctx, int result), void *ctx)
{
	*p = (struct dfu_pump){.loop = loop, .progress = progress, .done = done, .ctx = ctx};
	p->timer.fire = timer_fire;
	p->end.fire = end_fire;
}

void dfu_pump_run(struct dfu_pump *p, struct dfu_dev *dev, struct dfu_session *session,
		  enum dfu_session_phase phase)
{
	const uint64_t now = cf_now_us();

	p->dev = dev;
	p->session = session;
	p->last_stage = NULL;
	p->last_done = 0;
	p->running = true;
	dfu_session_start(session, phase, now);
	drive(p, now);
}

void dfu_pump_stop(struct dfu_pump *p)
{
	p->running = false;
	if (p->loop) {
		loop_disarm(p->loop, &p->timer);
		loop_disarm(p->loop, &p->end);
	}
}
