// SPDX-License-Identifier: GPL-3.0-or-later
// Firmware sources read into a catalog: tree walk, firmware_list.csv, plain files, each file
// classified by its bytes and checked against its name and its CSV row.
#include "firmware_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failure.h"
#include "protocol/err.h"
#include "protocol/image.h"

#define WALK_DEPTH 12	  /* firmware/v2-v3/archive/v2/for Klipper .../x.bin is 5 deep */
#define WALK_FILES 10000u /* a firmware tree has ~150 files; a home directory is no source */
#define CSV_NAME "firmware_list.csv"

/* Warnings that make a build unfit to write (images.md §4, §7). */
#define DAMAGED_WARNINGS                                                                           \
	(IMAGE_WARN_LINK_BASE_UNKNOWN | IMAGE_WARN_LINKED_AT_FLASH_BASE | IMAGE_WARN_BAD_VECTORS | \
	 IMAGE_WARN_OVERSIZE | IMAGE_WARN_DICT_DAMAGED | IMAGE_WARN_PART_MISMATCH |                \
	 IMAGE_WARN_FULL_APP_BAD | IMAGE_WARN_KATAPULT_TOO_BIG | IMAGE_WARN_MCU_UNKNOWN |          \
	 IMAGE_WARN_USB_CAN_BRIDGE | IMAGE_WARN_SCRATCH_SMALL)

struct slot {
	char *path; /* as found or named */
	char *real; /* realpath, to attach CSV rows to walked files; NULL when missing */
	bool has_info, has_row, has_dict;
	struct image_info info;
	struct catalog_row row;
	uint8_t dict_sha256[32];
};

struct fwsource {
	struct slot **v;
	size_t count, cap;
	struct catalog_entry *entries;
	struct fwsource_stats stats;
	uint8_t *scratch;
};

struct fwsource *fwsource_new(void)
{
	struct fwsource *s = calloc(1, sizeof(*s));

	if (s && !(s->scratch = malloc(IMAGE_SCRATCH_SIZE))) {
		free(s);
		return NULL;
	}
	return s;
}

void fwsource_free(struct fwsource *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->count; i++) {
		free(s->v[i]->path);
		free(s->v[i]->real);
		free(s->v[i]);
	}
	free(s->v);
	free(s->entries);
	free(s->scratch);
	free(s);
}

void fwsource_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, 32, out);
}

bool fwsource_dict_sha256(const uint8_t *img, size_t len, const struct image_info *info,
			  uint8_t out[32])
{
	const size_t at = info->app.offset + info->app.dict_offset;

	if (!info->app.present || !info->app.has_dict || at > len || info->app.dict_len > len - at)
		return false;
	fwsource_sha256(img + at, info->app.dict_len, out);
	return true;
}

/* ---- reading ---- */

/* A regular file of at most IMAGE_MAX_SIZE bytes into a malloc'd buffer. */
static int read_bounded(const char *path, uint8_t **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t got = 0;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return CF_ERR_NOINPUT;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)IMAGE_MAX_SIZE) {
		close(fd);
		return CF_ERR_IMAGE;
	}
	*data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*data) {
		close(fd);
		return CF_ERR_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return CF_OK;
}

static int fail(struct cf_failure *f, int code, const char *path, const char *what)
{
	cf_failure_set(f, code, "firmware source", "%s: %s", path, what);
	cf_failure_set_hint(f, code == CF_ERR_NOINPUT ? "check the path" : "fix or remove that file");
	return code;
}

static struct slot *new_slot(struct fwsource *s, const char *path)
{
	struct slot *sl;

	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct slot **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	sl = calloc(1, sizeof(*sl));
	if (!sl || !(sl->path = strdup(path))) {
		free(sl);
		return NULL;
	}
	s->v[s->count++] = sl;
	return sl;
}

static struct slot *find_sha(const struct fwsource *s, const uint8_t sha[32])
{
	for (size_t i = 0; i < s->count; i++)
		if (s->v[i]->has_info && !memcmp(s->v[i]->info.sha256, sha, 32))
			return s->v[i];
	return NULL;
}

static struct slot *find_real(const struct fwsource *s, const char *real)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->v[i]->real && !strcmp(s->v[i]->real, real))
			return s->v[i];
	return NULL;
}

/* Word 0 is a stack pointer in RAM: firmware-shaped bytes, even when nothing else classifies
 * (a release truncated before its dictionary). images.md §3.1. */
