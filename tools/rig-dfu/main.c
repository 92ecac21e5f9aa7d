// SPDX-License-Identifier: GPL-3.0-or-later
/* rig-dfu: the probe twin's STM32 ROM DfuSe bootloader as a FunctionFS USB device on dummy_hcd. */

/*
 * rig.md §5.5. The twin's rom_dfu model (tools/twin/rom_dfu.h) answers the DFU class requests;
 * its flash is the twin's flash file, so what a host writes here is what the probe twin boots
 * afterwards. The interface and DFU functional descriptors are the model's own (rom_dfu_
 * descriptors), so libusb clients see the device the model describes: 0483:df11, interface 0
 * with alt 0 "@Internal Flash ..." and alt 1 "@Option Bytes ...". Linux 6.1 refuses the
 * functional descriptor through FunctionFS (pitfall 9): then it is left out and said so.
 *
 * FunctionFS reports SET_INTERFACE only as an ENABLE event without the alt number, so the model
 * stays on alt 0 (flash), the one recovery uses. When the model says the device is gone (DfuSe
 * leave, a fault), the program closes ep0 without answering: the host sees the transfer fail
 * and the device leave, as with the real ROM (dfu.md §2.6). It then saves the flash and exits 0,
 * or with --then-twin UID, becomes `rig-acm twin FLASH UID`: the chip runs what was just written
 * and, if that is USB firmware, enumerates again (Katapult or the application), as the probe does.
 */
#include <errno.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/rig-gadget/gadget.h"
#include "tools/twin/rom_dfu.h"
#include "tools/twin/twin.h"

#define DFU_DT_FUNCTIONAL 0x21

static volatile sig_atomic_t quit;
static FILE *dfu_log;

static void on_quit(int sig)
{
	(void)sig;
	quit = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void dfu_flash_changed(void *ctx, uint32_t offset, size_t len)
{
	twin_flash_changed(ctx, offset, len);
}

/*
 * Interface and functional descriptors from the model's configuration, string indexes renumbered
 * to this function's own table (FunctionFS maps them to the gadget's ids). Returns the blob
 * length; *count gets the number of descriptors.
 */
static size_t dfu_function_descs(uint8_t *out, size_t cap, bool functional, uint32_t *count)
{
	uint8_t all[128];
	const size_t len = rom_dfu_descriptors(all, sizeof(all));
	size_t n = 0;
	uint8_t next_string = 1;

	*count = 0;
	for (size_t off = 18 + 9; off + 2 <= len && all[off]; off += all[off]) {
		const uint8_t dlen = all[off], type = all[off + 1];

		if (off + dlen > len || n + dlen > cap)
			return 0;
		if (type == DFU_DT_FUNCTIONAL && !functional)
			continue;
		memcpy(out + n, all + off, dlen);
		if (type == USB_DT_INTERFACE && out[n + 8])
			out[n + 8] = next_string++;
		n += dlen;
		(*count)++;
	}
	return n;
}

static int dfu_start(struct gadget *g)
{
	const char *strs[2] = {ROM_DFU_ALT0_NAME, ROM_DFU_ALT1_NAME};
	uint8_t set[96], descs[256], strings[128];
	const size_t sl = gadget_build_strings(strings, sizeof(strings), strs, 2);

	for (int functional = 1; functional >= 0; functional--) {
		uint32_t count;
		const size_t n = dfu_function_descs(set, sizeof(set), functional, &count);
		const size_t dl =
		    gadget_build_descs(descs, sizeof(descs), 0, set, n, count, set, n, count);

		if (gadget_start(g, descs, dl, strings, sl) == 0) {
			if (!functional)
				fprintf(stderr,
					"rig-dfu: this kernel refuses the DFU functional "
					"descriptor over FunctionFS; presented without it\n");
			return 0;
		}
	}
	return -1;
}

/* One SETUP (rig.md §5.4). Returns false once the model says the device is gone. */
static bool dfu_setup(struct gadget *g, struct rom_dfu *d, const struct usb_ctrlrequest *req)
{
	uint8_t setup[8], data[ROM_DFU_TRANSFER_SIZE + 64];
	const bool in = req->bRequestType & USB_DIR_IN;
	const size_t wlen = req->wLength < sizeof(data) ? req->wLength : sizeof(data);
	size_t len = wlen;
	enum rom_dfu_xfer x;

	memcpy(setup, req, sizeof(setup)); /* struct usb_ctrlrequest is the wire layout */
	if (!in && wlen && gadget_ep0_read(g, data, wlen))
		return true;
	x = rom_dfu_control(d, setup, data, &len, now_us());
	if (dfu_log)
		fprintf(dfu_log, "%02x %02x %04x %04x %04x -> %s %zu state %u status %u\n",
			req->bRequestType, req->bRequest, req->wValue, req->wIndex, req->wLength,
			x == ROM_DFU_XFER_OK	  ? "ok"
			: x == ROM_DFU_XFER_STALL ? "stall"
						  : "gone",
			len, d->state, d->status);
	switch (x) {
	case ROM_DFU_XFER_OK:
		if (in)
			gadget_ep0_reply(g, data, len);
		else if (!wlen)
			gadget_ep0_ack(g);
		if (d->gone)	       /* dfu.md §2.5: answered dfuMANIFEST, then stops USB */
			usleep(50000); /* let the status stage finish first (rig.md pitfall 10) */
		return !d->gone;
	case ROM_DFU_XFER_STALL:
		/* After an OUT data stage was read, the request can no longer be stalled. */
		if (in || !wlen)
			gadget_ep0_stall(g, in);
		return true;
	case ROM_DFU_XFER_GONE:
		return false;
	}
	return true;
}

static int dfu_run(struct gadget *g, struct rom_dfu *d, double timeout_s)
{
	const uint64_t end = now_us() + (uint64_t)(timeout_s * 1e6);

	while (!quit && now_us() < end) {
		struct pollfd pfd = {.fd = g->ep0, .events = POLLIN};
		struct usb_functionfs_event ev;

		if (poll(&pfd, 1, 100) <= 0 || !(pfd.revents & POLLIN))
			continue;
		if (read(g->ep0, &ev, sizeof(ev)) != sizeof(ev))
			return errno == EINTR ? 0 : 74;
		if (ev.type == FUNCTIONFS_ENABLE)
			rom_dfu_set_alt(d, 0);
		if (ev.type == FUNCTIONFS_SETUP && !dfu_setup(g, d, &ev.u.setup)) {
			fprintf(stderr, "rig-dfu: device left (jump 0x%08x)\n", d->jump_address);
			if (dfu_log)
				fprintf(dfu_log, "left jump 0x%08x\n", d->jump_address);
			return 0;
		}
	}
	return 0;
}

/* The chip left the ROM: run it as the twin's USB side (rig-acm sits next to this program). */
static int then_twin(const char *flash, const char *uid)
{
	char exe[512], *slash;
	const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 16);

	if (n <= 0)
		return 70;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	strcpy(slash ? slash + 1 : exe, "rig-acm");
	execl(exe, exe, "--timeout", "100", "twin", flash, uid, (char *)NULL);
	perror(exe);
	return 70;
}

