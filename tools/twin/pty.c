/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin's USB CDC-ACM stand-in: a pty whose slave is published under a stable link path. */
#include "tools/twin/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static uint32_t baud_of(speed_t s)
{
	static const struct {
		speed_t s;
		uint32_t b;
	} map[] = {
	    {B1200, 1200},     {B9600, 9600},	  {B19200, 19200},     {B38400, 38400},
	    {B57600, 57600},   {B115200, 115200}, {B230400, 230400},   {B460800, 460800},
	    {B500000, 500000}, {B921600, 921600}, {B1000000, 1000000},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].s == s)
			return map[i].b;
	return 250000; /* B0 or a custom rate: anything but 1200 */
}

int twin_pty_open(struct twin_pty *p, const char *link)
{
	struct termios tio;
	const char *name;

	memset(p, 0, sizeof(*p));
	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (p->master < 0)
		return -errno;
	if (grantpt(p->master) < 0 || unlockpt(p->master) < 0 || !(name = ptsname(p->master)))
		goto err_close;
	snprintf(p->slave, sizeof(p->slave), "%s", name);
	snprintf(p->link, sizeof(p->link), "%s", link);
	/* the slave's termios, set through the master: raw bytes, as a CDC-ACM tty after cfmakeraw
	 */
	if (tcgetattr(p->master, &tio) == 0) {
		cfmakeraw(&tio);
		cfsetspeed(&tio, B38400);
		tcsetattr(p->master, TCSANOW, &tio);
	}
	p->slave_open = false;
	p->baud = 38400;
	return 0;

err_close:
	close(p->master);
	p->master = -1;
	return -errno;
}

int twin_pty_publish(struct twin_pty *p)
{
	char tmp[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s.tmp", p->link);
	unlink(tmp);
	if (symlink(p->slave, tmp) < 0 || rename(tmp, p->link) < 0)
		return -errno;
	return 0;
}

void twin_pty_close(struct twin_pty *p)
{
	if (p->master < 0)
		return;
	unlink(p->link);
	close(p->master);
	p->master = -1;
}

/*
 * A pty has no modem lines: DTR drops when the last slave fd closes (HUPCL), which the master
 * sees as POLLHUP. The rate the host set is read from the slave termios through the master.
 * Returns true when the slave's open state or its rate changed (then *baud holds the last rate).
 */
bool twin_pty_check(struct twin_pty *p, uint32_t *baud)
{
	struct pollfd pfd = {.fd = p->master, .events = POLLIN};
	struct termios tio;
	const uint32_t before = p->baud;
	bool open_now;

	if (p->master < 0)
		return false;
	if (tcgetattr(p->master, &tio) == 0)
		p->baud = baud_of(cfgetospeed(&tio));
	*baud = p->baud;
	if (poll(&pfd, 1, 0) < 0)
		return false;
	open_now = !(pfd.revents & POLLHUP);
	/* The 1200-baud touch opens, sets the rate and closes within microseconds: between two
	 * samples the open state looks unchanged, the rate does not (h6). */
	if (open_now == p->slave_open && p->baud == before)
		return false;
	p->slave_open = open_now;
	return true;
}

ssize_t twin_pty_read(struct twin_pty *p, uint8_t *buf, size_t cap)
{
	ssize_t n = read(p->master, buf, cap);

	if (n < 0 && (errno == EAGAIN || errno == EIO))
		return 0;
	return n;
}

ssize_t twin_pty_write(struct twin_pty *p, const uint8_t *buf, size_t len)
{
	ssize_t n;

	if (!p->slave_open)
		return (ssize_t)len; /* nobody has the port open: the bytes are lost, as on USB */
	n = write(p->master, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EIO))
		return 0;
	return n;
}
