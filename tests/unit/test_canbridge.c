/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Klipper USB-to-CAN bridge detection (fixture sysfs) and the bus bitrate R3 may use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "can/canbridge.h"
#include "protocol/err.h"
#include "usb/byid.h"

#define ROOT "tests/fixtures/sysfs/bridge"

static void test_canbridge_detects_a_klipper_bridge(void **state)
{
	struct canbridge_info b;

	(void)state;
	assert_int_equal(canbridge_detect(ROOT, "can0", &b), 0);

	assert_true(b.on_usb);
	assert_true(b.klipper_bridge);
	assert_int_equal(b.usb.vid, 0x1d50);
	assert_int_equal(b.usb.pid, 0x606f);
	assert_string_equal(b.usb.port, "1-1.4");
	assert_string_equal(b.usb.serial, "39002D000E5053424E363620");
}

/* candleLight shares 1d50:606f; its host bitrate is real. vcan and absent netdevs: not USB. */
static void test_canbridge_candlelight_and_others_are_not_bridges(void **state)
{
	struct canbridge_info b;

	(void)state;
	assert_int_equal(canbridge_detect(ROOT, "can1", &b), 0);
	assert_true(b.on_usb);
	assert_false(b.klipper_bridge);
	assert_int_equal(canbridge_detect(ROOT, "vcan0", &b), 0);
	assert_false(b.on_usb);
	assert_int_equal(canbridge_detect(ROOT, "can7", &b), 0);
	assert_false(b.on_usb);
	/* the simulated bus is looked up by its socket's base name */
	assert_int_equal(canbridge_detect(ROOT, "sim:/tmp/x/can0", &b), 0);
	assert_true(b.klipper_bridge);
}

static void test_canbridge_ordinary_interface_uses_its_bitrate(void **state)
{
	const struct canbridge_info plain = {.on_usb = true};
	const struct canbridge_witness w[] = {{500000, "probe e0ef270ca188 (its dictionary)"}};
	struct canbridge_bitrate r;

	(void)state;
	canbridge_bus_bitrate("can1", &plain, 1000000, w, 1, &r);

	assert_int_equal(r.bitrate, 1000000);
	assert_string_equal(r.source, "interface can1");
	canbridge_bus_bitrate("vcan0", NULL, 0, NULL, 0, &r);
	assert_int_equal(r.bitrate, 0);
	assert_non_null(strstr(r.source, "does not report a bitrate"));
}

/* On a bridge the host figure never counts: the probe's dictionary, then the other nodes. */
static void test_canbridge_bridge_takes_the_nodes_word(void **state)
{
	const struct canbridge_info bridge = {.on_usb = true, .klipper_bridge = true};
	const struct canbridge_witness w[] = {
		{0, "probe 90a4ae022dfc (in Katapult)"},
		{500000, "probe e0ef270ca188 (its dictionary)"},
		{500000, "Klipper mcu 'mcu' (the bridge)"},
	};
	struct canbridge_bitrate r;

	(void)state;
	canbridge_bus_bitrate("can0", &bridge, 1000000, w, 3, &r);

	assert_int_equal(r.bitrate, 500000);
	assert_false(r.conflict);
	assert_string_equal(r.source, "probe e0ef270ca188 (its dictionary) on Klipper bridge can0");
}

static void test_canbridge_bridge_without_witness_or_in_conflict_is_unknown(void **state)
{
	const struct canbridge_info bridge = {.on_usb = true, .klipper_bridge = true};
	const struct canbridge_witness w[] = {
		{1000000, "probe e0ef270ca188 (its dictionary)"},
		{500000, "node 5ab3c0d2e1f4 (its dictionary)"},
	};
	struct canbridge_bitrate r;

	(void)state;
	canbridge_bus_bitrate("can0", &bridge, 1000000, NULL, 0, &r);
	assert_int_equal(r.bitrate, 0);
	assert_non_null(strstr(r.source, "host bitrate (1000000) does not describe the bus"));

	canbridge_bus_bitrate("can0", &bridge, 1000000, w, 2, &r);
	assert_int_equal(r.bitrate, 0);
	assert_true(r.conflict);
	assert_non_null(strstr(r.source, "the nodes disagree"));
}

/* by-id: the link that resolves to the tty, never a name we build. */
static void test_byid_reads_the_link(void **state)
{
	char dir[64], tty[128], link[256], out[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cf-byid-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(tty, sizeof(tty), "%s/ttyACM0", dir);
	fclose(fopen(tty, "w"));
	snprintf(link, sizeof(link), "%s/usb-Cartographer_stm32f042x6_16000C000F43304253373820-if00",
		 dir);
	assert_int_equal(symlink(tty, link), 0);
	setenv("CARTOFLASH_SERIAL_BY_ID", dir, 1);

	assert_int_equal(byid_find(tty, out, sizeof(out)), 0);
	assert_string_equal(out, link);
	assert_int_equal(byid_find(link, out, sizeof(out)), 0);
	assert_string_equal(out, link);
	assert_int_equal(byid_find_serial("16000C000F43304253373820", out, sizeof(out)), 0);
	assert_string_equal(out, link);
	assert_int_equal(byid_find_serial("16000C000F433042533738", out, sizeof(out)),
			 CF_ERR_NO_DEVICE);
	unlink(link);
	assert_int_equal(byid_find(tty, out, sizeof(out)), CF_ERR_NO_DEVICE);
	unlink(tty);
	rmdir(dir);
	unsetenv("CARTOFLASH_SERIAL_BY_ID");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canbridge_detects_a_klipper_bridge),
		cmocka_unit_test(test_canbridge_candlelight_and_others_are_not_bridges),
		cmocka_unit_test(test_canbridge_ordinary_interface_uses_its_bitrate),
		cmocka_unit_test(test_canbridge_bridge_takes_the_nodes_word),
		cmocka_unit_test(test_canbridge_bridge_without_witness_or_in_conflict_is_unknown),
		cmocka_unit_test(test_byid_reads_the_link),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
