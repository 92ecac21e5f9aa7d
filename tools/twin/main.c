/* SPDX-License-Identifier: GPL-3.0-or-later */
/* twin: run a probe twin as a process on the simulated bus, a SocketCAN interface or a pty. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "tools/twin/options.h"
#include "tools/twin/pty.h"
#include "tools/twin/sysfs_fixture.h"
#include "tools/twin/twin.h"
#include "transport.h"
#include "transport/simbus.h"
#include "transport/transports.h"

#define PTY_CHECK_US  5000   /* how often the slave's open state and rate are sampled */
#define REENUM_US     150000 /* USB disconnect -> new device visible (real time) */
#define SEND_RETRY_US 1000
/* katapult.md §1.3: Katapult's COMPLETE ACK leaves 100 ms before its reset. The old port stays
 * that long after its last bytes, so the host reads them even when --speed 0 puts the reply
 * and the reset into one step (closing a pty master discards what the slave has not read). */
#define DRAIN_US 100000

struct app {
	struct twin_options o;
	struct twin *t;
	struct loop *loop;
	uint64_t t0;
	/* CAN */
	struct transport *tr;
	struct loop_source can_src;
	struct canbus_frame pending;
	bool has_pending;
	bool sim_filter;	      /* the bus is simbus: keep its filter = the node's */
	bool filter_dirty;	      /* the last filter change is still to be sent */
	struct simbus_filter filt[2]; /* the filter the hub holds for us */
	size_t filt_n;
	/* USB CDC-ACM as a pty */
	struct twin_pty pty;
	struct loop_source pty_src;
	struct loop_timer pty_timer;
	uint8_t out[256];
	size_t out_len;
	uint8_t held[512]; /* host bytes the device has not taken yet (USB flow control) */
	size_t held_len;
	bool first_enum_done;
	uint32_t seen_enum;
	bool usb_present;
	uint64_t reenum_at;
	uint64_t last_out_us; /* real time of the last bytes written to the port */
	uint64_t unplug_at;   /* a USB change waits for the host to read the old port */
	struct sysfs_fixture fx;
	bool fx_on;
	/* the twin's own clock */
	struct loop_timer twin_timer;
	struct loop_timer power_timer;
	uint32_t seen_losses;
	int failed; /* a front-end error that ends the process (exit code) */
};

static volatile sig_atomic_t stop, power_cycle_req, reset_req;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		power_cycle_req = 1;
	else if (sig == SIGUSR2)
		reset_req = 1;
	else
		stop = 1;
}

static uint64_t vnow(const struct app *a)
{
	return cf_now_us() - a->t0;
}

static void twin_log(void *ctx, const char *line)
{
	struct app *a = ctx;

	fprintf(stderr, "twin %s: %s\n", twin_serial(a->t), line);
}

static void pump(struct app *a);

/* ---- CAN attach ---- */

static int can_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct app *a = (struct app *)((char *)src - offsetof(struct app, can_src));

	return transport_pollfds(a->tr, fds, max);
}

/*
 * On simbus the hub filters as the node's CAN controller does (docs/twin.md): keep its filter
 * what the firmware has set. Called after every frame, before the next is read (sim.c takes
 * a frame off the socket only then), so a set-id's filter is in place for every frame after
 * it. false: the hub is not reading us; read nothing more until this succeeds.
 */
static bool can_filter_sync(struct app *a)
{
	struct simbus_filter f[2] = {{0, 0}, {0, 0}};
	uint32_t ids[2], masks[2];
	size_t n;
	int rc;

	if (!a->sim_filter || !a->t)
		return true;
	n = twin_can_filter(a->t, ids, masks);
	for (size_t i = 0; i < n; i++)
		f[i] = (struct simbus_filter){.id = ids[i], .mask = masks[i]};
	if (a->filt_n == n && !memcmp(a->filt, f, n * sizeof(f[0]))) {
		a->filter_dirty = false;
		return true;
	}
	rc = sim_set_filter(a->tr, f, n);
	a->filter_dirty = rc == CF_ERR_AGAIN;
	if (rc == CF_OK) {
		memcpy(a->filt, f, sizeof(f));
		a->filt_n = n;
	} else if (rc != CF_ERR_AGAIN) {
		a->sim_filter = false; /* the hub went away: recv says so */
	}
	return !a->filter_dirty;
}

