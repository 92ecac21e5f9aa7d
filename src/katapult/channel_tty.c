// SPDX-License-Identifier: GPL-3.0-or-later
// The tty channel: USB CDC-ACM or a UART; reach by touch or request string, confirm through sysfs.
#include "katapult/channel.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "follow/follow.h"
#include "katapult/tty_entry.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "transport.h"
#include "transport/transports.h"
#include "updater.h"

#define container(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct tty_chan {
	struct kchannel *c;
	char spec[80];	   /* what the user named: "PATH", "PATH@BAUD", "auto" */
	bool uart_request; /* --request-bootloader */
	struct tty_entry entry;
	struct transport *tp;
	struct loop_source src;
	bool src_added;
	bool primed;	   /* the first session after open sent the prime */
	bool tx_pending;   /* a frame met a full port: io.writable on POLLOUT */
	struct follow *follow;	     /* confirm or look */
	struct kchannel_seen *seen;  /* a look's answer goes here */
	enum kchannel_expect expect;
	uint64_t confirm_start_us, confirm_deadline_us;
};

static struct tty_chan *priv(struct kchannel *c)
{
	struct tty_chan *p = (struct tty_chan *)c->priv;

	p->c = c;
	return p;
}

static void relabel(struct kchannel *c)
{
	identity_label(c->id, c->label, sizeof(c->label));
}

static void close_tty(struct tty_chan *p)
{
	if (p->src_added)
		loop_remove_source(p->c->loop, &p->src);
	p->src_added = false;
	transport_close(p->tp);
	p->tp = NULL;
	p->tx_pending = false;
}

/* The channel broke under a session: say so (the pump names the session's stage), and never
 * reuse it in a later step. */
static int broken(struct tty_chan *p, int err)
{
	struct kchannel *c = p->c;
	const char *tty = p->entry.tty;

	if (err == CF_ERR_NO_DEVICE) {
		cf_failure_set(c->why, err, NULL, "the probe disconnected from %s", tty);
		cf_failure_set_hint(c->why, "reconnect it and rerun the same command with "
					    "--serial auto (or its new tty)");
	} else {
		cf_failure_set(c->why, err, NULL, "serial I/O on %s failed: %s", tty,
			       cf_strerror(err));
		cf_failure_set_hint(c->why, "check the cable and rerun the command");
	}
	close_tty(p);
	return err;
}

static void channel_failed(struct tty_chan *p, int err, uint64_t now)
{
	p->c->io.failed(p->c->io.ctx, broken(p, err), now);
}

static int src_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct tty_chan *p = container(src, struct tty_chan, src);
	int n;

	/* Between sessions nobody reads: polling a readable or hung-up tty would spin. */
	if (!p->tp || !p->c->session)
		return 0;
	n = transport_pollfds(p->tp, fds, max);
	return n;
}

static void src_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct tty_chan *p = container(src, struct tty_chan, src);
	uint8_t buf[256];
	size_t len;

	(void)fds;
	(void)count;
	while (p->tp && p->c->session) {
		const int err = transport_recv(p->tp, buf, sizeof(buf), &len);

		if (err == CF_ERR_AGAIN)
			break;
		if (err < 0) {
			channel_failed(p, err, now);
			return;
		}
		p->c->io.received(p->c->io.ctx, buf, len, now);
	}
	if (p->tp && p->c->session && p->tx_pending) {
		p->tx_pending = false;
		p->c->io.writable(p->c->io.ctx, now);
	}
}

static int open_tty(struct tty_chan *p)
{
	char spec[160];
	int err;

	if (p->tp)
		return CF_OK;
	if (p->entry.baud)
		snprintf(spec, sizeof(spec), "%s@%u", p->entry.tty, (unsigned)p->entry.baud);
	else
		snprintf(spec, sizeof(spec), "%s", p->entry.tty);
	err = transport_open(&tty_ops, spec, &p->tp, p->c->why);
	if (err < 0)
		return err;
	p->primed = false;
	p->src.pollfds = src_pollfds;
	p->src.ready = src_ready;
	loop_add_source(p->c->loop, &p->src);
	p->src_added = true;
	return CF_OK;
}

