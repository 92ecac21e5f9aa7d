// SPDX-License-Identifier: GPL-3.0-or-later
// USB identity from sysfs fixture trees: a tty to its device, the kinds of katapult.md §3.1,
// the scan list, and following a probe across re-enumeration (§3.5).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "protocol/err.h"
#include "follow/follow_usb.h"
#include "usb/sysfs.h"

#define FIXTURES "tests/fixtures/sysfs"
#define PORT_DIR "devices/pci0000:00/0000:00:14.0/usb1/1-1"

struct tree {
	char root[64];
	int master, slave;
	char pts[64];
};

/* A private copy of a fixture tree (the tests rewrite it) plus a pty to stand for the tty. */
static void tree_open(struct tree *t, const char *fixture)
{
	char cmd[PATH_MAX * 2 + 32];

	snprintf(t->root, sizeof(t->root), "/tmp/cf-sysfs-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(cmd, sizeof(cmd), "cp -a %s/%s/. %s/", FIXTURES, fixture, t->root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(openpty(&t->master, &t->slave, t->pts, NULL, NULL), 0);
}

static void tree_close(struct tree *t)
{
	char cmd[PATH_MAX + 16];

	close(t->slave);
	close(t->master);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	assert_int_equal(system(cmd), 0);
}

/* What udev's /sys/dev/char/MAJ:MIN gives: the pty's device number -> a tty class dir. */
static void tree_map_pty(struct tree *t, const char *ttydir)
{
	char link[PATH_MAX], target[PATH_MAX];
	struct stat st;

	assert_int_equal(stat(t->pts, &st), 0);
	snprintf(link, sizeof(link), "%s/dev/char/%u:%u", t->root, major(st.st_rdev),
		 minor(st.st_rdev));
	snprintf(target, sizeof(target), "%s/%s", t->root, ttydir);
	assert_int_equal(symlink(target, link), 0);
}

static void tree_write(struct tree *t, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_sysfs_identifies_cartographer_application_behind_a_tty(void **state)
{
	struct sysfs_usb u;
	struct tree t;

	(void)state;
	tree_open(&t, "bench");
	tree_map_pty(&t, PORT_DIR "/1-1.1/1-1.1:1.0/tty/ttyACM0");

	assert_int_equal(sysfs_usb_from_tty(t.root, t.pts, &u), CF_OK);

	assert_int_equal(u.vid, 0x1d50);
	assert_int_equal(u.pid, 0x614e);
	assert_string_equal(u.manufacturer, "Cartographer");
	assert_string_equal(u.product, ""); /* katapult.md §3.1: empty product up to 5.x */
	assert_string_equal(u.serial, "16000C000F43304253373820");
	assert_string_equal(u.port, "1-1.1");
	assert_string_equal(u.tty, "/dev/ttyACM0");
	assert_int_equal(sysfs_usb_kind(&u), SYSFS_KIND_CARTOGRAPHER);
	assert_int_equal(sysfs_kind_mode(sysfs_usb_kind(&u)), DEVICE_MODE_APPLICATION);
	tree_close(&t);
}

static void test_sysfs_uart_tty_is_not_usb(void **state)
{
	struct sysfs_usb u;
	struct tree t;

	(void)state;
	tree_open(&t, "bench");
	tree_map_pty(&t, "devices/platform/serial8250/tty/ttyS0");

	assert_int_equal(sysfs_usb_from_tty(t.root, t.pts, &u), CF_ERR_NOT_SUPPORTED);
	tree_close(&t);
}

static void test_sysfs_tty_unknown_to_sysfs_is_not_usb(void **state)
{
	struct sysfs_usb u;
	struct tree t;

	(void)state;
	tree_open(&t, "bench");

	assert_int_equal(sysfs_usb_from_tty(t.root, t.pts, &u), CF_ERR_NOT_SUPPORTED);
	tree_close(&t);
}

static void test_sysfs_missing_tty_is_no_device(void **state)
{
	struct sysfs_usb u;

	(void)state;
	assert_int_equal(sysfs_usb_from_tty(FIXTURES "/bench", "/dev/ttyACM-none", &u),
			 CF_ERR_NO_DEVICE);
}

static void test_sysfs_regular_file_is_not_a_tty(void **state)
{
	struct sysfs_usb u;

	(void)state;
	assert_int_equal(sysfs_usb_from_tty(FIXTURES "/bench", "Makefile", &u),
			 CF_ERR_NOT_SUPPORTED);
}

/* katapult.md §3.1 identity table, one row per fixture port. */
static const struct kind_case {
	const char *port;
	enum sysfs_kind kind;
	enum device_mode mode;
	const char *tty;
	const char *serial;
} kinds[] = {
	{ "1-1.1", SYSFS_KIND_CARTOGRAPHER, DEVICE_MODE_APPLICATION, "/dev/ttyACM0",
	  "16000C000F43304253373820" },
	{ "1-1.2", SYSFS_KIND_KATAPULT, DEVICE_MODE_KATAPULT, "/dev/ttyACM1",
	  "2B0014001751533232383520" },
	{ "1-1.3", SYSFS_KIND_ROM_DFU, DEVICE_MODE_ROM_DFU, "", "FFFFFFFEFFFF" },
	{ "1-1.4", SYSFS_KIND_KLIPPER, DEVICE_MODE_APPLICATION, "/dev/ttyACM2",
	  "330039000C51313236343933" },
	{ "1-1.5", SYSFS_KIND_CAN_BRIDGE, DEVICE_MODE_UNKNOWN, "", "190015001250425938323920" },
	{ "1-1.6", SYSFS_KIND_OTHER, DEVICE_MODE_UNKNOWN, "/dev/ttyUSB0", "A10KZP3Q" },
	/* "CanBoot": Katapult's manufacturer string before e965573 */
	{ "1-1.7", SYSFS_KIND_KATAPULT, DEVICE_MODE_KATAPULT, "/dev/ttyACM3",
	  "0C0021001951533232383520" },
};

static void test_sysfs_list_tells_every_kind_apart(void **state)
{
	struct sysfs_usb list[16];
	size_t count, i, k;

	(void)state;
	assert_int_equal(sysfs_usb_list(FIXTURES "/bench", list, 16, &count), CF_OK);

	assert_int_equal(count, 8); /* the hub 1-1 and seven devices; the root hub is skipped */
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct sysfs_usb *u = NULL;

		for (i = 0; i < count; i++)
			if (!strcmp(list[i].port, kinds[k].port))
				u = &list[i];
		if (!u)
			fail_msg("port %s not listed", kinds[k].port);
		if (sysfs_usb_kind(u) != kinds[k].kind)
			fail_msg("port %s: kind %s", kinds[k].port, sysfs_kind_name(sysfs_usb_kind(u)));
		assert_int_equal(sysfs_kind_mode(kinds[k].kind), kinds[k].mode);
		assert_string_equal(u->tty, kinds[k].tty);
		assert_string_equal(u->serial, kinds[k].serial);
	}
}

static void test_sysfs_list_without_usb_bus_is_no_device(void **state)
{
	struct sysfs_usb list[2];
	size_t count;

	(void)state;
	assert_int_equal(sysfs_usb_list("/nonexistent-root", list, 2, &count), CF_ERR_NO_DEVICE);
	assert_int_equal(count, 0);
}

static void test_sysfs_root_comes_from_environment(void **state)
{
	(void)state;
	unsetenv("CARTOFLASH_SYSFS_ROOT");
	assert_string_equal(sysfs_root(), "/sys");
	setenv("CARTOFLASH_SYSFS_ROOT", "/tmp/fixture", 1);
	assert_string_equal(sysfs_root(), "/tmp/fixture");
	unsetenv("CARTOFLASH_SYSFS_ROOT");
}

/* The app -> Katapult switch as the kernel shows it: ids and strings change in the same
 * port directory, and the tty interface appears under a new name. */
static void reenumerate_as_katapult(struct tree *t, const char *serial)
{
	char from[PATH_MAX], to[PATH_MAX];

	tree_write(t, PORT_DIR "/1-1.3/idProduct", "6177\n");
	tree_write(t, PORT_DIR "/1-1.3/manufacturer", "katapult\n");
	tree_write(t, PORT_DIR "/1-1.3/product", "stm32f042x6\n");
	tree_write(t, PORT_DIR "/1-1.3/serial", serial);
	snprintf(from, sizeof(from), "%s/%s/1-1.3/1-1.3:1.0/tty/ttyACM0", t->root, PORT_DIR);
	snprintf(to, sizeof(to), "%s/%s/1-1.3/1-1.3:1.0/tty/ttyACM1", t->root, PORT_DIR);
	assert_int_equal(rename(from, to), 0);
	tree_write(t, PORT_DIR "/1-1.3/1-1.3:1.0/tty/ttyACM1/uevent",
		   "MAJOR=166\nMINOR=1\nDEVNAME=ttyACM1\n");
}

static void watch_start(struct tree *t, struct follow_usb *f)
{
	struct sysfs_usb u;

	tree_open(t, "probe-app");
	tree_map_pty(t, PORT_DIR "/1-1.3/1-1.3:1.0/tty/ttyACM0");
	assert_int_equal(sysfs_usb_from_tty(t->root, t->pts, &u), CF_OK);
	follow_usb_init(f, &u);
}

static void test_follow_finds_katapult_on_same_port_and_serial(void **state)
{
	struct sysfs_usb now;
	struct follow_usb f;
	struct tree t;

	(void)state;
	watch_start(&t, &f);
	assert_int_equal(follow_usb_look(&f, DEVICE_MODE_KATAPULT, &now), 0);

	reenumerate_as_katapult(&t, "16000c000f43304253373820\n"); /* case differs: same UID */

	assert_int_equal(follow_usb_look(&f, DEVICE_MODE_KATAPULT, &now), 1);
	assert_int_equal(now.pid, 0x6177);
	assert_string_equal(now.tty, "/dev/ttyACM1");
	assert_string_equal(now.port, "1-1.3");
	tree_close(&t);
}

static void test_follow_waits_while_the_port_is_empty(void **state)
{
	struct sysfs_usb now;
	struct follow_usb f;
	struct tree t;

	(void)state;
	watch_start(&t, &f);
	tree_write(&t, PORT_DIR "/1-1.3/idVendor", ""); /* attributes not populated yet */

	assert_int_equal(follow_usb_look(&f, DEVICE_MODE_KATAPULT, &now), 0);
	tree_close(&t);
}

static void test_follow_refuses_another_serial_in_the_port(void **state)
{
	struct sysfs_usb now;
	struct follow_usb f;
	struct tree t;

	(void)state;
	watch_start(&t, &f);
	reenumerate_as_katapult(&t, "0C0021001951533232383520\n");

	assert_int_equal(follow_usb_look(&f, DEVICE_MODE_KATAPULT, &now), CF_ERR_NO_DEVICE);
	assert_string_equal(now.serial, "0C0021001951533232383520");
	tree_close(&t);
}

static void test_follow_reports_rom_dfu_instead_of_katapult(void **state)
{
	struct sysfs_usb now;
	struct follow_usb f;
	struct tree t;

	(void)state;
	watch_start(&t, &f);
	/* katapult.md §3.3: no Katapult on an F042 -> the ROM DFU, with the ROM's own serial */
	tree_write(&t, PORT_DIR "/1-1.3/idVendor", "0483\n");
	tree_write(&t, PORT_DIR "/1-1.3/idProduct", "df11\n");
	tree_write(&t, PORT_DIR "/1-1.3/serial", "FFFFFFFEFFFF\n");

	assert_int_equal(follow_usb_look(&f, DEVICE_MODE_KATAPULT, &now), CF_ERR_PROTOCOL);
	assert_int_equal(sysfs_usb_kind(&now), SYSFS_KIND_ROM_DFU);
	tree_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sysfs_identifies_cartographer_application_behind_a_tty),
		cmocka_unit_test(test_sysfs_uart_tty_is_not_usb),
		cmocka_unit_test(test_sysfs_tty_unknown_to_sysfs_is_not_usb),
		cmocka_unit_test(test_sysfs_missing_tty_is_no_device),
		cmocka_unit_test(test_sysfs_regular_file_is_not_a_tty),
		cmocka_unit_test(test_sysfs_list_tells_every_kind_apart),
		cmocka_unit_test(test_sysfs_list_without_usb_bus_is_no_device),
		cmocka_unit_test(test_sysfs_root_comes_from_environment),
		cmocka_unit_test(test_follow_finds_katapult_on_same_port_and_serial),
		cmocka_unit_test(test_follow_waits_while_the_port_is_empty),
		cmocka_unit_test(test_follow_refuses_another_serial_in_the_port),
		cmocka_unit_test(test_follow_reports_rom_dfu_instead_of_katapult),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
