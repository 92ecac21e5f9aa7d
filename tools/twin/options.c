/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin process's command line (tools/twin/main.c): options, faults, help text. */
#include "tools/twin/options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/err.h"
#include "protocol/mcu.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: twin --uid HEX24 [--mcu MCU] [--flash FILE] [--init STATE]... [--speed F]\n"
	    "            [--attach sim:PATH | --attach IFACE] [--pty PATH] [--fault SPEC]...\n"
	    "  A software Cartographer probe (Katapult, Klipper-derived app).\n"
	    "  --mcu MCU            a probe MCU of cartoflash's MCU table (default\n"
	    "                       stm32f042x6): its flash, pages and RAM\n"
	    "  --uid HEX24          chip UID: USB serial and CAN UUID (default "
	    "16000C000F43304253373820)\n"
	    "  --flash FILE         flash persisted here (loaded if it exists)\n"
	    "  --init STATE         blank | katapult:can[:BITRATE[:VERSION]] | "
	    "katapult:usb[::VERSION]\n"
	    "                       | app:can[:BITRATE[:VERSION]] | app:usb[::VERSION]\n"
	    "                       | app-only:IFACE[:BITRATE[:VERSION]] | file:ADDR:PATH\n"
	    "                       | katapult-only (= katapult:can:1000000)\n"
	    "  --attach sim:PATH    join the simulated bus (simbus); --attach can0 joins "
	    "SocketCAN\n"
	    "  --pty PATH           USB CDC-ACM personality: a pty published at PATH; with\n"
	    "                       --attach too, a hybrid probe wired to both (deployer switch)\n"
	    "  --uart               the pty is a UART wire (no --attach): always there, no USB\n"
	    "                       device; Katapult and a UART application speak on it (the\n"
	    "                       serial bootloader request string, katapult.md §3.6)\n"
	    "  --bitrate N          bus bitrate when the transport cannot tell (default 1000000)\n"
	    "  --speed F            0 = instant .. 1 = real-time flash and boot timing (default "
	    "1)\n"
	    "  --no-double-reset    Katapult built without the double-reset window\n"
	    "  --katapult-proto V   force the CONNECT layout: 1.0.0, or 1.1.0 (empty version\n"
	    "                       when the image has none, Arksine/katapult#159)\n"
	    "  --boot0              BOOT0 pad high: boot the ROM DFU bootloader\n"
	    "  --power-on-after MS  after an injected power loss (default 500; -1 = stay off)\n"
	    "  --fault SPEC         drop-rx=N corrupt-rx=N delay-rx=N:US drop-tx=N corrupt-tx=N\n"
	    "                       delay-tx=N:US power-loss-block=N power-loss-erase=N busy=N\n"
	    "                       corrupt-flash=N (a bit of the Nth programmed block flips)\n"
	    "                       slow-block=N:US (the Nth SEND_BLOCK takes US longer)\n"
	    "                       drop-rx-after-delay=N (the Nth frame after delay-tx or\n"
	    "                       slow-block fired)\n"
	    "                       wrong-uuid wedge silent (N counts frames from the start)\n"
	    "Prints one line \"twin: ready ...\" on stdout when attached. SIGTERM saves and\n"
	    "exits, SIGUSR1 power-cycles the probe, SIGUSR2 shorts its RESET pads.\n"
	    "Examples:\n"
	    "  twin --flash /tmp/p.bin --init app:can:1000000 --attach sim:/tmp/bus\n"
	    "  twin --flash /tmp/u.bin --init app:usb --pty /tmp/dev/ttyACM0 --speed 0\n");
}

static int parse_uid(const char *hex, uint8_t uid[12])
{
	if (strlen(hex) != 24)
		return CF_ERR_USAGE;
	for (int i = 0; i < 12; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return CF_ERR_USAGE;
		uid[i] = (uint8_t)v;
	}
	return CF_OK;
}

static int parse_fault(struct twin_faults *f, const char *spec)
{
	unsigned long n = 0, us = 0;
	const char *eq = strchr(spec, '=');
	size_t key = eq ? (size_t)(eq - spec) : strlen(spec);

	if (eq && sscanf(eq + 1, "%lu:%lu", &n, &us) < 1)
		return CF_ERR_USAGE;
#define IS(name) (key == strlen(name) && !strncmp(spec, name, key))
	if (IS("drop-rx"))
		f->drop_rx = (uint32_t)n;
	else if (IS("corrupt-rx"))
		f->corrupt_rx = (uint32_t)n;
	else if (IS("drop-tx"))
		f->drop_tx = (uint32_t)n;
	else if (IS("corrupt-tx"))
		f->corrupt_tx = (uint32_t)n;
	else if (IS("delay-tx")) {
		f->delay_tx = (uint32_t)n;
		f->delay_us = us;
	} else if (IS("delay-rx")) {
		f->delay_rx = (uint32_t)n;
		f->delay_us = us;
	} else if (IS("power-loss-block"))
		f->power_loss_block = (uint32_t)n;
	else if (IS("power-loss-erase"))
		f->power_loss_erase = (uint32_t)n;
	else if (IS("slow-block")) {
		f->slow_block = (uint32_t)n;
		f->delay_us = us;
	} else if (IS("drop-rx-after-delay"))
		f->drop_rx_after_delay = (uint32_t)n;
	else if (IS("corrupt-flash"))
		f->corrupt_flash = (uint32_t)n;
	else if (IS("busy"))
		f->busy_replies = (uint32_t)n;
	else if (IS("wrong-uuid"))
		f->wrong_uuid = true;
	else if (IS("wedge"))
		f->wedge = true;
	else if (IS("silent"))
		f->silent = true;
	else
		return CF_ERR_USAGE;
#undef IS
	return CF_OK;
}

