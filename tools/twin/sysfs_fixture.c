// SPDX-License-Identifier: GPL-3.0-or-later
// Test-only sysfs tree of the twin's USB port: ids, strings, and the tty it re-enumerates to.
#include "tools/twin/sysfs_fixture.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define HUB "devices/pci0000:00/0000:00:14.0/usb1/1-1"

bool sysfs_fixture_from_env(struct sysfs_fixture *fx)
{
	const char *root = getenv("CARTOFLASH_SYSFS_ROOT");
	const char *port = getenv("CARTOFLASH_SYSFS_PORT");

	memset(fx, 0, sizeof(*fx));
	if (!root || !root[0])
		return false;
	snprintf(fx->root, sizeof(fx->root), "%.255s", root);
	snprintf(fx->port, sizeof(fx->port), "%.31s", port && port[0] ? port : "1-1.3");
	return true;
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i < n ? '/' : '\0';
	}
	return 0;
}

/* tmp + rename: a reader sees the old or the new content, never half of it. */
static int put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

static int relink(const char *link, const char *target)
{
	char dir[PATH_MAX], *slash;
	int err;

	snprintf(dir, sizeof(dir), "%s", link);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		err = mkdirs(dir);
		if (err < 0)
			return err;
	}
	(void)unlink(link);
	return symlink(target, link) < 0 ? -errno : 0;
}

static int unlink_in(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return unlink(path) < 0 ? -errno : 0;
}

/* The device leaves: its tty first (what a reader looks for last), then its ids. */
static void unplug(struct sysfs_fixture *fx, const char *devdir)
{
	char pattern[PATH_MAX + 32];
	glob_t g;
	size_t i;

	if (fx->dev_link[0])
		(void)unlink(fx->dev_link);
	if (fx->class_link[0])
		(void)unlink(fx->class_link);
	fx->dev_link[0] = fx->class_link[0] = '\0';
	if (snprintf(pattern, sizeof(pattern), "%s/%s:1.0/tty/*", devdir, fx->port) <
		(int)sizeof(pattern) &&
	    glob(pattern, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++) {
			/* plug_tty writes exactly these two files */
			(void)unlink_in(g.gl_pathv[i], "dev");
			(void)unlink_in(g.gl_pathv[i], "uevent");
			(void)rmdir(g.gl_pathv[i]);
		}
		globfree(&g);
	}
	(void)put(devdir, "idVendor", "");
	(void)put(devdir, "idProduct", "");
}

static int plug_tty(struct sysfs_fixture *fx, const char *devdir, const char *pts)
{
	char ttydir[PATH_MAX], text[128];
	struct stat st;
	int err;

	if (stat(pts, &st) < 0)
		return -errno;
	if (snprintf(ttydir, sizeof(ttydir), "%s/%s:1.0/tty/ttyACM%u", devdir, fx->port,
		     fx->enumerations) >= (int)sizeof(ttydir))
		return -ENAMETOOLONG;
	err = mkdirs(ttydir);
	if (err < 0)
		return err;
	snprintf(text, sizeof(text), "%u:%u\n", major(st.st_rdev), minor(st.st_rdev));
	err = put(ttydir, "dev", text);
	/* DEVNAME is relative to /dev, as udev reads it: "pts/7" names the twin's pty. */
	snprintf(text, sizeof(text), "MAJOR=%u\nMINOR=%u\nDEVNAME=%s\n", major(st.st_rdev),
		 minor(st.st_rdev), strncmp(pts, "/dev/", 5) ? pts : pts + 5);
	if (!err)
		err = put(ttydir, "uevent", text);
	snprintf(fx->class_link, sizeof(fx->class_link), "%s/class/tty/ttyACM%u", fx->root,
		 fx->enumerations);
	if (!err)
		err = relink(fx->class_link, ttydir);
	snprintf(fx->dev_link, sizeof(fx->dev_link), "%s/dev/char/%u:%u", fx->root,
		 major(st.st_rdev), minor(st.st_rdev));
	if (!err)
		err = relink(fx->dev_link, ttydir);
	return err;
}

int sysfs_fixture_update(struct sysfs_fixture *fx, const struct twin_usb_id *id, const char *pts)
{
	char devdir[PATH_MAX], link[PATH_MAX], text[32];
	int err;

	if (snprintf(devdir, sizeof(devdir), "%s/" HUB "/%s", fx->root, fx->port) >=
	    (int)sizeof(devdir))
		return -ENAMETOOLONG;
	err = mkdirs(devdir);
	if (err < 0)
		return err;
	unplug(fx, devdir);
	if (!id)
		return 0;
	fx->enumerations++;
	err = put(devdir, "busnum", "1\n");
	if (!err)
		err = put(devdir, "devnum", "5\n");
	if (!err)
		err = put(devdir, "manufacturer", id->manufacturer);
	if (!err)
		err = put(devdir, "product", id->product);
	if (!err)
		err = put(devdir, "serial", id->serial);
	snprintf(text, sizeof(text), "%04x\n", id->pid);
	if (!err)
		err = put(devdir, "idProduct", text);
	snprintf(text, sizeof(text), "%04x\n", id->vid);
	if (!err)
		err = put(devdir, "idVendor", text);
	if (!err && snprintf(link, sizeof(link), "%s/bus/usb/devices/%s", fx->root, fx->port) <
			(int)sizeof(link))
		err = relink(link, devdir);
	if (!err && pts)
		err = plug_tty(fx, devdir, pts);
	return err;
}
