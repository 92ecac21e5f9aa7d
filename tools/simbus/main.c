/* SPDX-License-Identifier: GPL-3.0-or-later */
/* simbus: a userspace CAN bus hub on a UNIX socket, serialising frames at the modelled bit time. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "tools/simbus/hub.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static FILE *open_log(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "we") : stdout;

	if (!f)
		fprintf(stderr, "simbus: cannot write the log %s: %s\n", path, strerror(errno));
	return f;
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
	const char *log_path = NULL, *path = NULL;
	uint32_t bitrate = 1000000;
	double speed = 1.0;
	struct simbus_hub *h;
	uint64_t frames, stalls, filtered;
	FILE *log = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "b:hl:s:S:", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bitrate = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
			log_path = optarg;
			break;
		case 's':
			path = optarg;
			break;
		case 'S':
			speed = strtod(optarg, NULL);
			break;
		default:
			fprintf(stderr, "simbus: bad option; try --help\n");
			return 64;
		}
	}
	if (!path || !bitrate || speed < 0) {
		fprintf(stderr,
			"simbus: --socket PATH and a bitrate > 0 are required; try --help\n");
		return 64;
	}
	if (log_path && !(log = open_log(log_path)))
		return 73;
	h = simbus_hub_new(path, bitrate, speed, log);
	if (!h)
		return 71;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* A frame reaches its receivers when its last bit is out: the end-of-frame wait must not
	 * take the default 50 us of timer slack, a third of a frame at 1 Mbit/s, which the log
	 * (stamped with the modelled end) would not show. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	printf("simbus: ready on %s at %u bit/s\n", path, bitrate);
	fflush(stdout);
	while (!stop && simbus_hub_run_once(h, -1) == 0)
		;
	simbus_hub_counters(h, &frames, &stalls);
	filtered = simbus_hub_filtered(h);
	simbus_hub_free(h);
	fprintf(stderr, "simbus: %llu frames, %llu stalls, %llu deliveries filtered\n",
		(unsigned long long)frames, (unsigned long long)stalls,
		(unsigned long long)filtered);
	if (log && log != stdout)
		fclose(log);
	return 0;
}
