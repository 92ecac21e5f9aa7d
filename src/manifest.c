// SPDX-License-Identifier: GPL-3.0-or-later
// The fleet manifest reader: its small INI parsed line by line, every refusal naming its line.
#include "manifest.h"

#include <ctype.h>
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

/*
 * The manifest's INI is parsed here, not by inih. Upstream inih's line buffer is a compile-time
 * constant (INI_MAX_LINE, 200 bytes by default; only Debian's patched build raises it at run
 * time, through globals upstream does not have), and a manifest line may hold an image path of
 * 255 characters: upstream inih would hand the handler a cut path, or the rest of the line as a
 * line of its own. A reader in front of ini_parse_stream cannot help, since the handler never
 * sees more than fits that buffer. The grammar is the one inih parsed with the manifest's
 * options, which is small: '#' or ';' starts a comment at the start of a line or after a blank;
 * "[name]" starts a section; "key = value" or "key: value", both sides trimmed; blank lines; a
 * UTF-8 BOM on line 1; no continuation lines, no key without a value.
 */
struct parse {
	struct manifest *m;
	const char *dir;
	int line; /* the line being parsed (1-based) */
	char *err;
	size_t cap;
};

static int fail(struct parse *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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

/* "key = value" in the current section: the last header above this line. */
static int on_pair(struct parse *p, const char *key, const char *value)
{
	struct manifest_probe *e = p->m->count ? &p->m->v[p->m->count - 1] : NULL;

	if (!e)
		return fail(p, p->line, "'%s' outside a probe section", key);
	if (!strcmp(key, "interface") || !strcmp(key, "can"))
		return set_field(p, e, "interface", e->iface, MANIFEST_NAME_MAX, value);
	if (!strcmp(key, "uuid") || !strcmp(key, "canbus_uuid"))
		return set_uuid(p, e, value);
	if (!strcmp(key, "image"))
		return set_image(p, e, value);
	if (!strcmp(key, "switch_to"))
		return iface_switch_from_name(value, &e->switch_to) ?
			       CF_OK :
			       fail(p, p->line, "switch_to in [%s] needs can or usb, not '%s'",
				    e->name, value);
	return fail(p, p->line, "unknown key '%s' in [%s]", key, e->name);
}

/* "[name]": a new section, unless its name is empty, too long or already taken. */
static int on_section(struct parse *p, const char *name, size_t nlen)
{
	struct manifest *m = p->m;
	struct manifest_probe *e;

	if (!nlen)
		return fail(p, p->line, "a section needs a name: [front-probe]");
	if (nlen > MANIFEST_NAME_MAX)
		return fail(p, p->line, "section name longer than %d characters",
			    MANIFEST_NAME_MAX);
	for (int i = 0; i < m->count; i++)
		if (strlen(m->v[i].name) == nlen && !memcmp(m->v[i].name, name, nlen))
			return fail(p, p->line, "[%.*s] repeats the section of line %d", (int)nlen,
				    name, m->v[i].line);
	if (m->count == MANIFEST_MAX_PROBES)
		return fail(p, p->line, "more than %d probe sections", MANIFEST_MAX_PROBES);
	e = &m->v[m->count++];
	memcpy(e->name, name, nlen);
	e->name[nlen] = '\0';
	e->line = p->line;
	return CF_OK;
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* One line (NUL-terminated, at most MANIFEST_MAX_LINE characters, ours to cut). */
static int parse_line(struct parse *p, char *line)
{
	char *s, *sep;

	if (p->line == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
		line += 3;
	/* A comment starts at the line's start or after a blank. */
	for (s = line; *s; s++) {
		const bool blank_before = s == line || isspace((unsigned char)s[-1]);

		if ((*s == '#' || *s == ';') && blank_before) {
			*s = '\0';
			break;
		}
	}
	s = trim(line);
	if (!*s)
		return CF_OK;
	if (*s == '[') {
		sep = strchr(s, ']');
		return sep ? on_section(p, s + 1, (size_t)(sep - s - 1)) :
			     fail(p, p->line, "not INI syntax (key = value, or [section])");
	}
	sep = strpbrk(s, "=:");
	if (!sep)
		return fail(p, p->line, "not INI syntax (key = value, or [section])");
	*sep = '\0';
	return on_pair(p, trim(s), trim(sep + 1));
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

int manifest_parse(const char *text, const char *dir, struct manifest *m, char *err, size_t cap)
{
	struct parse p = { .m = m, .dir = dir, .err = err, .cap = cap };
	char line[MANIFEST_MAX_LINE + 1];

	memset(m, 0, sizeof(*m));
	err[0] = '\0';
	while (*text) {
		const char *eol = strchr(text, '\n');
		const size_t len = eol ? (size_t)(eol - text) : strlen(text);
		int rc;

		p.line++;
		if (len > MANIFEST_MAX_LINE)
			return fail(&p, p.line, "longer than %d characters", MANIFEST_MAX_LINE);
		memcpy(line, text, len);
		line[len] = '\0';
		rc = parse_line(&p, line);
		if (rc)
			return rc;
		text = eol ? eol + 1 : text + len;
	}
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
	if (err) {
		cf_failure_set(why, err, "manifest", "%s", text);
		cf_failure_set_hint(why, "see `cartoflash fleet --help` for the format");
	}
	return err;
}
