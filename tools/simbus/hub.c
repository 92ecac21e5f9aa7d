/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulated CAN bus hub: clients, arbitration, bit-exact wire time, backpressure, log. */
#include "tools/simbus/hub.h"

#include <errno.h>
#include <linux/can.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol/bytes.h"
#include "protocol/canbus.h"
#include "tools/simbus/canwire.h"
#include "transport/simbus.h"

#define MAX_CLIENTS 64
#define RXQ	    1024 /* frames buffered per receiving client before the bus stalls */

struct client {
	int fd;
	struct can_frame txq[SIMBUS_TXQUEUE];
	unsigned tx_head, tx_count;
	struct can_frame *rxq; /* frames waiting for the client's socket to drain */
	unsigned rx_head, rx_count;
	struct simbus_filter filt[SIMBUS_MAX_FILTERS]; /* none: every frame */
	unsigned nfilt;
	bool synced; /* read all we sent it, and we read all it sent since: filter strictly */
};

/* One record from a client: a frame, or a filter message. */
union record {
	struct can_frame f;
	struct simbus_filter_msg m;
};

struct simbus_hub {
	int lfd;
	char *path;
	uint32_t bitrate;
	double speed;
	FILE *log;
	struct client c[MAX_CLIENTS];
	int nclients;
	bool on_wire;	       /* a frame is being transmitted */
	struct can_frame wire; /* that frame */
	int wire_from;	       /* its sender's index */
	uint64_t wire_end_ns;  /* when its last bit is sent */
	uint64_t frames, stalls, filtered;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, for log stamps */
};

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

