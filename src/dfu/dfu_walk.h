/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The DfuSe recovery procedure, one operation at a time: identify, write, verify, leave, read. */
#ifndef CARTOFLASH_SRC_DFU_DFU_WALK_H
#define CARTOFLASH_SRC_DFU_DFU_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dfu/dfu_plan.h"
#include "dfu/dfuse.h"
#include "failure.h"

/*
 * Pure: the walk decides which DfuSe operation comes next from how the last one ended; it
 * moves no byte and reads no clock (dfu_session.c runs the operations). A phase begins with
 * dfu_walk_begin_*; then, while next == DFU_WALK_RUN, the session runs op and hands its end
 * to dfu_walk_step. Design rule 5 lives here: the bootloader region is erased, written and
 * read back before any application page is erased, each page is erased at most once, and
 * every byte of the plan's span is read back before the session may leave.
 */

struct dfu_walk;
typedef void (*dfu_walk_fn)(struct dfu_walk *w, const struct dfuse_result *r,
			    const uint8_t *data);

enum dfu_walk_next {
	DFU_WALK_RUN,	 /* run op, then dfu_walk_step */
	DFU_WALK_DONE,	 /* the phase ended well */
	DFU_WALK_FAILED, /* the phase failed: failure says how */
};

/* What the pre-read found a planned page holding (dfu.md §2.6, issue #15). */
enum dfu_page_todo {
	DFU_PAGE_ERASE, /* erase, then write the image bytes */
	DFU_PAGE_BLANK, /* reads all 0xFF on a part without flash ECC: write only */
	DFU_PAGE_SAME,	/* already holds exactly what erase + write would leave: skip */
};

struct dfu_walk_config {
	const struct dfu_plan *plan; /* WRITE, VERIFY; borrowed */
	uint16_t xfer;		     /* wTransferSize: block N lands at pointer + (N-2) x xfer */
	uint32_t flash_base;	     /* 0x08000000: read-protection probe, the leave's vector table */
	uint32_t boot_end;	     /* 0x08002000: the bootloader region ends here (images.md) */
	bool blank_is_erased;	     /* no flash ECC: a page reading all 0xFF is not erased again */
	bool unprotect;		     /* IDENTIFY: remove read protection (0x92) when found */
	uint32_t read_address;	     /* READ */
	size_t read_len;
	uint8_t *read_buf; /* borrowed; read_len bytes */
};

/* What a run did, for the summary. */
struct dfu_walk_stats {
	size_t bytes_written;	/* data stages of the blocks written (0xFF runs are skipped) */
	size_t pages_erased;	/* page erase commands that succeeded */
	size_t pages_to_erase;	/* what the pre-read left to erase */
	bool mass_erased;	/* one mass erase instead */
	bool read_protected;	/* IDENTIFY found errVENDOR on the probe read */
	bool unprotected;	/* IDENTIFY sent 0x92: the chip wiped itself and resets */
	bool left_confirmed;	/* LEAVE: the device answered dfuMANIFEST */
	size_t bytes_read;	/* READ */
	size_t bytes_verified;	/* VERIFY */
};

/* Caller-embedded; fields are private to dfu_walk*.c. */
struct dfu_walk {
	struct dfu_walk_config cfg;
	enum dfu_walk_next next;
	struct dfuse_op op;
	dfu_walk_fn then;
	bool own_errors; /* then() takes failed operations too */
	bool must_run;	 /* a clean-up (ABORT after a mismatch): runs even when cancelled */
	const char *stage;
	struct cf_failure failure;
	struct dfu_walk_stats stats;
	/* progress of the phase */
	const char *progress_stage;
	size_t progress_done, progress_total;
	/* the span the plan covers: the images and the 0xFF between them */
	uint32_t span_start, span_end;
	/* cursors */
	int region;	   /* WRITE: 0 the bootloader region, 1 the application's */
	uint32_t r_start;  /* the region being walked */
	uint32_t r_end;
	size_t page;	   /* erase cursor */
	uint32_t cursor;   /* next address to look at */
	uint32_t run_start;
	uint16_t block;	   /* next block number of the run */
	bool in_run;	   /* a SET_ADDRESS for run_start holds */
	size_t chunk;	   /* bytes the block in flight covers */
	size_t erase_done; /* bytes of pages erased, for progress */
	/* per planned page */
	uint8_t todo[DFU_PLAN_MAX_PAGES];   /* enum dfu_page_todo */
	bool erased[DFU_PLAN_MAX_PAGES];    /* erased in this run: never twice */
	bool pre_same[DFU_PLAN_MAX_PAGES];  /* pre-read: every byte as erase + write leaves it */
	bool pre_blank[DFU_PLAN_MAX_PAGES]; /* pre-read: every byte 0xFF */
	bool pre_ok;			    /* the pre-read covered every planned page */
	bool boot_verified;		    /* the bootloader region was read back intact */
	uint8_t buf[DFUSE_MAX_XFER];	    /* the block going out */
};

void dfu_walk_init(struct dfu_walk *w, const struct dfu_walk_config *cfg);

/* Phases (dfu_walk.c, dfu_walk_write.c). Each resets failure and progress. */
/* Get idle, probe read protection with an 8-byte read at flash_base; with cfg.unprotect,
 * remove it (stats.unprotected: the chip now resets; the owner waits for it to come back). */
void dfu_walk_begin_identify(struct dfu_walk *w);
/* Read the planned pages, then per region (bootloader, application): erase what needs it,
 * write, and read the bootloader region back; ends in dfuIDLE. */
void dfu_walk_begin_write(struct dfu_walk *w);
/* Read every byte of the span back and compare; ABORT to dfuIDLE either way. */
void dfu_walk_begin_verify(struct dfu_walk *w);
/* SET_ADDRESS(flash_base), zero-length DNLOAD, GETSTATUS: a vanishing device has left. */
void dfu_walk_begin_leave(struct dfu_walk *w);
/* Get idle, read cfg.read_len bytes at cfg.read_address into cfg.read_buf, ABORT. */
void dfu_walk_begin_read(struct dfu_walk *w);

/* The end of op: r borrowed for the call, data the UPLOAD bytes (r->actual of them). */
void dfu_walk_step(struct dfu_walk *w, const struct dfuse_result *r, const uint8_t *data);
/* op failed and the walk does not take that itself: fill failure (stage, the address, what
 * the device answered, the next step) and end the phase. */
void dfu_walk_op_failed(struct dfu_walk *w, const struct dfuse_result *r);

/* The byte the plan leaves at address: an image byte, or 0xFF between and after them. */
uint8_t dfu_walk_target(const struct dfu_walk *w, uint32_t address);

/* Shared by the phase files. */
/* A phase begins: stage for failures, the plan's span, no failure, no progress. */
void dfu_walk_start_phase(struct dfu_walk *w, const char *stage);
void dfu_walk_want(struct dfu_walk *w, enum dfuse_op_kind kind, uint32_t address,
		   uint16_t block, const uint8_t *data, size_t len, dfu_walk_fn then);
void dfu_walk_done(struct dfu_walk *w);
void dfu_walk_fail(struct dfu_walk *w, int code, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void dfu_walk_progress(struct dfu_walk *w, const char *stage, size_t done, size_t total);
/* The name of what holds address in the plan ("full image", "bootloader", "application",
 * or "the gap before the application"). */
const char *dfu_walk_image_at(const struct dfu_walk *w, uint32_t address);

#endif
