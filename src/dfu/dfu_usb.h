/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libusb for DFU: discovery and selection by USB path, open/claim, async control transfers. */
#ifndef CARTOFLASH_SRC_DFU_DFU_USB_H
#define CARTOFLASH_SRC_DFU_DFU_USB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dfu/dfuse.h"
#include "protocol/dfu.h"

struct loop;
struct cf_failure;
struct dfu_usb;
struct dfu_dev;

#define DFU_USB_ROM_VID	       0x0483
#define DFU_USB_ROM_PID	       0xdf11
#define DFU_USB_MAX_CANDIDATES 16

/* One DFU-mode interface found on the bus (dfu.md §1.1). */
struct dfu_candidate {
	char path[32]; /* "1-1.2": bus-port.port, as dfu-util -p and sysfs name it */
	uint8_t bus;
	uint8_t devnum;
	uint16_t vid, pid, bcd_device;
	uint8_t interface;
	char serial[64];
	char product[64];
	char alt0_name[128]; /* the layout string, "" when it could not be read */
	bool has_functional;
	struct dfu_functional functional;
	int open_err; /* 0, or the cf_err of opening it or reading its strings (CF_ERR_ACCESS:
		       * no udev rule; NO_DEVICE, IO, PROTOCOL: listed but not answering) */
	int libusb_err; /* the LIBUSB_ERROR_* behind open_err, for messages */
};

/*
 * Start libusb with its fds in loop (a loop_source: libusb_handle_events_timeout_completed
 * with a zero timeout when they are ready). *out is freed with dfu_usb_free. Returns 0 or
 * CF_ERR_IO (libusb_init failed) / CF_ERR_NOMEM.
 */
int dfu_usb_new(struct loop *loop, struct dfu_usb **out);
/* NULL-safe; close every dfu_dev first. */
void dfu_usb_free(struct dfu_usb *u);

/*
 * List DFU-mode interfaces of devices matching vid:pid (0:0 = any DFU-mode device). Opens each
 * briefly to read its strings (short synchronous descriptor reads, 1 s timeout each).
 * Fills at most max; returns 0 or CF_ERR_IO.
 */
int dfu_usb_find(struct dfu_usb *u, uint16_t vid, uint16_t pid, struct dfu_candidate *out,
		 size_t max, size_t *count);

/*
 * Pick exactly one ROM: selector "" (the only 0483:df11 present), "BUS-PORT[.PORT]" (that USB
 * path) or "VID:PID" (hex). No match: CF_ERR_NO_DEVICE; several: CF_ERR_USAGE listing them
 * (F0 ROM serials are not unique, dfu.md §1.1); not openable: CF_ERR_ACCESS with the udev
 * hint; listed but its strings cannot be read (it reset or was unplugged and the listing
 * lags): the open error (NO_DEVICE, IO, PROTOCOL), for which dfu_usb_not_back is true.
 * f gets the message; *out the chosen one.
 */
int dfu_usb_select(struct dfu_usb *u, const char *selector, struct dfu_candidate *out,
		   struct cf_failure *f);

/*
 * Errors of finding, opening and first talking to a ROM that mean "not there (yet)": absent,
 * or listed and gone (NO_DEVICE), or failing its first requests as a device in reset does (IO,
 * PROTOCOL for a STALL). Whoever waits for a ROM (--timeout, after read unprotect) keeps
 * waiting on these until its deadline (issue #15).
 */
bool dfu_usb_not_back(int err);

/*
 * Open c, claim its DFU interface and select alt 0 (SET_INTERFACE). On failure fills f with a
 * human message (the udev rule for CF_ERR_ACCESS, who may hold it for CF_ERR_BUSY) and
 * returns its cf_err. Close with dfu_usb_close.
 */
int dfu_usb_open(struct dfu_usb *u, const struct dfu_candidate *c, struct dfu_dev **out,
		 struct cf_failure *f);
/* Cancel a transfer in flight, release the interface (errors ignored: it may be gone). */
void dfu_usb_close(struct dfu_dev *d);

/* The end of a control transfer: how it went and, for IN, the bytes that came (borrowed for
 * the call). Called from the loop (libusb's event handling), never from inside submit. */
typedef void (*dfu_usb_done_fn)(void *ctx, enum dfuse_xfer_result r, const uint8_t *in,
				size_t actual);
/* Submit req on d, one at a time; its end comes through done. A request libusb refuses ends
 * the same way (DFUSE_XFER_IO, or NO_DEVICE), from a loop timer. */
void dfu_usb_submit(struct dfu_dev *d, const struct dfuse_request *req, dfu_usb_done_fn done,
		    void *ctx);

/*
 * The transfer size to use with c, or 0 when it cannot be used: DfuSe computes addresses as
 * pointer + (block - 2) x wTransferSize of the descriptor (dfu.md §2.2), so the size cannot be
 * clamped to Linux's 4096-byte control limit (§1.2) nor be smaller than one 8-byte write.
 */
uint16_t dfu_usb_transfer_size(const struct dfu_candidate *c);

/* libusb error code to cf_err (ACCESS, BUSY, NO_DEVICE, TIMEOUT, PROTOCOL for PIPE, IO). */
int dfu_usb_map_error(int libusb_err);
/* The udev rule hint shown for CF_ERR_ACCESS. */
const char *dfu_usb_access_hint(void);

#endif
