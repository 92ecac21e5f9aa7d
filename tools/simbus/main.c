/* SPDX-License-Identifier: GPL-3.0-or-later */
/* simbus: a userspace CAN bus hub on a UNIX socket, serialising frames at the modelled bit time. */
#include <errno.h>
#include <getopt.h>
#include <linux/can.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol/bytes.h"
#include "protocol/canbus.h"
#include "tools/simbus/canwire.h"
#include "tools/simbus/simbus.h"

#define MAX_CLIENTS 64
#define RXQ	    1024 /* frames buffered per receiving client before the bus stalls */

struct client {
	int fd;
	struct can_frame txq[SIMBUS_TXQUEUE];
	unsigned tx_head, tx_count;
	struct can_frame *rxq; /* frames waiting for the client's socket to drain */
	unsigned rx_head, rx_count;
};

struct hub {
	int lfd;
	const char *path;
	uint32_t bitrate;
	double speed;
	FILE *log;
	struct client c[MAX_CLIENTS];
	int nclients;
	bool on_wire;	       /* a frame is being transmitted */
	struct can_frame wire; /* that frame */
	int wire_from;	       /* its sender's index */
	uint64_t wire_end_ns;  /* when its last bit is sent */
	uint64_t frames, stalls;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, for log stamps */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t realtime_offset_ns(void)
{
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	return (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - (int64_t)now_ns();
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "simbus: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		fprintf(stderr, "simbus: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void send_hello(struct hub *h, int fd)
{
	struct can_frame f = {.can_id = CAN_ERR_FLAG, .len = 8};

	f.data[0] = SIMBUS_HELLO0;
	f.data[1] = SIMBUS_HELLO1;
	cf_put_le32(f.data + 4, h->bitrate);
	(void)send(fd, &f, sizeof(f), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void accept_clients(struct hub *h)
{
	int fd;

	while ((fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct client *c;

		if (h->nclients == MAX_CLIENTS) {
			fprintf(stderr, "simbus: more than %d clients, refusing one\n",
				MAX_CLIENTS);
			close(fd);
			continue;
		}
		c = &h->c[h->nclients];
		memset(c, 0, sizeof(*c));
		c->rxq = calloc(RXQ, sizeof(*c->rxq));
		if (!c->rxq) {
			close(fd);
			continue;
		}
		c->fd = fd;
		h->nclients++;
		send_hello(h, fd);
	}
}

static void drop_client(struct hub *h, int i)
{
	close(h->c[i].fd);
	free(h->c[i].rxq);
	if (h->on_wire && h->wire_from == i)
		h->wire_from = -1;
	else if (h->on_wire && h->wire_from == h->nclients - 1)
		h->wire_from = i;
	h->c[i] = h->c[h->nclients - 1];
	h->nclients--;
}

/* Read frames while the client's transmit queue has room (that is the backpressure). */
static bool read_client(struct hub *h, struct client *c)
{
	while (c->tx_count < SIMBUS_TXQUEUE) {
		struct can_frame f;
		ssize_t n = recv(c->fd, &f, sizeof(f), MSG_DONTWAIT);

		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		if (n != sizeof(f) || (f.can_id & (CAN_ERR_FLAG | CAN_RTR_FLAG)) || f.len > 8)
			continue; /* not a data frame: nothing for the bus */
		c->txq[(c->tx_head + c->tx_count++) % SIMBUS_TXQUEUE] = f;
	}
	(void)h;
	return true;
}

static bool flush_rx(struct client *c)
{
	while (c->rx_count) {
		ssize_t n = send(c->fd, &c->rxq[c->rx_head], sizeof(struct can_frame),
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->rx_head = (c->rx_head + 1) % RXQ;
		c->rx_count--;
	}
	return true;
}

static void log_frame(struct hub *h, const struct can_frame *f)
{
	struct timespec ts;
	uint64_t real, late;

	if (!h->log)
		return;
	/* Stamp the modelled end of the frame, not the moment the hub got round to it. */
	clock_gettime(CLOCK_REALTIME, &ts);
	late = now_ns() - h->wire_end_ns;
	real = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - late;
	fprintf(h->log, "(%lld.%06ld) simbus %03X#", (long long)(real / 1000000000u),
		(long)(real % 1000000000u / 1000u), f->can_id & CAN_SFF_MASK);
	for (int i = 0; i < f->len; i++)
		fprintf(h->log, "%02X", f->data[i]);
	fputc('\n', h->log);
	fflush(h->log);
}

/* The last bit went out: every other client receives the frame (vcan without own msgs). */
static void finish_wire(struct hub *h)
{
	h->on_wire = false;
	h->frames++;
	log_frame(h, &h->wire);
	for (int i = 0; i < h->nclients; i++) {
		struct client *c = &h->c[i];
		if (i == h->wire_from)
			continue;
		c->rxq[(c->rx_head + c->rx_count++) % RXQ] = h->wire;
		flush_rx(c);
	}
}

static bool bus_stalled(const struct hub *h)
{
	for (int i = 0; i < h->nclients; i++)
		if (h->c[i].rx_count == RXQ)
			return true;
	return false;
}

/* Arbitration: the lowest identifier among the queue heads wins the bus. */
static void start_wire(struct hub *h, uint64_t now)
{
	struct canbus_frame cf;
	int best = -1;

	if (bus_stalled(h)) {
		h->stalls++;
		return;
	}
	for (int i = 0; i < h->nclients; i++) {
		struct client *c = &h->c[i];
		if (!c->tx_count)
			continue;
		if (best < 0 || (c->txq[c->tx_head].can_id & CAN_SFF_MASK) <
				    (h->c[best].txq[h->c[best].tx_head].can_id & CAN_SFF_MASK))
			best = i;
	}
	if (best < 0)
		return;
	h->wire = h->c[best].txq[h->c[best].tx_head];
	h->c[best].tx_head = (h->c[best].tx_head + 1) % SIMBUS_TXQUEUE;
	h->c[best].tx_count--;
	h->wire_from = best;
	cf.id = h->wire.can_id & CAN_SFF_MASK;
	cf.len = h->wire.len;
	memcpy(cf.data, h->wire.data, 8);
	h->wire_end_ns = now + (uint64_t)((double)canwire_frame_ns(&cf, h->bitrate) * h->speed);
	h->on_wire = true;
}

/* Wait until the frame on the wire is done (ns precision: frames last ~50-270 us). */
static struct timespec *poll_timeout(const struct hub *h, uint64_t now, struct timespec *ts)
{
	uint64_t wait;

	if (!h->on_wire) {
		if (!bus_stalled(h))
			return NULL;
		wait = 5000000; /* a receiver is full: look again soon */
	} else {
		wait = h->wire_end_ns > now ? h->wire_end_ns - now : 0;
	}
	ts->tv_sec = (time_t)(wait / 1000000000u);
	ts->tv_nsec = (long)(wait % 1000000000u);
	return ts;
}

static bool queued_any(const struct hub *h)
{
	for (int i = 0; i < h->nclients; i++)
		if (h->c[i].tx_count)
			return true;
	return false;
}

static void run(struct hub *h)
{
	struct pollfd fds[MAX_CLIENTS + 1];
	bool waiting;

	while (!stop) {
		uint64_t now = now_ns();
		struct timespec ts;
		int n = 0;

		fds[n++] = (struct pollfd){.fd = h->lfd, .events = POLLIN};
		for (int i = 0; i < h->nclients; i++) {
			short ev = h->c[i].tx_count < SIMBUS_TXQUEUE ? POLLIN : 0;
			if (h->c[i].rx_count)
				ev |= POLLOUT;
			fds[n++] = (struct pollfd){.fd = h->c[i].fd, .events = ev};
		}
		if (ppoll(fds, (nfds_t)n, poll_timeout(h, now, &ts), NULL) < 0 && errno != EINTR)
			break;
		waiting = queued_any(h);
		if (fds[0].revents & POLLIN)
			accept_clients(h);
		for (int i = n - 2; i >= 0; i--) {
			bool ok = true;
			if (i >= h->nclients)
				continue;
			if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))
				ok = read_client(h, &h->c[i]);
			if (ok && fds[i + 1].revents & POLLOUT)
				ok = flush_rx(&h->c[i]);
			if (!ok)
				drop_client(h, i);
		}
		now = now_ns();
		if (h->on_wire && h->wire_end_ns <= now) {
			finish_wire(h);
			/* A frame queued before the last bit went out follows it back to back,
			 * as a controller does: the hub's own wake-up latency is not bus time. */
			if (waiting)
				now = h->wire_end_ns;
		}
		if (!h->on_wire)
			start_wire(h, now);
		if (h->on_wire && h->wire_end_ns <= now)
			continue; /* speed 0: the next frame goes at once */
	}
}

static int open_log(struct hub *h, const char *path)
{
	h->log = strcmp(path, "-") ? fopen(path, "we") : stdout;
	if (!h->log) {
		fprintf(stderr, "simbus: cannot write the log %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: simbus --socket PATH [--bitrate N] [--speed F] [--log FILE]\n"
		     "  A userspace CAN bus: clients connect to PATH (cartoflash: -i sim:PATH).\n"
		     "  --bitrate N  bus bitrate in bit/s (default 1000000)\n"
		     "  --speed F    wire time factor, 0 (instant) .. 1 (real time, default)\n"
		     "  --log FILE   candump-format log of all traffic ('-' = stdout)\n"
		     "Examples:\n"
		     "  simbus --socket /tmp/bus --bitrate 1000000 --log /tmp/bus.log\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bitrate", required_argument, NULL, 'b'}, {"help", no_argument, NULL, 'h'},
	    {"log", required_argument, NULL, 'l'},     {"socket", required_argument, NULL, 's'},
	    {"speed", required_argument, NULL, 'S'},   {NULL, 0, NULL, 0},
	};
	struct hub h = {.bitrate = 1000000, .speed = 1.0, .lfd = -1};
	const char *log_path = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "b:hl:s:S:", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			h.bitrate = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
			log_path = optarg;
			break;
		case 's':
			h.path = optarg;
			break;
		case 'S':
			h.speed = strtod(optarg, NULL);
			break;
		default:
			fprintf(stderr, "simbus: bad option; try --help\n");
			return 64;
		}
	}
	if (!h.path || !h.bitrate || h.speed < 0) {
		fprintf(stderr,
			"simbus: --socket PATH and a bitrate > 0 are required; try --help\n");
		return 64;
	}
	if (log_path && open_log(&h, log_path) < 0)
		return 73;
	h.realtime_offset_ns = realtime_offset_ns();
	h.lfd = listen_on(h.path);
	if (h.lfd < 0)
		return 71;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("simbus: ready on %s at %u bit/s\n", h.path, h.bitrate);
	fflush(stdout);
	run(&h);
	for (int i = h.nclients - 1; i >= 0; i--)
		drop_client(&h, i);
	close(h.lfd);
	unlink(h.path);
	fprintf(stderr, "simbus: %llu frames, %llu stalls\n", (unsigned long long)h.frames,
		(unsigned long long)h.stalls);
	if (h.log && h.log != stdout)
		fclose(h.log);
	return 0;
}
