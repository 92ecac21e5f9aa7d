/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The "katapult" updater backend over a tty: USB CDC-ACM (Cartographer, Klipper) or a UART. */
#ifndef CARTOFLASH_SRC_KATAPULT_SERIAL_H
#define CARTOFLASH_SRC_KATAPULT_SERIAL_H

#include "updater.h"

/*
 * updater_ops for a Katapult device behind a serial port. cfg->target.tty names it: a device
 * node or link resolved by the caller ("/dev/ttyACM0"), "auto" (the one probe-like USB tty in
 * sysfs), or "PATH@BAUD" for a UART. cfg->target.mode = DEVICE_MODE_APPLICATION on a UART asks
 * for the serial bootloader request first (--request-bootloader); USB devices are classified
 * from sysfs (sysfs_root(): /sys, or CARTOFLASH_SYSFS_ROOT in tests) whatever mode says.
 *
 *   identify     USB 1d50:614e (Klipper, Cartographer): refuse a port another process holds,
 *                1200-baud touch, follow the same port and serial until it is 1d50:6177
 *                (opts.timeout_us, default 10 s), then the Katapult tty. USB Katapult: at once.
 *                ROM DFU 0483:df11: refused, pointing to `cartoflash recover`. Anything else:
 *                refused, naming it. Then open (flock), prime (katapult.md §3.4), CONNECT;
 *                fills the identity (UID, CAN UUID, port, tty, MCU, versions).
 *   check_image  the engine's refusal rules against CONNECT (a dry-run session: nothing written)
 *   write        the engine's flash session: safe order, EOF, read-back of every block
 *   verify       after write: its result; alone: read back and compare
 *   finish       COMPLETE (unless opts.no_reboot); on USB, wait until the same port shows the
 *                application with the same serial again
 *   cancel       stop after the command in flight; the device stays in Katapult
 */
extern const struct updater_ops katapult_serial_ops;

#define KATAPULT_SERIAL_ENTER_US   10000000u /* default wait for Katapult after the touch */
#define KATAPULT_SERIAL_CONFIRM_US 5000000u  /* application must re-appear after COMPLETE */
#define KATAPULT_SERIAL_POLL_US	   20000u    /* sysfs look period while a port re-enumerates */
/* katapult.md §3.6: flashtool waits 1 s after the UART request; a CONNECT sent into the reset
 * could reach Katapult cut in half and wedge its parser (§1.7), so there is nothing to poll. */
#define KATAPULT_SERIAL_UART_SETTLE_US 1000000u

#endif
