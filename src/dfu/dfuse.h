/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DfuSe request layer: one operation = its requests + the GETSTATUS loop, never blocking. */
#ifndef CARTOFLASH_SRC_DFU_DFUSE_H
#define CARTOFLASH_SRC_DFU_DFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "protocol/dfu.h"

/*
 * The engine sends control transfers through a link (libusb in src/dfu/dfu_usb.c, the
 * in-process ROM model in tests) and waits bwPollTimeout on a loop timer between GETSTATUS
 * polls (dfu.md §1.3, §2.3). The link reports each transfer's end with dfuse_xfer_done, from
 * the loop, never from inside submit.
 */
enum dfuse_xfer_result {
	DFUSE_XFER_OK,
	DFUSE_XFER_STALL,     /* LIBUSB_ERROR_PIPE */
	DFUSE_XFER_IO,	      /* IO, OVERFLOW, protocol errors */
	DFUSE_XFER_NO_DEVICE, /* the device went away */
	DFUSE_XFER_TIMEOUT,
};

struct dfuse_link_ops {
	/* Start one control transfer; data holds the data stage (OUT) or room for it (IN).
	 * 0, or a negative cf_err when it could not be submitted. */
	int (*submit)(void *link, const uint8_t setup[DFU_SETUP_LEN], uint8_t *data,
		      unsigned timeout_ms);
};

enum dfuse_op_kind {
	DFUSE_OP_IDLE,	      /* GETSTATUS; CLRSTATUS only in dfuERROR; ABORT; until dfuIDLE */
	DFUSE_OP_SET_ADDRESS, /* 21 addr */
	DFUSE_OP_ERASE,	      /* 41 addr */
	DFUSE_OP_MASS_ERASE,  /* 41 */
	DFUSE_OP_UNPROTECT,   /* 92: the device wipes itself and resets */
	DFUSE_OP_WRITE,	      /* DNLOAD block >= 2 */
	DFUSE_OP_ABORT,	      /* ABORT + GETSTATUS must read dfuIDLE */
	DFUSE_OP_UPLOAD,      /* UPLOAD block >= 2 into data */
	DFUSE_OP_LEAVE,	      /* zero-length DNLOAD + GETSTATUS, tolerant (dfu.md §2.5) */
};

struct dfuse_op {
	enum dfuse_op_kind kind;
	uint32_t address; /* SET_ADDRESS, ERASE */
	uint16_t block;	  /* WRITE, UPLOAD */
	uint8_t *data;	  /* WRITE source / UPLOAD destination, borrowed until done */
	size_t len;	  /* <= DFUSE_MAX_XFER */
};

#define DFUSE_MAX_XFER 4096 /* dfu.md §1.2: Linux caps control data stages at 4096 bytes */

/* How an operation ended. */
struct dfuse_result {
	int err;		     /* 0 or negative cf_err */
	enum dfuse_xfer_result xfer; /* of the failing transfer */
	const char *request;	     /* "DNLOAD", "GETSTATUS" ... of the failing transfer */
	bool have_status;	     /* st is the device's last answer */
	struct dfu_status_record st; /* last GETSTATUS (the error status on failure) */
	size_t actual;		     /* UPLOAD: bytes received */
	bool left_confirmed;	     /* LEAVE: the device answered dfuMANIFEST */
};

struct dfuse_config {
	struct loop *loop;
	const struct dfuse_link_ops *ops;
	void *link;
	uint16_t interface;
	/* The operation ended (called from the loop). r is borrowed for the call. */
	void (*done)(void *ctx, const struct dfuse_op *op, const struct dfuse_result *r);
	void *ctx;
};

/* Caller-embedded; fields are private to dfuse.c. */
struct dfuse {
	struct dfuse_config cfg;
	struct dfuse_op op;
	struct dfuse_result res;
	int phase;
	unsigned tries;
	unsigned stalls;
	uint32_t last_poll_ms;
	uint64_t busy_deadline_us;
	bool running;
	uint8_t setup[DFU_SETUP_LEN];
	uint8_t buf[DFUSE_MAX_XFER];
	struct loop_timer poll_timer;
};

void dfuse_init(struct dfuse *s, const struct dfuse_config *cfg);
/* Disarm the timer; a transfer in flight must be cancelled by the link's owner. */
void dfuse_fini(struct dfuse *s);
/* Start op (copied). 0, CF_ERR_BUSY while another runs, CF_ERR_USAGE for a bad op, or the
 * link's submit error. The end is reported through cfg.done. */
int dfuse_start(struct dfuse *s, const struct dfuse_op *op);
/* The link's completion: result, and bytes moved in the data stage. */
void dfuse_xfer_done(struct dfuse *s, enum dfuse_xfer_result r, size_t actual);
/* "stall", "io", "no_device", "timeout", "ok". */
const char *dfuse_xfer_name(enum dfuse_xfer_result r);
/* "set address", "erase" ... for messages. */
const char *dfuse_op_name(enum dfuse_op_kind kind);

#endif
