// SPDX-License-Identifier: GPL-3.0-or-later
// sysfs reads for USB identity, rooted so tests can substitute a fixture tree for /sys.
#include "usb/sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "protocol/err.h"

const char *sysfs_root(void)
{
	const char *env = getenv("CARTOFLASH_SYSFS_ROOT");

	return env && env[0] ? env : "/sys";
}

/* One sysfs attribute, trailing whitespace removed; "" when absent (flashtool: "unknown"). */
static bool read_attr(const char *dir, const char *name, char *buf, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		n = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return true;
}

static bool read_hex16(const char *dir, const char *name, uint16_t *v)
{
	char buf[16], *end;
	unsigned long x;

	if (!read_attr(dir, name, buf, sizeof(buf)) || !buf[0])
		return false;
	x = strtoul(buf, &end, 16);
	if (*end || x > 0xffff)
		return false;
	*v = (uint16_t)x;
	return true;
}

static bool has_entry(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

/* The device node of a tty class directory: DEVNAME from its uevent, else its name. */
static void tty_node(const char *ttydir, char *node, size_t cap)
{
	char uevent[1024], *line, *save = NULL;
	const char *base = strrchr(ttydir, '/');

	base = base ? base + 1 : ttydir;
	snprintf(node, cap, "/dev/%s", base);
	if (!read_attr(ttydir, "uevent", uevent, sizeof(uevent)))
		return;
	for (line = strtok_r(uevent, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "DEVNAME=", 8) && line[8])
			snprintf(node, cap, "/dev/%s", line + 8);
}

/* katapult.md §3.5: the tty class directory below the device's interface <port>:<cfg>.<if>. */
static void find_tty(struct sysfs_usb *u)
{
	char pattern[PATH_MAX];
	glob_t g;

	u->tty[0] = '\0';
	if (snprintf(pattern, sizeof(pattern), "%s/%s:*/tty/*", u->dir, u->port) >=
	    (int)sizeof(pattern))
		return;
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	if (g.gl_pathc >= 1)
		tty_node(g.gl_pathv[0], u->tty, sizeof(u->tty));
	globfree(&g);
}

int sysfs_usb_read(const char *dir, struct sysfs_usb *out)
{
	const char *base = strrchr(dir, '/');

	memset(out, 0, sizeof(*out));
	snprintf(out->dir, sizeof(out->dir), "%s", dir);
	snprintf(out->port, sizeof(out->port), "%s", base ? base + 1 : dir);
	/* Mid re-enumeration the directory exists with its attributes not yet populated:
	 * only non-empty ids count (katapult.md §3.5). */
	if (!read_hex16(dir, "idVendor", &out->vid) || !read_hex16(dir, "idProduct", &out->pid))
		return CF_ERR_NO_DEVICE;
	read_attr(dir, "manufacturer", out->manufacturer, sizeof(out->manufacturer));
	read_attr(dir, "product", out->product, sizeof(out->product));
	read_attr(dir, "serial", out->serial, sizeof(out->serial));
	find_tty(out);
	return CF_OK;
}

/* sysfs directory of the tty: root/dev/char/MAJ:MIN, else root/class/tty/<node name>. */
static int tty_sysdir(const char *root, const char *tty_path, char *dir)
{
	char link[PATH_MAX], node[PATH_MAX];
	struct stat st;
	const char *name;

	if (stat(tty_path, &st) < 0)
		return errno == EACCES ? CF_ERR_ACCESS : CF_ERR_NO_DEVICE;
	if (!S_ISCHR(st.st_mode))
		return CF_ERR_NOT_SUPPORTED;
	if (snprintf(link, sizeof(link), "%s/dev/char/%u:%u", root, major(st.st_rdev),
		     minor(st.st_rdev)) < (int)sizeof(link) &&
	    realpath(link, dir))
		return CF_OK;
	if (!realpath(tty_path, node))
		return CF_ERR_NOT_SUPPORTED;
	name = strrchr(node, '/');
	if (snprintf(link, sizeof(link), "%s/class/tty/%s", root, name ? name + 1 : node) >=
	    (int)sizeof(link))
		return CF_ERR_NOT_SUPPORTED;
	return realpath(link, dir) ? CF_OK : CF_ERR_NOT_SUPPORTED;
}

int sysfs_usb_from_tty(const char *root, const char *tty_path, struct sysfs_usb *out)
{
	char dir[PATH_MAX], top[PATH_MAX];
	int err;

	memset(out, 0, sizeof(*out));
	err = tty_sysdir(root, tty_path, dir);
	if (err < 0)
		return err;
	if (!realpath(root, top))
		return CF_ERR_NOT_SUPPORTED;
	/* flashtool's get_usb_path: the first ancestor with busnum and devnum is the device. */
	for (;;) {
		char *slash = strrchr(dir, '/');

		if (!slash || strlen(dir) <= strlen(top))
			return CF_ERR_NOT_SUPPORTED; /* a UART: no USB device above it */
		*slash = '\0';
		if (has_entry(dir, "busnum") && has_entry(dir, "devnum"))
			break;
	}
	if (strlen(dir) >= sizeof(out->dir))
		return CF_ERR_NOT_SUPPORTED;
	err = sysfs_usb_read(dir, out);
	if (err < 0)
		return err;
	/* The tty the user named is the one to open; the glob result names the same node. */
	if (!out->tty[0])
		snprintf(out->tty, sizeof(out->tty), "%s", tty_path);
	return CF_OK;
}

int sysfs_usb_list(const char *root, struct sysfs_usb *out, size_t max, size_t *count)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct dirent **names;
	int n, i;

	*count = 0;
	if (snprintf(path, sizeof(path), "%s/bus/usb/devices", root) >= (int)sizeof(path))
		return CF_ERR_NO_DEVICE;
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return CF_ERR_NO_DEVICE;
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char link[PATH_MAX];

		/* "1-1:1.0" is an interface, "usb1" a root hub. */
		if (name[0] == '.' || strchr(name, ':') || !strncmp(name, "usb", 3))
			continue;
		if (snprintf(link, sizeof(link), "%s/%s", path, name) >= (int)sizeof(link))
			continue;
		if (*count < max && realpath(link, dir) && strlen(dir) < sizeof(out->dir) &&
		    sysfs_usb_read(dir, &out[*count]) == CF_OK)
			(*count)++;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return CF_OK;
}

