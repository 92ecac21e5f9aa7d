// SPDX-License-Identifier: GPL-3.0-or-later
// `scan --dfu`: every DFU-mode USB interface with its path, ids, serial and memory layout.
#include "dfu/dfu_scan.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu/dfu_usb.h"
#include "protocol/dfu.h"
#include "protocol/err.h"
#include "jsonout.h"

static void print_json(const struct dfu_candidate *c)
{
	struct dfu_layout l;
	const bool have_layout = !dfu_parse_layout(c->alt0_name, strlen(c->alt0_name), &l);
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "event", "dfu_device", "mode",
	    c->vid == DFU_USB_ROM_VID && c->pid == DFU_USB_ROM_PID ? "rom_dfu" : "dfu", "usb_path",
	    c->path, "serial", c->serial, "product", c->product, "layout", c->alt0_name,
	    "flash_size", (json_int_t)(have_layout ? dfu_layout_size(&l) : 0), "transfer_size",
	    (json_int_t)c->functional.transfer_size, "access",
	    c->open_err ? cf_err_name(c->open_err) : "ok");
	char id[10];

	if (!o)
		return;
	snprintf(id, sizeof(id), "%04x:%04x", c->vid, c->pid);
	json_object_set_new(o, "id", json_string(id));
	jsonout_emit(o);
}

int dfu_scan_run(bool json)
{
	struct dfu_candidate c[DFU_USB_MAX_CANDIDATES];
	struct dfu_usb *usb;
	size_t n = 0;
	size_t denied = 0;

	if (dfu_usb_new(NULL, &usb) || dfu_usb_find(usb, 0, 0, c, DFU_USB_MAX_CANDIDATES, &n)) {
		dfu_usb_free(usb);
		fprintf(stderr, "cartoflash: scan --dfu: cannot list USB devices (libusb)\n");
		return cf_err_exit_code(CF_ERR_IO);
	}
	dfu_usb_free(usb);
	if (!json && n)
		printf("%-10s %-9s %-14s %s\n", "USB PATH", "ID", "SERIAL",
		       "MEMORY LAYOUT (alt 0)");
	for (size_t i = 0; i < n; i++) {
		denied += c[i].open_err == CF_ERR_ACCESS;
		if (json)
			print_json(&c[i]);
		else
			printf("%-10s %04x:%04x %-14s %s\n", c[i].path, c[i].vid, c[i].pid,
			       c[i].serial[0] ? c[i].serial : "?",
			       c[i].open_err == CF_ERR_ACCESS ? "(cannot open: no permission)"
			       : c[i].open_err		      ? "(listed, not answering: reset?)"
							      : c[i].alt0_name);
	}
	if (json)
		jsonout_emit(json_pack("{s:s, s:I, s:I}", "event", "summary", "dfu_devices",
				       (json_int_t)n, "no_permission", (json_int_t)denied));
	else if (!n)
		printf("no device in DFU mode (bridge BOOT0 while plugging the probe into USB)\n");
	if (denied && !json)
		fprintf(stderr, "cartoflash: %s\n", dfu_usb_access_hint());
	return 0;
}
