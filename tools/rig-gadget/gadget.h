/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Rig USB gadgets: one configfs gadget carrying one FunctionFS function, on the rig's dummy UDC. */
#ifndef CARTOFLASH_TOOLS_RIG_GADGET_GADGET_H
#define CARTOFLASH_TOOLS_RIG_GADGET_GADGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * rig.md §5.1, §5.3, §5.4. Used by the rig's device programs (rig-acm, rig-dfu), which run as
 * root inside the rig VM only. The device identity (ids and the three device strings) lives in
 * configfs; the function's descriptors and interface strings are written to ep0 by the program.
 * Closing ep0 unbinds the gadget (pitfall 12): that is how a device "resets" and re-enumerates.
 */

#define GADGET_CONFIGFS "/sys/kernel/config/usb_gadget"

struct gadget_id {
	uint16_t vid, pid, bcd_device;
	const char *manufacturer, *product, *serial; /* borrowed */
};

struct gadget {
	char dir[160]; /* GADGET_CONFIGFS/<name> */
	char ffs[96];  /* FunctionFS mount point, /dev/ffs-<name> */
	char udc[64];  /* the first UDC in /sys/class/udc */
	int ep0;       /* -1 when the function is not started */
};

/*
 * Creates (or reuses) the configfs gadget <name> with function ffs.<name> in configuration c.1,
 * mounts FunctionFS, and sets the identity. 0, or -1 with errno set and a message on stderr.
 * Does not block.
 */
int gadget_setup(struct gadget *g, const char *name, const struct gadget_id *id);

/* Rewrites ids and device strings; only while unbound. 0 or -1. */
int gadget_set_id(struct gadget *g, const struct gadget_id *id);

/*
 * Opens ep0 and writes the descriptor and string blobs (FunctionFS formats), then binds the
 * gadget to the UDC, so the host enumerates it. 0 or -1 (EINVAL from the descriptor write means
 * this kernel refuses a descriptor: rig.md pitfall 9).
 */
int gadget_start(struct gadget *g, const void *descs, size_t descs_len, const void *strs,
		 size_t strs_len);

/* Opens endpoint file epN (1-based, in descriptor order) with flags (O_RDWR...). fd or -1. */
int gadget_ep_open(const struct gadget *g, int n, int flags);

/* Closes ep0, which unbinds the gadget: the host sees the device leave. NULL-safe. */
void gadget_stop(struct gadget *g);

/* Stops and removes the configfs gadget and the FunctionFS mount. NULL-safe. */
void gadget_teardown(struct gadget *g);

/*
 * ep0 conventions (rig.md §5.4): answer an IN request with data, acknowledge an OUT request
 * without data, read an OUT request's data stage, or stall. Each returns 0 or -1.
 */
int gadget_ep0_reply(const struct gadget *g, const void *data, size_t len);
int gadget_ep0_ack(const struct gadget *g);
int gadget_ep0_read(const struct gadget *g, void *buf, size_t len);
int gadget_ep0_stall(const struct gadget *g, bool dir_in);

/*
 * Fills buf with a FunctionFS V2 descriptor blob: header, then the full-speed and high-speed
 * sets (each a concatenation of descriptors, fs_count / hs_count of them). flags are added to
 * HAS_FS_DESC | HAS_HS_DESC. Returns the length, or 0 when cap is too small.
 */
size_t gadget_build_descs(uint8_t *buf, size_t cap, uint32_t flags, const uint8_t *fs,
			  size_t fs_len, uint32_t fs_count, const uint8_t *hs, size_t hs_len,
			  uint32_t hs_count);

/* Fills buf with a FunctionFS string blob: language 0x0409, count strings. Length or 0. */
size_t gadget_build_strings(uint8_t *buf, size_t cap, const char *const *strs, uint32_t count);

#endif
