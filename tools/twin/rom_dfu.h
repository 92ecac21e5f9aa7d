/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The STM32F042 system-memory DfuSe bootloader as a pure device model (dfu.md §1.5, §2, §5.3). */
#ifndef CARTOFLASH_TOOLS_TWIN_ROM_DFU_H
#define CARTOFLASH_TOOLS_TWIN_ROM_DFU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The model answers USB control transfers on EP0 and works on flash the caller owns. It reads
 * no clock: every call gets the virtual time now_us (monotonic). It allocates nothing.
 *
 * Timing (dfu.md §2.7, F042): page erase 25 ms, program 53.5 us per half-word, mass erase
 * 40 ms, all multiplied by speed (0 = instant, 1 = the datasheet). Like the ROM is believed to,
 * it executes a command after the first GETSTATUS (answered dfuDNBUSY with bwPollTimeout = the
 * operation time) and reports the result on the next GETSTATUS; a GETSTATUS that arrives
 * before the announced bwPollTimeout has passed gets dfuDNBUSY with the remaining time again
 * and is counted (stats.early_polls: a host that does not honour bwPollTimeout shows there).
 *
 * Read unprotect (0x92) and an option-byte write reset the chip by themselves once their
 * busy time is over, whether the host polls or not: rom_dfu_next_event_us says when, and the
 * owner calls rom_dfu_tick then (a host that polls after that time sees the device gone).
 */

#define ROM_DFU_VID	      0x0483
#define ROM_DFU_PID	      0xdf11
#define ROM_DFU_TRANSFER_SIZE 2048
#define ROM_DFU_MAX_PAGES     256
#define ROM_DFU_OPTION_BASE   0x1FFFF800u
#define ROM_DFU_OPTION_LEN    16
#define ROM_DFU_ALT0_NAME     "@Internal Flash  /0x08000000/032*001Kg"
#define ROM_DFU_ALT1_NAME     "@Option Bytes  /0x1FFFF800/01*016 e"
#define ROM_DFU_SERIAL	      "FFFFFFFEFFFF" /* dfu.md §1.1: every F0 ROM reports this */

/* Faults on demand (dfu.md §5.3). */
enum rom_dfu_fault {
	ROM_DFU_FAULT_RESET_BEFORE_LEAVE_STATUS = 1u << 0, /* leave GETSTATUS never completes */
	ROM_DFU_FAULT_RDP = 1u << 1,			   /* read protection level 1 at start */
	ROM_DFU_FAULT_STALL_WHILE_BUSY = 1u << 2, /* L4: short bwPollTimeout, STALL if early */
	ROM_DFU_FAULT_SLOW_ERASE = 1u << 3,	  /* erase takes 10x its bwPollTimeout */
	ROM_DFU_FAULT_VANISH_MID_WRITE = 1u << 4, /* gone after vanish_after_blocks writes */
	ROM_DFU_FAULT_WRP = 1u << 5, /* page wrp_page write-protected: erase and program do
				      * nothing and report no error (dfu.md §2.8) */
	ROM_DFU_FAULT_VANISH_MID_ERASE = 1u << 6, /* gone at the erase command that follows
						   * vanish_after_erases page erases */
	ROM_DFU_FAULT_FLIP = 1u << 7, /* the cell at flip_address does not program its lowest
				       * 0 bit: it reads back 1, and no status says so */
};

struct rom_dfu_config {
	uint8_t *flash; /* caller's flash bytes, erased = 0xFF; borrowed for the model's life */
	size_t flash_size;
	uint32_t flash_base; /* 0x08000000 */
	uint32_t page_size;  /* 1024 on F042 */
	double speed;	     /* 0 .. 1 */
	unsigned faults;     /* enum rom_dfu_fault bits */
	unsigned vanish_after_blocks;
	unsigned vanish_after_erases;
	unsigned wrp_page;
	uint32_t flip_address;
	/* Read unprotect: mass erase of flash and RAM until the reset, in us before speed
	 * (0: the datasheet's 40 ms mass erase). A slow reset is a larger figure. */
	uint64_t unprotect_us;
	/* Called after flash bytes changed (offset from flash_base); may be NULL. */
	void (*flash_changed)(void *ctx, uint32_t offset, size_t len);
	void *ctx;
};

