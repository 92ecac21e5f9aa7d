// SPDX-License-Identifier: GPL-3.0-or-later
/* rig-slcan: plays a Lawicel SLCAN adapter on a pty so the rig kernel has a can-dev interface. */

/*
 * rig.md §4.2: a pty slave with the N_SLCAN line discipline becomes a can-dev netdev (canN) on
 * which libsocketcan can set and read the bitrate and state, unlike vcan (pitfall 5). This program
 * owns the pty master: it prints the netdev name on stdout, logs every byte the kernel writes
 * (C/Sn/O commands, t/T frames; CR shown as a newline) and injects lines read from a FIFO (each
 * newline becomes the CR that ends an SLCAN message), e.g. "t4563AABBCC" (a frame) or "sb256256"
 * (bus-off, rx/tx error counters 256). It drains the master all the time (pitfall 6).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#ifndef N_SLCAN
#define N_SLCAN 17	/* include/uapi/linux/tty.h */
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: rig-slcan --log FILE [--fifo PATH] [--timeout SECONDS]\n"
			"Example: rig-slcan --log /tmp/slcan.log --fifo /tmp/slcan.in --timeout 60\n");
	return 64;
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

/* Copies kernel output to the log, CR as newline so the log reads one command per line. */
static int drain(int master, FILE *log)
{
	char buf[512];
	ssize_t n = read(master, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && errno == EAGAIN ? 0 : -1;
	for (ssize_t i = 0; i < n; i++)
		fputc(buf[i] == '\r' ? '\n' : buf[i], log);
	fflush(log);
	return 0;
}

/* Forwards FIFO input to the master, newline -> CR. */
static int inject(int fifo, int master)
{
	char buf[256];
	ssize_t n = read(fifo, buf, sizeof(buf));

	if (n <= 0)
		return 0;
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
	const char *log_path = NULL, *fifo_path = NULL;
	double timeout_s = 60, end;
	char ifname[IFNAMSIZ] = "";
	int master, slave, fifo = -1, rc = 0;
	FILE *log;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--log"))
			log_path = argv[i + 1];
		else if (!strcmp(argv[i], "--fifo"))
			fifo_path = argv[i + 1];
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
		struct pollfd pfd[2] = { { .fd = master, .events = POLLIN }, { .fd = fifo, .events = POLLIN } };

		if (poll(pfd, fifo >= 0 ? 2 : 1, 100) < 0 && errno != EINTR)
			break;
		if ((pfd[0].revents & POLLIN) && drain(master, log))
			break;
		if (fifo >= 0 && (pfd[1].revents & POLLIN) && inject(fifo, master))
			break;
	}
	close(slave);
	close(master);
out:
	if (fifo >= 0)
		close(fifo);
	fclose(log);
	return rc;
}
