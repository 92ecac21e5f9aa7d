/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The probe twin: an in-process software Cartographer probe (STM32F042 or G431) on a virtual clock. */
#ifndef CARTOFLASH_TOOLS_TWIN_TWIN_H
#define CARTOFLASH_TOOLS_TWIN_TWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/canbus.h"
#include "protocol/mcu.h"

/*
 * Model (spec/katapult.md, spec/images.md, design.md "tools/"):
 * - Flash checks are Katapult's, quarter ranges included (katapult.md §1.6): a page start
 *   tests its first quarter for "erased", bytes 64..64+(P-64)/4 for "retransmit", another block
 *   its first 16 bytes; programming goes unit by unit (F0 half-word, G4 double word) and a
 *   unit that is not erased stays as it was unless the new value is zero.
 * - The geometry comes from the MCU's row in protocol/mcu.c at run time (config.mcu; default
 *   the F042 of v2/v3 probes: 32 KiB flash at TWIN_FLASH_BASE in 1 KiB pages, erased = 0xFF;
 *   the G431 of v4: 128 KiB in 2 KiB pages). Katapult lives in the row's first katapult_size
 *   bytes, the application behind it. Writes follow Katapult's stm32/flash.c rules.
 * - What is installed decides what the twin speaks: the Katapult image in the bootloader region
 *   decides Katapult's interface (USB descriptor 1d50:6177 present -> USB, else CAN at the
 *   bitrate of images.md §5), its protocol (a "v1.2.3-..." version string -> 1.1.0 with that
 *   string, else 1.0.0 as Cartographer ships it) and its MCU string; the application's embedded
 *   dictionary decides the application's interface and CAN bitrate (RESERVE_PINS_CAN /
 *   CANBUS_FREQUENCY) and is what identify returns. An application without dictionary that
 *   embeds a Katapult is a deployer (katapult.md §4).
 * - Nothing reads a real clock: every call takes now_us (monotonic, microseconds) and must be
 *   called with non-decreasing times. Work the twin schedules (reply after a page erase, the
 *   100 ms COMPLETE delay, the double-reset window) happens in twin_advance.
 * - A CAN twin on a bus of another bitrate neither sees nor sends frames (katapult.md §2.5).
 * All functions are non-blocking. The twin prints only through config.log, except the loud
 * stderr warning of a write past the end of flash (the real probe hangs there).
 */

#define TWIN_FLASH_BASE 0x08000000u
/* Application start behind the 8 KiB Katapult of every probe row (katapult.md §9); the twin
 * itself uses its row's katapult_size. */
#define TWIN_APP_START	0x08002000u
#define TWIN_BLOCK_SIZE 64u /* Katapult BLOCK_SIZE */

struct twin;

enum twin_mode {
	TWIN_MODE_OFF,	    /* no power */
	TWIN_MODE_BOOTING,  /* between reset and the application: the 0.5 s double-reset window */
	TWIN_MODE_APP,	    /* Klipper-derived Cartographer application */
	TWIN_MODE_DEPLOYER, /* deployer application rewriting the bootloader region */
	TWIN_MODE_KATAPULT, /* Katapult bootloader */
	TWIN_MODE_ROM_DFU,  /* STM32 system memory DfuSe bootloader (BOOT0 or F04x empty check) */
	TWIN_MODE_HALTED,   /* deployer halted forever after a write error (katapult.md §4) */
	TWIN_MODE_HUNG,	    /* broken code, reset loop, wrote past the end */
};

enum twin_iface {
	TWIN_IFACE_NONE,
	TWIN_IFACE_CAN,
	TWIN_IFACE_USB,	 /* USB CDC-ACM: the byte side (twin_serial_*) */
	TWIN_IFACE_UART, /* a UART: the same byte side, no USB device (twin_config.uart) */
};

