// SPDX-License-Identifier: GPL-3.0-or-later
// Port in-use detection: walk /proc/*/fd like flashtool's validate_device (katapult.md §3.2).
#include "usb/inuse.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failure.h"
#include "protocol/err.h"

static bool same_file(const struct stat *a, const struct stat *b)
{
	/* A tty reached through two names (/dev/ttyACM0, a by-id link, /dev/pts/N) is one device
	 * number; regular files compare by inode. */
	if (S_ISCHR(a->st_mode) && S_ISCHR(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static bool pid_holds(pid_t pid, const struct stat *want)
{
	char dir[64], fdpath[320];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false; /* another user's process, or it exited */
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", dir, de->d_name);
		if (stat(fdpath, &st) == 0 && same_file(&st, want))
			found = true;
	}
	closedir(d);
	return found;
}

static size_t read_small(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

void inuse_unit_from_cgroup(const char *cgroup, char *unit, size_t cap)
{
	const char *line = cgroup;

	unit[0] = '\0';
	while (line && *line) {
		const char *end = strchr(line, '\n');
		const size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *leaf = line + len;

		while (leaf > line && leaf[-1] != '/')
			leaf--;
		/* a leaf ".service" names the unit; a ".scope" is a session or a terminal app */
		if (leaf > line && (size_t)(line + len - leaf) > 8 &&
		    !strncmp(line + len - 8, ".service", 8)) {
			snprintf(unit, cap, "%.*s", (int)(line + len - leaf), leaf);
			return;
		}
		line = end ? end + 1 : NULL;
	}
}

static void read_unit(pid_t pid, char *unit, size_t cap)
{
	char path[64], buf[2048];

	unit[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_small(path, buf, sizeof(buf)))
		inuse_unit_from_cgroup(buf, unit, cap);
}

static void read_cmdline(pid_t pid, char *cmd, size_t cap)
{
	char path[64];
	size_t n, i;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small(path, cmd, cap);
	while (n > 0 && cmd[n - 1] == '\0')
		n--;
	for (i = 0; i < n; i++)
		if (cmd[i] == '\0' || !isprint((unsigned char)cmd[i]))
			cmd[i] = ' ';
	cmd[n] = '\0';
	if (n)
		return;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	len = readlink(path, cmd, cap - 1);
	cmd[len > 0 ? len : 0] = '\0';
}

int inuse_describe_pid(pid_t pid, struct inuse_holder *h)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	memset(h, 0, sizeof(*h));
	if (access(path, F_OK) < 0)
		return CF_ERR_NO_DEVICE;
	h->pid = pid;
	read_unit(pid, h->unit, sizeof(h->unit));
	read_cmdline(pid, h->cmdline, sizeof(h->cmdline));
	return CF_OK;
}

int inuse_find(const char *path, struct inuse_holder *out, size_t max, size_t *count)
{
	const pid_t self = getpid();
	struct dirent *de;
	struct stat want;
	DIR *proc;

	*count = 0;
	if (stat(path, &want) < 0)
		return errno == EACCES ? CF_ERR_ACCESS : CF_ERR_NO_DEVICE;
	proc = opendir("/proc");
	if (!proc)
		return CF_OK; /* no procfs: nothing to learn here, flock still protects the port */
	while ((de = readdir(proc))) {
		char *end;
		const long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self || !pid_holds((pid_t)pid, &want))
			continue;
		if (*count < max) {
			struct inuse_holder *h = &out[*count];

			h->pid = (pid_t)pid;
			read_unit(h->pid, h->unit, sizeof(h->unit));
			read_cmdline(h->pid, h->cmdline, sizeof(h->cmdline));
		}
		(*count)++;
	}
	closedir(proc);
	return CF_OK;
}

void inuse_describe(const struct inuse_holder *h, char *buf, size_t cap)
{
	if (h->unit[0])
		snprintf(buf, cap, "pid %d (systemd unit %s)", (int)h->pid, h->unit);
	else if (h->cmdline[0])
		snprintf(buf, cap, "pid %d (%s)", (int)h->pid, h->cmdline);
	else
		snprintf(buf, cap, "pid %d", (int)h->pid);
}

int inuse_check(const char *path, const char *stage, struct cf_failure *why)
{
	struct inuse_holder h[4];
	char who[256];
	size_t count;

	if (inuse_find(path, h, 4, &count) < 0 || count == 0)
		return CF_OK;
	inuse_describe(&h[0], who, sizeof(who));
	cf_failure_set(why, CF_ERR_BUSY, stage, "serial device %s in use by %s%s", path, who,
		       count > 1 ? " and others" : "");
	if (h[0].unit[0])
		cf_failure_set_hint(why, "stop it first: sudo systemctl stop %s", h[0].unit);
	else
		cf_failure_set_hint(why, "close that program (or kill %d), then retry",
				    (int)h[0].pid);
	return CF_ERR_BUSY;
}
