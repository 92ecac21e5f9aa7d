// SPDX-License-Identifier: GPL-3.0-or-later
// Building and printing struct cf_failure.
#include "failure.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/err.h"

void cf_failure_clear(struct cf_failure *f)
{
	memset(f, 0, sizeof(*f));
}

int cf_failure_set(struct cf_failure *f, int code, const char *stage, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return code;
	f->code = code;
	snprintf(f->stage, sizeof(f->stage), "%s", stage ? stage : "");
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
	return code;
}

void cf_failure_set_device(struct cf_failure *f, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(f->device, sizeof(f->device), fmt, ap);
	va_end(ap);
}

void cf_failure_set_hint(struct cf_failure *f, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(f->hint, sizeof(f->hint), fmt, ap);
	va_end(ap);
}

void cf_failure_format(const struct cf_failure *f, char *buf, unsigned long cap)
{
	const char *detail = f->detail[0] ? f->detail : cf_strerror(f->code);
	int n = 0;

	buf[0] = '\0';
	if (f->device[0])
		n += snprintf(buf + n, cap - (unsigned long)n, "%s: ", f->device);
	if (f->stage[0] && (unsigned long)n < cap)
		n += snprintf(buf + n, cap - (unsigned long)n, "%s: ", f->stage);
	if ((unsigned long)n < cap)
		n += snprintf(buf + n, cap - (unsigned long)n, "%s", detail);
	if (f->hint[0] && (unsigned long)n < cap)
		snprintf(buf + n, cap - (unsigned long)n, "; %s", f->hint);
}

void cf_failure_print(const struct cf_failure *f)
{
	char line[768];

	cf_failure_format(f, line, sizeof(line));
	fprintf(stderr, "cartoflash: %s\n", line);
}
