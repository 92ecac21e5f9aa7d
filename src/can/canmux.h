/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CAN bus mux: one per interface, shared by every session on it (design.md "Channels"). */
#ifndef CARTOFLASH_SRC_CAN_CANMUX_H
#define CARTOFLASH_SRC_CAN_CANMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/canbus.h"

struct canmux;
struct loop;
struct cf_failure;
struct transport;
struct transport_ops;

/*
 * A receiver of one CAN id, embedded by its owner (a node channel, the admin collector).
 * Several listeners may share an id (every session on a bus hears 0x3f1). Callbacks run from
 * the loop, never from inside canmux_send, so they may send, listen and unlisten freely.
 */
struct canmux_listener {
	uint32_t id;
	void (*on_frame)(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now_us);
	/* Optional: the last frame of a unit this listener queued went to the transport whole. */
	void (*on_sent)(struct canmux_listener *l, uint64_t now_us);
	/* Optional: the bus failed for good (err negative: CF_ERR_IO, CF_ERR_NO_DEVICE). */
	void (*on_error)(struct canmux_listener *l, int err, uint64_t now_us);
	struct canmux_listener *next; /* owned by the mux */
	bool listening;		      /* owned by the mux */
	unsigned seq;		      /* owned by the mux: last delivery round that reached it */
};

/*
 * Get the mux of interface spec ("can0", "sim:/tmp/bus") on this loop, opening the transport
 * the first time; later calls share it (reference counted). On failure returns a negative
 * cf_err with why filled (device, detail, hint). Release with canmux_release.
 */
int canmux_acquire(struct loop *loop, const char *spec, struct canmux **out,
		   struct cf_failure *why);
/*
 * Open the mux of spec over the given ops (tests put a fake transport in place this way); later
 * canmux_acquire calls for the same (loop, spec) share it. Release with canmux_release.
 */
int canmux_open_ops(struct loop *loop, const struct transport_ops *ops, const char *spec,
		    struct canmux **out, struct cf_failure *why);
/* Drop one reference; the last one flushes nothing more and closes the transport. NULL-safe. */
void canmux_release(struct canmux *m);

/* Start/stop receiving l->id. The socket filter follows the set of ids in use. */
void canmux_listen(struct canmux *m, struct canmux_listener *l);
void canmux_unlisten(struct canmux *m, struct canmux_listener *l);

/*
 * Queue one unit (all frames of one command) for sending in order. Never blocks, never drops:
 * a frame the transport refuses (ENOBUFS/EAGAIN) is resent as it is when the transport can
 * take it (design.md rule 1). owner (may be NULL) gets on_sent once the last frame is out; an
 * owner that unlistens keeps its queued frames going. Returns 0, CF_ERR_NOMEM, or the bus's
 * error once it failed.
 */
int canmux_send(struct canmux *m, struct canmux_listener *owner, const struct canbus_frame *frames,
		size_t count);
/* Chunk a byte stream into 8-byte frames on id (katapult.md §2.4) and queue it as one unit. */
int canmux_send_stream(struct canmux *m, struct canmux_listener *owner, uint32_t id,
		       const uint8_t *data, size_t len);

/*
 * Node ids for Katapult sessions on this bus: 129 (flashtool's) to 223, so Klipper's 4, 5, ...
 * and the ids of identified applications (224-254, src/appid/appid_can.h) never clash
 * (katapult.md §2.1). CF_ERR_BUSY when all are taken.
 */
int canmux_alloc_node(struct canmux *m, uint8_t *node);
void canmux_free_node(struct canmux *m, uint8_t node);

/* Interface bitrate in bit/s; CF_ERR_NOT_SUPPORTED when the interface cannot tell (vcan). */
int canmux_get_bitrate(struct canmux *m, uint32_t *bitrate);
/* Borrowed, valid until the last release. */
const char *canmux_spec(const struct canmux *m);
struct transport *canmux_transport(struct canmux *m);
/* 0 while healthy, else the error that stopped the bus. */
int canmux_error(const struct canmux *m);

/* Per-bus counters for -vv and benchmarks. */
struct canmux_stats {
	uint64_t tx_frames;
	uint64_t rx_frames;
	uint64_t tx_again; /* sends the transport refused and we retried */
	size_t peak_queued;
};
void canmux_get_stats(const struct canmux *m, struct canmux_stats *st);

#endif
