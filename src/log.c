// SPDX-License-Identifier: GPL-3.0-or-later
// Leveled logging with relative timestamps for debug and trace lines.
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static struct {
	enum cf_log_level level;
	uint64_t start_us;
	void (*hook)(void *ctx, int phase);
	void *hook_ctx;
} LogState = { CF_LOG_WARN, 0, NULL, NULL };

void cf_log_set_hook(void (*hook)(void *ctx, int phase), void *ctx)
{
	LogState.hook = hook;
	LogState.hook_ctx = ctx;
}

void cf_log_set_level(enum cf_log_level level)
{
	LogState.level = level;
}

enum cf_log_level cf_log_get_level(void)
{
	return LogState.level;
}

uint64_t cf_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *const level_words[] = {
	[CF_LOG_ERROR] = "error: ",
	[CF_LOG_WARN] = "warning: ",
	[CF_LOG_INFO] = "",
	[CF_LOG_DEBUG] = "",
	[CF_LOG_TRACE] = "",
};

void cf_log(enum cf_log_level level, const char *device, const char *module, const char *fmt, ...)
{
	va_list ap;
	uint64_t now;

	if (!cf_log_enabled(level))
		return;
	now = cf_now_us();
	if (!LogState.start_us)
		LogState.start_us = now;
	if (LogState.hook)
		LogState.hook(LogState.hook_ctx, 0);
	if (level >= CF_LOG_DEBUG) {
		uint64_t rel = now - LogState.start_us;
		fprintf(stderr, "[%3u.%06u] ", (unsigned)(rel / 1000000u), (unsigned)(rel % 1000000u));
	} else {
		fprintf(stderr, "cartoflash: %s", level_words[level]);
	}
	if (device)
		fprintf(stderr, "%s ", device);
	if (module)
		fprintf(stderr, "%s: ", module);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (LogState.hook)
		LogState.hook(LogState.hook_ctx, 1);
}
