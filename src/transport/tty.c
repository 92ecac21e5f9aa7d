// SPDX-License-Identifier: GPL-3.0-or-later
// tty transport: a serial port (USB CDC-ACM or UART) as a raw 8N1 byte stream, locked for us.
#include "transport/transports.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "failure.h"
#include "infile.h"
#include "log.h"
#include "protocol/err.h"
#include "usb/inuse.h"
#include "usb/ttyio.h"

/* katapult.md §3.6: Katapult's UART default; on USB CDC the rate is ignored, and anything but
 * 1200 is safe (§3.3 pitfall: never leave a Klipper tty at 1200). */
#define TTY_DEFAULT_BAUD 250000u
/* Far above one Katapult frame (<= 128 B, katapult.md §1.1): room for a frame behind a frame. */
#define TTY_TX_CAP 1024

struct tty {
	int fd;
	char path[256];
	uint32_t baud;
	uint8_t tx[TTY_TX_CAP]; /* accepted units not yet written: never a partial frame lost */
	size_t tx_head, tx_len;
	uint64_t tx_bytes, rx_bytes;
};

/* "PATH" or "PATH@BAUD". */
static int parse_spec(struct tty *s, const char *spec, struct cf_failure *why)
{
	const char *at = strrchr(spec, '@');
	size_t n = at ? (size_t)(at - spec) : strlen(spec);
	char *end;

	s->baud = TTY_DEFAULT_BAUD;
	if (at) {
		const unsigned long b = strtoul(at + 1, &end, 10);

		if (*end || b == 0 || b > 4000000)
			return cf_failure_set(why, CF_ERR_USAGE, "open", "bad baud rate in '%s'",
					      spec);
		s->baud = (uint32_t)b;
	}
	if (n == 0 || n >= sizeof(s->path))
		return cf_failure_set(why, CF_ERR_USAGE, "open", "'%s' is not a tty path", spec);
	memcpy(s->path, spec, n);
	s->path[n] = '\0';
	return CF_OK;
}

static int not_a_tty(const char *path, const char *what, struct cf_failure *why)
{
	cf_failure_set(why, CF_ERR_NO_DEVICE, "open", "%s is not a serial port (%s)", path, what);
	cf_failure_set_hint(why, "name the probe's tty; `cartoflash scan --usb` lists them");
	return CF_ERR_NO_DEVICE;
}

/*
 * /dev/null, /dev/zero, a file or a directory is no serial port, and /dev/null is held by every
 * process (no "in use by pid N" for it). A character device the kernel files under another class
 * (mem, misc: opening /dev/watchdog arms it) is refused without opening it; one without a sysfs
 * entry (a pty) is opened and asked. 0 also when path cannot be stat'ed: the open reports that.
 */
