// SPDX-License-Identifier: GPL-3.0-or-later
// USB<->CAN switch through a deployer: the R4 request and where the probe comes back afterwards.
#include "katapult/iface_switch.h"

#include <stdio.h>
#include <string.h>

#include "usb/byid.h"

enum image_iface iface_switch_target(enum updater_switch s)
{
	switch (s) {
	case UPDATER_SWITCH_CAN:
		return IMAGE_IFACE_CAN;
	case UPDATER_SWITCH_USB:
		return IMAGE_IFACE_USB;
	case UPDATER_SWITCH_NONE:
		break;
	}
	return IMAGE_IFACE_UNKNOWN;
}

bool iface_switch_from_name(const char *name, enum updater_switch *out)
{
	enum image_iface iface;

	if (!image_iface_from_name(name, &iface))
		return false;
	*out = iface == IMAGE_IFACE_CAN ? UPDATER_SWITCH_CAN : UPDATER_SWITCH_USB;
	return true;
}

bool iface_switch_is_deployer(const struct image_info *img)
{
	return img && img->kind == IMAGE_DEPLOYER;
}

/* "1000000 bit/s", or why there is no number (images.md §5: the heuristic may not decide). */
static void bitrate_text(const struct image_info *img, char *buf, size_t cap)
{
	if (img->katapult.can_bitrate)
		snprintf(buf, cap, "%u bit/s", (unsigned)img->katapult.can_bitrate);
	else
		snprintf(buf, cap, "a bitrate the image does not tell");
}

void iface_switch_summary(const struct image_info *img, const struct device_identity *id,
			  const char *done, char *buf, size_t cap)
{
	const char *sep = done && done[0] ? "; " : "";
	char rate[48];

	if (!done)
		done = "";
	bitrate_text(img, rate, sizeof(rate));
	if (img->katapult.iface == IMAGE_IFACE_CAN)
		snprintf(buf, cap, "%s%sdeployer started: back as CAN Katapult at %s, UUID %s",
			 done, sep, rate, id->can_uuid[0] ? id->can_uuid : "of its chip UID");
	else
		snprintf(buf, cap,
			 "%s%sdeployer started: back as USB Katapult 1d50:6177, serial %s", done,
			 sep, id->uid_hex[0] ? id->uid_hex : "= the same chip UID");
}

/* katapult.md §4: the probe rewrites ~8 KiB of bootloader itself; we cannot watch it. */
static void line_rewrite(const struct image_info *img, bool started, char *buf, size_t cap)
{
	snprintf(
	    buf, cap,
	    "%s the deployer rewrites the bootloader with its embedded %s Katapult (%u bytes) "
	    "by itself; keep the probe powered: a power loss during that rewrite needs ROM DFU "
	    "recovery with a Full image (`cartoflash recover`)",
	    started ? "now" : "when the probe leaves Katapult (`cartoflash reboot`),",
	    img->katapult.iface == IMAGE_IFACE_CAN ? "CAN" : "USB", (unsigned)img->katapult.len);
}

/* After the rewrite: moving the probe is only needed when the interface changes. */
static const char *settle_text(bool switched, enum image_iface to)
{
	if (!switched)
		return "; let the rewrite finish (a few seconds)";
	return to == IMAGE_IFACE_CAN
		   ? "; let the rewrite finish (a few seconds) before moving it "
		     "to a CAN bus at that bitrate"
		   : "; let the rewrite finish (a few seconds) before moving it to USB";
}

