// SPDX-License-Identifier: GPL-3.0-or-later
// The stand-in's methods: info, objects/list, objects/query, emergency_stop; scenario timeline.
#include "tools/klippyd/klippyd.h"
#include "tools/klippyd/klippyd_priv.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "protocol/err.h"

static json_t *section(struct klippyd *k, const char *name)
{
	json_t *v = json_object_get(k->scenario, name);

	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(k->scenario, name, v);
	}
	return v;
}

/* Entries of the timeline whose time has come change the printer, once, in order. */
static void apply_timeline(struct klippyd *k)
{
	json_t *tl = json_object_get(k->scenario, "timeline");
	const double elapsed = (double)(cf_now_us() - k->loaded_us) / 1e6;

	while (json_is_array(tl) && json_array_size(tl)) {
		json_t *e = json_array_get(tl, 0), *set = json_object_get(e, "set"), *v;
		const char *name;

		if (json_number_value(json_object_get(e, "after")) > elapsed)
			return;
		json_object_foreach(set, name, v)
		{
			json_t *target = !strcmp(name, "info") ? section(k, "info") :
								 json_object_get(section(k, "objects"), name);

			if (!json_is_object(target)) {
				target = json_object();
				json_object_set_new(section(k, "objects"), name, target);
			}
			if (json_is_object(v))
				json_object_update(target, v);
		}
		json_array_remove(tl, 0);
	}
}

int klippyd_set_scenario(struct klippyd *k, const json_t *root)
{
	if (!json_is_object(root))
		return CF_ERR_USAGE;
	json_decref(k->scenario);
	k->scenario = json_deep_copy(root);
	k->loaded_us = cf_now_us();
	return k->scenario ? CF_OK : CF_ERR_NOMEM;
}

int klippyd_load(struct klippyd *k, const char *path, char *err, size_t cap)
{
	json_error_t e;
	json_t *root = json_load_file(path, 0, &e);
	int rc;

	if (!root) {
		snprintf(err, cap, "%s:%d: %s", path, e.line, e.text);
		return e.line < 0 ? CF_ERR_NOINPUT : CF_ERR_USAGE;
	}
	rc = klippyd_set_scenario(k, root);
	json_decref(root);
	if (rc < 0)
		snprintf(err, cap, "%s: not a JSON object", path);
	return rc;
}

static json_t *info(struct klippyd *k)
{
	json_t *r = json_deep_copy(section(k, "info"));

	if (!json_object_get(r, "state"))
		json_object_set_new(r, "state", json_string("ready"));
	if (!json_object_get(r, "state_message"))
		json_object_set_new(r, "state_message", json_string("Printer is ready"));
	return r;
}

static json_t *list(struct klippyd *k)
{
	json_t *names = json_array();
	const char *name;
	json_t *v;

	json_array_append_new(names, json_string("webhooks"));
	json_object_foreach(section(k, "objects"), name, v)
		json_array_append_new(names, json_string(name));
	return json_pack("{s:o}", "objects", names);
}

/* webhooks.py _do_query: absent objects answer {}, absent fields null. */
static json_t *query(struct klippyd *k, const json_t *params, char *log, size_t cap)
{
	json_t *status = json_object(), *want = json_object_get(params, "objects"), *fields;
	const char *name;
	size_t used = 0;

	json_object_foreach(want, name, fields)
	{
		json_t *obj = !strcmp(name, "webhooks") ? info(k) :
							  json_incref(json_object_get(
								  section(k, "objects"), name));
		json_t *res = json_object(), *f;
		size_t i;

		if (json_is_array(fields)) {
			json_array_foreach(fields, i, f)
			{
				const char *key = json_string_value(f);
				json_t *v = key ? json_object_get(obj, key) : NULL;

				if (key)
					json_object_set(res, key, v ? v : json_null());
			}
		} else if (json_is_object(obj)) {
			json_object_update(res, obj);
		}
		json_decref(obj);
		json_object_set_new(status, name, res);
		used += (size_t)snprintf(log + used, used < cap ? cap - used : 0, "%s%s",
					 used ? "," : " ", name);
	}
	return json_pack("{s:f, s:o}", "eventtime", (double)cf_now_us() / 1e6, "status", status);
}

static void reply(struct klippyd_conn *c, json_t *id, json_t *result, const char *error)
{
	json_t *msg;

	if (error)
		msg = json_pack("{s:O, s:{s:s, s:s}}", "id", id, "error", "error",
				"WebRequestError", "message", error);
	else
		msg = json_pack("{s:O, s:o}", "id", id, "result", result);
	if (msg)
		klippyd_send(c, msg);
	json_decref(msg);
}

void klippyd_handle(struct klippyd *k, struct klippyd_conn *c, const char *msg, size_t len)
{
	json_t *req = json_loadb(msg, len, 0, NULL), *id, *result = NULL;
	const char *method = json_string_value(json_object_get(req, "method"));
	char line[512], what[400] = "", error[160] = "";

	if (!json_is_object(req) || !method) {
		if (k->cfg.log)
			k->cfg.log(k->cfg.log_ctx, "undecodable request skipped");
		json_decref(req);
		return;
	}
	k->requests++;
	apply_timeline(k);
	id = json_object_get(req, "id");
	if (!strcmp(method, "info"))
		result = info(k);
	else if (!strcmp(method, "objects/list"))
		result = list(k);
	else if (!strcmp(method, "objects/query") || !strcmp(method, "objects/subscribe"))
		result = query(k, json_object_get(req, "params"), what, sizeof(what));
	else if (!strcmp(method, "emergency_stop")) {
		json_object_set_new(section(k, "info"), "state", json_string("shutdown"));
		result = json_object();
	} else
		snprintf(error, sizeof(error), "No registered callback for path '%s'", method);
	snprintf(line, sizeof(line), "%s%s%s", method, what, k->cfg.mute ? " (muted)" : "");
	if (k->cfg.log)
		k->cfg.log(k->cfg.log_ctx, line);
	/* API_Server.md: no "id" (or null) -> no response; a muted Klipper never answers */
	if (!k->cfg.mute && id && !json_is_null(id))
		reply(c, id, result, error[0] ? error : NULL);
	else
		json_decref(result);
	json_decref(req);
}
