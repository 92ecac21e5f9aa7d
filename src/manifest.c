// SPDX-License-Identifier: GPL-3.0-or-later
// The fleet manifest reader: inih for the syntax, every refusal naming its line.
#include "manifest.h"

#include <ctype.h>
#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "infile.h"
#include "katapult/iface_switch.h"
#include "protocol/canbus.h"
#include "protocol/err.h"

struct parse {
	struct manifest *m;
	const char *dir;
	const char *pos;      /* the reader's place in the text */
	int line;	      /* the line the reader handed out last (1-based) */
	int section_line[MANIFEST_MAX_PROBES];
	char *err;
	size_t cap;
};

static int fail(struct parse *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct parse *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->cap, "line %d: ", line);

	if (n < 0 || (size_t)n >= p->cap)
		return CF_ERR_USAGE;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->cap - (size_t)n, fmt, ap);
	va_end(ap);
	return CF_ERR_USAGE;
}

/* A "[name]" header at the start of a line (after blanks), as inih sees it: name and length. */
static bool header(const char *line, size_t len, const char **name, size_t *name_len)
{
	const char *close;

	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (!len || *line != '[')
		return false;
	close = memchr(line, ']', len);
	if (!close)
		return false; /* inih reports it as a syntax error on this line */
	*name = line + 1;
	*name_len = (size_t)(close - line - 1);
	return true;
}

/* Before inih: line lengths and the [section] headers inih would merge or cut silently. */
static int prescan(struct parse *p)
{
	const char *text = p->pos;
	int line = 0;

	while (*text) {
		const char *eol = strchr(text, '\n');
		const size_t len = eol ? (size_t)(eol - text) : strlen(text);
		const char *name;
		size_t nlen;

		line++;
		if (len > MANIFEST_MAX_LINE)
			return fail(p, line, "longer than %d characters", MANIFEST_MAX_LINE);
		if (header(text, len, &name, &nlen)) {
			struct manifest_probe *e;

			if (!nlen)
				return fail(p, line, "a section needs a name: [front-probe]");
			if (nlen > MANIFEST_NAME_MAX)
				return fail(p, line, "section name longer than %d characters",
					    MANIFEST_NAME_MAX);
			for (int i = 0; i < p->m->count; i++)
				if (strlen(p->m->v[i].name) == nlen &&
				    !memcmp(p->m->v[i].name, name, nlen))
					return fail(p, line, "[%.*s] repeats the section of line %d",
						    (int)nlen, name, p->section_line[i]);
			if (p->m->count == MANIFEST_MAX_PROBES)
				return fail(p, line, "more than %d probe sections",
					    MANIFEST_MAX_PROBES);
			e = &p->m->v[p->m->count];
			memcpy(e->name, name, nlen);
			e->name[nlen] = '\0';
			e->line = p->section_line[p->m->count++] = line;
		}
		text = eol ? eol + 1 : text + len;
	}
	return CF_OK;
}

/* inih's reader: one whole line per call (prescan bounded them below the buffer). */
static char *reader(char *str, int num, void *user)
{
	struct parse *p = user;
	const char *eol;
	size_t len;

	if (!*p->pos)
		return NULL;
	eol = strchr(p->pos, '\n');
	len = eol ? (size_t)(eol - p->pos) + 1 : strlen(p->pos);
	if (len >= (size_t)num)
		len = (size_t)num - 1;
	memcpy(str, p->pos, len);
	str[len] = '\0';
	p->pos += len;
	p->line++;
	return str;
}

/* The section the current line belongs to: the last header at or before it. */
static struct manifest_probe *current(struct parse *p)
{
	struct manifest_probe *e = NULL;

	for (int i = 0; i < p->m->count && p->section_line[i] <= p->line; i++)
		e = &p->m->v[i];
	return e;
}

static int set_field(struct parse *p, struct manifest_probe *e, const char *key, char *field,
		     size_t max, const char *value)
{
	if (field[0])
		return fail(p, p->line, "%s given twice in [%s]", key, e->name);
	if (!value[0])
		return fail(p, p->line, "%s in [%s] is empty", key, e->name);
	if (strlen(value) > max)
		return fail(p, p->line, "%s in [%s] longer than %zu characters", key, e->name, max);
	memcpy(field, value, strlen(value) + 1);
	return CF_OK;
}

static int set_uuid(struct parse *p, struct manifest_probe *e, const char *value)
{
	uint8_t raw[CANBUS_UUID_LEN];
	int err = set_field(p, e, "uuid", e->uuid, MANIFEST_NAME_MAX, value);

	if (err)
		return err;
	if (canbus_uuid_parse(value, raw) < 0)
		return fail(p, p->line, "[%s]: '%s' is not a CAN UUID (12 hex digits)", e->name,
			    value);
	canbus_uuid_format(raw, e->uuid);
	return CF_OK;
}