/* Outcome of one control transfer, as the host's URB sees it. */
enum rom_dfu_xfer {
	ROM_DFU_XFER_OK,    /* completed; *len bytes of data stage */
	ROM_DFU_XFER_STALL, /* EP0 STALL: the host sees -EPIPE */
	ROM_DFU_XFER_GONE,  /* the device reset/disconnected during or before this transfer */
};

struct rom_dfu_stats {
	uint32_t page_erases[ROM_DFU_MAX_PAGES]; /* erase count per page */
	uint32_t erase_commands;		 /* page erases, in order */
	uint32_t mass_erases;
	uint32_t blocks_written;
	uint32_t prog_errors; /* half-words refused by the F0 "target not erased" rule */
	uint32_t getstatus;
	uint32_t clrstatus_outside_error;
	/* design.md rule 5 as seen from the chip: application blocks (>= base + 8 KiB) written
	 * while the bootloader region had been written and not read back since. */
	uint32_t app_writes_before_boot_read;
	/* The same for application page erases: issue #15, the bootloader pages are erased,
	 * written and read back before any application page is erased. */
	uint32_t app_erases_before_boot_read;
	/* GETSTATUS while busy before the bwPollTimeout announced last had passed (dfu.md §1.3). */
	uint32_t early_polls;
	uint32_t max_poll_ms; /* the longest bwPollTimeout announced */
};

struct rom_dfu {
	struct rom_dfu_config cfg;
	uint8_t state;	/* enum dfu_state */
	uint8_t status; /* enum dfu_status */
	uint8_t alt;
	bool rdp;
	bool gone;
	bool left;		/* DfuSe leave or reset happened */
	bool reset;		/* it was a chip reset (unprotect, option bytes), not a leave */
	uint32_t jump_address;	/* where the leave jumped (the address pointer) */
	uint32_t pointer;	/* DfuSe address pointer, 0x08000000 after boot (dfu.md §2.2) */
	bool pending;		/* a DNLOAD waits for its first GETSTATUS */
	uint16_t pending_block; /* 0 command, >= 2 data */
	size_t pending_len;
	uint8_t pending_data[ROM_DFU_TRANSFER_SIZE];
	uint64_t busy_until_us;
	uint8_t result_status; /* status the GETSTATUS after the busy time reports */
	bool reset_after_busy; /* option-byte write, read unprotect: reset instead of a status */
	uint64_t poll_due_us;  /* the host may poll again from here (last answer + bwPollTimeout) */
	uint8_t option_bytes[ROM_DFU_OPTION_LEN];
	bool boot_unread; /* bootloader region erased or written since last read to its end */
	struct rom_dfu_stats stats;
};

/* Start in dfuIDLE as after a reset with BOOT0 high. cfg is copied. */
void rom_dfu_init(struct rom_dfu *d, const struct rom_dfu_config *cfg);
/* A reset with BOOT0 still high: back in dfuIDLE, pointer 0x08000000; flash, option bytes
 * (read protection) and stats are kept. */
void rom_dfu_reset(struct rom_dfu *d);

/*
 * One control transfer. setup = the 8 SETUP bytes; data = the data stage (OUT: wLength bytes
 * from the host; IN: room for wLength bytes). *len receives the data-stage length moved.
 * Answers standard requests (descriptors, configuration) and the DFU class requests.
 */
enum rom_dfu_xfer rom_dfu_control(struct rom_dfu *d, const uint8_t setup[8], uint8_t *data,
				  size_t *len, uint64_t now_us);

/*
 * When the chip resets by itself (the end of a read unprotect or option-byte write), in the
 * now_us time base; UINT64_MAX when nothing is pending. rom_dfu_tick at or after that time
 * applies it: the device is gone (gone, left and reset set) until rom_dfu_reset.
 */
uint64_t rom_dfu_next_event_us(const struct rom_dfu *d);
void rom_dfu_tick(struct rom_dfu *d, uint64_t now_us);

/* SET_INTERFACE (arrives as a usbdevfs ioctl, not a control URB). Returns false: no such alt. */
bool rom_dfu_set_alt(struct rom_dfu *d, unsigned alt);

/* Device + configuration descriptors as sysfs `descriptors` holds them; returns the length
 * (0 when cap is too small). */
size_t rom_dfu_descriptors(uint8_t *out, size_t cap);

#endif
