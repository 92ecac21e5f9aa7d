/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Flash persisted to a file, so a test or a second twin process sees the same chip. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/err.h"
#include "tools/twin/twin_priv.h"

/* A missing file is a blank chip; a shorter file is padded with erased bytes. */
int twin_persist_load(struct twin *t)
{
	int fd;
	ssize_t n;

	if (!t->flash_file)
		return CF_OK;
	fd = open(t->flash_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? CF_OK : CF_ERR_NOINPUT;
	n = read(fd, t->flash, t->flash_size);
	close(fd);
	if (n < 0)
		return CF_ERR_NOINPUT;
	return CF_OK;
}

/* Write the changed range; the file always holds the whole flash afterwards. */
int twin_persist_write(struct twin *t, uint32_t off, size_t len)
{
	struct stat st;
	int fd, err = CF_OK;

	if (!t->flash_file)
		return CF_OK;
	fd = open(t->flash_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return CF_ERR_IO;
	if (fstat(fd, &st) == 0 && st.st_size < (off_t)t->flash_size) {
		off = 0;
		len = t->flash_size;
	}
	if (pwrite(fd, t->flash + off, len, off) != (ssize_t)len)
		err = CF_ERR_IO;
	close(fd);
	return err;
}
