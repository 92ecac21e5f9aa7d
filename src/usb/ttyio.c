// SPDX-License-Identifier: GPL-3.0-or-later
// Shared tty plumbing: baud rates to termios constants, errno to errors with a next step.
#include "usb/ttyio.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>

#include "failure.h"
#include "protocol/err.h"
#include "usb/ttybaud.h"

unsigned ttyio_speed(uint32_t baud)
{
	static const struct {
		uint32_t baud;
		speed_t speed;
	} table[] = {
	    {1200, B1200},	 {9600, B9600},	      {19200, B19200},	 {38400, B38400},
	    {57600, B57600},	 {115200, B115200},   {230400, B230400}, {460800, B460800},
	    {500000, B500000},	 {576000, B576000},   {921600, B921600}, {1000000, B1000000},
	    {1500000, B1500000}, {2000000, B2000000},
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].baud == baud)
			return table[i].speed;
	return 0;
}

static void group_of(const char *path, char *name, size_t cap)
{
	struct stat st;
	struct group *gr;

	snprintf(name, cap, "dialout");
	if (stat(path, &st) < 0)
		return;
	gr = getgrgid(st.st_gid);
	if (gr && gr->gr_name && strcmp(gr->gr_name, "root"))
		snprintf(name, cap, "%s", gr->gr_name);
}

int ttyio_open_error(const char *path, int sys_errno, const char *stage, struct cf_failure *why)
{
	char group[64];
	int code;

	switch (sys_errno) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		code = cf_failure_set(why, CF_ERR_NO_DEVICE, stage, "no serial device at %s", path);
		cf_failure_set_hint(why,
				    "check the cable and `cartoflash scan --usb`; the probe may "
				    "have re-enumerated under another name");
		break;
	case EACCES:
	case EPERM:
		group_of(path, group, sizeof(group));
		code = cf_failure_set(why, CF_ERR_ACCESS, stage, "no permission to open %s", path);
		cf_failure_set_hint(why,
				    "add yourself to the '%s' group (sudo usermod -aG %s $USER, "
				    "then log in again) or install tools/udev/70-cartoflash.rules",
				    group, group);
		break;
	case EBUSY:
		code = cf_failure_set(why, CF_ERR_BUSY, stage, "%s is busy (opened exclusively)",
				      path);
		cf_failure_set_hint(why, "stop the program using it (Klipper: sudo systemctl stop "
					 "klipper), then retry");
		break;
	default:
		code = cf_failure_set(why, CF_ERR_IO, stage, "unable to open serial port %s: %s",
				      path, strerror(sys_errno));
		break;
	}
	if (why)
		why->sys_errno = sys_errno;
	return code;
}

int ttyio_errno(int sys_errno)
{
	switch (sys_errno) {
	case EAGAIN:
		return CF_ERR_AGAIN;
	case EIO:
	case ENODEV:
	case ENXIO:
	case ENOENT:
		return CF_ERR_NO_DEVICE;
	default:
		return CF_ERR_IO;
	}
}

int ttyio_set_raw(int fd, uint32_t baud)
{
	const unsigned speed = ttyio_speed(baud);
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return -errno;
	/* katapult.md §10.2: raw 8N1, no flow control, no echo; VMIN 1 so a non-blocking read
	 * says EAGAIN when idle and 0 only on hang-up (the device left). */
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(tcflag_t)CRTSCTS;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (speed && (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0))
		return -errno;
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return -errno;
	return speed ? 0 : ttybaud_set(fd, baud);
}