static void send_hello(struct simbus_hub *h, int fd)
{
	struct can_frame f = {.can_id = CAN_ERR_FLAG, .len = 8};

	f.data[0] = SIMBUS_HELLO0;
	f.data[1] = SIMBUS_HELLO1;
	cf_put_le32(f.data + 4, h->bitrate);
	(void)send(fd, &f, sizeof(f), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void accept_clients(struct simbus_hub *h)
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

static void drop_client(struct simbus_hub *h, int i)
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

static void take_filter(struct client *c, const struct simbus_filter_msg *m)
{
	if (m->magic != SIMBUS_FILTER_MAGIC || m->count > SIMBUS_MAX_FILTERS)
		return;
	memcpy(c->filt, m->f, sizeof(c->filt));
	c->nfilt = m->count;
}

/* Read frames while the client's transmit queue has room (that is the backpressure); a filter
 * message at the head is taken even when the queue is full. */
static bool read_client(struct simbus_hub *h, struct client *c)
{
	for (;;) {
		bool full = c->tx_count == SIMBUS_TXQUEUE;
		union record r;
		ssize_t n = recv(c->fd, &r, sizeof(r), MSG_DONTWAIT | (full ? MSG_PEEK : 0));

		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		if (n == SIMBUS_FILTER_MSG_SIZE) {
			if (full)
				(void)recv(c->fd, &r, sizeof(r), MSG_DONTWAIT);
			take_filter(c, &r.m);
			continue;
		}
		if (full)
			return true; /* a frame waits for room */
		if (n != sizeof(r.f) || (r.f.can_id & (CAN_ERR_FLAG | CAN_RTR_FLAG)) || r.f.len > 8)
			continue; /* not a data frame: nothing for the bus */
		c->txq[(c->tx_head + c->tx_count++) % SIMBUS_TXQUEUE] = r.f;
	}
	(void)h;
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

static void log_frame(struct simbus_hub *h, const struct can_frame *f)
{
	uint64_t real;

	if (!h->log)
		return;
	/* Stamp the modelled end of the frame, not the moment the hub got round to it: bus time
	 * alone, with the offset to wall time taken once, so a loaded machine cannot shrink a gap
	 * (two clock reads here could be preempted apart). */
	real = (uint64_t)((int64_t)h->wire_end_ns + h->realtime_offset_ns);
	fprintf(h->log, "(%lld.%06ld) simbus %03X#", (long long)(real / 1000000000u),
		(long)(real % 1000000000u / 1000u), f->can_id & CAN_SFF_MASK);
	for (int i = 0; i < f->len; i++)
		fprintf(h->log, "%02X", f->data[i]);
	fputc('\n', h->log);
	fflush(h->log);
}

/*
 * The client has read every frame delivered to it (our queue and its socket are empty), and we
 * have read everything it sent (so the filter its last frame called for, simbus.h). Checked once
 * per frame that the filter rejects, only until the next delivery.
 */
static bool caught_up(struct simbus_hub *h, struct client *c)
{
	int unread = 0;

	if (c->synced)
		return true;
	if (c->rx_count || ioctl(c->fd, SIOCOUTQ, &unread) < 0 || unread > 0)
		return false;
	if (!read_client(h, c)) /* gone: the next poll drops it */
		return false;
	if (c->tx_count == SIMBUS_TXQUEUE && (ioctl(c->fd, SIOCINQ, &unread) < 0 || unread > 0))
		return false; /* a frame waits for room, a filter may follow it */
	c->synced = true;
	return true;
}

static bool matches(const struct client *c, uint32_t id)
{
	for (unsigned i = 0; i < c->nfilt; i++)
		if (!((id ^ c->filt[i].id) & c->filt[i].mask & CAN_SFF_MASK))
			return true;
	return !c->nfilt;
}

/* The last bit went out: every other client whose filter takes it receives the frame (vcan
 * without own msgs). */
static void finish_wire(struct simbus_hub *h)
{
	uint32_t id = h->wire.can_id & CAN_SFF_MASK;

	h->on_wire = false;
	h->frames++;
	log_frame(h, &h->wire);
	for (int i = 0; i < h->nclients; i++) {
		struct client *c = &h->c[i];
		if (i == h->wire_from)
			continue;
		/* caught_up may read a new filter: match again after it */
		if (!matches(c, id) && caught_up(h, c) && !matches(c, id)) {
			h->filtered++;
			continue;
		}
		c->rxq[(c->rx_head + c->rx_count++) % RXQ] = h->wire;
		c->synced = false;
		flush_rx(c);
	}
}

static bool bus_stalled(const struct simbus_hub *h)
{
	for (int i = 0; i < h->nclients; i++)
		if (h->c[i].rx_count == RXQ)
			return true;
	return false;
}

/* Arbitration: the lowest identifier among the queue heads wins the bus. */
static void start_wire(struct simbus_hub *h, uint64_t now)
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
static struct timespec *poll_timeout(const struct simbus_hub *h, uint64_t now, struct timespec *ts)
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

static bool queued_any(const struct simbus_hub *h)
{
	for (int i = 0; i < h->nclients; i++)
		if (h->c[i].tx_count)
			return true;
	return false;
}

int simbus_hub_run_once(struct simbus_hub *h, int max_wait_ms)
{
	struct pollfd fds[MAX_CLIENTS + 1];
	uint64_t now = now_ns();
	struct timespec ts, *tsp;
	bool waiting;
	int n = 0;

	fds[n++] = (struct pollfd){.fd = h->lfd, .events = POLLIN};
	for (int i = 0; i < h->nclients; i++) {
		short ev = h->c[i].tx_count < SIMBUS_TXQUEUE ? POLLIN : 0;
		if (h->c[i].rx_count)
			ev |= POLLOUT;
		fds[n++] = (struct pollfd){.fd = h->c[i].fd, .events = ev};
	}
	tsp = poll_timeout(h, now, &ts);
	if (max_wait_ms >= 0 && (!tsp || ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > max_wait_ms)) {
		ts.tv_sec = max_wait_ms / 1000;
		ts.tv_nsec = (long)(max_wait_ms % 1000) * 1000000;
		tsp = &ts;
	}
	if (ppoll(fds, (nfds_t)n, tsp, NULL) < 0)
		return errno == EINTR ? 0 : -errno;
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
	return 0;
}

struct simbus_hub *simbus_hub_new(const char *path, uint32_t bitrate, double speed, FILE *log)
{
	struct simbus_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->path = strdup(path);
	h->bitrate = bitrate;
	h->speed = speed;
	h->log = log;
	h->realtime_offset_ns = realtime_offset_ns();
	h->lfd = h->path ? listen_on(path) : -1;
	if (h->lfd < 0) {
		free(h->path);
		free(h);
		return NULL;
	}
	return h;
}

void simbus_hub_free(struct simbus_hub *h)
{
	if (!h)
		return;
	for (int i = h->nclients - 1; i >= 0; i--)
		drop_client(h, i);
	close(h->lfd);
	unlink(h->path);
	free(h->path);
	free(h);
}

void simbus_hub_counters(const struct simbus_hub *h, uint64_t *frames, uint64_t *stalls)
{
	*frames = h->frames;
	*stalls = h->stalls;
}

uint64_t simbus_hub_filtered(const struct simbus_hub *h)
{
	return h->filtered;
}
