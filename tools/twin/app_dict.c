/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The application's command ids, read from the dictionary of the installed image (§8.2-8.4). */
#include <jansson.h>
#include <string.h>
#include <zlib.h>

#include "protocol/image.h"
#include "tools/twin/twin_priv.h"

/* The id of the entry whose format starts with name followed by a space or the end. */
static int id_of(json_t *map, const char *name)
{
	const char *key;
	json_t *v;
	size_t n = strlen(name);

	json_object_foreach(map, key, v)
	{
		if (!strncmp(key, name, n) && (key[n] == ' ' || key[n] == '\0') &&
		    json_is_integer(v))
			return (int)json_integer_value(v);
	}
	return -1;
}

/* Parameters of a format: "%.*s" and "%*s" are buffers, every other '%' an integer. */
static void describe(struct twin_app_cmd *c, const char *fmt)
{
	for (const char *p = strchr(fmt, '%'); p && c->nparams < 8; p = strchr(p + 1, '%')) {
		if (!strncmp(p, "%.*s", 4) || !strncmp(p, "%*s", 3))
			c->buf_mask |= (uint8_t)(1u << c->nparams);
		c->nparams++;
	}
}

static void mark_valid(struct twin_app_ids *ids, json_t *commands)
{
	const char *key;
	json_t *v;

	json_object_foreach(commands, key, v)
	{
		json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
		if (id < 0 || id >= TWIN_APP_MAX_ID || ids->ncmds == TWIN_APP_MAX_CMDS)
			continue;
		ids->valid[id / 8] |= (uint8_t)(1u << (id % 8));
		ids->cmds[ids->ncmds].id = (int16_t)id;
		describe(&ids->cmds[ids->ncmds], key);
		ids->ncmds++;
	}
}

/* Inflate the zlib stream at flash[off .. off+len) into out; returns the text length or 0. */
static size_t inflate_dict(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream z;
	size_t n = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return 0;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)(cap - 1);
	if (inflate(&z, Z_FINISH) == Z_STREAM_END)
		n = z.total_out;
	inflateEnd(&z);
	out[n] = '\0';
	return n;
}

void twin_app_dict_load(struct twin *t)
{
	struct twin_app_ids *ids = &t->app_ids;
	json_t *root, *cmds, *resps;
	size_t n;

	memset(ids, 0, sizeof(*ids));
	ids->identify = 1; /* §8.2: hard-coded, "identify offset=%u count=%c" */
	ids->valid[0] = 0x02;
	ids->cmds[0] = (struct twin_app_cmd){.id = 1, .nparams = 2};
	ids->ncmds = 1;
	ids->get_canbus_id = ids->get_uptime = ids->get_clock = ids->get_config = -1;
	ids->reset = ids->emergency_stop = -1;
	ids->r_canbus_id = ids->r_uptime = ids->r_clock = ids->r_config = ids->r_shutdown = -1;
	if (!t->inst.dict_len)
		return;
	n = inflate_dict(t->flash + t->inst.dict_off, t->inst.dict_len, t->scratch,
			 IMAGE_SCRATCH_SIZE);
	root = n ? json_loadb((const char *)t->scratch, n, 0, NULL) : NULL;
	cmds = json_object_get(root, "commands");
	resps = json_object_get(root, "responses");
	if (json_is_object(cmds) && json_is_object(resps)) {
		mark_valid(ids, cmds);
		ids->get_canbus_id = id_of(cmds, "get_canbus_id");
		ids->get_uptime = id_of(cmds, "get_uptime");
		ids->get_clock = id_of(cmds, "get_clock");
		ids->get_config = id_of(cmds, "get_config");
		ids->reset = id_of(cmds, "reset");
		ids->emergency_stop = id_of(cmds, "emergency_stop");
		ids->r_canbus_id = id_of(resps, "canbus_id");
		ids->r_uptime = id_of(resps, "uptime");
		ids->r_clock = id_of(resps, "clock");
		ids->r_config = id_of(resps, "config");
		ids->r_shutdown = id_of(resps, "shutdown");
	}
	json_decref(root);
}

const struct twin_app_cmd *twin_app_cmd_of(const struct twin *t, uint32_t id)
{
	if (id >= TWIN_APP_MAX_ID || !(t->app_ids.valid[id / 8] & (1u << (id % 8))))
		return NULL;
	for (size_t i = 0; i < t->app_ids.ncmds; i++)
		if ((uint32_t)t->app_ids.cmds[i].id == id)
			return &t->app_ids.cmds[i];
	return NULL;
}
