/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DfuSe request layer, sans-I/O: one operation = its requests + the GETSTATUS loop. */
#ifndef CARTOFLASH_SRC_DFU_DFUSE_H
#define CARTOFLASH_SRC_DFU_DFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/dfu.h"

/*
 * One DfuSe operation (dfu.md §2.3): the request that carries it, then GETSTATUS until the
 * device is done, waiting the bwPollTimeout it announces between polls (§1.3), CLRSTATUS only
 * in dfuERROR (§1.5). The caller (a dfu_session, or a test) moves the bytes:
 *
 *   dfuse_start(s, &op, now);
 *   while (dfuse_state(s) != DFUSE_DONE) {
 *           if (dfuse_state(s) == DFUSE_SEND) {
 *                   dfuse_poll_request(s, &req);    submit req whole (libusb, a model)
 *                   ... its end: dfuse_complete(s, result, in_bytes, actual, now);
 *           } else                                  DFUSE_WAIT
 *                   at dfuse_deadline(s): dfuse_tick(s, now);
 *   }
 *   dfuse_get_result(s)
 *
 * It reads no clock, never blocks, allocates nothing and prints nothing.
 */

enum dfuse_xfer_result {
	DFUSE_XFER_OK,
	DFUSE_XFER_STALL,     /* LIBUSB_ERROR_PIPE */
	DFUSE_XFER_IO,	      /* IO, OVERFLOW, protocol errors */
	DFUSE_XFER_NO_DEVICE, /* the device went away */
	DFUSE_XFER_TIMEOUT,
};

#define DFUSE_MAX_XFER 4096 /* dfu.md §1.2: Linux caps control data stages at 4096 bytes */

/* One control transfer to make, whole. */
struct dfuse_request {
	uint8_t setup[DFU_SETUP_LEN];
	const uint8_t *out; /* OUT data stage of setup's wLength bytes; NULL for IN or none.
			     * Borrowed until dfuse_complete. */
	uint16_t length;    /* wLength */
	bool in;	    /* device to host: the completion carries up to length bytes */
	unsigned timeout_ms;
	const char *name; /* "GETSTATUS", "DNLOAD" ... */
};

enum dfuse_op_kind {
	DFUSE_OP_IDLE,	      /* GETSTATUS; CLRSTATUS only in dfuERROR; ABORT; until dfuIDLE */
	DFUSE_OP_SET_ADDRESS, /* 21 addr */
	DFUSE_OP_ERASE,	      /* 41 addr */
	DFUSE_OP_MASS_ERASE,  /* 41 */
	DFUSE_OP_UNPROTECT,   /* 92: the device mass-erases, then resets */
	DFUSE_OP_WRITE,	      /* DNLOAD block >= 2 */
	DFUSE_OP_ABORT,	      /* ABORT + GETSTATUS must read dfuIDLE */
	DFUSE_OP_UPLOAD,      /* UPLOAD block >= 2 */
	DFUSE_OP_LEAVE,	      /* zero-length DNLOAD + GETSTATUS, tolerant (dfu.md §2.5) */
};

struct dfuse_op {
	enum dfuse_op_kind kind;
	/* SET_ADDRESS, ERASE: the address sent. WRITE, UPLOAD: where block lands (pointer +
	 * (block - 2) x wTransferSize, dfu.md §2.2), for messages only. */
	uint32_t address;
	uint16_t block;	     /* WRITE, UPLOAD */
	const uint8_t *data; /* WRITE source, copied at dfuse_start */
	size_t len;	     /* WRITE, UPLOAD: 1 .. DFUSE_MAX_XFER */
};

enum dfuse_state {
	DFUSE_DONE,	 /* no operation, or the last one ended: dfuse_get_result */
	DFUSE_SEND,	 /* a request waits: dfuse_poll_request */
	DFUSE_IN_FLIGHT, /* waiting for dfuse_complete */
	DFUSE_WAIT,	 /* bwPollTimeout: dfuse_tick at dfuse_deadline */
};

/* How an operation ended. */
struct dfuse_result {
	int err;		     /* 0 or negative cf_err */
	enum dfuse_xfer_result xfer; /* of the failing transfer */
	const char *request;	     /* "DNLOAD", "GETSTATUS" ... of the failing transfer */
	bool have_status;	     /* st is the device's last answer */
	struct dfu_status_record st; /* last GETSTATUS (the error status on failure) */
	size_t actual;		     /* UPLOAD: bytes received, in dfuse_upload_data */
	bool left_confirmed;	     /* LEAVE: the device answered dfuMANIFEST */
};

/* Caller-embedded; fields are private to dfuse.c. */
struct dfuse {
	uint16_t interface;
	struct dfuse_op op;
	struct dfuse_result res;
	enum dfuse_state state;
	int phase;
	unsigned tries;
	unsigned stalls;
	uint32_t last_poll_ms;
	uint64_t busy_deadline_us;
	uint64_t wait_until_us;
	struct dfuse_request req;
	uint8_t out[DFUSE_MAX_XFER]; /* the data stage of the request going out */
	uint8_t in[DFUSE_MAX_XFER];  /* the last IN data stage */
};

void dfuse_init(struct dfuse *s, uint16_t interface);
/* Start op at now_us: 0, CF_ERR_BUSY while another runs, CF_ERR_USAGE for a bad op. */
int dfuse_start(struct dfuse *s, const struct dfuse_op *op, uint64_t now_us);
/* The request to submit now: true with *req filled (state SEND -> IN_FLIGHT), else false. */
bool dfuse_poll_request(struct dfuse *s, struct dfuse_request *req);
/* The end of the request in flight: how it went and, for IN, the bytes that came (copied). */
void dfuse_complete(struct dfuse *s, enum dfuse_xfer_result r, const uint8_t *in, size_t actual,
		    uint64_t now_us);
/* Call when now_us >= dfuse_deadline; earlier calls do nothing. */
void dfuse_tick(struct dfuse *s, uint64_t now_us);
/* When the wait ends (DFUSE_WAIT), else UINT64_MAX. */
uint64_t dfuse_deadline(const struct dfuse *s);
enum dfuse_state dfuse_state(const struct dfuse *s);
/* How the last operation ended; borrowed, valid until the next dfuse_start. */
const struct dfuse_result *dfuse_get_result(const struct dfuse *s);
/* UPLOAD: the result's actual bytes; borrowed, valid until the next dfuse_start. */
const uint8_t *dfuse_upload_data(const struct dfuse *s);
/* "stall", "io", "no_device", "timeout", "ok". */
const char *dfuse_xfer_name(enum dfuse_xfer_result r);
/* "set address", "erase page" ... for messages. */
const char *dfuse_op_name(enum dfuse_op_kind kind);

#endif