static int op_open(struct kchannel *c)
{
	struct tty_chan *p = priv(c);

	if (!p->spec[0]) {
		snprintf(p->spec, sizeof(p->spec), c->id->baud ? "%.63s@%u" : "%.63s", c->id->tty,
			 (unsigned)c->id->baud);
		/* --request-bootloader: the caller said the probe runs its application. */
		p->uart_request = c->id->mode == DEVICE_MODE_APPLICATION;
		c->id->mode = DEVICE_MODE_UNKNOWN; /* reach finds out */
		/* The record names the node; "@BAUD" is the channel's business. */
		snprintf(c->id->tty, sizeof(c->id->tty), "%.63s", p->spec);
		if (strrchr(c->id->tty, '@'))
			*strrchr(c->id->tty, '@') = '\0';
	}
	relabel(c);
	return CF_OK;
}

static void entry_done(void *ctx, int err, uint64_t now)
{
	struct tty_chan *p = ctx;
	struct kchannel *c = p->c;

	c->from_app = p->entry.requested;
	relabel(c);
	if (err == CF_OK && c->id->mode != DEVICE_MODE_APPLICATION)
		err = open_tty(p);
	if (err == CF_OK && c->id->mode != DEVICE_MODE_APPLICATION) {
		/* USB: sysfs showed Katapult. A UART shows nothing: CONNECT's answer tells. */
		c->id->mode = p->entry.is_usb ? DEVICE_MODE_KATAPULT : DEVICE_MODE_UNKNOWN;
		snprintf(c->id->tty, sizeof(c->id->tty), "%.63s", p->entry.tty);
	}
	relabel(c);
	c->ev.reached(c->ev.ctx, err, now);
}

static int op_reach(struct kchannel *c, bool request, uint64_t deadline_us)
{
	struct tty_chan *p = priv(c);
	int err;

	p->entry.loop = c->loop;
	p->entry.id = c->id;
	p->entry.why = c->why;
	p->entry.request = request;
	p->entry.uart_request = request && p->uart_request;
	p->entry.deadline_us = deadline_us;
	p->entry.on_done = entry_done;
	p->entry.ctx = p;
	err = tty_entry_start(&p->entry, p->spec);
	relabel(c);
	return err;
}

static void op_session(struct kchannel *c, struct kchannel_session *s)
{
	struct tty_chan *p = priv(c);

	memset(s, 0, sizeof(*s));
	/* images.md R4: what the probe talks now; a UART takes neither CAN nor USB builds. */
	s->iface = p->entry.is_usb ? IMAGE_IFACE_USB : IMAGE_IFACE_UART;
	/* katapult.md §3.4, §10.4: always prime USB Katapult, on the first session after open
	 * (the held-back reply exists only after USB configuration). A UART has no such quirk. */
	s->prime = p->entry.is_usb && !p->primed;
	p->primed = p->primed || s->prime;
}

static int op_send(struct kchannel *c, const uint8_t *frame, size_t len)
{
	struct tty_chan *p = priv(c);
	int err;

	if (!p->tp)
		return cf_failure_set(c->why, CF_ERR_NO_DEVICE, NULL, "%s is closed",
				      p->entry.tty);
	err = transport_send(p->tp, frame, len);
	if (err == CF_ERR_AGAIN) {
		p->tx_pending = true; /* the transport asks for POLLOUT; the same frame then */
		return err;
	}
	if (err < 0)
		return broken(p, err);
	c->io.sent(c->io.ctx, cf_now_us());
	return CF_OK;
}

