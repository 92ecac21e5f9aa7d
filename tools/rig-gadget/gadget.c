// SPDX-License-Identifier: GPL-3.0-or-later
/* Rig USB gadgets: configfs gadget + FunctionFS plumbing shared by rig-acm and rig-dfu. */
#include "tools/rig-gadget/gadget.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/usb/functionfs.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/bytes.h"

static int put_file(const char *dir, const char *name, const char *value)
{
	char path[256];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "gadget: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (write(fd, value, strlen(value)) < 0) {
		fprintf(stderr, "gadget: write '%s' to %s: %s\n", value, path, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

static int mkdir_p(const char *path)
{
	char tmp[256];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int first_udc(char *out, size_t cap)
{
	DIR *d = opendir("/sys/class/udc");
	struct dirent *e;
	int rc = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= cap)
			continue;
		memcpy(out, e->d_name, strlen(e->d_name) + 1);
		rc = 0;
		break;
	}
	closedir(d);
	return rc;
}

int gadget_set_id(struct gadget *g, const struct gadget_id *id)
{
	char v[16], s[192];

	snprintf(s, sizeof(s), "%s/strings/0x409", g->dir);
	snprintf(v, sizeof(v), "0x%04x", id->vid);
	if (put_file(g->dir, "idVendor", v))
		return -1;
	snprintf(v, sizeof(v), "0x%04x", id->pid);
	if (put_file(g->dir, "idProduct", v))
		return -1;
	snprintf(v, sizeof(v), "0x%04x", id->bcd_device);
	if (put_file(g->dir, "bcdDevice", v))
		return -1;
	/* configfs refuses an empty string write; a newline alone stores "". */
	if (put_file(s, "manufacturer", *id->manufacturer ? id->manufacturer : "\n") ||
	    put_file(s, "product", *id->product ? id->product : "\n") ||
	    put_file(s, "serialnumber", *id->serial ? id->serial : "\n"))
		return -1;
	return 0;
}

int gadget_setup(struct gadget *g, const char *name, const struct gadget_id *id)
{
	char path[256], fn[64];

	memset(g, 0, sizeof(*g));
	g->ep0 = -1;
	snprintf(g->dir, sizeof(g->dir), "%s/%s", GADGET_CONFIGFS, name);
	snprintf(g->ffs, sizeof(g->ffs), "/dev/ffs-%s", name);
	snprintf(fn, sizeof(fn), "ffs.%s", name);
	if (first_udc(g->udc, sizeof(g->udc))) {
		fprintf(stderr, "gadget: no UDC in /sys/class/udc (modprobe dummy_hcd)\n");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/strings/0x409", g->dir);
	if (mkdir_p(path))
		goto err_mkdir;
	snprintf(path, sizeof(path), "%s/configs/c.1/strings/0x409", g->dir);
	if (mkdir_p(path))
		goto err_mkdir;
	snprintf(path, sizeof(path), "%s/functions/%s", g->dir, fn);
	if (mkdir_p(path))
		goto err_mkdir;
	if (put_file(g->dir, "bcdUSB", "0x0200"))
		return -1;
	snprintf(path, sizeof(path), "%s/configs/c.1/strings/0x409", g->dir);
	if (put_file(path, "configuration", "c1"))
		return -1;
	snprintf(path, sizeof(path), "%s/configs/c.1", g->dir);
	if (put_file(path, "MaxPower", "100"))
		return -1;
	{
		char target[256];

		snprintf(target, sizeof(target), "%s/functions/%s", g->dir, fn);
		snprintf(path, sizeof(path), "%s/configs/c.1/%s", g->dir, fn);
		if (symlink(target, path) && errno != EEXIST)
			goto err_mkdir;
	}
	if (gadget_set_id(g, id))
		return -1;
	if (mkdir_p(g->ffs))
		goto err_mkdir;
	if (mount(name, g->ffs, "functionfs", 0, NULL) && errno != EBUSY) {
		fprintf(stderr, "gadget: mount functionfs %s: %s\n", g->ffs, strerror(errno));
		return -1;
	}
	return 0;

err_mkdir:
	fprintf(stderr, "gadget: %s: %s\n", path, strerror(errno));
	return -1;
}

int gadget_start(struct gadget *g, const void *descs, size_t descs_len, const void *strs,
		 size_t strs_len)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/ep0", g->ffs);
	g->ep0 = open(path, O_RDWR | O_CLOEXEC);
	if (g->ep0 < 0) {
		fprintf(stderr, "gadget: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (write(g->ep0, descs, descs_len) != (ssize_t)descs_len) {
		fprintf(stderr, "gadget: descriptors refused: %s\n", strerror(errno));
		goto err_ep0;
	}
	if (write(g->ep0, strs, strs_len) != (ssize_t)strs_len) {
		fprintf(stderr, "gadget: strings refused: %s\n", strerror(errno));
		goto err_ep0;
	}
	/* rig.md pitfall 11: bind only after descriptors and strings are in. */
	if (put_file(g->dir, "UDC", g->udc))
		goto err_ep0;
	return 0;

err_ep0:
	close(g->ep0);
	g->ep0 = -1;
	return -1;
}

int gadget_ep_open(const struct gadget *g, int n, int flags)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/ep%d", g->ffs, n);
	return open(path, flags | O_CLOEXEC);
}

void gadget_stop(struct gadget *g)
{
	char path[192];
	int fd;

	if (!g || g->ep0 < 0)
		return;
	close(g->ep0);
	g->ep0 = -1;
	/* Closing ep0 unbinds already (pitfall 12); an explicit unbind covers older kernels. */
	snprintf(path, sizeof(path), "%s/UDC", g->dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "\n", 1) < 0 && errno != ENODEV) {
			/* Already unbound: nothing to do. */
		}
		close(fd);
	}
}