static bool firmware_shaped(const uint8_t *d, size_t len)
{
	const uint32_t sp = len >= 8 ? (uint32_t)d[0] | (uint32_t)d[1] << 8 |
					       (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24
				     : 0;

	return sp >= 0x20000000u && sp <= 0x20040000u;
}

/*
 * Read and judge one file. named: the user or a CSV row named it (listed even when it is no
 * firmware); a walk lists only files that are firmware or firmware-shaped. *out is the slot
 * (NULL when the file was not listed).
 */
static int add_file(struct fwsource *s, const char *path, bool named, struct slot **out)
{
	char real[PATH_MAX];
	struct image_info info;
	struct slot *sl;
	uint8_t *data;
	size_t len;
	int rc = read_bounded(path, &data, &len);

	*out = NULL;
	if (rc == CF_ERR_NOMEM)
		return rc;
	s->stats.files++;
	if (rc < 0) {
		s->stats.skipped++;
		return 0;
	}
	rc = image_inspect(data, len, s->scratch, IMAGE_SCRATCH_SIZE, &info);
	if (rc == 0 && (sl = find_sha(s, info.sha256))) {
		s->stats.duplicates++;
		s->stats.firmware++;
		free(data);
		*out = sl;
		return 0;
	}
	if (rc < 0 && !named && !firmware_shaped(data, len)) {
		s->stats.other++;
		free(data);
		return 0;
	}
	sl = new_slot(s, path);
	if (!sl || !realpath(path, real) || !(sl->real = strdup(real))) {
		free(data);
		return sl ? 0 : CF_ERR_NOMEM;
	}
	sl->info = info;
	sl->has_info = rc == 0;
	s->stats.firmware += rc == 0;
	s->stats.other += rc != 0;
	sl->has_dict = rc == 0 && fwsource_dict_sha256(data, len, &info, sl->dict_sha256);
	free(data);
	*out = sl;
	return 0;
}

/* ---- tree walk ---- */

static int walk(struct fwsource *s, const char *dir, int depth)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), rc = 0;

	if (n < 0)
		return 0; /* unreadable folder: skipped like an unreadable file */
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		struct slot *sl;

		if (!rc && names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) <
			sizeof(path) &&
		    !lstat(path, &st)) {
			if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH)
				rc = walk(s, path, depth + 1);
			else if (!S_ISDIR(st.st_mode) && s->stats.files < WALK_FILES)
				rc = add_file(s, path, false, &sl);
			else
				s->stats.skipped++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* ---- firmware_list.csv ---- */

/* fw_update.sh: filepath is relative to firmware/ next to the list; plain folders too. */
static void resolve(const char *csv_dir, const char *filepath, char *out, size_t cap)
{
	struct stat st;

	if ((size_t)snprintf(out, cap, "%s/firmware/%s", csv_dir, filepath) < cap && !stat(out, &st))
		return;
	if ((size_t)snprintf(out, cap, "%s/%s", csv_dir, filepath) >= cap)
		out[0] = '\0'; /* too long: reported as missing */
}

static int attach_row(struct fwsource *s, const char *csv_dir, const struct catalog_row *row)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct slot *sl = NULL;
	int rc;

	s->stats.rows++;
	resolve(csv_dir, row->filepath, path, sizeof(path));
	if (!realpath(path, real)) {
		s->stats.rows_missing++;
		sl = new_slot(s, path);
		if (!sl)
			return CF_ERR_NOMEM;
		sl->row = *row;
		sl->has_row = true;
		return 0;
	}
	sl = find_real(s, real);
	if (!sl && (rc = add_file(s, path, true, &sl)) < 0)
		return rc;
	if (sl && !sl->has_row) {
		sl->row = *row;
		sl->has_row = true;
	}
	return 0;
}

/* Is data a firmware list? Its first line is a header with filepath and firmware_version. */
static bool is_csv(const uint8_t *data, size_t len, struct catalog_csv *csv)
{
	const char *nl = memchr(data, '\n', len);

	return len && catalog_csv_header(csv, (const char *)data,
					 nl ? (size_t)(nl - (const char *)data) : len) == 0;
}

static int read_csv(struct fwsource *s, const char *path, const uint8_t *data, size_t len,
		    const struct catalog_csv *csv, struct cf_failure *f)
{
	char dir[PATH_MAX];
	const char *p = (const char *)data, *end = p + len, *slash = strrchr(path, '/');
	unsigned line = 0;

	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		snprintf(dir, sizeof(dir), ".");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct catalog_row row;
		int rc;

		line++;
		if (line > 1) {
			rc = catalog_csv_row(csv, p, n, &row);
			if (rc < 0) {
				char what[64];

				snprintf(what, sizeof(what), "line %u is no firmware_list.csv row",
					 line);
				return fail(f, CF_ERR_IMAGE, path, what);
			}
			row.line = line;
			if (rc > 0 && (rc = attach_row(s, dir, &row)) < 0)
				return fail(f, rc, path, "out of memory");
		}
		p += n + 1;
	}
	return 0;
}

