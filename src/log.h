/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Leveled logging to stderr (style.md §2.8). Results go to stdout, never through here. */
#ifndef CARTOFLASH_SRC_LOG_H
#define CARTOFLASH_SRC_LOG_H

#include <stddef.h>
#include <stdint.h>

enum cf_log_level {
	CF_LOG_ERROR,
	CF_LOG_WARN,
	CF_LOG_INFO,  /* -v: stage changes, devices found */
	CF_LOG_DEBUG, /* -vv: decisions, timers, retries */
	CF_LOG_TRACE, /* -vvv: the wire, in candump notation */
};

/* Default CF_LOG_WARN; -v raises, -q sets CF_LOG_ERROR. */
void cf_log_set_level(enum cf_log_level level);
enum cf_log_level cf_log_get_level(void);
static inline int cf_log_enabled(enum cf_log_level level)
{
	return level <= cf_log_get_level();
}

/*
 * "[  1.234567] can0/3 katapult: NACK on WRITE 0x08002400, retry 1/3" at debug and trace;
 * "cartoflash: warning: ..." style at error/warn/info. device and module may be NULL.
 */
void cf_log(enum cf_log_level level, const char *device, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A hook around every line cf_log writes (phase 0 before, 1 after), so the progress display
 * can take its redrawn lines off the terminal first and put them back after. NULL removes it.
 */
void cf_log_set_hook(void (*hook)(void *ctx, int phase), void *ctx);

/* Monotonic clock in microseconds; the only clock src/ reads. */
uint64_t cf_now_us(void);

#endif
