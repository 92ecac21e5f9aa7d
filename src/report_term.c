// SPDX-License-Identifier: GPL-3.0-or-later
// The terminal under the progress display: size, colour, SIGWINCH, and lines cut to the width.
#include "report_term.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define LABEL_MAX 34 /* a label column wider than this only steals from the bar */
#define STAGE_COL 8
#define BAR_MIN 8
#define BAR_MAX 40
#define DEFAULT_WIDTH 80
#define DEFAULT_ROWS 24

static volatile sig_atomic_t Resized;
static struct sigaction OldWinch;
static int Watchers;

static void on_winch(int sig)
{
	(void)sig;
	Resized = 1;
}

void report_term_watch(bool on)
{
	if (on && Watchers++ == 0) {
		struct sigaction sa = { .sa_handler = on_winch, .sa_flags = SA_RESTART };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, &OldWinch);
	} else if (!on && Watchers > 0 && --Watchers == 0) {
		sigaction(SIGWINCH, &OldWinch, NULL);
	}
}

bool report_term_resized(void)
{
	if (!Resized)
		return false;
	Resized = 0;
	return true;
}

static bool term_dumb(void)
{
	const char *term = getenv("TERM");

	return !term || !term[0] || !strcmp(term, "dumb");
}

bool report_term_capable(int fd)
{
	return isatty(fd) && !term_dumb();
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;

	return v && *v && !*end && n > 0 && n < 10000 ? (int)n : fallback;
}

void report_term_query(struct report_term *t, int fd)
{
	struct winsize ws = { 0 };
	const char *no_colour = getenv("NO_COLOR");

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		t->width = ws.ws_col;
		t->rows = ws.ws_row > 0 ? ws.ws_row : env_int("LINES", DEFAULT_ROWS);
	} else {
		t->width = env_int("COLUMNS", DEFAULT_WIDTH);
		t->rows = env_int("LINES", DEFAULT_ROWS);
	}
	t->colour = !(no_colour && no_colour[0]) && !term_dumb();
}

/* ---- one line, cut to the width ---- */

struct line {
	char *buf;
	size_t cap, len; /* bytes */
	int cols, max;	 /* visible columns written, and allowed */
};

/* Append up to n visible bytes of s (control bytes shown as '?'); -1 = all that fit. */
static void put(struct line *l, const char *s, int n)
{
	for (; *s && n != 0 && l->cols < l->max && l->len + 1 < l->cap; s++, n--) {
		unsigned char c = (unsigned char)*s;
		l->buf[l->len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		l->cols++;
	}
	l->buf[l->len] = '\0';
}

static void pad(struct line *l, int to)
{
	while (l->cols < to && l->cols < l->max && l->len + 1 < l->cap) {
		l->buf[l->len++] = ' ';
		l->cols++;
	}
	l->buf[l->len] = '\0';
}

/* Escape sequences take bytes but no columns. */
static void put_escape(struct line *l, const char *esc)
{
	size_t n = strlen(esc);

	if (l->len + n + 1 < l->cap) {
		memcpy(l->buf + l->len, esc, n + 1);
		l->len += n;
	}
}

static void put_detail(struct line *l, const char *detail)
{
	int room = l->max - l->cols;

	if ((int)strlen(detail) <= room || room < 4) {
		put(l, detail, -1);
		return;
	}
	put(l, detail, room - 3);
	put(l, "...", -1);
}

static void put_status(struct line *l, bool colour, const char *word, const char *esc)
{
	if (colour)
		put_escape(l, esc);
	put(l, word, -1);
	if (colour)
		put_escape(l, "\033[0m");
}

/* The columns right of the bar: the richest that leaves the bar BAR_MIN wide. */
static int progress_tail(char *tail, size_t cap, int room, const struct report_term_line *p)
{
	unsigned pct = (unsigned)(p->done * 100 / p->total);
	int n;

	n = snprintf(tail, cap, " %3u%% %6.1f KiB/s ETA %4.1fs", pct, p->rate_bps / 1024, p->eta_s);
	if (room - n - 2 >= BAR_MIN)
		return n;
	n = snprintf(tail, cap, " %3u%% %6.1f KiB/s", pct, p->rate_bps / 1024);
	if (room - n - 2 >= BAR_MIN)
		return n;
	return snprintf(tail, cap, " %3u%%", pct);
}

static void put_bar(struct line *l, const struct report_term_line *p)
{
	char tail[64], bar[BAR_MAX + 1];
	int room = l->max - l->cols, n = progress_tail(tail, sizeof(tail), room, p);
	int width = room - n - 2;
	int fill;

	if (width > BAR_MAX)
		width = BAR_MAX;
	if (width >= 4) {
		fill = (int)(p->done * (size_t)width / p->total);
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = '\0';
		put(l, "[", -1);
		put(l, bar, -1);
		put(l, "]", -1);
	}
	put(l, width >= 4 ? tail : tail + 1, -1);
}

int report_term_format(char *buf, size_t cap, int width, bool colour,
		       const struct report_term_line *p)
{
	struct line l = { .buf = buf, .cap = cap, .max = width > 1 ? width - 1 : 1 };
	int label = (int)strlen(p->label);

	if (!cap)
		return 0;
	buf[0] = '\0';
	/* Narrow terminals: the label gives way first, down to a third of the line. */
	if (label > LABEL_MAX)
		label = LABEL_MAX;
	if (l.max < 80 && label > l.max / 3)
		label = l.max / 3 > 12 ? l.max / 3 : 12;
	put(&l, p->label, label);
	pad(&l, label + 1);
	if (p->finished) {
		put_status(&l, colour, p->failed ? "FAILED" : "done",
			   p->failed ? "\033[31m" : "\033[32m");
		pad(&l, label + 1 + STAGE_COL + 1);
		put_detail(&l, p->detail ? p->detail : "");
		return l.cols;
	}
	put(&l, p->stage, STAGE_COL + 2);
	pad(&l, l.cols + 1 > label + STAGE_COL + 2 ? l.cols + 1 : label + STAGE_COL + 2);
	if (p->total)
		put_bar(&l, p);
	/* No trailing blanks: a line that ends early must not look wider than it is. */
	while (l.len && buf[l.len - 1] == ' ') {
		buf[--l.len] = '\0';
		l.cols--;
	}
	return l.cols;
}