struct twin_config {
	const char *mcu;	 /* MCU string of a probe row of protocol/mcu.c; NULL: the default
				  * (stm32f042x6). twin_new fails for an MCU that is no probe row */
	uint8_t uid[12];	 /* STM32 96-bit chip UID: USB serial and CAN UUID come from it */
	double speed;		 /* 0 = instant (tests) .. 1 = real time (benchmarks) */
	uint32_t bus_bitrate;	 /* bitrate of the CAN bus the twin sits on; 0 = 1000000 */
	const char *flash_file;	 /* borrowed; NULL: memory only; loaded if present */
	bool wire_time;		 /* model CAN wire time of the twin's frames (in-process;
				  * leave false behind simbus, which models it) */
	bool no_double_reset;	 /* Katapult built without CONFIG_ENABLE_DOUBLE_RESET */
	bool uart;		 /* the byte side is a UART wire (katapult.md §3.6): Katapult speaks
				  * on it, an application built for a UART too, nothing is on USB */
	uint32_t katapult_proto; /* 0: from the image (version string -> 1.1.0, else 1.0.0);
				  * 0x00010100 without a version string gives the 1.1.0 reply
				  * with an empty version (Arksine/katapult#159) */
	/* Optional sink for the twin's own log lines (one line, no newline); NULL drops them
	 * (a write past the end of flash still goes to stderr). */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
};

/* Faults on demand. Frame counts are 1-based and count from the twin_set_faults call;
 * 0 disables a fault. On the CAN side a "frame" is a CAN frame addressed to this twin (admin
 * or its node id); on the byte side it is the part of one twin_serial_receive call the device
 * accepted (rx) or one complete reply (tx). delay_us applies to delay_rx and delay_tx. */
struct twin_faults {
	uint32_t drop_rx;    /* drop the Nth host->device frame */
	uint32_t corrupt_rx; /* flip bit 0 of the last data byte of the Nth host->device frame */
	uint32_t drop_tx;    /* drop the Nth device->host frame */
	uint32_t corrupt_tx; /* flip bit 0 of the last data byte of the Nth device->host frame */
	uint32_t delay_rx;   /* deliver the Nth host->device frame delay_us late */
	uint32_t delay_tx;   /* hold the Nth device->host frame back by delay_us */
	uint32_t slow_block; /* the Nth SEND_BLOCK takes delay_us longer: a late ACK, and the
			      * commands behind it wait in the receive buffer */
	uint64_t late_next_us; /* with slow_block: the reply after the slow one (to the host's
				* resend) is late by this much: a duplicate ACK in a later wait */
	uint32_t drop_rx_after_delay; /* drop the Nth host->device frame after delay_tx or
				       * slow_block fired: a frame lost near a late reply */
	uint64_t delay_us;
	uint32_t power_loss_block; /* lose power half way through programming the Nth SEND_BLOCK */
	uint32_t power_loss_erase; /* lose power half way through the Nth page erase */
	uint32_t corrupt_flash;	   /* flip one bit of the Nth programmed block after Katapult's
				    * compare passed: silent, only a read-back finds it */
	uint32_t busy_replies;	   /* answer the next N Katapult commands with BUSY (0xf3) */
	bool wrong_uuid; /* report a UUID with the last byte inverted (admin, GET_CANBUS_ID) */
	bool wedge;	 /* put the Katapult parser in its wedged state now (§1.7) */
	bool silent;	 /* receive everything, answer nothing */
};

/* What happened, so tests can assert the design rules. Counters only go up (power cycles
 * included) except where noted. */
struct twin_stats {
	uint32_t boots;	     /* resets that ran the boot rules */
	uint32_t app_starts; /* application (or deployer) entered */
	uint32_t katapult_starts;
	uint32_t rom_dfu_starts;
	uint32_t pages_erased;
	uint32_t blocks_written;    /* SEND_BLOCKs that programmed flash */
	uint32_t blocks_retransmit; /* SEND_BLOCKs ignored as identical retransmits */
	uint32_t block_errors;	    /* SEND_BLOCKs answered with command error */
	uint32_t program_errors;    /* units not programmed: not erased (F0 PGERR, G4 PROGERR) */
	uint32_t quarter_misses;    /* page-start checks passed on the tested quarter while the
				     * rest of the range held data (katapult.md §1.6) */
	uint32_t flash_corruptions; /* corrupt_flash faults fired */
	uint32_t wrote_past_end;    /* writes beyond the end of flash (device hangs) */
	uint32_t eof_page_count;    /* Katapult's page counter (reset by a reboot of Katapult) */
	uint32_t nacks;
	uint32_t wedges;    /* times the parser entered the wedged state */
	uint32_t completes; /* COMPLETE commands acknowledged */
	uint32_t busy_sent;
	uint32_t rx_overflow_drops;   /* CAN frames dropped: 192-byte receive buffer full */
	uint32_t tx_overflow_drops;   /* replies not sent: 96-byte CAN transmit buffer full */
	uint32_t power_losses;	      /* injected power losses */
	uint32_t deployer_rewrites;   /* bootloader regions rewritten by a deployer */
	uint32_t bootloader_requests; /* application-side requests (CAN 0x02, 1200 baud) */
	uint32_t usb_enumerations;    /* USB device (re)appearances; changes mean "re-enumerate" */
	bool wedged;		      /* parser currently wedged (not a counter) */
	bool app_shutdown;	      /* application in Klipper shutdown (not a counter) */
};