static void confirm_failure(struct tty_chan *p, int err, const struct follow_seen *seen)
{
	struct cf_failure *why = p->c->why;

	if (err == CF_ERR_TIMEOUT && seen->mode == DEVICE_MODE_KATAPULT)
		cf_failure_set(why, CF_ERR_PROTOCOL, "finish",
			       "after COMPLETE the probe on USB port %s stayed in Katapult",
			       seen->usb.port);
	else if (err == CF_ERR_TIMEOUT)
		cf_failure_set(why, err, "finish",
			       "the application did not appear on USB port %s within %.1f s after "
			       "COMPLETE",
			       p->entry.usb.port,
			       (double)(p->confirm_deadline_us - p->confirm_start_us) / 1e6);
	else
		cf_failure_set(why, CF_ERR_PROTOCOL, "finish",
			       "after COMPLETE USB port %s shows %04x:%04x \"%s\" serial %s, not the "
			       "probe's application",
			       seen->usb.port, seen->usb.vid, seen->usb.pid, seen->usb.manufacturer,
			       seen->usb.serial);
	cf_failure_set_hint(why, "the application does not start; flash a known-good image, or "
				 "power-cycle the probe");
}

static void follow_done(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct tty_chan *p = ctx;
	struct kchannel *c = p->c;

	follow_free(p->follow);
	p->follow = NULL;
	if (err < 0) {
		confirm_failure(p, err, seen);
		c->ev.confirmed(c->ev.ctx, c->why->code, now);
		return;
	}
	cf_log(CF_LOG_INFO, c->label, NULL, "application on %s %.0f ms after COMPLETE",
	       seen->usb.tty, (double)(now - p->confirm_start_us) / 1000.0);
	p->entry.usb = seen->usb;
	snprintf(c->id->tty, sizeof(c->id->tty), "%.63s", seen->usb.tty);
	c->id->mode = DEVICE_MODE_APPLICATION;
	relabel(c);
	c->ev.confirmed(c->ev.ctx, CF_OK, now);
}

static int op_confirm(struct kchannel *c, enum kchannel_expect expect, uint64_t deadline_us)
{
	struct tty_chan *p = priv(c);
	struct follow_target t = { .link = IDENTITY_LINK_TTY, .want = DEVICE_MODE_APPLICATION };

	/* The device resets 100 ms after the ACK (katapult.md §1.3): its tty goes away. */
	close_tty(p);
	c->id->mode = DEVICE_MODE_UNKNOWN;
	/* A UART shows nothing of the reset; a deployer comes back on its own interface. */
	if (!p->entry.is_usb || expect == KCHANNEL_EXPECT_KATAPULT)
		return CF_ERR_NOT_SUPPORTED;
	p->expect = expect;
	p->confirm_start_us = cf_now_us();
	p->confirm_deadline_us = deadline_us;
	t.usb = p->entry.usb;
	t.deadline_us = deadline_us;
	return follow_start(c->loop, &t, NULL, follow_done, p, &p->follow, c->why);
}

static void op_stop(struct kchannel *c)
{
	struct tty_chan *p = priv(c);

	tty_entry_stop(&p->entry);
	follow_free(p->follow);
	p->follow = NULL;
}

static void op_close(struct kchannel *c)
{
	struct tty_chan *p = priv(c);

	op_stop(c);
	close_tty(p);
}

