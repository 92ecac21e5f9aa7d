/* SPDX-License-Identifier: GPL-3.0-or-later */
/* USB<->CAN switch through a deployer (katapult.md §4, images.md §6): R4 request and the report. */
#ifndef CARTOFLASH_SRC_KATAPULT_IFACE_SWITCH_H
#define CARTOFLASH_SRC_KATAPULT_IFACE_SWITCH_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/image.h"
#include "updater.h"

/* The interface --switch-to asks for, as image_target.switch_to wants it (UNKNOWN for NONE). */
enum image_iface iface_switch_target(enum updater_switch s);

/* "can", "usb" -> *out; false (and *out untouched) for anything else. */
bool iface_switch_from_name(const char *name, enum updater_switch *out);

/* img is a deployer: once started it rewrites the bootloader and stays in Katapult, so the
 * application never answers after it (katapult.md §4). False for NULL. */
bool iface_switch_is_deployer(const struct image_info *img);

/*
 * The table line after a deployer was written and started: done (what was written, may be
 * empty) plus where the probe comes back, e.g. "image written, 94 blocks verified; deployer
 * started: back as CAN Katapult at 1000000 bit/s, UUID e0ef270ca188". id is the identity the
 * backend collected (tty set = it came over a tty, else over CAN).
 */
void iface_switch_summary(const struct image_info *img, const struct device_identity *id,
			  const char *done, char *buf, size_t cap);

#define IFACE_SWITCH_LINES    5
#define IFACE_SWITCH_LINE_MAX 320

/*
 * The guidance after a deployer was written (started = COMPLETE was sent; false with
 * --no-reboot): the bootloader rewrite and its power-loss risk, the interface, bitrate and
 * identity the probe comes back with, the next command and the printer.cfg line. Fills up to
 * IFACE_SWITCH_LINES lines; returns how many.
 */
size_t iface_switch_report(const struct image_info *img, const struct device_identity *id,
			   bool started, char lines[][IFACE_SWITCH_LINE_MAX], size_t max);

#endif
