// SPDX-License-Identifier: GPL-3.0-or-later
// bench: the physical floor of a CAN update from a candump log and the twin's timing model.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/canbus.h"
#include "tools/simbus/canwire.h"
#include "tools/twin/twin.h"

#define BENCH_NODES 256
#define BENCH_COMPLETE_US 100000.0 /* katapult.md §1.3: COMPLETE ACK -> application, 100 ms */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bench floor --log CANDUMP --bitrate BPS --image-bytes N\n"
		"\n"
		"Reads a candump-format log of the bus ((sec.usec) iface ID#DATA), adds up the wire\n"
		"time of every frame (stuff bits exact, tools/simbus/canwire.c) in total and per\n"
		"Katapult node id, and the flash time the twin's timing model gives an image of N\n"
		"bytes written in the safer order (page erases + half-word programming).\n"
		"Prints key=value lines (seconds).\n"
		"\n"
		"Examples:\n"
		"  bench floor --log bus.log --bitrate 1000000 --image-bytes 22528\n");
}

static int parse_line(const char *line, struct canbus_frame *f)
{
	const char *hash = strchr(line, '#');
	const char *id;
	char *end;

	if (!hash)
		return -1;
	for (id = hash; id > line && id[-1] != ' '; id--)
		;
	memset(f, 0, sizeof(*f));
	f->id = (uint32_t)strtoul(id, &end, 16);
	if (end != hash)
		return -1;
	for (const char *p = hash + 1; p[0] && p[1] && p[0] != '\n' && f->len < 8; p += 2) {
		char byte[3] = { p[0], p[1], 0 };

		if (p[0] == '.')
			p--;
		else
			f->data[f->len++] = (uint8_t)strtoul(byte, NULL, 16);
	}
	return 0;
}

/* Flash time of one device: erase every page the image touches, program every block sent. */
static double flash_seconds(size_t image_bytes)
{
	struct twin_config c = { .speed = 1 };
	struct twin *t = twin_new(&c);
	size_t padded = (image_bytes + TWIN_BLOCK_SIZE - 1) / TWIN_BLOCK_SIZE * TWIN_BLOCK_SIZE;
	size_t pages;
	double us;

	if (!t)
		return 0;
	pages = (padded + twin_mcu(t)->page_size - 1) / twin_mcu(t)->page_size;
	/* katapult.md §5 safer order: one extra 0xFF block programs page 0 first. */
	us = (double)pages * (double)twin_erase_us(t) +
	     (double)twin_program_us(t, padded + TWIN_BLOCK_SIZE);
	twin_free(t);
	return us / 1e6;
}

static int floor_cmd(const char *log, uint32_t bitrate, size_t image_bytes)
{
	static double node_s[BENCH_NODES];
	double total = 0, admin = 0, max_node = 0, flash = flash_seconds(image_bytes);
	unsigned long frames = 0;
	char line[256];
	FILE *fp = fopen(log, "r");
	int nodes = 0;

	if (!fp) {
		fprintf(stderr, "bench: cannot open %s\n", log);
		return 66;
	}
	while (fgets(line, sizeof(line), fp)) {
		struct canbus_frame f;
		double s;

		if (parse_line(line, &f) < 0)
			continue;
		s = (double)canwire_frame_ns(&f, bitrate) / 1e9;
		total += s;
		frames++;
		if (f.id >= CANBUS_NODEID_BASE && f.id < CANBUS_NODEID_BASE + 2 * BENCH_NODES)
			node_s[(f.id - CANBUS_NODEID_BASE) / 2] += s;
		else
			admin += s;
	}
	fclose(fp);
	for (int n = 0; n < BENCH_NODES; n++) {
		nodes += node_s[n] > 0;
		if (node_s[n] > max_node)
			max_node = node_s[n];
	}
	printf("frames=%lu\nnodes=%d\nbus_total_s=%.6f\nbus_admin_s=%.6f\nbus_node_max_s=%.6f\n",
	       frames, nodes, total, admin, max_node);
	printf("flash_s=%.6f\n", flash);
	/* One device alone: its frames, its flash work, the 100 ms Katapult waits after COMPLETE. */
	printf("floor_single_s=%.6f\n", max_node + admin / (nodes ? nodes : 1) + flash +
						BENCH_COMPLETE_US / 1e6);
	/* Many on one bus: the bus carries every frame in turn, or one device is the limit. */
	printf("floor_bus_s=%.6f\n", total > max_node + flash + BENCH_COMPLETE_US / 1e6 ?
					     total :
					     max_node + flash + BENCH_COMPLETE_US / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	const char *log = NULL;
	uint32_t bitrate = 1000000;
	size_t bytes = 0;

	if (argc < 2 || strcmp(argv[1], "floor")) {
		usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 64;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--log"))
			log = argv[i + 1];
		else if (!strcmp(argv[i], "--bitrate"))
			bitrate = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--image-bytes"))
			bytes = strtoul(argv[i + 1], NULL, 10);
	}
	if (!log || !bitrate) {
		usage(stderr);
		return 64;
	}
	return floor_cmd(log, bitrate, bytes);
}
