/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin's USB CDC-ACM stand-in: a pty whose slave is published under a stable link path. */
#ifndef CARTOFLASH_TOOLS_TWIN_PTY_H
#define CARTOFLASH_TOOLS_TWIN_PTY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct twin_pty {
	int master;	     /* -1 when closed */
	char slave[64];	     /* "/dev/pts/7" */
	char link[PATH_MAX]; /* the path hosts open ("/tmp/x/ttyACM0"), a symlink to slave */
	bool slave_open;     /* some host process holds the slave open (DTR up) */
	uint32_t baud;	     /* last rate the host set */
};

/* Create a pty (raw, non-blocking master) for link. 0 or -errno. */
int twin_pty_open(struct twin_pty *p, const char *link);
/* Atomically point the link at the slave: the last step, as udev adds /dev links last. */
int twin_pty_publish(struct twin_pty *p);
/* Remove the link and close the master: hosts holding the slave see a hang-up. NULL-safe. */
void twin_pty_close(struct twin_pty *p);
/* Sample the slave's open state and rate; true when the open state changed. Never blocks. */
bool twin_pty_check(struct twin_pty *p, uint32_t *baud);
/* Non-blocking I/O on the master: bytes moved (0 when none), or -1 with errno. */
ssize_t twin_pty_read(struct twin_pty *p, uint8_t *buf, size_t cap);
ssize_t twin_pty_write(struct twin_pty *p, const uint8_t *buf, size_t len);

#endif
