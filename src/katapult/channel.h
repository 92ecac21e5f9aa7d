/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The channel contract: how the one Katapult updater reaches a probe and moves whole frames. */
#ifndef CARTOFLASH_SRC_KATAPULT_CHANNEL_H
#define CARTOFLASH_SRC_KATAPULT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "protocol/image.h"

struct cf_failure;
struct kchannel;
struct loop;
struct updater_options;

/* What a channel tells the updater, from the loop (never from inside an op that returned an
 * error). Set by the updater before open. */
struct kchannel_events {
	void *ctx;
	/* reach ended: 0 = Katapult is there and the channel is ready for a session; <0 with
	 * the failure filled. */
	void (*reached)(void *ctx, int err, uint64_t now_us);
	/* confirm ended: 0 = the probe answers as expected; <0 with the failure filled. */
	void (*confirmed)(void *ctx, int err, uint64_t now_us);
};

/* What a channel tells the session that runs on it (set by the pump, kpump.c, with
 * c->session; the channel calls sent, writable, received and failed only while c->session is
 * set, looked after the look the pump asked for). */
struct kchannel_io {
	void *ctx;
	/* The frame that send took is out whole (may come from inside send). */
	void (*sent)(void *ctx, uint64_t now_us);
	/* After send returned CF_ERR_AGAIN: send the same frame again now. */
	void (*writable)(void *ctx, uint64_t now_us);
	/* Bytes from the device's reply stream, in order. */
	void (*received)(void *ctx, const uint8_t *data, size_t len, uint64_t now_us);
	/* The channel broke under a session: the failure is filled in the channel's words,
	 * without a stage (the pump names the session's stage: "connect", "write", "verify"). */
	void (*failed)(void *ctx, int err, uint64_t now_us);
	/* A look that returned CF_ERR_AGAIN has filled its kchannel_seen. */
	void (*looked)(void *ctx, uint64_t now_us);
};

/* What a channel sees of a probe that stopped answering a session (look). */
struct kchannel_seen {
	char text[200]; /* what it sees now, one clause ("USB port 1-1 shows Katapult ..."); ""
			 * when it sees nothing */
	char hint[240]; /* the next step that implies while nothing was written; "" = none */
};

/* Where a channel is; the updater allocates it with ops->priv_size bytes behind. */
struct kchannel {
	const struct kchannel_ops *ops;
	struct loop *loop;
	struct device_identity *id; /* the updater's record: the channel fills what it learns */
	struct cf_failure *why;	    /* the updater's failure */
	const struct updater_options *opts;
	const struct image_info *img; /* the image of this run, NULL for info and reboot */
	struct kchannel_events ev;
	struct kchannel_io io;
	bool from_app; /* reach took the probe out of its application: nothing written yet, so
			* COMPLETE puts it back (katapult.md §5) */
	bool session;  /* a Katapult session runs: deliver what arrives */
	char label[128]; /* identity_label of the record, kept current by the channel */
	_Alignas(max_align_t) unsigned char priv[];
};

/* What the updater waits for after COMPLETE. */
enum kchannel_expect {
	KCHANNEL_EXPECT_APPLICATION, /* the application answers again */
	KCHANNEL_EXPECT_KATAPULT,    /* a deployer of this link restarts into its new Katapult */
};

/* What a session on this channel needs to know (refusal rules, USB prime, CAN UUID). */
struct kchannel_session {
	enum image_iface iface; /* what the probe talks now, for R4 */
	uint32_t bus_bitrate;	/* CAN: the interface's bitrate for R3, 0 unknown */
	bool prime;		/* USB: send the prime first (katapult.md §3.4) */
	bool expect_uuid;	/* CAN: GET_CANBUS_ID must return uuid */
	uint8_t uuid[6];
};

/*
 * One file per channel (channel_can.c, channel_tty.c) fills this table; the updater never asks
 * which one it holds. No op blocks or sleeps; an op that fails fills c->why and returns a
 * negative cf_err without an event.
 */
struct kchannel_ops {
	const char *name; /* "can", "tty" */
	size_t priv_size;
	/* Take what the channel needs before anything is sent (the bus and a node id). */
	int (*open)(struct kchannel *c);
	/*
	 * Reach Katapult by deadline_us: find it there, or (request) ask the application to
	 * start it (CAN admin request, USB 1200-baud touch, UART request string) and follow the
	 * probe there. Sets c->from_app when it did. Ends with ev.reached. A probe found running
	 * its application without request: ev.reached(0) with id->mode APPLICATION.
	 */
	int (*reach)(struct kchannel *c, bool request, uint64_t deadline_us);
	/* Fill what a session on this channel needs. */
	void (*session)(struct kchannel *c, struct kchannel_session *s);
	/*
	 * Send one whole frame: 0 = taken whole (io.sent follows, maybe from inside), CF_ERR_AGAIN
	 * = nothing taken (io.writable follows; resend the same frame then), else the channel's
	 * error with c->why filled, stage left to the pump (as for io.failed). Never a partial
	 * frame (design.md rule 1).
	 */
	int (*send)(struct kchannel *c, const uint8_t *frame, size_t len);
	/*
	 * COMPLETE went out (acknowledged or not): watch the probe come back as expect by
	 * deadline_us. Ends with ev.confirmed. CF_ERR_NOT_SUPPORTED at once (no event) when this
	 * channel cannot see it (a UART; a deployer moving the probe elsewhere).
	 */
	int (*confirm)(struct kchannel *c, enum kchannel_expect expect, uint64_t deadline_us);
	/* Stop a reach, confirm or look without an event; idempotent. */
	void (*stop)(struct kchannel *c);
	/* Give everything back; the updater frees c. */
	void (*close)(struct kchannel *c);
	/*
	 * Optional: a session stopped hearing the probe with err (a timeout, a wedged parser;
	 * CF_ERR_NO_DEVICE or CF_ERR_IO: the channel broke, what it held is leaving): look at
	 * what this channel can see of it now (the one follow, for any mode), waiting until
	 * deadline_us at most (now: only what shows at once), into *out, the caller's until
	 * then. 0 = filled at once, no event; CF_ERR_AGAIN = io.looked follows.
	 */
	int (*look)(struct kchannel *c, int err, uint64_t deadline_us, struct kchannel_seen *out);
};

extern const struct kchannel_ops kchannel_can_ops;
extern const struct kchannel_ops kchannel_tty_ops;

/*
 * The channel for link (CAN node or tty), allocated with its private part, filled from c (loop,
 * id, why, opts, img, ev; ops and the rest are set here) and opened. Returns 0 and *out, or a
 * negative cf_err with c->why filled (a link Katapult does not run over, no memory, open
 * failed: then *out is still set, for kchannel_close).
 */
int kchannel_open(enum identity_link link, const struct kchannel *c, struct kchannel **out);
/* Close and free; NULL-safe. */
void kchannel_close(struct kchannel *c);

#endif
