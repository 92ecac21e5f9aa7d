// SPDX-License-Identifier: GPL-3.0-or-later
// Finds canbus_uuid entries in Klipper config files with inih, following [include] globs.
#include "klipper_config.h"

#include <ctype.h>
#include <glob.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infile.h"
#include "log.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

#define KLIPPER_CONFIG_DEPTH 8

struct parse_ctx {
	struct klipper_config *cfg;
	const char *file;
	int err;
};

static void trim(char *s)
{
	size_t n = strlen(s);
	char *p = s;

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	memmove(s, p, strlen(p) + 1);
}

static bool already(const struct klipper_config *cfg, const char *uuid, const char *section,
		    const char *file)
{
	for (size_t i = 0; i < cfg->count; i++)
		if (!strcmp(cfg->v[i].uuid, uuid) && !strcmp(cfg->v[i].section, section) &&
		    !strcmp(cfg->v[i].file, file))
			return true;
	return false;
}

static int add_entry(struct klipper_config *cfg, const char *uuid, const char *section,
		     const char *file)
{
	struct klipper_config_entry *e;

	if (already(cfg, uuid, section, file))
		return CF_OK;
	if (cfg->count == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 8;
		struct klipper_config_entry *v = realloc(cfg->v, cap * sizeof(*v));

		if (!v)
			return CF_ERR_NOMEM;
		cfg->v = v;
		cfg->cap = cap;
	}
	e = &cfg->v[cfg->count++];
	snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
	snprintf(e->section, sizeof(e->section), "%.63s", section);
	snprintf(e->file, sizeof(e->file), "%.255s", file);
	return CF_OK;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	uint8_t raw[CANBUS_UUID_LEN];
	char text[64], canon[13];

	/* Klipper option names are case-insensitive; a name without value is tolerated. */
	if (!name || !value || strcasecmp(name, "canbus_uuid"))
		return 1;
	snprintf(text, sizeof(text), "%s", value);
	text[strcspn(text, "#;")] = '\0';
	trim(text);
	if (canbus_uuid_parse(text, raw) < 0)
		return 1;
	canbus_uuid_format(raw, canon);
	if (add_entry(ctx->cfg, canon, section, ctx->file) < 0)
		ctx->err = CF_ERR_NOMEM;
	return 1;
}

/* A real printer.cfg with its SAVE_CONFIG block is < 100 KiB: the bound leaves room, and ends
 * /dev/zero or an endless pipe. */
static const struct infile_rules config_rules = {
	.what = "Klipper config", .max_len = KLIPPER_CONFIG_MAX_LEN, .too_big = CF_ERR_NOINPUT,
};

/*
 * inih's reader: one Klipper line per call, never longer than inih's buffer (num), Klipper's
 * comments ('#' or ';' at the start or after a blank) already gone, so inih parses the same
 * whatever options it was built with (upstream's are compile-time; only Debian's build has
 * runtime globals, which we do not use). The rest of an over-long line (gcode) is dropped,
 * never parsed as a line of its own; a line without '=' or ':' (Klipper rejects it) reaches
 * inih blank and is counted. The text is the file infile read whole (bounded, NUL-terminated).
 */
struct line_src {
	const char *pos;
	struct klipper_config *cfg;
};

static char *next_line(char *str, int num, void *stream)
{
	struct line_src *src = stream;
	int n = 0;
	bool blank_before = true, comment = false;

	if (num < 3 || !*src->pos)
		return NULL;
	for (; *src->pos && *src->pos != '\n'; src->pos++) {
		const char c = *src->pos;

		if ((c == '#' || c == ';') && blank_before)
			comment = true;
		blank_before = c == ' ' || c == '\t';
		if (!comment && n < num - 2)
			str[n++] = c;
	}
	if (*src->pos == '\n')
		src->pos++;
	while (n && isspace((unsigned char)str[n - 1]))
		n--;
	str[n] = '\0';
	if (n && !isspace((unsigned char)str[0]) && str[0] != '[' && !strpbrk(str, "=:")) {
		src->cfg->bad_lines++;
		n = 0;
	}
	str[n++] = '\n';
	str[n] = '\0';
	return str;
}