static void can_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct app *a = (struct app *)((char *)src - offsetof(struct app, can_src));
	struct canbus_frame f;
	size_t len;
	int rc;

	(void)fds;
	(void)count;
	(void)now;
	rc = CF_OK;
	while (can_filter_sync(a) && (rc = transport_recv(a->tr, &f, sizeof(f), &len)) == CF_OK)
		twin_can_receive(a->t, &f, vnow(a));
	if (rc == CF_ERR_NO_DEVICE || rc == CF_ERR_IO) {
		fprintf(stderr, "twin: the CAN bus %s went away (%s); exiting\n", a->o.attach,
			cf_strerror(rc));
		a->failed = rc;
		stop = 1;
	}
	pump(a);
}

static void can_flush(struct app *a)
{
	for (;;) {
		if (!a->has_pending) {
			if (twin_can_pop(a->t, vnow(a), &a->pending) < 0)
				return;
			a->has_pending = true;
		}
		if (transport_send(a->tr, &a->pending, sizeof(a->pending)) == CF_ERR_AGAIN)
			return; /* design.md rule 1: the same frame again, later */
		a->has_pending = false;
	}
}

/* ---- pty attach ---- */

static int pty_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct app *a = (struct app *)((char *)src - offsetof(struct app, pty_src));

	if (max < 1 || a->pty.master < 0 || !a->pty.slave_open || a->unplug_at)
		return 0; /* a closed slave makes the master poll HUP: sampled by the timer */
	fds[0].fd = a->pty.master;
	fds[0].events = (short)(POLLIN | (a->out_len ? POLLOUT : 0));
	fds[0].revents = 0;
	return 1;
}

static void pty_read(struct app *a)
{
	ssize_t n;

	/* USB flow control: what the device does not take stays for the next turn */
	if (a->held_len < sizeof(a->held)) {
		n = twin_pty_read(&a->pty, a->held + a->held_len, sizeof(a->held) - a->held_len);
		if (n > 0)
			a->held_len += (size_t)n;
	}
	if (a->held_len) {
		size_t took = twin_serial_receive(a->t, a->held, a->held_len, vnow(a));
		memmove(a->held, a->held + took, a->held_len - took);
		a->held_len -= took;
	}
}

static void pty_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct app *a = (struct app *)((char *)src - offsetof(struct app, pty_src));

	(void)fds;
	(void)count;
	(void)now;
	if (!a->unplug_at) /* the firmware that read this port is gone */
		pty_read(a);
	pump(a);
}

static void pty_flush(struct app *a)
{
	ssize_t n;

	if (a->out_len < sizeof(a->out))
		a->out_len += twin_serial_pop(a->t, vnow(a), a->out + a->out_len,
					      sizeof(a->out) - a->out_len);
	if (!a->out_len || a->pty.master < 0)
		return;
	n = twin_pty_write(&a->pty, a->out, a->out_len);
	if (n > 0) {
		memmove(a->out, a->out + n, a->out_len - (size_t)n);
		a->out_len -= (size_t)n;
		a->last_out_us = cf_now_us();
	}
}

static void publish_usb(struct app *a, const struct twin_usb_id *id, bool with_tty)
{
	if (a->fx_on)
		sysfs_fixture_update(&a->fx, id, with_tty ? a->pty.slave : NULL);
}

/* USB presence follows the firmware: a mode change is a disconnect and a new device. */
static void usb_follow(struct app *a)
{
	struct twin_usb_id id;
	bool present = twin_get_usb_id(a->t, &id);
	uint32_t enums = twin_get_stats(a->t)->usb_enumerations;

	if (enums != a->seen_enum || present != a->usb_present) {
		/* What the firmware sent before its reset leaves on the old port first. */
		if (!a->unplug_at) {
			pty_flush(a);
			a->unplug_at = a->last_out_us + DRAIN_US;
		}
		if (cf_now_us() < a->unplug_at)
			return;
		a->unplug_at = 0;
		a->seen_enum = enums;
		a->usb_present = present;
		twin_pty_close(&a->pty);
		a->out_len = 0;
		a->held_len = 0;
		publish_usb(a, NULL, false);
		/* the first device is there when the process is ready; later ones re-enumerate */
		a->reenum_at = present ? cf_now_us() + (a->first_enum_done ? REENUM_US : 0) : 0;
		a->first_enum_done = true;
	}
	if (a->reenum_at && cf_now_us() >= a->reenum_at) {
		a->reenum_at = 0;
		if (twin_get_mode(a->t) == TWIN_MODE_ROM_DFU) {
			publish_usb(a, &id, false); /* DFU has no tty */
			return;
		}
		if (twin_pty_open(&a->pty, a->o.pty) < 0) {
			fprintf(stderr, "twin: cannot create a pty: %s\n", strerror(errno));
			a->failed = CF_ERR_IO;
			stop = 1;
			return;
		}
		/* sysfs first, the /dev link last, so a reader never finds a link without device */
		publish_usb(a, &id, true);
		if (twin_pty_publish(&a->pty) < 0) {
			fprintf(stderr,
				"twin: cannot create the pty link %s: %s; check that its "
				"directory exists and is writable\n",
				a->o.pty, strerror(errno));
			a->failed = CF_ERR_IO;
			stop = 1;
			return;
		}
		fprintf(stderr, "twin: USB %04x:%04x \"%s\" at %s\n", id.vid, id.pid,
			id.manufacturer, a->o.pty);
	}
}

