/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What every transport does: move frames (CAN) or bytes (tty) and nothing else (design.md). */
#ifndef CARTOFLASH_SRC_TRANSPORT_H
#define CARTOFLASH_SRC_TRANSPORT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct transport;
struct cf_failure;

enum transport_unit {
	TRANSPORT_FRAMES, /* send/recv move one struct canbus_frame (protocol/canbus.h) per call */
	TRANSPORT_BYTES,  /* send/recv move a byte stream */
};

/* CAN controller state as libsocketcan reports it; UNKNOWN where the transport cannot tell. */
enum transport_can_state {
	TRANSPORT_CAN_UNKNOWN,
	TRANSPORT_CAN_ERROR_ACTIVE,
	TRANSPORT_CAN_ERROR_WARNING,
	TRANSPORT_CAN_ERROR_PASSIVE,
	TRANSPORT_CAN_BUS_OFF,
	TRANSPORT_CAN_STOPPED,
};

/*
 * The contract (libusb's usbi_os_backend is the model). No member sleeps or blocks.
 * Members marked optional may be NULL; the core then answers CF_ERR_NOT_SUPPORTED.
 * Errors are negative enum cf_err; the backend maps errno beside the syscall and may fill
 * the struct cf_failure it is given (detail, hint); the core adds the transport name.
 */
struct transport_ops {
	const char *name;	    /* "socketcan", "sim", "tty": shown in errors and --json */
	enum transport_unit unit;
	size_t priv_size;	    /* private state, allocated zeroed together with struct transport */
	/* Open the resource named by spec ("can0", "sim:/tmp/bus", "/dev/ttyACM0"). On failure
	 * the core frees the transport; close is not called. */
	int (*open)(struct transport *t, const char *spec, struct cf_failure *why);
	void (*close)(struct transport *t);
	/* Fill at most max pollfds; returns how many. Never fails. POLLOUT is requested only
	 * while the transport holds unsent data. */
	int (*pollfds)(struct transport *t, struct pollfd *fds, int max);
	/* All or nothing: CF_ERR_AGAIN means nothing was sent; resend the same unit when
	 * writable. A frame transport takes exactly one struct canbus_frame. */
	int (*send)(struct transport *t, const void *buf, size_t len);
	/* CF_ERR_AGAIN when nothing is pending. A frame transport returns one frame. */
	int (*recv)(struct transport *t, void *buf, size_t cap, size_t *len);
	/* Optional. CAN bitrate of the interface in bit/s. */
	int (*get_bitrate)(struct transport *t, uint32_t *bitrate);
	/* Optional. CAN controller state. */
	int (*get_can_state)(struct transport *t, enum transport_can_state *state);
	/* Optional. Restrict received CAN ids to this list (performance; receivers still route). */
	int (*set_filter)(struct transport *t, const uint32_t *ids, size_t count);
};

/*
 * Open a transport with the given ops. On success *out owns the resource; caller frees
 * with transport_close. On failure returns a negative cf_err and fills why (may be NULL).
 */
int transport_open(const struct transport_ops *ops, const char *spec, struct transport **out,
		   struct cf_failure *why);
/* NULL-safe. */
void transport_close(struct transport *t);

/* Ops table for a CAN target: "sim:PATH" selects the simulated bus, anything else SocketCAN.
 * Returns NULL when this build has no such transport. */
const struct transport_ops *transport_ops_for_can(const char *spec);

int transport_pollfds(struct transport *t, struct pollfd *fds, int max);
int transport_send(struct transport *t, const void *buf, size_t len);
int transport_recv(struct transport *t, void *buf, size_t cap, size_t *len);
int transport_get_bitrate(struct transport *t, uint32_t *bitrate);
int transport_get_can_state(struct transport *t, enum transport_can_state *state);
int transport_set_filter(struct transport *t, const uint32_t *ids, size_t count);

/* Borrowed, valid until transport_close. */
const char *transport_name(const struct transport *t);
enum transport_unit transport_unit(const struct transport *t);
/* Backend-private state (priv_size bytes). */
void *transport_priv(struct transport *t);

#endif
