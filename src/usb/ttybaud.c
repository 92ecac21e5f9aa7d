// SPDX-License-Identifier: GPL-3.0-or-later
// termios2 speed setting, kept apart because <asm/termbits.h> cannot meet <termios.h>.
#include "usb/ttybaud.h"

#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <errno.h>

/* <sys/ioctl.h> drags in glibc's struct termio definitions, which clash with asm/termbits. */
extern int ioctl(int fd, unsigned long request, ...);

int ttybaud_set(int fd, uint32_t baud)
{
	struct termios2 t;

	if (ioctl(fd, TCGETS2, &t) < 0)
		return -errno;
	/* katapult.md §3.6: 250000 is Katapult's UART default; glibc 2.36 cfsetspeed refuses it. */
	t.c_cflag &= ~(tcflag_t)(CBAUD | (CBAUD << IBSHIFT));
	t.c_cflag |= BOTHER | (BOTHER << IBSHIFT);
	t.c_ispeed = baud;
	t.c_ospeed = baud;
	if (ioctl(fd, TCSETS2, &t) < 0)
		return -errno;
	return 0;
}

int ttybaud_get(int fd, uint32_t *baud)
{
	struct termios2 t;

	if (ioctl(fd, TCGETS2, &t) < 0)
		return -errno;
	*baud = t.c_ospeed;
	return 0;
}