static void pty_tick(struct loop_timer *timer, uint64_t now)
{
	struct app *a = (struct app *)((char *)timer - offsetof(struct app, pty_timer));
	uint32_t baud;

	(void)now;
	if (twin_pty_check(&a->pty, &baud))
		twin_serial_line(a->t, baud, a->pty.slave_open, a->pty.slave_open, vnow(a));
	pump(a);
	loop_arm(a->loop, &a->pty_timer, cf_now_us() + PTY_CHECK_US);
}

/* ---- the twin's clock, power ---- */

static void twin_tick(struct loop_timer *timer, uint64_t now)
{
	struct app *a = (struct app *)((char *)timer - offsetof(struct app, twin_timer));

	(void)now;
	twin_advance(a->t, vnow(a));
	pump(a);
}

static void power_tick(struct loop_timer *timer, uint64_t now)
{
	struct app *a = (struct app *)((char *)timer - offsetof(struct app, power_timer));

	(void)now;
	fprintf(stderr, "twin: power restored\n");
	twin_power_on(a->t, vnow(a));
	pump(a);
}

static void pump(struct app *a)
{
	const struct twin_stats *st = twin_get_stats(a->t);
	uint64_t next;

	twin_advance(a->t, vnow(a));
	if (a->tr) {
		(void)can_filter_sync(a); /* a reset or mode change clears the id */
		can_flush(a);
	}
	if (a->o.pty) {
		if (!a->o.cfg.uart) /* a UART wire stays; USB follows the firmware */
			usb_follow(a);
		if (!a->unplug_at)
			pty_flush(a);
	}
	if (st->power_losses != a->seen_losses) {
		a->seen_losses = st->power_losses;
		fprintf(stderr, "twin: power lost (injected fault)\n");
		if (a->o.power_on_after_ms >= 0)
			loop_arm(a->loop, &a->power_timer,
				 cf_now_us() + (uint64_t)a->o.power_on_after_ms * 1000);
	}
	next = twin_next_event_us(a->t);
	if ((a->has_pending || a->filter_dirty) &&
	    (next == UINT64_MAX || next > vnow(a) + SEND_RETRY_US))
		next = vnow(a) + SEND_RETRY_US;
	if (next != UINT64_MAX && next <= vnow(a))
		next = vnow(a) + 1; /* never a deadline in the past: the loop would spin */
	if (next != UINT64_MAX)
		loop_arm(a->loop, &a->twin_timer, a->t0 + next);
	else
		loop_disarm(a->loop, &a->twin_timer);
}

static int attach_can(struct app *a)
{
	const struct transport_ops *ops = transport_ops_for_can(a->o.attach);
	struct cf_failure why;
	uint32_t bitrate;
	int rc;

	cf_failure_clear(&why);
	rc = ops ? transport_open(ops, a->o.attach, &a->tr, &why) : CF_ERR_NOT_SUPPORTED;
	if (rc < 0) {
		fprintf(stderr, "twin: cannot attach to %s: %s%s%s\n", a->o.attach,
			why.detail[0] ? why.detail : cf_strerror(rc), why.hint[0] ? "; " : "",
			why.hint);
		return rc;
	}
	if (transport_get_bitrate(a->tr, &bitrate) == CF_OK && bitrate)
		a->o.cfg.bus_bitrate = bitrate;
	a->sim_filter = !strcmp(transport_name(a->tr), "sim"); /* set once the twin runs */
	a->can_src.pollfds = can_pollfds;
	a->can_src.ready = can_ready;
	loop_add_source(a->loop, &a->can_src);
	return CF_OK;
}

