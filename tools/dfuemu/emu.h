/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dfuemu's state: the emulated ROM DFU devices, and what its three parts share. */
#ifndef CARTOFLASH_TOOLS_DFUEMU_EMU_H
#define CARTOFLASH_TOOLS_DFUEMU_EMU_H

#include <linux/usbdevice_fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>
#include <umockdev.h>

#include "tools/twin/rom_dfu.h"

#define MAX_DEVICES	4
#define F042_FLASH_SIZE 32768
#define F042_PAGE_SIZE	1024
#define REPLUG_MS	300 /* USB re-enumeration after a chip reset, once the old one is gone */
#define STALE_MS	300 /* a device gone from the bus stays listed this long (sysfs, libusb) */
#define URB_SIZE	sizeof(struct usbdevfs_urb) /* 56 on x86-64 (dfu.md §5.2) */

struct emu_device {
	int index; /* 1-based; USB path "1-<index>", devnum index + 1 */
	char devnode[64];
	char syspath[128];
	uint8_t flash[F042_FLASH_SIZE];
	struct rom_dfu model;
	UMockdevIoctlBase *handler;
	bool disconnected; /* every ioctl after the pending reaps answers ENODEV */
	bool removal_scheduled;
	guint reset_timer; /* the model resets by itself (read unprotect) */
	unsigned generation; /* re-enumerations: each gets a new device number, as on a bus */
};

struct emu {
	UMockdevTestbed *testbed;
	GMainLoop *main_loop;
	struct emu_device dev[MAX_DEVICES];
	int count;
	int child_status;
	const char *flash_in;
	const char *flash_out;
	const char *stats_file;
	double speed;
	unsigned faults;
	unsigned vanish_after;
	unsigned vanish_after_erases;
	unsigned wrp_page;
	uint32_t flip_address;
	unsigned stale_ms;     /* gone devices stay listed this long */
	unsigned replug_ms;    /* a reset ROM comes back this long after it left the list */
	unsigned unprotect_ms; /* 0x92: mass erase until the reset (0: the datasheet's) */
	bool reenumerating;    /* --fault reenumerating: listed but gone at the start */
	GMutex lock;	       /* the models: the ioctl handler and the main loop's timers */
	bool deny_access;	    /* --fault access: the device node cannot be opened */
	const char *reappear;	    /* "katapult" or "app": what comes back after the leave */
	const char *uid;	    /* its USB serial (chip UID hex) */
	unsigned appear_after_ms;   /* plug the devices in only after this long */
	UMockdevIoctlBase *handler; /* one for all devices */
	const char *then_twin;	    /* after the leave: run the twin on the written flash */
	GPid twin_pid;
	char *twin_flash;
};

extern struct emu emu;

/* usbfs.c: the usbdevfs ioctl handler (dfu.md §5.3) and the device lifecycle it drives. */
gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
		      gpointer user_data);
/* The device leaves the bus: pending reaps answer, then ENODEV; listed STALE_MS more. */
void disconnect(struct emu_device *d);
/* Stop the twin --then-twin started, if it runs. */
void stop_twin(void);

/* testbed.c: devices in umockdev's testbed, and the results written at the end. */
bool add_device(struct emu_device *d);
void init_device(struct emu_device *d, int index);
int save_flash(const struct emu_device *d);
void write_stats(FILE *out, const struct emu_device *d);

#endif