/* What the port shows now, after a session stopped hearing the probe. */
static void seen_words(struct tty_chan *p, int err, const struct follow_seen *s)
{
	struct kchannel_seen *out = p->seen;
	const char *port = p->entry.usb.port;

	if (err == CF_OK && s->mode == DEVICE_MODE_KATAPULT) {
		snprintf(out->text, sizeof(out->text),
			 "USB port %s shows Katapult (%04x:%04x): no application started", port,
			 s->usb.vid, s->usb.pid);
		snprintf(out->hint, sizeof(out->hint),
			 "Katapult is on the port but does not answer: its parser may be wedged "
			 "(katapult.md §1.7); power-cycle the probe and rerun");
	} else if (err == CF_OK) {
		snprintf(out->text, sizeof(out->text),
			 "USB port %s shows the application (%04x:%04x): the probe was reset and runs "
			 "what its flash holds",
			 port, s->usb.vid, s->usb.pid);
	} else if (err == CF_ERR_TIMEOUT && s->mode != DEVICE_MODE_UNKNOWN) {
		snprintf(out->text, sizeof(out->text),
			 "USB port %s still lists %04x:%04x, the device that stopped answering", port,
			 s->usb.vid, s->usb.pid);
	} else if (err == CF_ERR_TIMEOUT) {
		snprintf(out->text, sizeof(out->text),
			 "USB port %s is empty: the probe is unplugged, without power or restarting",
			 port);
	} else if (s->mode == DEVICE_MODE_ROM_DFU) {
		snprintf(out->text, sizeof(out->text),
			 "USB port %s shows the ROM DFU bootloader: the probe starts with BOOT0 "
			 "bridged",
			 port);
	} else {
		snprintf(out->text, sizeof(out->text),
			 "USB port %s holds another device now (%04x:%04x, serial %.24s)", port,
			 s->usb.vid, s->usb.pid, s->usb.serial);
	}
}

static void look_done(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct tty_chan *p = ctx;

	follow_free(p->follow);
	p->follow = NULL;
	seen_words(p, err, seen);
	p->c->io.looked(p->c->io.ctx, now);
}

/* USB: the one follow, for any mode, until deadline_us (sysfs: port and serial); a UART shows
 * nothing of what is behind it. */
static int op_look(struct kchannel *c, int err, uint64_t deadline_us, struct kchannel_seen *out)
{
	struct tty_chan *p = priv(c);
	struct follow_target t = { .link = IDENTITY_LINK_TTY, .want = DEVICE_MODE_UNKNOWN,
				   .device_only = true };
	struct cf_failure scratch; /* c->why holds the session's failure */

	if (!p->entry.is_usb) {
		snprintf(out->text, sizeof(out->text), "a UART shows nothing of the probe: whether it "
						       "was reset cannot be seen");
		if (c->opts->dry_run) /* no request went out: an application stays silent */
			snprintf(out->hint, sizeof(out->hint),
				 "a dry run sends no bootloader request, and an application does not "
				 "answer Katapult: a probe running one was left running it; R1-R5 need "
				 "Katapult on a UART (run without --dry-run)");
		else if (!p->entry.requested) /* the usual slip: an application, asked nothing */
			snprintf(out->hint, sizeof(out->hint),
				 "nothing answers on the UART: a probe running its application needs "
				 "--request-bootloader; a bootloader that wedged in an earlier run needs "
				 "a power cycle (power-cycle the probe and rerun); else check the wiring "
				 "and --baud");
		else
			snprintf(out->hint, sizeof(out->hint),
				 "nothing answers on the UART: a bootloader that wedged in an earlier "
				 "run answers nothing until it is power-cycled (power-cycle the probe "
				 "and rerun); else check the wiring and --baud");
		return CF_OK;
	}
	t.usb = p->entry.usb;
	/* A tty that hung up: the kernel still lists its device for a moment. */
	t.gone_first = err == CF_ERR_NO_DEVICE || err == CF_ERR_IO;
	t.first_look_us = cf_now_us();
	t.deadline_us = deadline_us;
	p->seen = out;
	if (follow_start(c->loop, &t, NULL, look_done, p, &p->follow, &scratch) < 0)
		return CF_OK; /* nothing to say */
	return CF_ERR_AGAIN;
}

const struct kchannel_ops kchannel_tty_ops = {
	.name = "tty",
	.priv_size = sizeof(struct tty_chan),
	.open = op_open,
	.reach = op_reach,
	.session = op_session,
	.send = op_send,
	.confirm = op_confirm,
	.stop = op_stop,
	.close = op_close,
	.look = op_look,
};
