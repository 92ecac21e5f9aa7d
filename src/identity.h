/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Identity (design.md): one record per probe, its link kind, its mode, and the names we give it. */
#ifndef CARTOFLASH_SRC_IDENTITY_H
#define CARTOFLASH_SRC_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a probe is right now. */
enum device_mode {
	DEVICE_MODE_UNKNOWN,
	DEVICE_MODE_APPLICATION, /* Klipper-derived application (Cartographer) */
	DEVICE_MODE_KATAPULT,	 /* Katapult bootloader */
	DEVICE_MODE_ROM_DFU,	 /* STM32 system-memory DFU bootloader, 0483:df11 */
};

/* How the tool reaches the probe: said once by whoever names it, never guessed from which
 * strings happen to be filled. */
enum identity_link {
	IDENTITY_LINK_NONE,    /* not named yet */
	IDENTITY_LINK_CAN,     /* iface + can_uuid: a node on a CAN bus */
	IDENTITY_LINK_TTY,     /* tty: USB CDC-ACM (usb_path filled once seen) or a UART */
	IDENTITY_LINK_USB_DFU, /* usb_path: the ROM DFU bootloader through libusb */
};

/*
 * One record ties a probe's chip UID, CAN UUID, USB port path and mode, so the tool follows one
 * probe across reboots, re-enumeration and a USB<->CAN switch. Empty strings / 0 mean "not
 * known". Fill uid_hex through identity_set_uid so the CAN UUID is derived in one place.
 */
struct device_identity {
	enum identity_link link;
	char uid_hex[25];  /* chip UID = USB serial, 24 upper-case hex digits */
	char can_uuid[13]; /* "e0ef270ca188" */
	char usb_path[32]; /* sysfs port name "1-1.3" */
	char tty[64];	   /* "/dev/ttyACM0" */
	char iface[64];	   /* "can0", "sim:/tmp/bus" */
	int node_id;	   /* CAN node id in use, -1 none */
	bool uart;	   /* a tty that sysfs does not place on USB */
	uint32_t baud;	   /* UART rate (--baud), 0 = the default */
	enum device_mode mode;
	/* Bootloader facts (Katapult CONNECT, or DfuSe layout). */
	char mcu[32];
	uint32_t protocol_version; /* Katapult 0x00010000 = 1.0.0 */
	char bootloader_version[64];
	uint32_t app_start;
	uint32_t block_size;
	uint32_t flash_size;  /* from the DfuSe layout, or implied by the MCU */
	uint32_t bus_bitrate; /* CAN interface bitrate, 0 unknown */
	/* What the application ran before the run (its identify dictionary), for R8: "" unknown. */
	char app_version[96];
	char app_mcu[32];
	uint32_t app_clock;
};

/* An empty record on link (node_id -1, mode unknown). */
void identity_init(struct device_identity *id, enum identity_link link);

/*
 * The chip UID as the USB serial shows it (katapult.md §3.1): kept in uid_hex, and the CAN UUID
 * derived from it. Returns true when serial is a chip UID (24 hex digits); otherwise the record
 * is left untouched. The ROM DFU serial is not the UID: callers pass it nowhere.
 */
bool identity_set_uid(struct device_identity *id, const char *serial);

/*
 * The one name of a probe in messages and reports, into buf (cap bytes): "probe e0ef270ca188
 * (can0 node 3)", "probe e0ef270ca188 (/dev/ttyACM0)", "usb 1-1.3", "serial /dev/ttyAMA0".
 * Returns buf.
 */
const char *identity_label(const struct device_identity *id, char *buf, size_t cap);

/* Stable token of a mode for JSON and tables: "application", "katapult", "rom_dfu",
 * "unknown". */
const char *device_mode_name(enum device_mode mode);
/* Stable token of a link: "can", "tty", "usb_dfu", "none". */
const char *identity_link_name(enum identity_link link);

#endif
