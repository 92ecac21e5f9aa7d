// SPDX-License-Identifier: GPL-3.0-or-later
// The bootloader requests a host can make on a tty: 1200-baud touch (USB), magic string (UART).
#include "usb/touch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "failure.h"
#include "protocol/err.h"
#include "usb/ttyio.h"

#define TOUCH_STAGE "bootloader"

int touch_request_usb(const char *tty, struct cf_failure *why)
{
	const int dtr = TIOCM_DTR;
	struct termios t;
	int fd, err = CF_OK;

	/* katapult.md §3.3: O_NOCTTY so the hang-up of the re-enumerating device cannot SIGHUP
	 * us (flashtool 418b43b). */
	fd = open(tty, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return ttyio_open_error(tty, errno, TOUCH_STAGE, why);
	/* DTR up first, so SET_LINE_CODING(1200) alone does not reboot; then DTR down with the
	 * rate at 1200 is the request. A pty answers ENOTTY to both (dfu.md §5.1): ignored. */
	(void)ioctl(fd, TIOCMBIS, &dtr);
	if (tcgetattr(fd, &t) < 0 || cfsetispeed(&t, B1200) < 0 || cfsetospeed(&t, B1200) < 0 ||
	    tcsetattr(fd, TCSANOW, &t) < 0) {
		if (why)
			why->sys_errno = errno;
		err = cf_failure_set(
		    why, ttyio_errno(errno) == CF_ERR_NO_DEVICE ? CF_ERR_NO_DEVICE : CF_ERR_IO,
		    TOUCH_STAGE, "cannot set 1200 baud on %s: %s", tty, strerror(errno));
		cf_failure_set_hint(why, "the probe did not get the bootloader request; unplug and "
					 "replug it, then retry");
	}
	(void)ioctl(fd, TIOCMBIC, &dtr);
	close(fd);
	return err;
}

/* Write all bytes of a short string on a non-blocking fd, waiting for POLLOUT in between. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		const ssize_t n = write(fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (poll(&p, 1, 1000) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

int touch_request_uart(const char *tty, uint32_t baud, const uint8_t *magic, size_t len,
		       struct cf_failure *why)
{
	int fd, rc, code;

	fd = open(tty, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return ttyio_open_error(tty, errno, TOUCH_STAGE, why);
	rc = ttyio_set_raw(fd, baud);
	/* katapult.md §3.6: the string goes out whole at the application's baud rate. */
	if (rc == 0)
		rc = write_all(fd, magic, len);
	if (rc == 0 && tcdrain(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		return CF_OK;
	if (why)
		why->sys_errno = -rc;
	code = ttyio_errno(-rc) == CF_ERR_NO_DEVICE ? CF_ERR_NO_DEVICE : CF_ERR_IO;
	cf_failure_set(why, code, TOUCH_STAGE,
		       "cannot send the serial bootloader request on %s at %u baud: %s", tty,
		       (unsigned)baud, strerror(-rc));
	cf_failure_set_hint(why, "check --baud (the application's rate, often 250000)");
	return code;
}