enum sysfs_kind sysfs_usb_kind(const struct sysfs_usb *u)
{
	/* katapult.md §3.2 steps 3-4: VID:PID first, then the manufacturer (flashtool lower-cases
	 * it); "CanBoot" is Katapult before e965573. */
	if (u->vid == SYSFS_VID_ST && u->pid == SYSFS_PID_ST_ROM_DFU)
		return SYSFS_KIND_ROM_DFU;
	if (u->vid == SYSFS_VID_OPENMOKO && u->pid == SYSFS_PID_CAN_BRIDGE)
		return SYSFS_KIND_CAN_BRIDGE;
	if ((u->vid == SYSFS_VID_OPENMOKO && u->pid == SYSFS_PID_KATAPULT) ||
	    !strcasecmp(u->manufacturer, "katapult") || !strcasecmp(u->manufacturer, "canboot"))
		return SYSFS_KIND_KATAPULT;
	if (!strcasecmp(u->manufacturer, "cartographer"))
		return SYSFS_KIND_CARTOGRAPHER;
	if ((u->vid == SYSFS_VID_OPENMOKO && u->pid == SYSFS_PID_KLIPPER) ||
	    !strcasecmp(u->manufacturer, "klipper"))
		return SYSFS_KIND_KLIPPER;
	return SYSFS_KIND_OTHER;
}

enum device_mode sysfs_kind_mode(enum sysfs_kind kind)
{
	switch (kind) {
	case SYSFS_KIND_CARTOGRAPHER:
	case SYSFS_KIND_KLIPPER:
		return DEVICE_MODE_APPLICATION;
	case SYSFS_KIND_KATAPULT:
		return DEVICE_MODE_KATAPULT;
	case SYSFS_KIND_ROM_DFU:
		return DEVICE_MODE_ROM_DFU;
	case SYSFS_KIND_OTHER:
	case SYSFS_KIND_CAN_BRIDGE:
		return DEVICE_MODE_UNKNOWN;
	}
	return DEVICE_MODE_UNKNOWN;
}

const char *sysfs_kind_name(enum sysfs_kind kind)
{
	switch (kind) {
	case SYSFS_KIND_CARTOGRAPHER:
		return "cartographer";
	case SYSFS_KIND_KLIPPER:
		return "klipper";
	case SYSFS_KIND_KATAPULT:
		return "katapult";
	case SYSFS_KIND_ROM_DFU:
		return "rom_dfu";
	case SYSFS_KIND_CAN_BRIDGE:
		return "can_bridge";
	case SYSFS_KIND_OTHER:
		return "other";
	}
	return "other";
}
