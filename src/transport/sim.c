// SPDX-License-Identifier: GPL-3.0-or-later
// Simulated CAN bus transport ("sim:PATH"): one client of the simbus hub (tools/simbus runs it).
#include "transport/transports.h"

#include <errno.h>
#include <linux/can.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "failure.h"
#include "transport/canframe.h"
#include "log.h"
#include "protocol/bytes.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "transport/simbus.h"

#define SIM_HELLO_WAIT_MS 500

struct sim {
	int fd;
	char path[108];
	bool want_out;	  /* EAGAIN: the hub is not reading us, POLLOUT says when it does */
	uint32_t bitrate; /* from the hub's hello; 0 until it arrived */
	bool filtered;	  /* a receive filter is set: recv peeks, the next recv consumes */
	bool held;	  /* the frame recv returned last is still on the socket */
	uint64_t tx_frames, rx_frames, eagain;
};

static void take_hello(struct sim *s, const struct can_frame *f)
{
	if (f->len == 8 && f->data[0] == SIMBUS_HELLO0 && f->data[1] == SIMBUS_HELLO1)
		s->bitrate = cf_get_le32(f->data + 4);
}

/* One record: 1 data frame in *f, 0 something to skip, <0 an error. With a filter the data
 * frame stays on the socket until the next call (simbus.h: the hub filters only once the
 * client has read every frame, so a filter change the frame calls for comes first). */
static int read_one(struct sim *s, struct can_frame *f)
{
	ssize_t n;

	if (s->held) {
		(void)recv(s->fd, f, sizeof(*f), MSG_DONTWAIT);
		s->held = false;
	}
	n = recv(s->fd, f, sizeof(*f), MSG_DONTWAIT | (s->filtered ? MSG_PEEK : 0));

	if (n == 0)
		return CF_ERR_NO_DEVICE; /* the hub went away */
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return CF_ERR_AGAIN;
		return errno == ECONNRESET ? CF_ERR_NO_DEVICE : CF_ERR_IO;
	}
	s->held = s->filtered;
	if (n != (ssize_t)sizeof(*f))
		return 0;
	if (f->can_id & CAN_ERR_FLAG) {
		take_hello(s, f);
		return 0;
	}
	/* katapult.md §2.1: only standard 11-bit data frames take part */
	if (f->can_id & (CAN_EFF_FLAG | CAN_RTR_FLAG) || f->len > 8)
		return 0;
	return 1;
}

/* The hub greets every client with its bitrate at once; wait for it briefly so
 * get_bitrate can answer (the one bounded wait of this transport). */
static void wait_hello(struct sim *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	struct can_frame f;

	if (poll(&p, 1, SIM_HELLO_WAIT_MS) <= 0)
		return;
	if (recv(s->fd, &f, sizeof(f), MSG_DONTWAIT | MSG_PEEK) == (ssize_t)sizeof(f) &&
	    (f.can_id & CAN_ERR_FLAG)) {
		(void)recv(s->fd, &f, sizeof(f), MSG_DONTWAIT);
		take_hello(s, &f);
	}
}

static int op_open(struct transport *t, const char *spec, struct cf_failure *why)
{
	struct sim *s = transport_priv(t);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = strncmp(spec, "sim:", 4) ? spec : spec + 4;
	int sndbuf = SIMBUS_CLIENT_SNDBUF, err;

	s->fd = -1;
	if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		cf_failure_set(why, CF_ERR_USAGE, "open", "'%s' is not a simulated bus socket path",
			       spec);
		return CF_ERR_USAGE;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	strcpy(sa.sun_path, path);
	s->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		cf_failure_set(why, CF_ERR_IO, "open", "socket: %s", strerror(errno));
		return CF_ERR_IO;
	}
	/* simbus.h: a small send buffer turns "outrunning the bus" into EAGAIN */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		err = e == ENOENT || e == ECONNREFUSED ? CF_ERR_NO_DEVICE
		      : e == EACCES		       ? CF_ERR_ACCESS
						       : CF_ERR_IO;
		cf_failure_set(why, err, "open", "no simulated CAN bus at %s: %s", path,
			       strerror(e));
		cf_failure_set_hint(why, "start one with `simbus --socket %s`, then retry", path);
		if (why)
			why->sys_errno = e;
		close(s->fd);
		s->fd = -1;
		return err;
	}
	wait_hello(s);
	cf_log(CF_LOG_DEBUG, s->path, "sim", "connected, bus at %u bit/s", s->bitrate);
	return CF_OK;
}

