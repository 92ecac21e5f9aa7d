// SPDX-License-Identifier: GPL-3.0-or-later
// One writer for every --json line: the schema version first, the summary last (docs/json.md).
#include "jsonout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "protocol/err.h"

static bool summary_done;

void jsonout_emit(json_t *obj)
{
	jsonout_emit_to(stdout, obj);
}

void jsonout_emit_to(FILE *out, json_t *obj)
{
	json_t *line;
	const char *event;
	char *text;

	if (!obj)
		return;
	line = json_pack("{s:i}", "schema", JSONOUT_SCHEMA);
	if (line && !json_object_update(line, obj)) {
		text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
		if (text) {
			fprintf(out, "%s\n", text);
			fflush(out);
			free(text);
		}
	}
	event = json_string_value(json_object_get(obj, "event"));
	if (event && !strcmp(event, "summary"))
		summary_done = true;
	json_decref(line);
	json_decref(obj);
}

static void set_text(json_t *o, const char *key, const char *value)
{
	if (value && value[0])
		json_object_set_new(o, key, json_string(value));
}

void jsonout_error(const struct cf_failure *f)
{
	const int exit_code = cf_err_exit_code(f->code);
	char line[768];
	json_t *o;

	cf_failure_format(f, line, sizeof(line));
	o = json_pack("{s:s, s:s, s:i}", "event", "error", "code", cf_err_name(f->code),
		      "exit_code", exit_code);
	if (!o)
		return;
	set_text(o, "stage", f->stage);
	set_text(o, "device", f->device);
	set_text(o, "detail", f->detail[0] ? f->detail : cf_strerror(f->code));
	set_text(o, "hint", f->hint);
	json_object_set_new(o, "message", json_string(line));
	jsonout_emit(o);
	if (!summary_done)
		jsonout_emit(json_pack("{s:s, s:i, s:i, s:i, s:i}", "event", "summary", "devices", 0,
				       "succeeded", 0, "failed", 0, "exit_code", exit_code));
}

bool jsonout_summary_done(void)
{
	return summary_done;
}
