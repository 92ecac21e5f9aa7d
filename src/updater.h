/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The backend contract: Katapult and DFU updaters behind one interface (design.md, style.md §2.2). */
#ifndef CARTOFLASH_SRC_UPDATER_H
#define CARTOFLASH_SRC_UPDATER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct updater;
struct cf_failure;

/* Where a probe is right now. */
enum device_mode {
	DEVICE_MODE_UNKNOWN,
	DEVICE_MODE_APPLICATION, /* Klipper-derived application (Cartographer) */
	DEVICE_MODE_KATAPULT,	 /* Katapult bootloader */
	DEVICE_MODE_ROM_DFU,	 /* STM32 system-memory DFU bootloader, 0483:df11 */
};

/*
 * Identity (design.md): one record ties a probe's chip UID, CAN UUID, USB port path and mode,
 * so the tool follows one probe across reboots, re-enumeration and a USB<->CAN switch.
 * Empty strings / 0 mean "not known".
 */
struct device_identity {
	char uid_hex[25];  /* chip UID = USB serial, 24 upper-case hex digits */
	char can_uuid[13]; /* "e0ef270ca188" */
	char usb_path[32]; /* sysfs port name "1-1.3" */
	char tty[64];	   /* "/dev/ttyACM0" */
	char iface[64];	   /* "can0", "sim:/tmp/bus" */
	int node_id;	   /* CAN node id in use, -1 none */
	enum device_mode mode;
	/* Bootloader facts (Katapult CONNECT, or DfuSe layout). */
	char mcu[32];
	uint32_t protocol_version; /* Katapult 0x00010000 = 1.0.0 */
	char bootloader_version[64];
	uint32_t app_start;
	uint32_t block_size;
	uint32_t flash_size;  /* from the DfuSe layout, or implied by the MCU */
	uint32_t bus_bitrate; /* CAN interface bitrate, 0 unknown */
};

/* What a step tells the layer above while it runs (progress bars, --json events). */
struct updater_events {
	void *ctx;
	/* stage: "connect", "write", "verify" ...; done/total in bytes (total 0 = unknown). */
	void (*progress)(void *ctx, struct updater *u, const char *stage, size_t done, size_t total);
	/* A step finished: err is 0 or a negative cf_err with details in updater_failure(u). */
	void (*step_done)(void *ctx, struct updater *u, int err);
};

enum updater_step {
	UPDATER_IDENTIFY,    /* find the device, get it into its bootloader, connect */
	UPDATER_CHECK_IMAGE, /* refusal rules R1-R6 against the identity; writes nothing */
	UPDATER_WRITE,
	UPDATER_VERIFY,
	UPDATER_FINISH, /* leave the bootloader and confirm the application came back */
};

/*
 * Each op starts its step and returns at once: 0 when started (the end is reported through
 * events.step_done from the backend's own loop sources and timers), or a negative cf_err when
 * it could not start. No op blocks or sleeps. Ops the backend does not offer may be NULL.
 */
struct updater_ops {
	const char *name; /* "katapult", "dfu" */
	size_t priv_size;
	int (*identify)(struct updater *u);
	int (*check_image)(struct updater *u);
	int (*write)(struct updater *u);
	int (*verify)(struct updater *u);
	int (*finish)(struct updater *u);
	/* Stop at the next safe point (never mid-frame); reports CF_ERR_INTERRUPTED. */
	void (*cancel)(struct updater *u);
	void (*release)(struct updater *u);
};

#endif