/* The pty itself appears with the first USB device the firmware presents (usb_follow); a UART
 * wire is there from the start and never on USB. */
static int attach_pty(struct app *a)
{
	if (a->o.cfg.uart && (twin_pty_open(&a->pty, a->o.pty) < 0 || twin_pty_publish(&a->pty) < 0)) {
		fprintf(stderr, "twin: cannot create the UART pty %s: %s\n", a->o.pty,
			strerror(errno));
		return CF_ERR_IO;
	}
	a->fx_on = !a->o.cfg.uart && sysfs_fixture_from_env(&a->fx);
	a->pty_src.pollfds = pty_pollfds;
	a->pty_src.ready = pty_ready;
	loop_add_source(a->loop, &a->pty_src);
	a->pty_timer.fire = pty_tick;
	loop_arm(a->loop, &a->pty_timer, cf_now_us() + PTY_CHECK_US);
	return CF_OK;
}

static int setup_twin(struct app *a, bool boot0)
{
	char uuid[13];
	uint8_t u[6];

	a->o.cfg.log = twin_log;
	a->o.cfg.log_ctx = a;
	a->t = twin_new(&a->o.cfg);
	if (!a->t) {
		fprintf(stderr, "twin: cannot create the twin (flash file %s unreadable?)\n",
			a->o.cfg.flash_file ? a->o.cfg.flash_file : "-");
		return CF_ERR_NOINPUT;
	}
	for (int i = 0; i < a->o.ninit; i++) {
		int rc = twin_init_state(a->t, a->o.inits[i]);
		if (rc < 0) {
			fprintf(stderr, "twin: --init '%s': %s; try --help\n", a->o.inits[i],
				cf_strerror(rc));
			return rc;
		}
	}
	twin_set_boot0(a->t, boot0);
	twin_power_on(a->t, vnow(a));
	if (a->o.have_faults)
		twin_set_faults(a->t, &a->o.faults);
	pump(a); /* publishes the first USB device at once */
	twin_uuid(a->t, u);
	canbus_uuid_format(u, uuid);
	printf("twin: ready uuid=%s serial=%s mode=%s on %s%s%s\n", uuid, twin_serial(a->t),
	       twin_mode_name(twin_get_mode(a->t)), a->o.attach ? a->o.attach : "",
	       a->o.attach && a->o.pty ? " and " : "", a->o.pty ? a->o.pty : "");
	fflush(stdout);
	return CF_OK;
}

/* SIGUSR1 unplugs and replugs the probe (RAM lost), SIGUSR2 shorts its RESET pads. */
static void take_requests(struct app *a)
{
	if (power_cycle_req) {
		power_cycle_req = 0;
		fprintf(stderr, "twin: power cycle (SIGUSR1)\n");
		twin_power_cycle(a->t, vnow(a));
		pump(a);
	}
	if (reset_req) {
		reset_req = 0;
		fprintf(stderr, "twin: reset (SIGUSR2)\n");
		twin_reset(a->t, vnow(a));
		pump(a);
	}
}

int main(int argc, char **argv)
{
	struct app a;
	struct sigaction sa;
	bool boot0 = false;
	int rc;

	memset(&a, 0, sizeof(a));
	a.pty.master = -1;
	if (twin_options_parse(argc, argv, &a.o, &boot0) < 0)
		return 64;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The timing model's waits (1.712 ms to program a block) end when the model says, not up
	 * to 50 us later (the default timer slack). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	a.loop = loop_new();
	if (!a.loop)
		return 70;
	a.t0 = cf_now_us();
	a.twin_timer.fire = twin_tick;
	a.power_timer.fire = power_tick;
	/* a hybrid probe is wired to both: its firmware decides which one it speaks */
	rc = a.o.attach ? attach_can(&a) : CF_OK;
	if (rc == CF_OK && a.o.pty)
		rc = attach_pty(&a);
	if (rc == CF_OK)
		rc = setup_twin(&a, boot0);
	if (rc == CF_OK) {
		while (!stop) {
			if (loop_run_once(a.loop, 100000) == CF_ERR_IO)
				break;
			take_requests(&a);
		}
	}
	twin_pty_close(&a.pty);
	if (a.fx_on)
		publish_usb(&a, NULL, false);
	twin_free(a.t);
	transport_close(a.tr);
	loop_free(a.loop);
	if (rc == CF_OK)
		rc = a.failed;
	return rc == CF_OK ? 0 : cf_err_exit_code(rc);
}