static int set_image(struct parse *p, struct manifest_probe *e, const char *value)
{
	const bool join = p->dir && value[0] != '/';
	char path[2 * MANIFEST_PATH_MAX + 2];

	snprintf(path, sizeof(path), "%s%s%s", join ? p->dir : "", join ? "/" : "", value);
	if (strlen(value) > MANIFEST_PATH_MAX || strlen(path) > MANIFEST_PATH_MAX)
		return fail(p, p->line, "image of [%s] longer than %d characters%s", e->name,
			    MANIFEST_PATH_MAX, join ? " with the manifest's folder" : "");
	return set_field(p, e, "image", e->image, MANIFEST_PATH_MAX, path);
}

static int on_pair(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	struct manifest_probe *e = current(p);
	int err;

	(void)section; /* inih cuts names at 50 characters: ours are whole */
	if (!e)
		return !fail(p, p->line, "'%s' outside a probe section", key);
	if (!strcmp(key, "interface") || !strcmp(key, "can"))
		err = set_field(p, e, "interface", e->iface, MANIFEST_NAME_MAX, value);
	else if (!strcmp(key, "uuid") || !strcmp(key, "canbus_uuid"))
		err = set_uuid(p, e, value);
	else if (!strcmp(key, "image"))
		err = set_image(p, e, value);
	else if (!strcmp(key, "switch_to"))
		err = iface_switch_from_name(value, &e->switch_to) ?
			      CF_OK :
			      fail(p, p->line, "switch_to in [%s] needs can or usb, not '%s'",
				   e->name, value);
	else
		err = fail(p, p->line, "unknown key '%s' in [%s]", key, e->name);
	return err == CF_OK;
}

/* After the syntax: every section complete, no probe named twice. */
static int check_sections(struct parse *p)
{
	const struct manifest *m = p->m;

	if (!m->count) {
		snprintf(p->err, p->cap, "no probe sections");
		return CF_ERR_USAGE;
	}
	for (int i = 0; i < m->count; i++) {
		const struct manifest_probe *e = &m->v[i];

		if (!e->iface[0] || !e->uuid[0] || !e->image[0])
			return fail(p, e->line, "[%s] needs interface, uuid and image (missing:%s%s%s)",
				    e->name, e->iface[0] ? "" : " interface",
				    e->uuid[0] ? "" : " uuid", e->image[0] ? "" : " image");
		for (int j = 0; j < i; j++)
			if (!strcmp(m->v[j].iface, e->iface) && !strcmp(m->v[j].uuid, e->uuid))
				return fail(p, e->line,
					    "[%s]: probe %s on %s is named twice (also [%s], "
					    "line %d)",
					    e->name, e->uuid, e->iface, m->v[j].name, m->v[j].line);
	}
	return CF_OK;
}

static void configure_inih(void)
{
	/* One whole line per reader call; the manifest is strict where Klipper's config is not. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_max_line = ini_initial_alloc = 2 * MANIFEST_MAX_LINE + 2;
	ini_allow_multiline = false;
	ini_allow_no_value = false;
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = ";#";
	ini_start_comment_prefixes = ";#";
	ini_stop_on_first_error = true;
}

int manifest_parse(const char *text, const char *dir, struct manifest *m, char *err, size_t cap)
{
	struct parse p = { .m = m, .dir = dir, .pos = text, .err = err, .cap = cap };
	int rc;

	memset(m, 0, sizeof(*m));
	err[0] = '\0';
	rc = prescan(&p);
	if (rc)
		return rc;
	configure_inih();
	rc = ini_parse_stream(reader, &p, on_pair, &p);
	if (rc == -2)
		return CF_ERR_NOMEM;
	if (err[0])
		return CF_ERR_USAGE;
	if (rc > 0)
		return fail(&p, rc, "not INI syntax (key = value, or [section])");
	return check_sections(&p);
}

int manifest_read(const char *path, struct manifest *m, struct cf_failure *why)
{
	static const struct infile_rules rules = {
		.what = "manifest", .max_len = MANIFEST_MAX_LEN, .too_big = CF_ERR_NOINPUT,
	};
	struct infile in;
	char dirbuf[MANIFEST_PATH_MAX + 1], text[300];
	const char *nul;
	int err = infile_read(path, &rules, &in, why);

	if (err)
		return err;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	nul = memchr(in.data, '\0', in.len);
	err = CF_ERR_USAGE;
	if (strlen(path) > MANIFEST_PATH_MAX)
		snprintf(text, sizeof(text), "its path is longer than %d characters",
			 MANIFEST_PATH_MAX);
	else if (nul)
		snprintf(text, sizeof(text), "not text (a NUL byte at offset %zu)",
			 (size_t)(nul - (const char *)in.data));
	else
		err = manifest_parse((const char *)in.data, dirname(dirbuf), m, text,
				     sizeof(text));
	infile_fini(&in);
	if (err == CF_ERR_USAGE) {
		cf_failure_set(why, err, "manifest", "%s", text);
		cf_failure_set_hint(why, "see `cartoflash fleet --help` for the format");
	} else if (err) {
		cf_failure_set(why, err, "manifest", "out of memory");
	}
	return err;
}