static void op_close(struct transport *t)
{
	struct sim *s = transport_priv(t);

	cf_log(CF_LOG_DEBUG, s->path, "sim", "close: %llu frames sent, %llu received, %llu waits",
	       (unsigned long long)s->tx_frames, (unsigned long long)s->rx_frames,
	       (unsigned long long)s->eagain);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int op_pollfds(struct transport *t, struct pollfd *fds, int max)
{
	struct sim *s = transport_priv(t);

	if (max < 1 || s->fd < 0)
		return 0;
	fds[0].fd = s->fd;
	fds[0].events = (short)(POLLIN | (s->want_out ? POLLOUT : 0));
	fds[0].revents = 0;
	return 1;
}

static int op_send(struct transport *t, const void *buf, size_t len)
{
	struct sim *s = transport_priv(t);
	const struct canbus_frame *in = buf;
	struct can_frame cf;
	ssize_t n;

	if (len != sizeof(*in) || !canframe_from_bus(in, &cf))
		return CF_ERR_USAGE;
	n = send(s->fd, &cf, sizeof(cf), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)sizeof(cf)) {
		s->want_out = false;
		s->tx_frames++;
		return CF_OK;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
		/* the hub's queue for us is full: the bus is busy; resend when writable */
		s->want_out = true;
		s->eagain++;
		return CF_ERR_AGAIN;
	}
	cf_log(CF_LOG_DEBUG, s->path, "sim", "send: %s", n < 0 ? strerror(errno) : "short");
	return n < 0 && (errno == EPIPE || errno == ECONNRESET) ? CF_ERR_NO_DEVICE : CF_ERR_IO;
}

static int op_recv(struct transport *t, void *buf, size_t cap, size_t *len)
{
	struct sim *s = transport_priv(t);
	struct canbus_frame *out = buf;
	struct can_frame cf;
	int rc;

	if (cap < sizeof(*out))
		return CF_ERR_NOSPACE;
	while ((rc = read_one(s, &cf)) == 0)
		;
	if (rc < 0)
		return rc;
	canframe_to_bus(&cf, out);
	*len = sizeof(*out);
	s->rx_frames++;
	return CF_OK;
}

static int op_get_bitrate(struct transport *t, uint32_t *bitrate)
{
	struct sim *s = transport_priv(t);

	if (!s->bitrate)
		return CF_ERR_NOT_SUPPORTED;
	*bitrate = s->bitrate;
	return CF_OK;
}

static int op_get_can_state(struct transport *t, enum transport_can_state *state)
{
	(void)t;
	*state = TRANSPORT_CAN_ERROR_ACTIVE; /* the simulated bus has no error states */
	return CF_OK;
}

int sim_set_filter(struct transport *t, const struct simbus_filter *f, size_t count)
{
	struct simbus_filter_msg m = {.magic = SIMBUS_FILTER_MAGIC};
	struct sim *s;
	ssize_t n;

	if (!t || transport_name(t) != sim_ops.name)
		return CF_ERR_NOT_SUPPORTED;
	if (count > SIMBUS_MAX_FILTERS)
		return CF_ERR_USAGE;
	s = transport_priv(t);
	m.count = (uint32_t)count;
	if (count)
		memcpy(m.f, f, count * sizeof(*f));
	n = send(s->fd, &m, SIMBUS_FILTER_MSG_SIZE, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == SIMBUS_FILTER_MSG_SIZE) {
		s->filtered = count > 0;
		s->want_out = false;
		return CF_OK;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
		s->want_out = true;
		return CF_ERR_AGAIN;
	}
	return n < 0 && (errno == EPIPE || errno == ECONNRESET) ? CF_ERR_NO_DEVICE : CF_ERR_IO;
}

const struct transport_ops sim_ops = {
    .name = "sim",
    .unit = TRANSPORT_FRAMES,
    .priv_size = sizeof(struct sim),
    .open = op_open,
    .close = op_close,
    .pollfds = op_pollfds,
    .send = op_send,
    .recv = op_recv,
    .get_bitrate = op_get_bitrate,
    .get_can_state = op_get_can_state,
};