int main(int argc, char **argv)
{
	const struct gadget_id id = {
	    .vid = ROM_DFU_VID,
	    .pid = ROM_DFU_PID,
	    .bcd_device = 0x2200,
	    .manufacturer = "STMicroelectronics",
	    .product = "STM32  BOOTLOADER",
	    .serial = ROM_DFU_SERIAL,
	};
	struct twin_config tc = {.speed = 0};
	struct rom_dfu_config rc = {.flash_base = TWIN_FLASH_BASE, .page_size = mcu_default()->page_size};
	struct rom_dfu d;
	struct gadget g;
	struct twin *t;
	double timeout_s = 120;
	const char *then_uid = NULL;
	int i = 1, rc_exit;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--log"))
			dfu_log = fopen(argv[i + 1], "we");
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--speed"))
			rc.speed = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--then-twin"))
			then_uid = argv[i + 1];
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: rig-dfu [--log FILE] [--timeout SECONDS] [--speed 0..1] "
				"[--then-twin UID-HEX24] FLASH-FILE\n"
				"Example: rig-dfu --log /tmp/dfu.log /tmp/probe.flash\n");
		return 64;
	}
	if (dfu_log)
		setvbuf(dfu_log, NULL, _IOLBF, 0);
	tc.flash_file = argv[i];
	t = twin_new(&tc);
	if (!t) {
		fprintf(stderr, "rig-dfu: cannot load flash file %s\n", argv[i]);
		return 66;
	}
	rc.flash = twin_flash_mut(t, &rc.flash_size);
	rc.flash_changed = dfu_flash_changed;
	rc.ctx = t;
	rom_dfu_init(&d, &rc);
	signal(SIGTERM, on_quit);
	signal(SIGINT, on_quit);

	rc_exit = 69;
	if (gadget_setup(&g, "dfu", &id) == 0 && dfu_start(&g) == 0)
		rc_exit = dfu_run(&g, &d, timeout_s);
	gadget_teardown(&g);
	if (twin_flash_save(t))
		rc_exit = 74;
	twin_free(t);
	if (dfu_log)
		fclose(dfu_log);
	if (rc_exit == 0 && then_uid && d.left)
		return then_twin(argv[i], then_uid);
	return rc_exit;
}
