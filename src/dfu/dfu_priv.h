/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Private state of the DFU updater, shared by dfu_backend.c and dfu_write.c only. */
#ifndef CARTOFLASH_SRC_DFU_DFU_PRIV_H
#define CARTOFLASH_SRC_DFU_DFU_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dfu/dfu_follow.h"
#include "dfu/dfu_plan.h"
#include "dfu/dfu_usb.h"
#include "dfu/dfuse.h"
#include "loop.h"
#include "protocol/dfu.h"
#include "updater.h"

#define DFU_BOOT_REGION 0x2000u /* images.md: Katapult's 8 KiB in front of 0x08002000 */

/* What the write pass does with a planned page, decided from its content before erasing. */
enum dfu_page_todo {
	DFU_PAGE_ERASE, /* erase, then write the image bytes */
	DFU_PAGE_BLANK, /* reads all 0xFF on a part without flash ECC: write only */
	DFU_PAGE_SAME,	/* already holds exactly what erase + write would leave: skip */
};

enum stage {
	ST_NONE,
	ST_ID_IDLE,	 /* GETSTATUS until dfuIDLE */
	ST_ID_RDP_ADDR,	 /* dfu.md §2.9 rdp: SET_ADDRESS(0x08000000) */
	ST_ID_RDP_ABORT, /* ABORT to dfuIDLE where UPLOAD is accepted */
	ST_ID_RDP_READ,	 /* UPLOAD block 2, 8 bytes: errVENDOR = protected */
	ST_ID_RDP_DONE,	 /* ABORT */
	ST_ID_UNPROTECT, /* 92: the chip wipes itself and resets */
	ST_W_PRE_ADDR,	 /* read the planned pages first: SET_ADDRESS(first page) */
	ST_W_PRE_ABORT,	 /* ABORT to dfuIDLE */
	ST_W_PRE_READ,	 /* UPLOAD blocks */
	ST_W_PRE_DONE,	 /* ABORT */
	ST_W_ERASE,	 /* one page (or the mass erase) */
	ST_W_ADDR,	 /* SET_ADDRESS(image start) */
	ST_W_BV_ADDR,	 /* design rule 5: read the bootloader region back before the app */
	ST_W_BV_ABORT,
	ST_W_BV_READ,
	ST_W_BV_DONE,
	ST_W_BLOCK, /* DNLOAD blocks 2.. */
	ST_W_ABORT, /* back to dfuIDLE */
	ST_V_ADDR,
	ST_V_ABORT,
	ST_V_BLOCK, /* UPLOAD blocks 2.. and compare */
	ST_V_ABORT2,
	ST_F_ADDR, /* SET_ADDRESS(0x08000000): the vector table the ROM jumps to */
	ST_F_LEAVE,
};

struct dfu_priv {
	struct updater *u;
	struct dfu_usb *usb;
	struct dfu_dev *dev;
	struct dfuse eng;
	bool eng_ready;
	struct dfu_candidate cand;
	struct dfu_layout layout;
	uint16_t xfer;
	bool planned;
	struct dfu_plan plan;
	enum stage stage;
	size_t page;	/* erase cursor */
	size_t img;	/* image cursor */
	size_t off;	/* byte offset inside the image */
	uint16_t block; /* next block number */
	size_t chunk;	/* image bytes the block in flight covers */
	size_t done;	/* progress bytes */
	bool cancelled;
	bool read_protected;
	struct dfu_follow follow;
	bool left_confirmed;
	struct loop_timer after_leave; /* close the handle outside libusb's callback */
	struct loop_timer wait;	       /* --timeout: poll for the ROM to appear */
	bool unprotected;	       /* read-unprotect done in this run */
	bool reopen;		       /* after_leave waits for the ROM instead of following */
	char selector[32];	       /* USB path pinned after a reset, else "" */
	uint64_t wait_deadline_us;
	/* What the planned pages held before the erase (NULL: not read), and per page what the
	 * run does with it. */
	uint8_t *pre;
	size_t pre_len;
	uint32_t pre_base;
	uint8_t page_todo[DFU_PLAN_MAX_PAGES]; /* enum dfu_page_todo */
	bool need_addr;			       /* the next block starts a run: SET_ADDRESS first */
	bool boot_checked; /* the bootloader region was read back during the write pass */
	size_t bv_off;
	uint8_t bv[DFU_BOOT_REGION];
	uint8_t buf[DFUSE_MAX_XFER];
};

/* dfu_backend.c: run one DfuSe operation, its end comes back to the dispatcher. */
void dfu_backend_run(struct dfu_priv *p, enum stage next, enum dfuse_op_kind kind, uint32_t address,
		     uint16_t block, uint8_t *data, size_t len);
void dfu_backend_step_end(struct dfu_priv *p, int err);
void dfu_backend_set_device(struct dfu_priv *p);
/* true when the user cancelled: the step has been ended with CF_ERR_INTERRUPTED. */
bool dfu_backend_check_cancel(struct dfu_priv *p);

/* dfu_write.c: the write step (read, erase, write) and the verify step. */
void dfu_write_begin(struct dfu_priv *p);
void dfu_write_verify_begin(struct dfu_priv *p);
/* The dispatcher hands over a finished operation of a ST_W_* / ST_V_* stage. */
void dfu_write_on_done(struct dfu_priv *p, const struct dfuse_result *r);
bool dfu_write_owns(enum stage stage);
void dfu_write_fini(struct dfu_priv *p);

#endif
