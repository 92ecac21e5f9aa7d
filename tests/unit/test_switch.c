// SPDX-License-Identifier: GPL-3.0-or-later
// --switch-to (images.md §7 R4): option and manifest parsing, what R4 lets through, and the report
// after a deployer (katapult.md §4) with the UUID vector of katapult.md §2.3.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_run.h"
#include "katapult/iface_switch.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/mkimage/mkimage.h"

/* katapult.md §2.3: serial 16000C000F43304253373820 -> UUID e0ef270ca188. */
#define SERIAL "16000C000F43304253373820"
#define UUID   "e0ef270ca188"

static void test_option_parsing(void **state)
{
	struct updater_options o = {0};

	(void)state;
	assert_int_equal(cmd_updater_option(&o, "flash", CMD_OPT_SWITCH_TO, "can"), 1);
	assert_int_equal(o.switch_to, UPDATER_SWITCH_CAN);
	assert_int_equal(cmd_updater_option(&o, "flash", CMD_OPT_SWITCH_TO, "usb"), 1);
	assert_int_equal(o.switch_to, UPDATER_SWITCH_USB);
	/* A typo is a usage error (64) and keeps the earlier value. */
	assert_int_equal(cmd_updater_option(&o, "flash", CMD_OPT_SWITCH_TO, "canbus"), 64);
	assert_int_equal(o.switch_to, UPDATER_SWITCH_USB);
	assert_int_equal(cmd_updater_option(&o, "flash", CMD_OPT_SWITCH_TO, ""), 64);
	assert_int_equal(iface_switch_target(UPDATER_SWITCH_NONE), IMAGE_IFACE_UNKNOWN);
	assert_int_equal(iface_switch_target(UPDATER_SWITCH_CAN), IMAGE_IFACE_CAN);
	assert_int_equal(iface_switch_target(UPDATER_SWITCH_USB), IMAGE_IFACE_USB);
}

/* Fields the report reads, as image_inspect fills them for a deployer (images.md §4). */
static void deployer(struct image_info *img, enum image_iface iface, uint32_t bitrate)
{
	memset(img, 0, sizeof(*img));
	img->kind = IMAGE_DEPLOYER;
	img->iface = iface;
	img->can_bitrate = bitrate;
	img->katapult.present = true;
	img->katapult.iface = iface;
	img->katapult.can_bitrate = bitrate;
	img->katapult.len = 4644;
}

/* A synthetic deployer (kind 'd') or application ('a') classified by image_inspect, so that
 * R1, R2, R5 and R6 pass and R4 is the rule under test. */
static void inspected(char kind, enum image_iface iface, struct image_info *img)
{
	static uint8_t scratch[IMAGE_SCRATCH_SIZE];
	uint8_t *bytes = NULL;
	size_t len = 0;

	if (kind == 'd') {
		struct mkimage_deployer_opts o = {.katapult = {.iface = iface}};

		assert_int_equal(mkimage_deployer(&o, &bytes, &len), CF_OK);
	} else {
		struct mkimage_app_opts o = {.iface = iface};

		assert_int_equal(mkimage_app(&o, &bytes, &len), CF_OK);
	}
	assert_int_equal(image_inspect(bytes, len, scratch, sizeof(scratch), img), CF_OK);
	free(bytes);
	assert_int_equal(img->kind, kind == 'd' ? IMAGE_DEPLOYER : IMAGE_APP);
	assert_int_equal(img->iface, iface);
}

/* R4 as the backends apply it: target iface = the transport, switch_to = the request. */
static int r4(const struct image_info *img, enum image_iface now, enum updater_switch req,
	      struct image_refusal *why)
{
	struct image_target t = {.path = IMAGE_PATH_KATAPULT, .iface = now};

	t.switch_to = iface_switch_target(req);
	memset(why, 0, sizeof(*why));
	if (image_check_against(img, &t, 0, why) == CF_OK)
		return CF_OK;
	assert_string_equal(why->rule, "R4"); /* no other rule may be what refuses here */
	return CF_ERR_REFUSED;
}

static void test_r4_verdicts(void **state)
{
	struct image_info img;
	struct image_refusal why;

	(void)state;
	inspected('d', IMAGE_IFACE_CAN, &img);
	/* Same interface: no switch, nothing to request. */
	assert_int_equal(r4(&img, IMAGE_IFACE_CAN, UPDATER_SWITCH_NONE, &why), CF_OK);
	/* No request: refused, and the override named is the matching --switch-to. */
	assert_int_equal(r4(&img, IMAGE_IFACE_USB, UPDATER_SWITCH_NONE, &why), CF_ERR_REFUSED);
	assert_string_equal(why.override, "--switch-to can");
	assert_int_equal(r4(&img, IMAGE_IFACE_USB, UPDATER_SWITCH_CAN, &why), CF_OK);
	/* A request that does not match the image names both interfaces. */
	assert_int_equal(r4(&img, IMAGE_IFACE_USB, UPDATER_SWITCH_USB, &why), CF_ERR_REFUSED);
	assert_string_equal(why.image_value, "can");
	assert_string_equal(why.target_value, "usb");
	/* An application cannot change the interface, whatever is requested. */
	inspected('a', IMAGE_IFACE_CAN, &img);
	assert_int_equal(r4(&img, IMAGE_IFACE_USB, UPDATER_SWITCH_CAN, &why), CF_ERR_REFUSED);
	assert_non_null(strstr(why.reason, "flash a deployer first"));
	/* The other way round: a USB deployer from CAN. */
	inspected('d', IMAGE_IFACE_USB, &img);
	assert_int_equal(r4(&img, IMAGE_IFACE_CAN, UPDATER_SWITCH_NONE, &why), CF_ERR_REFUSED);
	assert_string_equal(why.override, "--switch-to usb");
	assert_int_equal(r4(&img, IMAGE_IFACE_CAN, UPDATER_SWITCH_USB, &why), CF_OK);
}