/* ---- entries ---- */

static void judge(const struct slot *sl, struct catalog_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->path = sl->path;
	e->row = sl->has_row ? &sl->row : NULL;
	if (!sl->real) {
		e->rejected = CATALOG_REJECT_MISSING;
		return;
	}
	e->info = &sl->info; /* zeroed kind UNKNOWN when not firmware */
	if (!sl->has_info) {
		e->rejected = CATALOG_REJECT_NOT_FIRMWARE;
		return;
	}
	e->name_warnings = image_name_warnings(sl->path, &sl->info);
	if (e->name_warnings || catalog_path_warnings(sl->path, &sl->info))
		e->rejected |= CATALOG_REJECT_NAME;
	if (e->row && (e->row_mismatch = catalog_row_check(e->row, &sl->info)))
		e->rejected |= CATALOG_REJECT_ROW;
	if (sl->info.warnings & DAMAGED_WARNINGS)
		e->rejected |= CATALOG_REJECT_DAMAGED;
	if (image_known_build(sl->info.sha256))
		e->known = CATALOG_KNOWN_RELEASE;
	else if (e->row && e->row->sha256[0] && !(e->row_mismatch & CATALOG_ROW_SHA256))
		e->known = CATALOG_KNOWN_MANIFEST;
	e->has_dict = sl->has_dict;
	memcpy(e->dict_sha256, sl->dict_sha256, 32);
	e->version = catalog_version_number(sl->info.version);
	e->variant = catalog_variant(sl->info.version, sl->info.mcu, sl->info.app.clock_freq);
}

static int rebuild(struct fwsource *s)
{
	struct catalog_entry *e = realloc(s->entries, (s->count ? s->count : 1) * sizeof(*e));

	if (!e)
		return CF_ERR_NOMEM;
	s->entries = e;
	for (size_t i = 0; i < s->count; i++)
		judge(s->v[i], &e[i]);
	return 0;
}

int fwsource_add(struct fwsource *s, const char *arg, struct cf_failure *f)
{
	struct catalog_csv csv;
	struct stat st;
	struct slot *sl;
	uint8_t *data;
	size_t len;
	int rc;

	if (stat(arg, &st) < 0)
		return fail(f, CF_ERR_NOINPUT, arg, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		char list[PATH_MAX];

		rc = walk(s, arg, 0);
		if (!rc && (size_t)snprintf(list, sizeof(list), "%s/%s", arg, CSV_NAME) < sizeof(list) &&
		    !stat(list, &st))
			return fwsource_add(s, list, f);
		return rc < 0 ? fail(f, rc, arg, "out of memory") : rebuild(s);
	}
	rc = read_bounded(arg, &data, &len);
	if (rc < 0)
		return fail(f, rc == CF_ERR_IMAGE ? CF_ERR_IMAGE : rc, arg,
			    rc == CF_ERR_IMAGE ? "not a regular file of at most 1 MiB"
					       : "cannot read it");
	if (is_csv(data, len, &csv))
		rc = read_csv(s, arg, data, len, &csv, f);
	else if ((rc = add_file(s, arg, true, &sl)) < 0)
		fail(f, rc, arg, "out of memory");
	free(data);
	return rc < 0 ? rc : rebuild(s);
}

const struct catalog_entry *fwsource_entries(const struct fwsource *s, size_t *count)
{
	*count = s->count;
	return s->entries;
}

const struct fwsource_stats *fwsource_get_stats(const struct fwsource *s)
{
	return &s->stats;
}

int fwsource_read_entry(const struct catalog_entry *e, uint8_t **data, size_t *len,
			struct cf_failure *f)
{
	uint8_t sha[32];
	int rc = read_bounded(e->path, data, len);

	if (rc < 0)
		return fail(f, rc, e->path, "cannot read it again");
	fwsource_sha256(*data, *len, sha);
	if (!e->info || memcmp(sha, e->info->sha256, 32)) {
		free(*data);
		*data = NULL;
		return fail(f, CF_ERR_IMAGE, e->path, "changed since it was judged");
	}
	return 0;
}
