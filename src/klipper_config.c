// SPDX-License-Identifier: GPL-3.0-or-later
// Finds canbus_uuid entries in Klipper config files with inih, following [include] globs.
#include "klipper_config.h"

#include <ctype.h>
#include <glob.h>
#include <ini.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int read_file(struct klipper_config *cfg, const char *path, int depth);

/* [include GLOB] sections have no keys, so inih never reports them: find them by hand. */
static void follow_includes(struct klipper_config *cfg, const char *path, int depth)
{
	char line[1024], dirbuf[1024];
	const char *dir;
	FILE *fp = fopen(path, "re");

	if (!fp)
		return;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dir = dirname(dirbuf);
	while (fgets(line, sizeof(line), fp)) {
		char pattern[2048], *end;
		glob_t g;

		if (strncmp(line, "[include ", 9))
			continue;
		end = strchr(line, ']');
		if (!end)
			continue;
		*end = '\0';
		trim(line + 9);
		if (line[9] == '/')
			snprintf(pattern, sizeof(pattern), "%s", line + 9);
		else
			snprintf(pattern, sizeof(pattern), "%s/%s", dir, line + 9);
		if (glob(pattern, 0, NULL, &g) == 0)
			for (size_t i = 0; i < g.gl_pathc; i++)
				read_file(cfg, g.gl_pathv[i], depth + 1);
		globfree(&g);
	}
	fclose(fp);
}

/*
 * inih's reader: one Klipper line per call, never longer than inih's buffer (num), Klipper's
 * comments ('#' or ';' at the start or after a blank) already gone, so inih parses the same
 * whatever options it was built with (upstream's are compile-time; only Debian's build has
 * runtime globals, which we do not use). The rest of an over-long line (gcode) is dropped,
 * never parsed as a line of its own; a line without '=' or ':' (Klipper rejects it) reaches
 * inih blank and is counted.
 */
struct line_src {
	FILE *fp;
	struct klipper_config *cfg;
};

static char *next_line(char *str, int num, void *stream)
{
	struct line_src *src = stream;
	int c, n = 0;
	bool got = false, blank_before = true, comment = false;

	if (num < 3)
		return NULL;
	while ((c = getc(src->fp)) != EOF && c != '\n') {
		got = true;
		if ((c == '#' || c == ';') && blank_before)
			comment = true;
		blank_before = c == ' ' || c == '\t';
		if (!comment && n < num - 2)
			str[n++] = (char)c;
	}
	if (c == EOF && !got)
		return NULL;
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

static int read_file(struct klipper_config *cfg, const char *path, int depth)
{
	struct parse_ctx ctx = { .cfg = cfg, .file = path };
	struct line_src src = { .cfg = cfg };
	int rc;

	if (depth > KLIPPER_CONFIG_DEPTH)
		return CF_OK;
	src.fp = fopen(path, "re");
	if (!src.fp)
		return CF_ERR_NOINPUT;
	rc = ini_parse_stream(next_line, &src, on_pair, &ctx);
	fclose(src.fp);
	if (rc == -2)
		return CF_ERR_NOMEM;
	cfg->files++;
	/* inih keeps going after a line it rejects and reports the first; count, don't fail. */
	if (rc > 0)
		cfg->bad_lines++;
	if (ctx.err)
		return ctx.err;
	follow_includes(cfg, path, depth);
	return CF_OK;
}

int klipper_config_read(struct klipper_config *cfg, const char *path)
{
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
	free(cfg->v);
	cfg->v = NULL;
	cfg->count = cfg->cap = 0;
}
