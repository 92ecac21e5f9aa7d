/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The terminal under the progress display: its size, colour, resizes, and lines that fit. */
#ifndef CARTOFLASH_SRC_REPORT_TERM_H
#define CARTOFLASH_SRC_REPORT_TERM_H

#include <stdbool.h>
#include <stddef.h>

struct report_term {
	int width, rows; /* columns and lines of the terminal */
	bool colour;	 /* NO_COLOR unset or empty and TERM not dumb */
};

/* True when fd is a terminal that can take redrawn lines (not TERM=dumb). */
bool report_term_capable(int fd);
/*
 * Size from TIOCGWINSZ on fd, else COLUMNS/LINES, else 80x24; colour from NO_COLOR and TERM.
 */
void report_term_query(struct report_term *t, int fd);
/* Install (on) or restore (off) the SIGWINCH handler; nests. */
void report_term_watch(bool on);
/* True once after each SIGWINCH since the last call. */
bool report_term_resized(void);

/* What one device's progress line shows. */
struct report_term_line {
	const char *label, *stage;
	size_t done, total;		/* total 0: no progress yet */
	double rate_bps, eta_s;
	bool finished, failed;
	const char *detail;		/* finished: summary or error name */
};

/*
 * Format one line into buf (NUL-terminated) with at most width - 1 visible columns (the last
 * column is never written, so no terminal auto-wraps it); colour codes, when asked for, are
 * extra bytes around the status word. Returns the number of visible columns.
 */
int report_term_format(char *buf, size_t cap, int width, bool colour,
		       const struct report_term_line *l);

#endif