int klipper_config_parse(struct klipper_config *cfg, const char *file, const char *text)
{
	struct parse_ctx ctx = { .cfg = cfg, .file = file };
	struct line_src src = { .pos = text, .cfg = cfg };
	int rc;

	rc = ini_parse_stream(next_line, &src, on_pair, &ctx);
	if (rc == -2)
		return CF_ERR_NOMEM;
	/* inih keeps going after a line it rejects and reports the first; count, don't fail. */
	if (rc > 0)
		cfg->bad_lines++;
	return ctx.err;
}

const char *klipper_config_next_include(const char *text, char *pattern, size_t cap)
{
	while (text && *text) {
		const char *eol = strchr(text, '\n');
		const size_t len = eol ? (size_t)(eol - text) : strlen(text);
		const char *close = memchr(text, ']', len);
		const char *next = eol ? eol + 1 : text + len;

		/* Klipper reads "[include GLOB]" at the start of a line only. */
		if (len > 9 && !strncmp(text, "[include ", 9) && close) {
			snprintf(pattern, cap, "%.*s", (int)(close - text - 9), text + 9);
			trim(pattern);
			if (pattern[0])
				return next;
		}
		text = next;
	}
	return NULL;
}

static bool seen_file(struct klipper_config *cfg, const char *path)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	for (unsigned i = 0; i < cfg->nseen; i++)
		if (!strcmp(cfg->seen[i], real))
			return true;
	if (cfg->nseen < KLIPPER_CONFIG_MAX_FILES) {
		cfg->seen[cfg->nseen] = strdup(real);
		if (cfg->seen[cfg->nseen])
			cfg->nseen++;
	}
	return false;
}

static int read_file(struct klipper_config *cfg, const char *path, int depth);

/* [include GLOB] sections have no keys, so inih never reports them: find them in the text. */
static void follow_includes(struct klipper_config *cfg, const char *path, const char *text,
			    int depth)
{
	char pattern[1024], full[2048], dirbuf[1024];
	const char *dir;

	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dir = dirname(dirbuf);
	while ((text = klipper_config_next_include(text, pattern, sizeof(pattern)))) {
		glob_t g;

		snprintf(full, sizeof(full), "%s%s%s", pattern[0] == '/' ? "" : dir,
			 pattern[0] == '/' ? "" : "/", pattern);
		if (glob(full, 0, NULL, &g) == 0)
			for (size_t i = 0; i < g.gl_pathc; i++)
				if (read_file(cfg, g.gl_pathv[i], depth + 1) == CF_ERR_NOMEM)
					break;
		globfree(&g);
	}
}

static int read_file(struct klipper_config *cfg, const char *path, int depth)
{
	struct infile in;
	struct cf_failure why;
	int err;

	/* A file read once is not read again: include loops and diamonds end here. */
	if (depth > KLIPPER_CONFIG_DEPTH || seen_file(cfg, path) ||
	    cfg->files >= KLIPPER_CONFIG_MAX_FILES)
		return CF_OK;
	err = infile_read(path, &config_rules, &in, depth ? &why : &cfg->fail);
	if (err < 0 && depth) {
		/* An include Klipper could not read either: said, and the rest still read. */
		char line[400];

		cfg->unread_files++;
		cf_failure_format(&why, line, sizeof(line));
		cf_log(CF_LOG_WARN, NULL, "klipper-config", "include not read: %s", line);
		return err == CF_ERR_NOMEM ? err : CF_OK;
	}
	if (err < 0)
		return err;
	cfg->files++;
	err = klipper_config_parse(cfg, path, (const char *)in.data);
	if (!err)
		follow_includes(cfg, path, (const char *)in.data, depth);
	infile_fini(&in);
	return err;
}

int klipper_config_read(struct klipper_config *cfg, const char *path)
{
	cf_failure_clear(&cfg->fail);
	return read_file(cfg, path, 0);
}

const struct klipper_config_entry *klipper_config_find(const struct klipper_config *cfg,
						       const char *uuid)
{
	for (size_t i = 0; i < cfg->count; i++)
		if (!strcmp(cfg->v[i].uuid, uuid))
			return &cfg->v[i];
	return NULL;
}

void klipper_config_fini(struct klipper_config *cfg)
{
	for (unsigned i = 0; i < cfg->nseen; i++)
		free(cfg->seen[i]);
	cfg->nseen = 0;
	free(cfg->v);
	cfg->v = NULL;
	cfg->count = cfg->cap = 0;
}