static void lines_can(const struct image_info *img, const struct device_identity *id,
		      char lines[][IFACE_SWITCH_LINE_MAX])
{
	/* Over CAN, or with a --can follow hint, iface names the bus; from a tty alone, not. */
	const bool known = id->iface[0] != '\0';
	const bool switched = id->tty[0] != '\0';
	const char *iface = known ? id->iface : "can0";
	const char *uuid = id->can_uuid[0] ? id->can_uuid : "UUID";
	char rate[48];

	bitrate_text(img, rate, sizeof(rate));
	if (id->can_uuid[0])
		snprintf(lines[0], IFACE_SWITCH_LINE_MAX,
			 "it comes back as a Katapult node on CAN at %s with UUID %s%s%s%s%s", rate,
			 id->can_uuid, id->uid_hex[0] ? " (from its USB serial " : "", id->uid_hex,
			 id->uid_hex[0] ? ")" : "", settle_text(switched, IMAGE_IFACE_CAN));
	else
		snprintf(lines[0], IFACE_SWITCH_LINE_MAX,
			 "it comes back as a Katapult node on CAN at %s; its UUID is derived from "
			 "its chip UID (`cartoflash scan --can %s` lists it)",
			 rate, iface);
	snprintf(lines[1], IFACE_SWITCH_LINE_MAX,
		 "next: cartoflash flash CAN_APP.bin --can %s --uuid %s   (a CAN application for "
		 "%s%s)",
		 iface, uuid, rate, known ? "" : "; can0 stands for your CAN interface");
	snprintf(lines[2], IFACE_SWITCH_LINE_MAX, "%s printer.cfg: [scanner] canbus_uuid: %s%s",
		 switched ? "then in" : "unchanged in", uuid,
		 switched ? "   (in place of its serial: line)" : "");
}

/* ecosystem.md §4: udev names the link (the product string differs between 5.x and 6.x, and
 * Katapult has its own): read it, never build it. */
static void lines_usb(const struct device_identity *id, char lines[][IFACE_SWITCH_LINE_MAX])
{
	const bool switched = id->tty[0] == '\0';
	const char *uid = id->uid_hex[0] ? id->uid_hex : "<chip UID>";
	char link[256] = "";

	if (id->uid_hex[0])
		(void)byid_find_serial(id->uid_hex, link, sizeof(link));
	if (id->uid_hex[0])
		snprintf(lines[0], IFACE_SWITCH_LINE_MAX,
			 "it comes back as a USB Katapult (1d50:6177) with serial %s%s%.120s%s%s",
			 id->uid_hex, link[0] ? " (now " : "", link, link[0] ? ")" : "",
			 settle_text(switched, IMAGE_IFACE_USB));
	else
		snprintf(
		    lines[0], IFACE_SWITCH_LINE_MAX,
		    "it comes back as a USB Katapult (1d50:6177) whose serial is the same chip "
		    "UID that CAN UUID %s is derived from (not readable over CAN)%s",
		    id->can_uuid[0] ? id->can_uuid : "(unknown)",
		    settle_text(switched, IMAGE_IFACE_USB));
	snprintf(lines[1], IFACE_SWITCH_LINE_MAX,
		 "next: cartoflash flash USB_APP.bin --serial auto   (a USB application)");
	if (switched)
		snprintf(lines[2], IFACE_SWITCH_LINE_MAX,
			 "then in printer.cfg: [scanner] serial: the /dev/serial/by-id/ link whose "
			 "name ends in _%s-if00 (in place of its canbus_uuid: line; `ls "
			 "/dev/serial/by-id/` shows it once the application runs, `cartoflash "
			 "status` too)",
			 uid);
	else
		snprintf(lines[2], IFACE_SWITCH_LINE_MAX,
			 "unchanged in printer.cfg: its [scanner] serial: line (the /dev/serial/by-id/ "
			 "link ending in _%s-if00 comes back with the application)",
			 uid);
}

size_t iface_switch_report(const struct image_info *img, const struct device_identity *id,
			   bool started, char lines[][IFACE_SWITCH_LINE_MAX], size_t max)
{
	char tmp[IFACE_SWITCH_LINES][IFACE_SWITCH_LINE_MAX];
	size_t n = 0;

	if (!iface_switch_is_deployer(img) || !max)
		return 0;
	memset(tmp, 0, sizeof(tmp));
	line_rewrite(img, started, tmp[n++], sizeof(tmp[0]));
	switch (img->katapult.iface) {
	case IMAGE_IFACE_CAN:
		lines_can(img, id, &tmp[n]);
		n += 3;
		break;
	case IMAGE_IFACE_USB:
		lines_usb(id, &tmp[n]);
		n += 3;
		break;
	case IMAGE_IFACE_UNKNOWN:
	case IMAGE_IFACE_USB_CAN_BRIDGE:
	case IMAGE_IFACE_UART:
		/* R4 refuses these before any write; nothing to say about a comeback. */
		break;
	}
	if (n > max)
		n = max;
	memcpy(lines, tmp, n * sizeof(tmp[0]));
	return n;
}
