// SPDX-License-Identifier: GPL-3.0-or-later
// `cartoflash dfu read ADDRESS LENGTH FILE`: upload memory from the STM32 ROM DFU bootloader.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_run.h"
#include "dfu/dfu_usb.h"
#include "dfu/dfuse.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

int run_dfu(int argc, char **argv);

enum { OPT_PATH = CMD_OPT_VERB_FIRST, OPT_DEVICE };

enum read_stage { RD_IDLE, RD_ADDR, RD_ABORT, RD_BLOCK, RD_ABORT2, RD_DONE };

struct reader {
	struct loop *loop;
	struct dfuse eng;
	struct dfu_candidate cand;
	uint32_t address;
	size_t len, off;
	uint16_t xfer;
	uint8_t *out;
	enum read_stage stage;
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

static void next(struct reader *rd);

static void on_done(void *ctx, const struct dfuse_op *op, const struct dfuse_result *r)
{
	struct reader *rd = ctx;

	if (r->err) {
		cf_failure_set_device(&rd->f, "STM32 ROM DFU at usb %s", rd->cand.path);
		if (r->have_status && r->st.status)
			cf_failure_set(&rd->f, r->err, "read", "%s: device answered %s %s (%s)",
				       dfuse_op_name(op->kind), dfu_state_name(r->st.state),
				       dfu_status_name(r->st.status),
				       dfu_status_text(r->st.status));
		else
			cf_failure_set(&rd->f, r->err, "read", "%s: %s %s", dfuse_op_name(op->kind),
				       r->request ? r->request : "request",
				       dfuse_xfer_name(r->xfer));
		cf_failure_set_hint(&rd->f,
				    r->have_status && r->st.status == DFU_STATUS_ERR_VENDOR
					? "read protection is active: 'cartoflash recover "
					  "--unprotect' removes it and wipes the chip"
					: "check the address range against the layout and retry");
		rd->err = r->err;
		rd->stage = RD_DONE;
		return;
	}
	if (op->kind == DFUSE_OP_UPLOAD) {
		rd->off += r->actual;
		if (r->actual < op->len)
			rd->len = rd->off; /* a short frame ends the memory */
	}
	next(rd);
}

static void start(struct reader *rd, enum read_stage st, enum dfuse_op_kind kind, uint16_t block,
		  size_t len)
{
	const struct dfuse_op op = {kind, rd->address, block, rd->out + rd->off, len};

	rd->stage = st;
	rd->err = dfuse_start(&rd->eng, &op);
	if (rd->err) {
		cf_failure_set(&rd->f, rd->err, "read", "cannot start %s", dfuse_op_name(kind));
		rd->stage = RD_DONE;
	}
}

static void next(struct reader *rd)
{
	switch (rd->stage) {
	case RD_IDLE:
		start(rd, RD_ADDR, DFUSE_OP_SET_ADDRESS, 0, 0);
		return;
	case RD_ADDR:
		start(rd, RD_ABORT, DFUSE_OP_ABORT, 0, 0); /* dfu.md §2.4: UPLOAD needs dfuIDLE */
		return;
	case RD_ABORT:
	case RD_BLOCK:
		if (rd->off < rd->len) {
			const size_t n =
			    rd->len - rd->off < rd->xfer ? rd->len - rd->off : rd->xfer;

			start(rd, RD_BLOCK, DFUSE_OP_UPLOAD, (uint16_t)(2 + rd->off / rd->xfer), n);
			return;
		}
		start(rd, RD_ABORT2, DFUSE_OP_ABORT, 0, 0);
		return;
	case RD_ABORT2:
	case RD_DONE:
		rd->stage = RD_DONE;
		return;
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

static int do_read(const char *selector, uint32_t address, size_t len, const char *path)
{
	struct reader rd = {.address = address, .len = len};
	struct dfu_usb *usb = NULL;
	struct dfu_dev *dev = NULL;
	int code;

	rd.loop = loop_new();
	rd.out = malloc(len ? len : 1);
	rd.err = !rd.loop || !rd.out ? CF_ERR_NOMEM : dfu_usb_new(rd.loop, &usb);
	if (!rd.err)
		rd.err = dfu_usb_select(usb, selector, &rd.cand, &rd.f);
	if (!rd.err)
		rd.err = dfu_usb_open(usb, &rd.cand, &dev, &rd.f);
	if (rd.err) {
		cf_failure_set_device(&rd.f, "STM32 ROM DFU %s",
				      selector[0] ? selector : "0483:df11");
		goto out;
	}
	rd.xfer = dfu_usb_transfer_size(&rd.cand);
	if (!rd.xfer) {
		rd.err = cf_failure_set(&rd.f, CF_ERR_NOT_SUPPORTED, "read",
					"wTransferSize %u unusable (Linux limit %u bytes)",
					rd.cand.functional.transfer_size, DFUSE_MAX_XFER);
		cf_failure_set_device(&rd.f, "DFU device at usb %s", rd.cand.path);
		cf_failure_set_hint(&rd.f, "use the vendor's tool for this device");
		goto out;
	}
	dfuse_init(&rd.eng, &(struct dfuse_config){.loop = rd.loop,
						   .ops = &dfu_usb_link_ops,
						   .link = dev,
						   .interface = rd.cand.interface,
						   .done = on_done,
						   .ctx = &rd});
	dfu_usb_bind(dev, &rd.eng);
	start(&rd, RD_IDLE, DFUSE_OP_IDLE, 0, 0);
	while (rd.stage != RD_DONE)
		if (loop_run_once(rd.loop, 1000000) == CF_ERR_IO)
			break;
	dfuse_fini(&rd.eng);
out:
	dfu_usb_close(dev);
	dfu_usb_free(usb);
	loop_free(rd.loop);
	if (rd.err) {
		if (!rd.f.code)
			rd.f.code = rd.err;
		code = cli_fail(&rd.f);
	} else {
		code = save(path, rd.out, rd.len);
		if (!code)
			printf("read %zu bytes at 0x%08x from usb %s into %s\n", rd.len, address,
			       rd.cand.path, path);
	}
	free(rd.out);
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
			return cli_usage_error("dfu", "unknown option");
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
