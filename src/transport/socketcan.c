// SPDX-License-Identifier: GPL-3.0-or-later
// SocketCAN transport: a raw CAN_RAW socket on one interface, frames in and out, never dropped.
#include "transport/transports.h"

#include <errno.h>
#include <fcntl.h>
#include <libsocketcan.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/netlink.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "failure.h"
#include "transport/canframe.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

/* katapult.md §2.4 / §7.15: the default txqueuelen 10 gives ENOBUFS; 128 is the usual advice. */
#define SOCKETCAN_GOOD_TXQUEUELEN 128
#define SOCKETCAN_MAX_FILTERS 64

struct socketcan {
	int fd;
	char ifname[IFNAMSIZ];
	bool want_out;		/* EAGAIN: the socket buffer is full, POLLOUT says when it drains */
	bool bus_off;		/* an error frame reported BUS-OFF */
	unsigned txqueuelen;
	uint64_t tx_frames;
	uint64_t rx_frames;
	uint64_t enobufs;	/* kernel queue full: the frame was retried, never dropped */
	uint32_t rx_dropped;	/* SO_RXQ_OVFL: frames the kernel dropped before we read them */
};

static unsigned read_txqueuelen(const char *ifname)
{
	char path[96];
	unsigned v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/tx_queue_len", ifname);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%u", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Interface present and up? Checked before the socket so the error can say which. */
static int check_link(const char *ifname, struct cf_failure *why)
{
	struct ifreq ifr;
	int fd, rc;

	if (!if_nametoindex(ifname)) {
		cf_failure_set(why, CF_ERR_NO_DEVICE, "open", "no network interface %s", ifname);
		cf_failure_set_hint(why, "check `ip -details link show`; plug in the CAN adapter "
					 "or load its driver");
		return CF_ERR_NO_DEVICE;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CF_OK; /* cannot tell; the bind below will */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	close(fd);
	if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
		cf_failure_set(why, CF_ERR_NO_DEVICE, "open", "interface %s is down", ifname);
		cf_failure_set_hint(why, "sudo ip link set %s up type can bitrate 1000000 "
					 "(use the bitrate of your probes)", ifname);
		return CF_ERR_NO_DEVICE;
	}
	return CF_OK;
}

/*
 * libsocketcan prints "no link data found" on stderr for interfaces without CAN netlink data
 * (vcan, some USB adapters) and returns -1; for us that only means "unknown", so its stderr is
 * pointed at /dev/null for the duration of the call. Single-threaded, so the swap is safe.
 */
static int quiet_fd_begin(void)
{
	int saved = dup(STDERR_FILENO);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	fflush(stderr);
	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	if (null >= 0)
		close(null);
	return saved;
}

static void quiet_fd_end(int saved)
{
	if (saved < 0)
		return;
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
}

static int quiet_get_state(const char *ifname, int *state)
{
	int saved = quiet_fd_begin();
	int rc = can_get_state(ifname, state);

	quiet_fd_end(saved);
	return rc;
}

static int quiet_get_bittiming(const char *ifname, struct can_bittiming *bt)
{
	int saved = quiet_fd_begin();
	int rc = can_get_bittiming(ifname, bt);

	quiet_fd_end(saved);
	return rc;
}

static int check_state(const char *ifname, struct cf_failure *why)
{
	int state;

	/* vcan and some adapters have no CAN netlink data: no state is not an error. */
	if (quiet_get_state(ifname, &state) < 0)
		return CF_OK;
	if (state == CAN_STATE_BUS_OFF) {
		cf_failure_set(why, CF_ERR_IO, "open", "interface %s is BUS-OFF", ifname);
		cf_failure_set_hint(why, "check wiring, termination and bitrate, then restart it: "
					 "sudo ip link set %s down && sudo ip link set %s up",
				    ifname, ifname);
		return CF_ERR_IO;
	}
	if (state == CAN_STATE_STOPPED) {
		cf_failure_set(why, CF_ERR_NO_DEVICE, "open", "interface %s is stopped", ifname);
		cf_failure_set_hint(why, "sudo ip link set %s up", ifname);
		return CF_ERR_NO_DEVICE;
	}
	return CF_OK;
}

static int open_socket(struct socketcan *s, struct cf_failure *why)
{
	struct sockaddr_can addr = { .can_family = AF_CAN };
	const int one = 1;
	const can_err_mask_t errmask = CAN_ERR_BUSOFF;

	s->fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
	if (s->fd < 0) {
		why->sys_errno = errno;
		cf_failure_set(why, errno == EAFNOSUPPORT ? CF_ERR_NOT_SUPPORTED : CF_ERR_IO, "open",
			       "cannot create a CAN socket: %s", strerror(errno));
		cf_failure_set_hint(why, "load the can and can_raw kernel modules (modprobe can_raw)");
		return why->code;
	}
	addr.can_ifindex = (int)if_nametoindex(s->ifname);
	if (bind(s->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		why->sys_errno = errno;
		cf_failure_set(why, CF_ERR_IO, "open", "unable to bind a CAN socket to %s: %s",
			       s->ifname, strerror(errno));
		cf_failure_set_hint(why, "check that %s is a CAN interface (ip -details link)",
				    s->ifname);
		goto err_close;
	}
	/* candump's drop counter; and BUS-OFF error frames, so a dying bus is named, not a
	 * timeout. Neither is essential: failures here only lose diagnostics. */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	(void)setsockopt(s->fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &errmask, sizeof(errmask));
	return CF_OK;

err_close:
	close(s->fd);
	s->fd = -1;
	return CF_ERR_IO;
}

static int op_open(struct transport *t, const char *spec, struct cf_failure *why)
{
	struct socketcan *s = transport_priv(t);
	struct cf_failure scratch;
	int err;

	if (!why)
		why = &scratch;
	s->fd = -1;
	if (!spec[0] || strlen(spec) >= sizeof(s->ifname)) {
		cf_failure_set(why, CF_ERR_USAGE, "open", "'%s' is not a network interface name",
			       spec);
		return CF_ERR_USAGE;
	}
	snprintf(s->ifname, sizeof(s->ifname), "%s", spec);
	err = check_link(s->ifname, why);
	if (!err)
		err = check_state(s->ifname, why);
	if (!err)
		err = open_socket(s, why);
	if (err)
		return err;
	s->txqueuelen = read_txqueuelen(s->ifname);
	cf_log(CF_LOG_DEBUG, s->ifname, "socketcan", "open, txqueuelen %u", s->txqueuelen);
	return CF_OK;
}

static void op_close(struct transport *t)
{
	struct socketcan *s = transport_priv(t);

	cf_log(CF_LOG_DEBUG, s->ifname, "socketcan",
	       "close: %llu frames sent, %llu received, %llu ENOBUFS waits, %u dropped by kernel",
	       (unsigned long long)s->tx_frames, (unsigned long long)s->rx_frames,
	       (unsigned long long)s->enobufs, s->rx_dropped);
	if (s->enobufs && s->txqueuelen < SOCKETCAN_GOOD_TXQUEUELEN)
		cf_log(CF_LOG_WARN, s->ifname, NULL,
		       "the kernel transmit queue (txqueuelen %u) was full %llu times and slowed "
		       "the transfer; `sudo ip link set %s txqueuelen %u` avoids it",
		       s->txqueuelen, (unsigned long long)s->enobufs, s->ifname,
		       SOCKETCAN_GOOD_TXQUEUELEN);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int op_pollfds(struct transport *t, struct pollfd *fds, int max)
{
	struct socketcan *s = transport_priv(t);

	if (max < 1 || s->fd < 0)
		return 0;
	fds[0].fd = s->fd;
	fds[0].events = (short)(POLLIN | (s->want_out ? POLLOUT : 0));
	fds[0].revents = 0;
	return 1;
}

static int op_send(struct transport *t, const void *buf, size_t len)
{
	struct socketcan *s = transport_priv(t);
	const struct canbus_frame *in = buf;
	struct can_frame cf;
	ssize_t n;

	if (len != sizeof(*in) || !canframe_from_bus(in, &cf))
		return CF_ERR_USAGE;
	if (s->bus_off)
		return CF_ERR_IO;
	n = write(s->fd, &cf, sizeof(cf));
	if (n == (ssize_t)sizeof(cf)) {
		s->want_out = false;
		s->tx_frames++;
		return CF_OK;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		s->want_out = true;
		return CF_ERR_AGAIN;
	}
	if (n < 0 && errno == ENOBUFS) {
		/* katapult.md §2.4: the qdisc is full. POLLOUT does not track it (the socket
		 * buffer has room), so the caller retries the same frame on a short timer. */
		s->enobufs++;
		s->want_out = false;
		return CF_ERR_AGAIN;
	}
	if (n >= 0)
		cf_log(CF_LOG_ERROR, s->ifname, "socketcan", "incomplete CAN frame (%zd bytes)", n);
	else
		cf_log(CF_LOG_DEBUG, s->ifname, "socketcan", "write: %s", strerror(errno));
	return n < 0 && (errno == ENETDOWN || errno == ENODEV || errno == ENXIO) ?
		       CF_ERR_NO_DEVICE :
		       CF_ERR_IO;
}

static void note_drops(struct socketcan *s, struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		uint32_t dropped;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
			continue;
		memcpy(&dropped, CMSG_DATA(c), sizeof(dropped));
		if (dropped != s->rx_dropped)
			cf_log(CF_LOG_WARN, s->ifname, NULL,
			       "the kernel dropped %u received CAN frames (reader too slow)",
			       dropped - s->rx_dropped);
		s->rx_dropped = dropped;
	}
}

/* One frame from the socket: >0 a data frame in *cf, 0 something to skip, <0 an error. */
static int read_one(struct socketcan *s, struct can_frame *cf)
{
	char ctrl[CMSG_SPACE(sizeof(uint32_t))];
	struct iovec iov = { .iov_base = cf, .iov_len = sizeof(*cf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof(ctrl)
	};
	ssize_t n = recvmsg(s->fd, &msg, 0);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return CF_ERR_AGAIN;
		return errno == ENETDOWN || errno == ENODEV ? CF_ERR_NO_DEVICE : CF_ERR_IO;
	}
	note_drops(s, &msg);
	if (n != (ssize_t)sizeof(*cf))
		return 0;
	if (cf->can_id & CAN_ERR_FLAG) {
		if (cf->can_id & CAN_ERR_BUSOFF) {
			s->bus_off = true;
			cf_log(CF_LOG_ERROR, s->ifname, NULL, "bus-off");
			return CF_ERR_IO;
		}
		return 0;
	}
	/* katapult.md §2.1: only standard 11-bit data frames take part. */
	if (cf->can_id & (CAN_EFF_FLAG | CAN_RTR_FLAG) || cf->len > 8)
		return 0;
	return 1;
}

static int op_recv(struct transport *t, void *buf, size_t cap, size_t *len)
{
	struct socketcan *s = transport_priv(t);
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
	struct socketcan *s = transport_priv(t);
	struct can_bittiming bt;

	/* vcan has no bit timing: the caller says the bitrate is unknown. */
	if (quiet_get_bittiming(s->ifname, &bt) < 0 || !bt.bitrate)
		return CF_ERR_NOT_SUPPORTED;
	*bitrate = bt.bitrate;
	return CF_OK;
}

static int op_get_can_state(struct transport *t, enum transport_can_state *state)
{
	struct socketcan *s = transport_priv(t);
	int st;

	if (s->bus_off) {
		*state = TRANSPORT_CAN_BUS_OFF;
		return CF_OK;
	}
	if (quiet_get_state(s->ifname, &st) < 0)
		return CF_ERR_NOT_SUPPORTED;
	switch (st) {
	case CAN_STATE_ERROR_ACTIVE:
		*state = TRANSPORT_CAN_ERROR_ACTIVE;
		break;
	case CAN_STATE_ERROR_WARNING:
		*state = TRANSPORT_CAN_ERROR_WARNING;
		break;
	case CAN_STATE_ERROR_PASSIVE:
		*state = TRANSPORT_CAN_ERROR_PASSIVE;
		break;
	case CAN_STATE_BUS_OFF:
		*state = TRANSPORT_CAN_BUS_OFF;
		break;
	case CAN_STATE_STOPPED:
		*state = TRANSPORT_CAN_STOPPED;
		break;
	default:
		*state = TRANSPORT_CAN_UNKNOWN;
		break;
	}
	return CF_OK;
}

static int op_set_filter(struct transport *t, const uint32_t *ids, size_t count)
{
	struct socketcan *s = transport_priv(t);
	struct can_filter filters[SOCKETCAN_MAX_FILTERS];

	/* Too many ids for one filter list: receive everything, the receivers route anyway. */
	if (count > SOCKETCAN_MAX_FILTERS)
		return setsockopt(s->fd, SOL_CAN_RAW, CAN_RAW_FILTER, NULL, 0) < 0 ? CF_ERR_IO :
										      CF_OK;
	for (size_t i = 0; i < count; i++) {
		filters[i].can_id = ids[i] & CAN_SFF_MASK;
		filters[i].can_mask = CAN_SFF_MASK | CAN_EFF_FLAG | CAN_RTR_FLAG;
	}
	if (setsockopt(s->fd, SOL_CAN_RAW, CAN_RAW_FILTER, filters,
		       (socklen_t)(count * sizeof(filters[0]))) < 0)
		return CF_ERR_IO;
	return CF_OK;
}

const struct transport_ops socketcan_ops = {
	.name = "socketcan",
	.unit = TRANSPORT_FRAMES,
	.priv_size = sizeof(struct socketcan),
	.open = op_open,
	.close = op_close,
	.pollfds = op_pollfds,
	.send = op_send,
	.recv = op_recv,
	.get_bitrate = op_get_bitrate,
	.get_can_state = op_get_can_state,
	.set_filter = op_set_filter,
};
