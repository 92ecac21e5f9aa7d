// SPDX-License-Identifier: GPL-3.0-or-later
// Find the /dev/serial/by-id link of a tty by resolving every link in the directory.
#include "usb/byid.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/err.h"

const char *byid_dir(void)
{
	const char *env = getenv("CARTOFLASH_SERIAL_BY_ID");

	return env && env[0] ? env : "/dev/serial/by-id";
}

int byid_find(const char *tty, char *out, size_t cap)
{
	const char *dir = byid_dir();
	char want[PATH_MAX], link[PATH_MAX], got[PATH_MAX], best[PATH_MAX] = "";
	struct dirent *e;
	DIR *d;

	if (!realpath(tty, want) || !(d = opendir(dir)))
		return CF_ERR_NO_DEVICE;
	while ((e = readdir(d))) {
		struct stat st;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || lstat(link, &st) < 0 || !S_ISLNK(st.st_mode))
			continue; /* udev puts only links here */
		/* several links may name one tty (if00 and a custom rule): keep the first by name,
		 * so the answer does not depend on directory order */
		if (realpath(link, got) && !strcmp(got, want) && (!best[0] || strcmp(link, best) < 0))
			snprintf(best, sizeof(best), "%s", link);
	}
	closedir(d);
	if (!best[0])
		return CF_ERR_NO_DEVICE;
	snprintf(out, cap, "%s", best);
	return CF_OK;
}

int byid_find_serial(const char *serial, char *out, size_t cap)
{
	const char *dir = byid_dir();
	char best[PATH_MAX] = "", needle[96];
	struct dirent *e;
	DIR *d;

	if (!serial || !serial[0] || !(d = opendir(dir)))
		return CF_ERR_NO_DEVICE;
	/* udev's name ends in _<serial>-if<NN> (60-serial.rules ID_SERIAL) */
	snprintf(needle, sizeof(needle), "_%s-if", serial);
	while ((e = readdir(d)))
		if (strstr(e->d_name, needle) && (!best[0] || strcmp(e->d_name, best) < 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	if (!best[0])
		return CF_ERR_NO_DEVICE;
	snprintf(out, cap, "%s/%s", dir, best);
	return CF_OK;
}
