// SPDX-License-Identifier: GPL-3.0-or-later
// The twin's test-only sysfs tree read back by cartoflash's sysfs code (re-enumeration as the
// e2e tests see it), and `scan --usb` output on the bench fixture.
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
#include <unistd.h>

#include "protocol/err.h"
#include "tools/twin/sysfs_fixture.h"
#include "follow/follow_usb.h"
#include "usb/sysfs.h"
#include "usb/usb_scan.h"

/* katapult.md §3.1 identities, as the twin presents them. */
static const struct twin_usb_id app_id = { 0x1d50, 0x614e, "Cartographer", "",
					   "16000C000F43304253373820" };
static const struct twin_usb_id katapult_id = { 0x1d50, 0x6177, "katapult", "stm32f042x6",
						"16000C000F43304253373820" };

struct pty {
	int master, slave;
	char name[64];
};

static void pty_open(struct pty *p)
{
	assert_int_equal(openpty(&p->master, &p->slave, p->name, NULL, NULL), 0);
}

static void pty_close(struct pty *p)
{
	close(p->slave);
	close(p->master);
}

static void fixture_open(struct sysfs_fixture *fx)
{
	char root[64] = "/tmp/cf-fixture-XXXXXX";

	assert_non_null(mkdtemp(root));
	setenv("CARTOFLASH_SYSFS_ROOT", root, 1);
	unsetenv("CARTOFLASH_SYSFS_PORT");
	assert_true(sysfs_fixture_from_env(fx));
	assert_string_equal(fx->port, "1-1.3");
}

static void fixture_close(struct sysfs_fixture *fx)
{
	char cmd[320];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->root);
	assert_int_equal(system(cmd), 0);
	unsetenv("CARTOFLASH_SYSFS_ROOT");
}

static void test_fixture_without_root_does_nothing(void **state)
{
	struct sysfs_fixture fx;

	(void)state;
	unsetenv("CARTOFLASH_SYSFS_ROOT");
	assert_false(sysfs_fixture_from_env(&fx));
}

static void test_fixture_device_is_what_sysfs_reads(void **state)
{
	struct sysfs_fixture fx;
	struct sysfs_usb u;
	char want[80];
	struct pty p;

	(void)state;
	fixture_open(&fx);
	pty_open(&p);

	assert_int_equal(sysfs_fixture_update(&fx, &app_id, p.name), 0);

	assert_int_equal(sysfs_usb_from_tty(sysfs_root(), p.name, &u), CF_OK);
	assert_int_equal(u.vid, 0x1d50);
	assert_int_equal(u.pid, 0x614e);
	assert_string_equal(u.manufacturer, "Cartographer");
	assert_string_equal(u.serial, "16000C000F43304253373820");
	assert_string_equal(u.port, "1-1.3");
	snprintf(want, sizeof(want), "%s", p.name);
	assert_string_equal(u.tty, want); /* DEVNAME=pts/N -> /dev/pts/N */
	assert_int_equal(sysfs_usb_kind(&u), SYSFS_KIND_CARTOGRAPHER);
	pty_close(&p);
	fixture_close(&fx);
}

static void test_fixture_reenumeration_is_followed_to_the_new_tty(void **state)
{
	struct sysfs_fixture fx;
	struct sysfs_usb u, now;
	struct follow_usb f;
	struct pty app, kat;

	(void)state;
	fixture_open(&fx);
	pty_open(&app);
	pty_open(&kat);
	assert_int_equal(sysfs_fixture_update(&fx, &app_id, app.name), 0);
	assert_int_equal(sysfs_usb_from_tty(sysfs_root(), app.name, &u), CF_OK);
	follow_usb_init(&f, &u);

	assert_int_equal(sysfs_fixture_update(&fx, NULL, NULL), 0); /* reset: the port empties */
	assert_int_equal(follow_usb_look(&f, DEVICE_MODE_KATAPULT, &now), 0);
	assert_int_equal(sysfs_fixture_update(&fx, &katapult_id, kat.name), 0);

	assert_int_equal(follow_usb_look(&f, DEVICE_MODE_KATAPULT, &now), 1);
	assert_string_equal(now.tty, kat.name);
	assert_string_equal(now.product, "stm32f042x6");
	/* the old pty is no longer in the tree */
	assert_int_equal(sysfs_usb_from_tty(sysfs_root(), app.name, &u), CF_ERR_NOT_SUPPORTED);
	pty_close(&app);
	pty_close(&kat);
	fixture_close(&fx);
}

/* Run usb_scan_run with stdout captured into buf. */
static int capture_scan(const char *root, bool json, char *buf, size_t cap)
{
	char path[] = "/tmp/cf-scan-XXXXXX";
	int fd = mkstemp(path), saved, rc;
	ssize_t n;

	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	rc = usb_scan_run(root, json);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return rc;
}

static void test_scan_usb_lists_probes_with_their_can_uuid(void **state)
{
	static char out[8192];

	(void)state;
	assert_int_equal(capture_scan("tests/fixtures/sysfs/bench", false, out, sizeof(out)), 0);

	/* The hub and the FTDI UART are not probes; the rest are (katapult.md §3.1). */
	assert_null(strstr(out, "0403:6001"));
	assert_null(strstr(out, "05e3:0610"));
	assert_non_null(strstr(out, "6 USB devices found"));
	/* katapult.md §2.3 vector: serial 16000C000F43304253373820 -> UUID e0ef270ca188; the
	 * ROM DFU serial is no chip UID, so it gets none. */
	assert_non_null(strstr(out, "1-1.1     1d50:614e  cartographer  application  "
				    "16000C000F43304253373820  e0ef270ca188  /dev/ttyACM0"));
	assert_non_null(strstr(out, "1-1.3     0483:df11  rom_dfu       rom_dfu      "
				    "FFFFFFFEFFFF              -             -"));
}

static void test_scan_usb_json_has_one_object_per_device_and_a_summary(void **state)
{
	static char out[8192];
	const char *p;
	int objects = 0;

	(void)state;
	assert_int_equal(capture_scan("tests/fixtures/sysfs/bench", true, out, sizeof(out)), 0);

	for (p = out; (p = strstr(p, "\"event\":\"usb_device\"")); p++)
		objects++;
	assert_int_equal(objects, 6);
	assert_non_null(strstr(out, "\"kind\":\"katapult\""));
	assert_non_null(strstr(out, "\"port\":\"1-1.2\""));
	assert_non_null(strstr(out, "\"can_uuid\":null"));
	assert_non_null(strstr(out, "{\"schema\":1,\"event\":\"summary\",\"bus\":\"usb\",\"devices\":6}"));
}

static void test_scan_usb_without_bus_is_exit_69(void **state)
{
	static char out[256];

	(void)state;
	assert_int_equal(capture_scan("/nonexistent-sysfs", false, out, sizeof(out)), 69);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_without_root_does_nothing),
		cmocka_unit_test(test_fixture_device_is_what_sysfs_reads),
		cmocka_unit_test(test_fixture_reenumeration_is_followed_to_the_new_tty),
		cmocka_unit_test(test_scan_usb_lists_probes_with_their_can_uuid),
		cmocka_unit_test(test_scan_usb_json_has_one_object_per_device_and_a_summary),
		cmocka_unit_test(test_scan_usb_without_bus_is_exit_69),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
