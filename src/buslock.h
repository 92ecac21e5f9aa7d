/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Cross-process locks per CAN interface and per USB port: two runs never meet on one bus. */
#ifndef CARTOFLASH_SRC_BUSLOCK_H
#define CARTOFLASH_SRC_BUSLOCK_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct cf_failure;
struct buslock;

/*
 * Two cartoflash runs on one bus wedge what they share: a scan clears the Katapult node ids a
 * flash is using, two flashes of one probe interleave their frames and wedge its parser
 * (katapult.md §1.7). Every run therefore holds an flock(2) per bus it touches, named
 *   "can:IFACE"   a CAN interface ("can:can0", "can:sim:/tmp/bus")
 *   "usb:PORT"    a USB port as sysfs names it ("usb:1-1.3"): survives re-enumeration
 *   "tty:PATH"    a tty that is not on USB (a UART)
 * in a file per name under buslock_dir(). The kernel drops a lock when its process ends, so
 * a killed run never leaves a bus locked. Lock files stay (removing one races a waiter).
 * Within one process a name is held once and counted: the CAN mux locks each bus it opens
 * (without waiting), a run that locked its buses up front (waiting) shares those locks.
 */
#define BUSLOCK_NAME_MAX 128
#define BUSLOCK_MAX	 32
#define BUSLOCK_WAIT_US	 10000000u /* default wait for a busy bus: then refuse (exit 75) */

/* CARTOFLASH_LOCK_DIR when set (tests), else /run/lock when writable, else /tmp. Borrowed. */
const char *buslock_dir(void);

/*
 * Take every named lock, all or none (sorted, so two runs taking overlapping sets cannot
 * deadlock). A busy name is retried every 50 ms on loop timers until wait_us passed (0: try
 * once), then CF_ERR_BUSY with why naming the bus and the run holding it ("cartoflash flash,
 * pid 812, for 4 s") and the next step. verb ("status", "flash" …; NULL: this process's
 * argv[1]) is written into the lock file for that message. Duplicates are fine. A lock file
 * that cannot be created (no writable directory) is warned about and skipped. Returns 0 and
 * *out (release with buslock_release), CF_ERR_BUSY, CF_ERR_INTERRUPTED when a signal stopped
 * the wait.
 */
int buslock_acquire(struct loop *loop, const char *const *names, size_t count, uint64_t wait_us,
		    const char *verb, struct buslock **out, struct cf_failure *why);
/* NULL-safe. */
void buslock_release(struct buslock *l);

/* The file that holds name's lock, written into buf (tests, messages). */
void buslock_path(const char *name, char *buf, size_t cap);

#endif