static int check_tty(const char *path, struct cf_failure *why)
{
	char link[96], target[256];
	struct stat st;
	ssize_t n;
	int fd;
	bool tty;

	if (stat(path, &st) < 0)
		return CF_OK;
	if (!S_ISCHR(st.st_mode))
		return not_a_tty(path, infile_kind_name(st.st_mode), why);
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem", major(st.st_rdev),
		 minor(st.st_rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (strcmp(basename(target), "tty"))
			return not_a_tty(path, "a character device, not a tty", why);
		return CF_OK;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return CF_OK;
	tty = isatty(fd);
	close(fd);
	return tty ? CF_OK : not_a_tty(path, "a character device, not a tty", why);
}

static int op_open(struct transport *t, const char *spec, struct cf_failure *why)
{
	struct tty *s = transport_priv(t);
	int err, rc;

	s->fd = -1;
	err = parse_spec(s, spec, why);
	if (err < 0)
		return err;
	err = check_tty(s->path, why);
	if (err < 0)
		return err;
	/* katapult.md §3.2 validate_device: another program on the port would interleave its
	 * bytes with our frames (and Klipper reconnects the moment the probe re-enumerates). */
	err = inuse_check(s->path, "open", why);
	if (err < 0)
		return err;
	s->fd = open(s->path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0)
		return ttyio_open_error(s->path, errno, "open", why);
	/* pyserial exclusive=True: an advisory lock every cooperating tool honours. */
	if (flock(s->fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? CF_ERR_BUSY : CF_ERR_IO;
		cf_failure_set(why, err, "open", "serial device %s is locked by another program",
			       s->path);
		cf_failure_set_hint(why, "another cartoflash or flashtool is working on it; wait "
					 "for it to finish");
		goto err_close;
	}
	rc = ttyio_set_raw(s->fd, s->baud);
	if (rc < 0) {
		err = cf_failure_set(why, CF_ERR_IO, "open",
				     "cannot configure %s (raw 8N1, %u baud): "
				     "%s",
				     s->path, (unsigned)s->baud, strerror(-rc));
		goto err_close;
	}
	/* Bytes queued before we arrived belong to nobody's command. */
	(void)tcflush(s->fd, TCIOFLUSH);
	cf_log(CF_LOG_DEBUG, s->path, "tty", "open, %u baud", (unsigned)s->baud);
	return CF_OK;

err_close:
	close(s->fd);
	s->fd = -1;
	return err;
}

static void op_close(struct transport *t)
{
	struct tty *s = transport_priv(t);

	if (s->fd < 0)
		return;
	cf_log(CF_LOG_DEBUG, s->path, "tty", "close: %llu bytes out, %llu in, %zu unsent",
	       (unsigned long long)s->tx_bytes, (unsigned long long)s->rx_bytes, s->tx_len);
	close(s->fd);
	s->fd = -1;
}

/* Write what the kernel takes now. 0 when all or part went (or nothing could), <0 when the
 * device is gone. */
static int flush_tx(struct tty *s)
{
	while (s->tx_len) {
		const ssize_t n = write(s->fd, s->tx + s->tx_head, s->tx_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? CF_OK : ttyio_errno(errno);
		}
		s->tx_head += (size_t)n;
		s->tx_len -= (size_t)n;
		s->tx_bytes += (uint64_t)n;
	}
	s->tx_head = 0;
	return CF_OK;
}

static int op_pollfds(struct transport *t, struct pollfd *fds, int max)
{
	struct tty *s = transport_priv(t);

	if (max < 1 || s->fd < 0)
		return 0;
	(void)flush_tx(s); /* an error shows up as POLLERR/POLLHUP and again in recv */
	fds[0].fd = s->fd;
	fds[0].events = (short)(POLLIN | (s->tx_len ? POLLOUT : 0));
	fds[0].revents = 0;
	return 1;
}

static int op_send(struct transport *t, const void *buf, size_t len)
{
	struct tty *s = transport_priv(t);
	int err = flush_tx(s);

	if (err < 0)
		return err;
	if (len > TTY_TX_CAP - s->tx_head - s->tx_len) {
		if (s->tx_len && s->tx_head) {
			memmove(s->tx, s->tx + s->tx_head, s->tx_len);
			s->tx_head = 0;
		}
		if (len > TTY_TX_CAP - s->tx_len)
			return len > TTY_TX_CAP ? CF_ERR_NOSPACE : CF_ERR_AGAIN;
	}
	/* Accepted whole: from here the unit leaves in order, however the kernel splits it. */
	memcpy(s->tx + s->tx_head + s->tx_len, buf, len);
	s->tx_len += len;
	return flush_tx(s);
}

static int op_recv(struct transport *t, void *buf, size_t cap, size_t *len)
{
	struct tty *s = transport_priv(t);
	ssize_t n;
	int err = flush_tx(s);

	if (err < 0)
		return err;
	do
		n = read(s->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ttyio_errno(errno);
	if (n == 0)
		return CF_ERR_NO_DEVICE; /* VMIN 1: end of file only after a hang-up */
	*len = (size_t)n;
	s->rx_bytes += (uint64_t)n;
	return CF_OK;
}

const struct transport_ops tty_ops = {
    .name = "tty",
    .unit = TRANSPORT_BYTES,
    .priv_size = sizeof(struct tty),
    .open = op_open,
    .close = op_close,
    .pollfds = op_pollfds,
    .send = op_send,
    .recv = op_recv,
};
