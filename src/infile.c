// SPDX-License-Identifier: GPL-3.0-or-later
// Input files read whole and bounded: a regular file, or standard input where a verb documents it.
#include "infile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failure.h"
#include "protocol/err.h"

#define INFILE_FIRST_CAP (64u * 1024u)

const char *infile_kind_name(unsigned mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISREG(mode))
		return "a regular file";
	return "not a regular file";
}

static void size_text(size_t n, char *buf, size_t cap)
{
	if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
		snprintf(buf, cap, "%zu MiB", n / (1024 * 1024));
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, cap, "%zu KiB", n / 1024);
	else
		snprintf(buf, cap, "%zu bytes", n);
}

static int refuse_kind(const struct infile_rules *r, unsigned mode, struct cf_failure *why)
{
	cf_failure_set(why, CF_ERR_NOINPUT, "read", "%s, not a regular file",
		       infile_kind_name(mode));
	cf_failure_set_hint(why, "name the %s file itself%s", r->what,
			    r->stdin_ok ? ", or pipe it in as -" : "");
	return CF_ERR_NOINPUT;
}

/* Standard input: a pipe, FIFO, socket or redirected regular file; never a terminal (it would
 * wait for typing) or a device (/dev/zero never ends). */
static int check_stdin(const struct infile_rules *r, struct cf_failure *why)
{
	struct stat st;

	if (fstat(STDIN_FILENO, &st) < 0) {
		if (why)
			why->sys_errno = errno;
		cf_failure_set(why, CF_ERR_NOINPUT, "read", "standard input is closed");
		cf_failure_set_hint(why, "pipe the %s in: ... < FILE", r->what);
		return CF_ERR_NOINPUT;
	}
	if (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return CF_OK;
	if (isatty(STDIN_FILENO)) {
		cf_failure_set(why, CF_ERR_NOINPUT, "read", "standard input is a terminal");
		cf_failure_set_hint(why, "pipe the %s in (- < FILE) or name the file", r->what);
		return CF_ERR_NOINPUT;
	}
	return refuse_kind(r, st.st_mode, why);
}

static int open_regular(const char *path, const struct infile_rules *r, int *fd,
			struct cf_failure *why)
{
	struct stat st;

	/* O_NONBLOCK: opening a FIFO without a writer would wait forever. */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (*fd < 0) {
		if (why)
			why->sys_errno = errno;
		cf_failure_set(why, CF_ERR_NOINPUT, "read", "cannot open the %s: %s", r->what,
			       strerror(errno));
		cf_failure_set_hint(why, "check the path and the file's permissions");
		return CF_ERR_NOINPUT;
	}
	if (fstat(*fd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return refuse_kind(r, st.st_mode, why);
	}
	return CF_OK;
}

/* Read up to max + 1 bytes, growing the buffer; 0, CF_ERR_NOINPUT or CF_ERR_NOMEM. */
static int read_bounded(int fd, size_t max, struct infile *out, struct cf_failure *why)
{
	size_t cap = max + 1 < INFILE_FIRST_CAP ? max + 1 : INFILE_FIRST_CAP;

	out->data = malloc(cap + 1);
	if (!out->data)
		return cf_failure_set(why, CF_ERR_NOMEM, "read", "out of memory");
	while (out->len <= max) {
		ssize_t n;

		if (out->len == cap) {
			const size_t next = cap * 2 > max + 1 ? max + 1 : cap * 2;
			uint8_t *p = realloc(out->data, next + 1);

			if (!p)
				return cf_failure_set(why, CF_ERR_NOMEM, "read", "out of memory");
			out->data = p;
			cap = next;
		}
		n = read(fd, out->data + out->len, cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (why)
				why->sys_errno = errno;
			cf_failure_set(why, CF_ERR_NOINPUT, "read", "%s", strerror(errno));
			cf_failure_set_hint(why, "check that it is a regular file");
			return CF_ERR_NOINPUT;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	out->data[out->len] = '\0';
	return CF_OK;
}

int infile_read(const char *path, const struct infile_rules *r, struct infile *out,
		struct cf_failure *why)
{
	const bool use_stdin = r->stdin_ok && !strcmp(path, "-");
	char size[32];
	int fd = STDIN_FILENO, err;

	out->data = NULL;
	out->len = 0;
	cf_failure_clear(why);
	cf_failure_set_device(why, "%s", use_stdin ? "standard input" : path);
	err = use_stdin ? check_stdin(r, why) : open_regular(path, r, &fd, why);
	if (err < 0)
		return err;
	err = read_bounded(fd, r->max_len, out, why);
	if (!use_stdin)
		close(fd);
	if (!err && out->len > r->max_len) {
		size_text(r->max_len, size, sizeof(size));
		err = cf_failure_set(why, r->too_big, "read", "larger than %s: not a %s", size,
				     r->what);
		cf_failure_set_hint(why, "check that this is the %s you meant", r->what);
	}
	if (err < 0)
		infile_fini(out);
	return err;
}

void infile_fini(struct infile *out)
{
	free(out->data);
	out->data = NULL;
	out->len = 0;
}
