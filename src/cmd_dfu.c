// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash dfu read ADDRESS LENGTH FILE`: upload memory from the STM32 ROM DFU bootloader.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_run.h"
#include "dfu/dfu_pump.h"
#include "dfu/dfu_session.h"
#include "dfu/dfu_usb.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

int run_dfu(int argc, char **argv);

enum { OPT_PATH = CMD_OPT_VERB_FIRST, OPT_DEVICE };

struct reader {
	struct loop *loop;
	struct dfu_pump pump;
	struct dfu_session *session;
	struct dfu_candidate cand;
	bool done;
	int err;
	struct cf_failure f;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: cartoflash dfu read ADDRESS LENGTH FILE [--path BUS-PORT | --device VID:PID]\n"
	    "\n"
	    "Read LENGTH bytes at ADDRESS from a device in STM32 ROM DFU mode (0483:df11) into\n"
	    "FILE (DfuSe upload: SET_ADDRESS, ABORT, UPLOAD blocks 2, 3, ...). The device stays\n"
	    "in DFU mode. ADDRESS and LENGTH take 0x for hex.\n"
	    "\n"
	    "      --path BUS-PORT     the ROM at this USB path when several are attached\n"
	    "      --device VID:PID    another DfuSe device id (default 0483:df11)\n"
	    "  -v, --verbose           more detail; -vvv traces every USB request\n"
	    "\n"
	    "Exit codes: 0 read, 64 usage, 69 no DFU device, 73 FILE not writable, 74 USB I/O,\n"
	    "76 device protocol (read protection: errVENDOR), 77 no permission.\n"
	    "\n"
	    "Examples:\n"
	    "  cartoflash dfu read 0x08000000 32768 flash.bin\n"
	    "  cartoflash dfu read 0x08000000 0x2000 katapult.bin --path 1-2\n");
}

static void on_done(void *ctx, int err, uint64_t now_us)
{
	struct reader *rd = ctx;

	(void)now_us;
	rd->err = err;
	rd->done = true;
	if (err) {
		rd->f = *dfu_session_failure(rd->session);
		rd->f.code = err;
		cf_failure_set_device(&rd->f, "STM32 ROM DFU at usb %s", rd->cand.path);
	}
}

static int parse_number(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end || *v > max ? CF_ERR_USAGE : CF_OK;
}

static int save(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wbe");
	int ok;

	if (!f) {
		fprintf(stderr, "cartoflash: dfu read: cannot create %s: %s\n", path,
			strerror(errno));
		return 73;
	}
	ok = fwrite(data, 1, len, f) == len;
	ok &= fclose(f) == 0;
	if (!ok) {
		fprintf(stderr, "cartoflash: dfu read: cannot write %s\n", path);
		return 73;
	}
	return 0;
}

/* The session's READ phase through the pump: the same request layer as recover. */
static int read_phase(struct reader *rd, struct dfu_dev *dev, uint32_t address, size_t len,
		      uint8_t *out)
{
	const struct dfu_session_config sc = {
	    .walk = {.xfer = dfu_usb_transfer_size(&rd->cand),
		     .read_address = address,
		     .read_len = len,
		     .read_buf = out},
	    .interface = rd->cand.interface,
	};

	if (!sc.walk.xfer) {
		cf_failure_set(&rd->f, CF_ERR_NOT_SUPPORTED, "read",
			       "wTransferSize %u unusable (Linux limit %u bytes)",
			       rd->cand.functional.transfer_size, DFUSE_MAX_XFER);
		cf_failure_set_device(&rd->f, "DFU device at usb %s", rd->cand.path);
		cf_failure_set_hint(&rd->f, "use the vendor's tool for this device");
		return CF_ERR_NOT_SUPPORTED;
	}
	if (dfu_session_new(&sc, &rd->session))
		return cf_failure_set(&rd->f, CF_ERR_NOMEM, "read", "out of memory");
	dfu_pump_init(&rd->pump, rd->loop, NULL, on_done, rd);
	dfu_pump_run(&rd->pump, dev, rd->session, DFU_PHASE_READ);
	while (!rd->done)
		if (loop_run_once(rd->loop, 1000000) == CF_ERR_IO)
			return cf_failure_set(&rd->f, CF_ERR_IO, "read", "poll failed");
	return rd->err;
}

static int do_read(const char *selector, uint32_t address, size_t len, const char *path)
{
	struct reader rd = {0};
	struct dfu_usb *usb = NULL;
	struct dfu_dev *dev = NULL;
	uint8_t *out = malloc(len ? len : 1);
	int code;

	rd.loop = loop_new();
	rd.err = !rd.loop || !out ? CF_ERR_NOMEM : dfu_usb_new(rd.loop, &usb);
	if (!rd.err)
		rd.err = dfu_usb_select(usb, selector, &rd.cand, &rd.f);
	if (!rd.err)
		rd.err = dfu_usb_open(usb, &rd.cand, &dev, &rd.f);
	if (rd.err)
		cf_failure_set_device(&rd.f, "STM32 ROM DFU %s", selector[0] ? selector : "0483:df11");
	else
		rd.err = read_phase(&rd, dev, address, len, out);
	dfu_pump_stop(&rd.pump);
	dfu_usb_close(dev);
	if (rd.session)
		len = dfu_session_stats(rd.session)->bytes_read; /* a short frame ends the memory */
	dfu_session_free(rd.session);
	dfu_usb_free(usb);
	loop_free(rd.loop);
	if (rd.err) {
		if (!rd.f.code)
			rd.f.code = rd.err;
		code = cli_fail(&rd.f);
	} else {
		code = save(path, out, len);
		if (!code)
			printf("read %zu bytes at 0x%08x from usb %s into %s\n", len, address,
			       rd.cand.path, path);
	}
	free(out);
	return code;
}

int run_dfu(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"device", required_argument, NULL, OPT_DEVICE},
	    {"path", required_argument, NULL, OPT_PATH},
	    CMD_COMMON_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *selector = "";
	unsigned long long address, len;
	int c;

	while ((c = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == OPT_PATH || c == OPT_DEVICE)
			selector = optarg;
		else if (!cli_common_option(c))
			return cli_bad_option("dfu", argc, argv, "hqv");
	}
	if (argc - optind != 4 || strcmp(argv[optind], "read"))
		return cli_usage_error("dfu", "usage: dfu read ADDRESS LENGTH FILE");
	if (parse_number(argv[optind + 1], UINT32_MAX, &address) ||
	    parse_number(argv[optind + 2], 16u << 20, &len) || len == 0 ||
	    address + len > (1ull << 32))
		return cli_usage_error("dfu", "bad ADDRESS or LENGTH ('%s' '%s')", argv[optind + 1],
				       argv[optind + 2]);
	return do_read(selector, (uint32_t)address, (size_t)len, argv[optind + 3]);
}
