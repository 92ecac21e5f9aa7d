// SPDX-License-Identifier: GPL-3.0-or-later
/* rig-slcan: plays a Lawicel SLCAN adapter on a pty so the rig kernel has a can-dev interface. */

/*
 * rig.md §4.2: a pty slave with the N_SLCAN line discipline becomes a can-dev netdev (canN) on
 * which libsocketcan can set and read the bitrate and state, unlike vcan (pitfall 5). This program
 * owns the pty master: it prints the netdev name on stdout, logs every byte the kernel writes
 * (C/Sn/O commands, t/T frames; CR shown as a newline) and injects lines read from a FIFO (each
 * newline becomes the CR that ends an SLCAN message), e.g. "t4563AABBCC" (a frame) or "sb256256"
 * (bus-off, rx/tx error counters 256). It drains the master all the time (pitfall 6), except
 * while it plays a stalling adapter.
 *
 * A FIFO line "!stall MS EVERY" (for this program, not the kernel) makes the adapter stop reading
 * for MS milliseconds after every EVERY frames the kernel sent; "!stall 0 0" ends it. slcan stops
 * its netdev queue for each frame until the pty's reader reads (n_tty wakes the writer then), so
 * while the adapter stalls, the interface's qdisc fills: with txqueuelen 1 the next send gets
 * ENOBUFS from the real kernel (rig.md §4.3).
 *
 * With --bridge IFACE the adapter's far side is another SocketCAN interface (a vcan on which a
 * probe twin sits): frames the kernel sends through slcan (t/T lines) go out on IFACE, frames
 * seen on IFACE come back to the kernel as t/T lines, so the tool talks through the slcan driver
 * to a device.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/can.h>
#include <linux/can/raw.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef N_SLCAN
#define N_SLCAN 17 /* include/uapi/linux/tty.h */
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: rig-slcan --log FILE [--fifo PATH] [--bridge IFACE] [--timeout SECONDS]\n"
		"Example: rig-slcan --log /tmp/slcan.log --fifo /tmp/slcan.in --timeout 60\n");
	return 64;
}

/* Lawicel line assembled from the kernel's output, for the bridge. */
static char line[64];
static size_t line_len;

/* The stalling adapter: frames counted from the kernel, and until when it reads nothing. */
static struct {
	unsigned ms, every;
	unsigned long frames;
	double until;
} stall;

static double now_s(void);

static int bridge_open(const char *ifname)
{
	struct sockaddr_can addr = {.can_family = AF_CAN};
	int s = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW);

	if (s < 0)
		return -1;
	addr.can_ifindex = (int)if_nametoindex(ifname);
	if (!addr.can_ifindex || bind(s, (struct sockaddr *)&addr, sizeof(addr))) {
		close(s);
		return -1;
	}
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "tiiiLdd.." or "TiiiiiiiiLdd.." (slcan.c's encoding) -> a frame on the bridge. */
static void bridge_line_out(int s, const char *l, size_t len)
{
	const size_t idlen = l[0] == 'T' ? 8 : 3;
	struct can_frame f = {0};
	int d;

	if ((l[0] != 't' && l[0] != 'T') || len < idlen + 2)
		return;
	for (size_t i = 1; i <= idlen; i++) {
		if ((d = hexval(l[i])) < 0)
			return;
		f.can_id = f.can_id << 4 | (canid_t)d;
	}
	if (l[0] == 'T')
		f.can_id |= CAN_EFF_FLAG;
	d = l[idlen + 1] - '0';
	if (d < 0 || d > 8 || len < idlen + 2 + 2 * (size_t)d)
		return;
	f.len = (uint8_t)d;
	for (int i = 0; i < d; i++)
		f.data[i] =
		    (uint8_t)(hexval(l[idlen + 2 + 2 * i]) << 4 | hexval(l[idlen + 3 + 2 * i]));
	if (write(s, &f, sizeof(f)) != sizeof(f))
		perror("rig-slcan: bridge send");
}

/* A frame seen on the bridge -> a Lawicel line to the kernel. */
static int bridge_in(int s, int master)
{
	struct can_frame f;
	char out[40];
	int n;

	if (read(s, &f, sizeof(f)) != sizeof(f) || f.len > 8)
		return 0;
	if (f.can_id & (CAN_RTR_FLAG | CAN_ERR_FLAG))
		return 0;
	if (f.can_id & CAN_EFF_FLAG)
		n = snprintf(out, sizeof(out), "T%08X%u", f.can_id & CAN_EFF_MASK, f.len);
	else
		n = snprintf(out, sizeof(out), "t%03X%u", f.can_id & CAN_SFF_MASK, f.len);
	for (int i = 0; i < f.len; i++)
		n += snprintf(out + n, sizeof(out) - (size_t)n, "%02X", f.data[i]);
	out[n++] = '\r';
	return write(master, out, (size_t)n) == n ? 0 : -1;
}

/* Opens the pty pair and attaches N_SLCAN to the slave; returns the master, fills ifname. */
static int slcan_open(int *slave_out, char ifname[IFNAMSIZ])
{
	struct termios tio;
	int master, slave, ldisc = N_SLCAN;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) || unlockpt(master))
		goto err_master;
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto err_master;
	if (tcgetattr(slave, &tio))
		goto err_slave;
	cfmakeraw(&tio);
	if (tcsetattr(slave, TCSANOW, &tio) || ioctl(slave, TIOCSETD, &ldisc))
		goto err_slave;
	if (ioctl(slave, SIOCGIFNAME, ifname))
		goto err_slave;
	*slave_out = slave;
	return master;