/* USB identity of what the twin currently presents (katapult.md §3.1). */
struct twin_usb_id {
	uint16_t vid, pid;
	const char *manufacturer; /* borrowed, valid until the next call that changes the mode */
	const char *product;	  /* "" for Cartographer application <= 5.x, the MCU in 6.x */
	const char *serial;	  /* 24 upper-case hex digits of the chip UID */
};

/*
 * Create a twin. Flash is loaded from config->flash_file when that file exists, else blank
 * (0xFF). The twin starts powered off: set up flash, then twin_power_on. Returns NULL on
 * allocation failure or an unreadable flash file. Caller frees with twin_free.
 */
struct twin *twin_new(const struct twin_config *config);
/* NULL-safe. Saves flash to the flash file first. */
void twin_free(struct twin *t);

/* Set initial state: copy bytes into flash as a programmer would (no erase rules, no timing).
 * CF_ERR_USAGE when the range is outside flash. Persisted. */
int twin_flash_write_raw(struct twin *t, uint32_t addr, const uint8_t *data, size_t len);
/*
 * Build a starting state with tools/mkimage images (applied on top of the current flash):
 *   "blank"                               erase everything
 *   "katapult:can[:BITRATE[:VERSION]]"    Katapult only (VERSION given -> protocol 1.1.0)
 *   "katapult:usb[::VERSION]"             ("katapult-only" = "katapult:can:1000000")
 *   "app:can[:BITRATE[:VERSION]]"         Katapult + application of that interface; VERSION is
 *   "app:usb[::VERSION]"                  the dictionary version ("CARTOGRAPHER 5.1.0")
 *   "app-only:IFACE[:BITRATE[:VERSION]]"  the application region alone
 *   "file:ADDR:PATH"                      a raw file at ADDR (real firmware, e.g. 0x08002000)
 * Returns 0, CF_ERR_USAGE for a bad spec, CF_ERR_NOINPUT for an unreadable file.
 */
int twin_init_state(struct twin *t, const char *spec);
/* Erase all flash to 0xFF. */
void twin_flash_erase_all(struct twin *t);
/* Borrowed view of the whole flash (*len = its size), valid until twin_free. */
const uint8_t *twin_flash(const struct twin *t, size_t *len);
/* Writable view for the ROM DFU model (tools/twin/rom_dfu.c); call twin_flash_changed after
 * writing so the change is persisted and the installed images are re-inspected. */
uint8_t *twin_flash_mut(struct twin *t, size_t *len);
void twin_flash_changed(struct twin *t, uint32_t offset, size_t len);
/* Write the flash file now (0, or CF_ERR_IO). No-op without a flash file. */
int twin_flash_save(struct twin *t);

/* Power. Off clears RAM (the request flag) and every buffer; on runs the boot rules. */
void twin_power_on(struct twin *t, uint64_t now_us);
void twin_power_off(struct twin *t, uint64_t now_us);
void twin_power_cycle(struct twin *t, uint64_t now_us);
/* Short the RESET pads: RAM survives, so two resets inside the double-reset window enter
 * Katapult (katapult.md §5). */
void twin_reset(struct twin *t, uint64_t now_us);
/* BOOT0 pad level sampled at reset: high boots the ROM DFU bootloader. */
void twin_set_boot0(struct twin *t, bool high);
/* ROM DFU "leave": jump to 0x08000000 as the DfuSe leave request does (BOOT0 ignored once). */
void twin_rom_dfu_leave(struct twin *t, uint64_t now_us);