void gadget_teardown(struct gadget *g)
{
	char path[256];

	if (!g || !g->dir[0])
		return;
	gadget_stop(g);
	umount2(g->ffs, MNT_DETACH);
	rmdir(g->ffs);
	snprintf(path, sizeof(path), "%s/configs/c.1/ffs.%s", g->dir, g->ffs + strlen("/dev/ffs-"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/configs/c.1/strings/0x409", g->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/configs/c.1", g->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/functions/ffs.%s", g->dir, g->ffs + strlen("/dev/ffs-"));
	rmdir(path);
	snprintf(path, sizeof(path), "%s/strings/0x409", g->dir);
	rmdir(path);
	rmdir(g->dir);
}

/* rig.md §5.4: an IN data stage is a write of at most wLength bytes. */
int gadget_ep0_reply(const struct gadget *g, const void *data, size_t len)
{
	return write(g->ep0, data, len) == (ssize_t)len ? 0 : -1;
}

/* An OUT request without data is acknowledged by a zero-length read. */
int gadget_ep0_ack(const struct gadget *g)
{
	return read(g->ep0, NULL, 0) < 0 ? -1 : 0;
}

/* Reading the OUT data stage also acknowledges it; it can no longer be stalled after this. */
int gadget_ep0_read(const struct gadget *g, void *buf, size_t len)
{
	return read(g->ep0, buf, len) == (ssize_t)len ? 0 : -1;
}

/* A stall is an I/O in the wrong direction: read for an IN request, write for an OUT one. */
int gadget_ep0_stall(const struct gadget *g, bool dir_in)
{
	ssize_t n = dir_in ? read(g->ep0, NULL, 0) : write(g->ep0, NULL, 0);

	/* The kernel reports the stall it performed as EL2HLT. */
	return n < 0 && errno != EL2HLT ? -1 : 0;
}

size_t gadget_build_descs(uint8_t *buf, size_t cap, uint32_t flags, const uint8_t *fs,
			  size_t fs_len, uint32_t fs_count, const uint8_t *hs, size_t hs_len,
			  uint32_t hs_count)
{
	const size_t len = 20 + fs_len + hs_len;

	if (len > cap)
		return 0;
	/* functionfs.h: magic, length, flags, fs_count, hs_count, then the sets. */
	cf_put_le32(buf, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
	cf_put_le32(buf + 4, (uint32_t)len);
	cf_put_le32(buf + 8, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | flags);
	cf_put_le32(buf + 12, fs_count);
	cf_put_le32(buf + 16, hs_count);
	memcpy(buf + 20, fs, fs_len);
	memcpy(buf + 20 + fs_len, hs, hs_len);
	return len;
}

size_t gadget_build_strings(uint8_t *buf, size_t cap, const char *const *strs, uint32_t count)
{
	size_t len = 16 + 2;

	for (uint32_t i = 0; i < count; i++)
		len += strlen(strs[i]) + 1;
	if (len > cap)
		return 0;
	/* functionfs.h: magic, length, str_count, lang_count, then per language: code, strings. */
	cf_put_le32(buf, FUNCTIONFS_STRINGS_MAGIC);
	cf_put_le32(buf + 4, (uint32_t)len);
	cf_put_le32(buf + 8, count);
	cf_put_le32(buf + 12, 1);
	cf_put_le16(buf + 16, 0x0409);
	len = 18;
	for (uint32_t i = 0; i < count; i++) {
		const size_t n = strlen(strs[i]) + 1;

		memcpy(buf + len, strs[i], n);
		len += n;
	}
	return len;
}