err_slave:
	close(slave);
err_master:
	perror("rig-slcan: pty with N_SLCAN (is the slcan module loaded?)");
	if (master >= 0)
		close(master);
	return -1;
}

/* Copies kernel output to the log, CR as newline so the log reads one command per line; with a
 * bridge, complete frame lines also go out on it. */
static int drain(int master, FILE *log, int bridge)
{
	char buf[512];
	ssize_t n = read(master, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && errno == EAGAIN ? 0 : -1;
	for (ssize_t i = 0; i < n; i++) {
		fputc(buf[i] == '\r' ? '\n' : buf[i], log);
		if (buf[i] == '\r') {
			if (bridge >= 0)
				bridge_line_out(bridge, line, line_len);
			if (line_len && (line[0] == 't' || line[0] == 'T') && stall.every &&
			    ++stall.frames % stall.every == 0)
				stall.until = now_s() + stall.ms / 1000.0;
			line_len = 0;
		} else if (line_len < sizeof(line)) {
			line[line_len++] = buf[i];
		}
	}
	fflush(log);
	return 0;
}

/* Forwards FIFO input to the master, newline -> CR; a line "!stall MS EVERY" is for us. */
static int inject(int fifo, int master, FILE *log)
{
	char buf[256];
	ssize_t n = read(fifo, buf, sizeof(buf) - 1);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (buf[0] == '!') {
		if (sscanf(buf, "!stall %u %u", &stall.ms, &stall.every) != 2)
			stall.ms = stall.every = 0;
		stall.frames = 0;
		stall.until = 0;
		fprintf(log, "# rig-slcan: stall %u ms every %u frames\n", stall.ms, stall.every);
		fflush(log);
		return 0;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = '\r';
	return write(master, buf, (size_t)n) == n ? 0 : -1;
}

/* O_RDWR keeps a writer on the FIFO, so it never reports EOF between injections. */
static int fifo_open(const char *path)
{
	if (mkfifo(path, 0600) && errno != EEXIST)
		return -1;
	return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *log_path = NULL, *fifo_path = NULL, *bridge_if = NULL;
	double timeout_s = 60, end;
	char ifname[IFNAMSIZ] = "";
	int master, slave, fifo = -1, bridge = -1, rc = 0;
	FILE *log;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--log"))
			log_path = argv[i + 1];
		else if (!strcmp(argv[i], "--fifo"))
			fifo_path = argv[i + 1];
		else if (!strcmp(argv[i], "--bridge"))
			bridge_if = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = atof(argv[i + 1]);
		else
			return usage();
	}
	if (!log_path || argc % 2 == 0)
		return usage();
	log = fopen(log_path, "we");
	if (!log) {
		perror(log_path);
		return 66;
	}
	if (fifo_path && (fifo = fifo_open(fifo_path)) < 0) {
		perror(fifo_path);
		fclose(log);
		return 66;
	}
	if (bridge_if && (bridge = bridge_open(bridge_if)) < 0) {
		perror(bridge_if);
		rc = 69;
		goto out;
	}
	master = slcan_open(&slave, ifname);
	if (master < 0) {
		rc = 69;
		goto out;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("%s\n", ifname);
	fflush(stdout);

	end = now_s() + timeout_s;
	while (!stop && now_s() < end) {
		const double t = now_s();
		const bool stalled = t < stall.until;
		struct pollfd pfd[3] = {{.fd = master, .events = stalled ? 0 : POLLIN},
					{.fd = fifo, .events = POLLIN},
					{.fd = bridge, .events = POLLIN}};
		const int wait_ms = stalled ? (int)((stall.until - t) * 1000) + 1 : 100;

		if (poll(pfd, 3, wait_ms < 100 ? wait_ms : 100) < 0 && errno != EINTR)
			break;
		if ((pfd[0].revents & POLLIN) && drain(master, log, bridge))
			break;
		if ((pfd[1].revents & POLLIN) && inject(fifo, master, log))
			break;
		if ((pfd[2].revents & POLLIN) && bridge_in(bridge, master))
			break;
	}
	close(slave);
	close(master);
out:
	if (bridge >= 0)
		close(bridge);
	if (fifo >= 0)
		close(fifo);
	fclose(log);
	return rc;
}
