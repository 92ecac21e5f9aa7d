// SPDX-License-Identifier: GPL-3.0-or-later
// Discovery rows as JSON (the keys of `status --json`) and the stable tokens of its enums.
#include "discover/discover.h"

#include <stdio.h>

#include "protocol/image.h"
#include "protocol/katapult.h"

const char *discover_link_name(enum discover_link link)
{
	switch (link) {
	case DISCOVER_LINK_CAN:
		return "can";
	case DISCOVER_LINK_USB:
		return "usb";
	case DISCOVER_LINK_DFU:
		return "dfu";
	}
	return "unknown";
}

const char *discover_mode_name(enum discover_mode mode)
{
	switch (mode) {
	case DISCOVER_MODE_APPLICATION:
		return "application";
	case DISCOVER_MODE_KATAPULT:
		return "katapult";
	case DISCOVER_MODE_ROM_DFU:
		return "rom_dfu";
	case DISCOVER_MODE_SILENT:
		return "silent";
	case DISCOVER_MODE_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}

const char *discover_holder_name(enum discover_holder holder)
{
	switch (holder) {
	case DISCOVER_HELD_KLIPPER:
		return "klipper";
	case DISCOVER_HELD_PROCESS:
		return "process";
	case DISCOVER_FREE:
		return "";
	}
	return "";
}

const char *discover_source_name(enum discover_source src)
{
	switch (src) {
	case DISCOVER_SRC_IDENTIFY:
		return "identify";
	case DISCOVER_SRC_KLIPPER:
		return "klipper";
	case DISCOVER_SRC_CONNECT:
		return "katapult_connect";
	case DISCOVER_SRC_USB:
		return "usb";
	case DISCOVER_SRC_NONE:
		return "";
	}
	return "";
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *firmware_json(const struct discover_probe *p)
{
	const struct image_app_part *a = &p->app.app;

	if (!p->has_app)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "version",
			 str_or_null(a->version), "build_versions",
			 str_or_null(p->app.build_versions), "mcu", str_or_null(a->mcu), "interface",
			 image_iface_name(a->iface), "can_bitrate",
			 a->can_bitrate ? json_integer(a->can_bitrate) : json_null(), "variant",
			 str_or_null(p->variant), "app", str_or_null(a->app_name), "source",
			 str_or_null(discover_source_name(p->source)));
}

static json_t *katapult_json(const struct discover_probe *p)
{
	char proto[16];

	if (p->mode != DISCOVER_MODE_KATAPULT || p->source != DISCOVER_SRC_CONNECT)
		return json_null();
	snprintf(proto, sizeof(proto), "%u.%u.%u", KATAPULT_PROTO_MAJOR(p->katapult_protocol),
		 KATAPULT_PROTO_MINOR(p->katapult_protocol),
		 KATAPULT_PROTO_PATCH(p->katapult_protocol));
	return json_pack("{s:o, s:o, s:s}", "version", str_or_null(p->katapult_version), "mcu",
			 str_or_null(p->katapult_mcu), "protocol", proto);
}

json_t *discover_probe_json(const struct discover_probe *p)
{
	json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:s}", "event", "probe", "name",
			      str_or_null(p->name), "config_file", str_or_null(p->config_file),
			      "link", discover_link_name(p->link), "mode",
			      discover_mode_name(p->mode));

	if (!o)
		return NULL;
	json_object_set_new(o, "interface", str_or_null(p->iface));
	json_object_set_new(o, "uuid", str_or_null(p->uuid));
	json_object_set_new(o, "node_id", p->node_id >= 0 ? json_integer(p->node_id) : json_null());
	json_object_set_new(o, "serial", str_or_null(p->serial));
	json_object_set_new(o, "usb_path", str_or_null(p->usb_path));
	json_object_set_new(o, "tty", str_or_null(p->tty));
	json_object_set_new(o, "by_id", str_or_null(p->by_id));
	json_object_set_new(o, "firmware", firmware_json(p));
	json_object_set_new(o, "katapult", katapult_json(p));
	json_object_set_new(o, "held_by", str_or_null(discover_holder_name(p->holder)));
	json_object_set_new(o, "holder", str_or_null(p->holder_text));
	json_object_set_new(o, "klipper_connected", json_boolean(p->klipper_connected));
	json_object_set_new(o, "note", str_or_null(p->note));
	return o;
}

json_t *discover_bus_json(const struct discover_bus *b)
{
	json_t *o = json_pack("{s:s, s:s}", "event", "bus", "interface", b->iface);

	if (!o)
		return NULL;
	json_object_set_new(o, "error", str_or_null(b->err ? b->err_text : NULL));
	json_object_set_new(o, "interface_bitrate",
			    b->iface_bitrate ? json_integer(b->iface_bitrate) : json_null());
	json_object_set_new(o, "klipper_bridge", json_boolean(b->bridge.klipper_bridge));
	json_object_set_new(o, "bus_bitrate",
			    b->bitrate.bitrate ? json_integer(b->bitrate.bitrate) : json_null());
	json_object_set_new(o, "bus_bitrate_source", str_or_null(b->bitrate.source));
	json_object_set_new(o, "answered", json_integer(b->answered));
	json_object_set_new(o, "parked", json_integer(b->parked));
	return o;
}
