/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Klipper USB-to-CAN bridges, and which figure describes a CAN bus's bitrate (rule R3). */
#ifndef CARTOFLASH_SRC_CAN_CANBRIDGE_H
#define CARTOFLASH_SRC_CAN_CANBRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb/sysfs.h"

/*
 * A Klipper "USB to CAN bus bridge" MCU enumerates as gs_usb 1d50:606f with manufacturer
 * "Klipper" (Klipper src/generic/usb_canbus.c) and appears as canN; it runs the bus at the
 * CANBUS_FREQUENCY it was built with and ignores the bitrate Linux was given (Klipper
 * docs/CANBUS.md). 1d50:606f alone is also candleLight's id, whose host bitrate is real.
 */
struct canbridge_info {
	bool on_usb;	     /* the netdev sits on a USB device */
	bool klipper_bridge; /* 1d50:606f, manufacturer "Klipper" */
	struct sysfs_usb usb;
};

/*
 * Look up iface under root/class/net (root: sysfs_root()). For "sim:PATH" (the simulated bus,
 * a test tool) the netdev name is PATH's base name, so a fixture tree can make a simulated
 * bus a bridge. Returns 0 (out filled; both flags false for a netdev not on USB or absent).
 */
int canbridge_detect(const char *root, const char *iface, struct canbridge_info *out);

/* A node that says what bitrate it runs at: its dictionary's CANBUS_FREQUENCY. */
struct canbridge_witness {
	uint32_t bitrate;
	char who[96]; /* "probe e0ef270ca188 (its dictionary)", "Klipper mcu 'mcu' (the bridge)" */
};

struct canbridge_bitrate {
	uint32_t bitrate;  /* what describes the bus; 0 = unknown */
	char source[320];  /* where the figure came from, for R3's message and status */
	bool conflict;	   /* witnesses disagree: no figure is trusted */
};

/*
 * The bus bitrate R3 compares against. On an ordinary interface: its bitrate (iface_bitrate,
 * 0 when the interface cannot tell). On a Klipper bridge: the first witness (callers list the
 * probe's own dictionary first, then the bridge MCU and the other nodes); never the host
 * figure, which the bridge ignores; witnesses that disagree give 0 with conflict set. Pure.
 */
void canbridge_bus_bitrate(const char *iface, const struct canbridge_info *bridge,
			   uint32_t iface_bitrate, const struct canbridge_witness *w, size_t n,
			   struct canbridge_bitrate *out);

#endif
