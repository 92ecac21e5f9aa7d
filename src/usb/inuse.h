/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Which other process holds a device node open, named the way a user can act on it. */
#ifndef CARTOFLASH_SRC_USB_INUSE_H
#define CARTOFLASH_SRC_USB_INUSE_H

#include <stddef.h>
#include <sys/types.h>

struct cf_failure;

/* One process that has the node open (katapult.md §3.2 validate_device). */
struct inuse_holder {
	pid_t pid;
	char unit[128];	   /* systemd unit from /proc/<pid>/cgroup ("klipper.service"), or "" */
	char cmdline[192]; /* /proc/<pid>/cmdline with spaces, or /proc/<pid>/exe, or "" */
};

/*
 * Scan /proc/<pid>/fd/<n> for descriptors on the same file as path (same st_dev and st_ino,
 * or the same st_rdev for a character device). The calling process is skipped. Fills at most
 * max holders and sets *count to the number found. Returns 0, CF_ERR_NO_DEVICE when path
 * cannot be stat'ed, or CF_ERR_ACCESS when stat is denied. Processes whose fds we may not
 * read are skipped silently (they belong to other users; flock still catches them). Blocks
 * only on procfs reads.
 */
int inuse_find(const char *path, struct inuse_holder *out, size_t max, size_t *count);

/* Fill h (pid, systemd unit, command line) for one process, as inuse_find fills its holders
 * (the Klipper API socket's owner is named this way). 0, or CF_ERR_NO_DEVICE when it is gone. */
int inuse_describe_pid(pid_t pid, struct inuse_holder *h);

/*
 * Name the holder for a message: "pid 812 (systemd unit klipper.service)" or
 * "pid 812 (python3 klippy.py ...)". Writes a NUL-terminated string into buf.
 */
void inuse_describe(const struct inuse_holder *h, char *buf, size_t cap);

/*
 * The systemd unit in /proc/<pid>/cgroup text, as `systemctl status <pid>` names it: the leaf
 * of a cgroup path when it ends in ".service" (v2 "0::/system.slice/klipper.service", or a v1
 * "N:name=systemd:/..." line). "" for a ".scope" (login session, terminal app) or no systemd.
 */
void inuse_unit_from_cgroup(const char *cgroup, char *unit, size_t cap);

/*
 * Refuse a port another process holds (katapult.md §3.2): CF_ERR_BUSY with why filled (stage
 * as given, the holder named, how to stop it), or 0 when nobody else holds it or path cannot
 * be stat'ed (the open that follows reports that with its errno).
 */
int inuse_check(const char *path, const char *stage, struct cf_failure *why);

#endif