/* One option into o; CF_ERR_USAGE with the message printed. */
static int apply_option(struct twin_options *o, int opt, const char *arg, bool *boot0)
{
	switch (opt) {
	case 'a':
		o->attach = arg;
		break;
	case 'b':
		o->cfg.bus_bitrate = (uint32_t)strtoul(arg, NULL, 10);
		break;
	case '0':
		*boot0 = true;
		break;
	case 'F':
		if (parse_fault(&o->faults, arg) < 0) {
			fprintf(stderr, "twin: bad --fault '%s'; try --help\n", arg);
			return CF_ERR_USAGE;
		}
		o->have_faults = true;
		break;
	case 'f':
		o->cfg.flash_file = arg;
		break;
	case 'i':
		if (o->ninit == TWIN_OPTIONS_MAX_INITS) {
			fprintf(stderr, "twin: at most %d --init; try --help\n",
				TWIN_OPTIONS_MAX_INITS);
			return CF_ERR_USAGE;
		}
		o->inits[o->ninit++] = arg;
		break;
	case 'D':
		o->cfg.no_double_reset = true;
		break;
	case 'K':
		if (strcmp(arg, "1.0.0") && strcmp(arg, "1.1.0")) {
			fprintf(stderr, "twin: --katapult-proto is 1.0.0 or 1.1.0; try --help\n");
			return CF_ERR_USAGE;
		}
		o->cfg.katapult_proto = strcmp(arg, "1.0.0") ? 0x00010100u : 0x00010000u;
		break;
	case 'm':
		if (!mcu_find(arg) || !mcu_find(arg)->name) {
			fprintf(stderr, "twin: --mcu %s is not a probe MCU of the table:", arg);
			for (size_t i = 0; mcu_at(i); i++)
				if (mcu_at(i)->name)
					fprintf(stderr, " %s", mcu_at(i)->name);
			fprintf(stderr, "; try --help\n");
			return CF_ERR_USAGE;
		}
		o->cfg.mcu = arg;
		break;
	case 'P':
		o->power_on_after_ms = strtol(arg, NULL, 10);
		break;
	case 'p':
		o->pty = arg;
		break;
	case 'U':
		o->cfg.uart = true;
		break;
	case 's':
		o->cfg.speed = strtod(arg, NULL);
		break;
	case 'u':
		if (parse_uid(arg, o->cfg.uid) < 0) {
			fprintf(stderr, "twin: --uid needs 24 hex digits; try --help\n");
			return CF_ERR_USAGE;
		}
		break;
	default:
		fprintf(stderr, "twin: bad option; try --help\n");
		return CF_ERR_USAGE;
	}
	return CF_OK;
}

int twin_options_parse(int argc, char **argv, struct twin_options *o, bool *boot0)
{
	static const struct option table[] = {
	    {"attach", required_argument, NULL, 'a'},
	    {"bitrate", required_argument, NULL, 'b'},
	    {"boot0", no_argument, NULL, '0'},
	    {"fault", required_argument, NULL, 'F'},
	    {"flash", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {"init", required_argument, NULL, 'i'},
	    {"katapult-proto", required_argument, NULL, 'K'},
	    {"mcu", required_argument, NULL, 'm'},
	    {"no-double-reset", no_argument, NULL, 'D'},
	    {"power-on-after", required_argument, NULL, 'P'},
	    {"pty", required_argument, NULL, 'p'},
	    {"speed", required_argument, NULL, 's'},
	    {"uart", no_argument, NULL, 'U'},
	    {"uid", required_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	parse_uid("16000C000F43304253373820", o->cfg.uid);
	o->cfg.speed = 1.0;
	o->power_on_after_ms = 500;
	while ((opt = getopt_long(argc, argv, "a:b:f:hi:p:s:u:", table, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (apply_option(o, opt, optarg, boot0) < 0)
			return CF_ERR_USAGE;
	}
	if (!o->attach && !o->pty) {
		fprintf(stderr, "twin: give --attach, --pty or both; try --help\n");
		return CF_ERR_USAGE;
	}
	/* A UART is a wire of its own: Katapult speaks on it alone, so no CAN side beside it. */
	if (o->cfg.uart && (!o->pty || o->attach)) {
		fprintf(stderr, "twin: --uart needs --pty and no --attach; try --help\n");
		return CF_ERR_USAGE;
	}
	return CF_OK;
}
