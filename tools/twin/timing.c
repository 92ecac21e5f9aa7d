/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The timing model: STM32F042 datasheet flash figures, scaled by the speed factor. */
#include <math.h>

#include "tools/twin/twin_priv.h"

/* STM32F042 datasheet, flash memory characteristics: page erase 20..40 ms (22 ms used as the
 * typical figure), 16-bit programming 53.5 us typical. */
#define TWIN_ERASE_PAGE_US	 22000.0
#define TWIN_PROGRAM_HALFWORD_US 53.5

uint64_t twin_scale(const struct twin *t, double us)
{
	double s = t->cfg.speed > 1 ? 1 : t->cfg.speed;

	return (uint64_t)llround(us * s);
}

uint64_t twin_erase_us(const struct twin *t)
{
	return twin_scale(t, TWIN_ERASE_PAGE_US);
}

uint64_t twin_program_us(const struct twin *t, size_t bytes)
{
	return twin_scale(t, TWIN_PROGRAM_HALFWORD_US * (double)(bytes / 2));
}