static bool any_line(char lines[][IFACE_SWITCH_LINE_MAX], size_t n, const char *needle)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i], needle))
			return true;
	return false;
}

static void test_report_usb_to_can(void **state)
{
	char lines[IFACE_SWITCH_LINES][IFACE_SWITCH_LINE_MAX];
	struct device_identity id = {.node_id = -1};
	struct image_info img;
	char sum[160];
	size_t n;

	(void)state;
	deployer(&img, IMAGE_IFACE_CAN, 1000000);
	snprintf(id.uid_hex, sizeof(id.uid_hex), SERIAL);
	snprintf(id.can_uuid, sizeof(id.can_uuid), UUID);
	snprintf(id.tty, sizeof(id.tty), "/dev/ttyACM0");
	n = iface_switch_report(&img, &id, true, lines, IFACE_SWITCH_LINES);
	assert_int_equal(n, 4);
	assert_true(any_line(lines, n, "needs ROM DFU recovery"));
	assert_true(any_line(lines, n,
			     "on CAN at 1000000 bit/s with UUID " UUID
			     " (from its USB serial " SERIAL ")"));
	assert_true(
	    any_line(lines, n, "next: cartoflash flash CAN_APP.bin --can can0 --uuid " UUID));
	assert_true(any_line(lines, n, "then in printer.cfg: [scanner] canbus_uuid: " UUID));
	assert_true(any_line(lines, n, "before moving it to a CAN bus at that bitrate"));
	iface_switch_summary(&img, &id, "image written, 94 blocks verified", sum, sizeof(sum));
	assert_string_equal(sum, "image written, 94 blocks verified; deployer started: back as CAN "
				 "Katapult at 1000000 bit/s, UUID " UUID);
	/* --no-reboot: the deployer has not run yet. */
	n = iface_switch_report(&img, &id, false, lines, IFACE_SWITCH_LINES);
	assert_non_null(strstr(lines[0], "when the probe leaves Katapult"));
	/* max is honoured. */
	assert_int_equal(iface_switch_report(&img, &id, true, lines, 2), 2);
}

static void test_report_can_to_usb(void **state)
{
	char lines[IFACE_SWITCH_LINES][IFACE_SWITCH_LINE_MAX];
	struct device_identity id = {.node_id = 5};
	struct image_info img;
	char sum[160];
	size_t n;

	(void)state;
	deployer(&img, IMAGE_IFACE_USB, 0);
	snprintf(id.can_uuid, sizeof(id.can_uuid), UUID);
	snprintf(id.iface, sizeof(id.iface), "can1");
	n = iface_switch_report(&img, &id, true, lines, IFACE_SWITCH_LINES);
	assert_int_equal(n, 4);
	/* Over CAN the USB serial is not known: only that it is the chip UID. */
	assert_true(any_line(lines, n, "same chip UID that CAN UUID " UUID " is derived from"));
	assert_true(any_line(lines, n, "next: cartoflash flash USB_APP.bin --serial auto"));
	/* the by-id name is udev's: said how to find it, never built (ecosystem.md §4) */
	assert_true(any_line(lines, n, "[scanner] serial: the /dev/serial/by-id/ link whose name"));
	assert_false(any_line(lines, n, "usb-Cartographer_614e_"));
	iface_switch_summary(&img, &id, "", sum, sizeof(sum));
	assert_string_equal(sum, "deployer started: back as USB Katapult 1d50:6177, serial = the "
				 "same chip UID");
	/* A CAN deployer over CAN names the interface in use in the next command. */
	deployer(&img, IMAGE_IFACE_CAN, 500000);
	n = iface_switch_report(&img, &id, true, lines, IFACE_SWITCH_LINES);
	assert_true(
	    any_line(lines, n, "--can can1 --uuid " UUID "   (a CAN application for 500000"));
	/* Same interface: nothing to re-cable, printer.cfg keeps its line. */
	assert_false(any_line(lines, n, "moving it"));
	assert_true(any_line(lines, n, "unchanged in printer.cfg: [scanner] canbus_uuid: " UUID));
	/* Not a deployer: nothing to report. */
	img.kind = IMAGE_APP;
	assert_int_equal(iface_switch_report(&img, &id, true, lines, IFACE_SWITCH_LINES), 0);
	assert_false(iface_switch_is_deployer(NULL));
}

/* run_fleet with a manifest; returns its exit code. */
static int fleet_with(const char *text)
{
	char path[] = "/tmp/cf-test-switch-XXXXXX";
	char *argv[] = {"fleet", path, NULL};
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	optind = 0; /* glibc: full getopt reset */
	rc = run_fleet(2, argv);
	unlink(path);
	return rc;
}

static void test_manifest_key(void **state)
{
	(void)state;
	/* A bad value is a manifest error (64) before any device is touched. */
	assert_int_equal(fleet_with("[p]\ninterface = sim:/nonexistent/bus\nuuid = " UUID
				    "\nimage = x.bin\nswitch_to = serial\n"),
			 64);
	/* A good value passes the manifest; the missing image is what stops it (66). */
	assert_int_equal(fleet_with("[p]\ninterface = sim:/nonexistent/bus\nuuid = " UUID
				    "\nimage = /nonexistent/x.bin\nswitch_to = can\n"),
			 66);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_option_parsing),    cmocka_unit_test(test_r4_verdicts),
	    cmocka_unit_test(test_report_usb_to_can), cmocka_unit_test(test_report_can_to_usb),
	    cmocka_unit_test(test_manifest_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
