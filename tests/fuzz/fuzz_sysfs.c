// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the sysfs readers (src/usb/sysfs.c) on a fuzzed fixture tree.
//
// The input is lines, each one entry of a tree laid out like /sys under a private root:
//   "f PATH CONTENT"  a file (CONTENT to the end of the line, "\n" appended)
//   "d PATH"          a directory
//   "l PATH TARGET"   a symbolic link (TARGET relative, resolving inside the root)
// Parent directories are made as needed. Then the USB list, each device read, kinds and modes,
// and the tty lookup through root/dev/char/1:3 (the node of /dev/null) run on it.
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/err.h"
#include "usb/sysfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_ENTRIES 160
#define MAX_DEPTH 12

static char root[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void remove_root(void)
{
	nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tmpfs when there is one: thousands of trees a second, no disk. */
	snprintf(root, sizeof(root), "%s/cf-fuzz-sysfs-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(root))
		abort();
	atexit(remove_root);
	return 0;
}

/* Path components of [A-Za-z0-9._:-], no "." or "..", at most MAX_DEPTH deep. */
static int safe_path(const char *p)
{
	int depth = 1;

	if (!p[0] || p[0] == '/' || strlen(p) > 200)
		return 0;
	for (const char *c = p; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-/", *c))
			return 0;
	if (strstr(p, "//") || p[strlen(p) - 1] == '/')
		return 0;
	for (const char *s = p; s; s = strchr(s, '/')) {
		if (*s == '/')
			s++;
		if (!strncmp(s, "./", 2) || !strcmp(s, ".") || !strncmp(s, "../", 3) || !strcmp(s, ".."))
			return 0;
		if (++depth > MAX_DEPTH)
			return 0;
	}
	return 1;
}

/* A link target: "../" steps up no further than the link's own depth, then a safe path. */
static int safe_target(const char *path, const char *target)
{
	int up = 0, depth = 0;

	for (const char *c = path; *c; c++)
		depth += *c == '/';
	while (!strncmp(target, "../", 3)) {
		target += 3;
		up++;
	}
	return up <= depth && safe_path(target);
}

static void make_parents(const char *rel)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
}

static void make_entry(char *line)
{
	char *arg, path[300];
	FILE *fp;

	/* "K PATH [ARG]": a shorter line ends before line + 2, so nothing is looked up there. */
	if (strlen(line) < 3 || line[1] != ' ')
		return;
	arg = strchr(line + 2, ' ');
	if (arg)
		*arg++ = '\0';
	if (!safe_path(line + 2))
		return;
	make_parents(line + 2);
	snprintf(path, sizeof(path), "%s/%s", root, line + 2);
	if (line[0] == 'd') {
		mkdir(path, 0755);
	} else if (line[0] == 'f' && (fp = fopen(path, "we"))) {
		fprintf(fp, "%s\n", arg ? arg : "");
		fclose(fp);
	} else if (line[0] == 'l' && arg && safe_target(line + 2, arg)) {
		if (symlink(arg, path) < 0 && errno != EEXIST)
			return;
	}
}

static void check_tree(void)
{
	struct sysfs_usb u[8], one;
	size_t count = 0;

	if (sysfs_usb_list(root, u, 8, &count) == CF_OK) {
		if (count > 8)
			abort();
		for (size_t i = 0; i < count; i++) {
			const enum sysfs_kind k = sysfs_usb_kind(&u[i]);

			(void)sysfs_kind_mode(k);
			if (!sysfs_kind_name(k))
				abort();
			if (sysfs_usb_read(u[i].dir, &one) == CF_OK &&
			    (one.vid != u[i].vid || one.pid != u[i].pid))
				abort();
		}
	}
	if (sysfs_usb_from_tty(root, "/dev/null", &one) == CF_OK && !one.dir[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *save = NULL;
	int entries = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	for (line = strtok_r(text, "\n", &save); line && entries < MAX_ENTRIES;
	     line = strtok_r(NULL, "\n", &save), entries++)
		make_entry(line);
	check_tree();
	free(text);
	return 0;
}