/* The MCU row the twin models (its geometry); never NULL. */
const struct mcu_info *twin_mcu(const struct twin *t);

enum twin_mode twin_get_mode(const struct twin *t);
/* Stable lower-case token for a mode ("katapult"); never NULL. */
const char *twin_mode_name(enum twin_mode mode);
/* Interface the running firmware speaks, and its CAN bitrate (0 unless CAN). */
enum twin_iface twin_get_iface(const struct twin *t);
uint32_t twin_get_can_bitrate(const struct twin *t);
/* USB identity presented now; false when no USB device is presented (CAN firmware, off). */
bool twin_get_usb_id(const struct twin *t, struct twin_usb_id *out);
/* katapult.md §5: what Katapult's boot check sees now: the first application word is neither
 * 0 nor 0xFFFFFFFF (a half-written image passes it: power loss then boots garbage). */
bool twin_app_is_valid(const struct twin *t);
/* Why the twin is HUNG/HALTED, or "" otherwise. Borrowed. */
const char *twin_get_reason(const struct twin *t);
const struct twin_stats *twin_get_stats(const struct twin *t);

/* CAN UUID (katapult.md §2.3), wire order, and the USB serial (borrowed, 24 chars + NUL). */
void twin_uuid(const struct twin *t, uint8_t out[6]);
const char *twin_serial(const struct twin *t);

/* ---- CAN side ---- */
/* A frame seen on the bus at now_us (DLC 0..8, standard id). Frames of other nodes and frames
 * that do not fit the 192-byte receive buffer are ignored silently, as the firmware does. */
void twin_can_receive(struct twin *t, const struct canbus_frame *frame, uint64_t now_us);
/* The acceptance filter the modelled firmware has set in its CAN controller now (Klipper's and
 * Katapult's canbus_set_filter): the admin id 0x3F0 always; with an assigned node id n also
 * 0x100 + 2n and its response id + 1 (a frame there is an id conflict, katapult.md §2.2), as
 * one (id, mask) pair. Fills 11-bit ids[i], masks[i]; returns the count, 1 or 2. It changes as
 * soon as the frame or event that assigns or clears the id has been handled. */
size_t twin_can_filter(const struct twin *t, uint32_t ids[2], uint32_t masks[2]);
/* Next frame the twin has put on the bus by now_us: 0 and *out, or CF_ERR_AGAIN. */
int twin_can_pop(struct twin *t, uint64_t now_us, struct canbus_frame *out);

/* ---- USB CDC-ACM byte side ---- */
/* Bytes from the host. Returns how many were accepted: USB flow control holds back what the
 * 128-byte receive buffer cannot take (the caller keeps and resends the rest). */
size_t twin_serial_receive(struct twin *t, const uint8_t *buf, size_t len, uint64_t now_us);
/* Bytes the device has sent by now_us; returns the count copied (0 when none). */
size_t twin_serial_pop(struct twin *t, uint64_t now_us, uint8_t *buf, size_t cap);
/* Line coding / control line change from the host (SET_LINE_CODING, SET_CONTROL_LINE_STATE,
 * close). The application enters the bootloader on baud 1200 with DTR low (§3.3); open=false
 * is a close, which drops DTR. */
void twin_serial_line(struct twin *t, uint32_t baud, bool dtr, bool open, uint64_t now_us);

/* ---- time ---- */
/* Earliest future time (after the last time the twin was given) at which it has something
 * to do or a frame/byte becomes deliverable; UINT64_MAX if none. What is deliverable already
 * is the caller's to pop; a caller that cannot deliver retries on its own timer. */
uint64_t twin_next_event_us(const struct twin *t);
/* Run everything due at or before now_us. */
void twin_advance(struct twin *t, uint64_t now_us);

/* ---- timing model (benchmarks' physical floor) ---- */
/* STM32F042 datasheet figures times the speed factor: one 1 KiB page erase (22 ms at speed 1),
 * and programming bytes as half-words (53.5 us each). */
uint64_t twin_erase_us(const struct twin *t);
uint64_t twin_program_us(const struct twin *t, size_t bytes);

/* ---- faults ---- */
/* Replace the fault set (copied). Frame counters restart at 0. */
void twin_set_faults(struct twin *t, const struct twin_faults *faults);

#endif
