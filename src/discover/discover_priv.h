/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared by the files of src/discover only: one run's state and the per-source jobs. */
#ifndef CARTOFLASH_SRC_DISCOVER_DISCOVER_PRIV_H
#define CARTOFLASH_SRC_DISCOVER_DISCOVER_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "discover/discover.h"
#include "klipper_config.h"

struct can_job;
struct usb_job;
struct updater;

/* One discover_run. Jobs refer to rows by index: the row array grows while they run. */
struct dsc {
	struct loop *loop;
	const struct discover_opts *o;
	struct discover_result *r;
	uint64_t end_us;     /* identify sessions give up by then */
	int pending;	     /* jobs still running */
	struct klipper_config cfg;
	struct can_job *can[DISCOVER_MAX_BUSES];
	struct usb_job *usb;
};

/* Append a zeroed row (node_id -1); its index in *row. 0 or CF_ERR_NOMEM. */
int discover_add(struct discover_result *r, size_t *row);
/* The row of a CAN UUID on any bus, or of a USB serial, or NULL. */
struct discover_probe *discover_find_uuid(struct discover_result *r, const char *uuid);

/* Start asking bus r->buses[bus]; d->pending stays raised until it is done. */
void discover_can_start(struct dsc *d, size_t bus);
/* Free what the job holds (identify sessions, the mux, its lock). NULL-safe. */
void discover_can_free(struct can_job *j);

/* Start the USB sources (sysfs rows, identify / CONNECT of free ttys). */
void discover_usb_start(struct dsc *d);
void discover_usb_free(struct usb_job *j);
/* ROM DFU devices through libusb (short synchronous descriptor reads). */
void discover_usb_dfu(struct dsc *d);

/* Fill the Katapult facts of row p from a finished CONNECT session u (err its end), or say in
 * its note that CONNECT did not answer. */
void discover_set_katapult(struct discover_probe *p, struct updater *u, int err);
/* Fill the firmware facts of row p from dictionary facts d (mode application). */
void discover_set_app(struct discover_probe *p, const struct appdict *d, enum discover_source s);

#endif
