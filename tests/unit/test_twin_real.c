/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin with the real release images of ../shared/firmware installed (skipped without them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>

#include "tests/unit/test_twin_harness.h"

#define DEFAULT_DIR "../shared/firmware"

static const char *dir(void)
{
	const char *env = getenv("CARTOFLASH_FIRMWARE_DIR");

	return env && env[0] ? env : DEFAULT_DIR;
}

/* Install a real file at addr; false (and the test skips) when the corpus is absent. */
static bool install(struct twin *t, uint32_t addr, const char *name)
{
	static uint8_t buf[128 * 1024];
	char path[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir(), name);
	f = fopen(path, "rb");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(twin_flash_write_raw(t, addr, buf, n), 0);
	return true;
}

static void boot_settled(struct twin *t)
{
	twin_power_on(t, 0);
	for (int i = 0; i < 16 && twin_next_event_us(t) != UINT64_MAX; i++)
		twin_advance(t, twin_next_event_us(t));
}

/* expected.json: Katapult_1m.bin is a CAN 1M Katapult; the 5.1.0 app a CAN 1M application. */
static void test_twin_real_can_katapult_and_app(void **state)
{
	struct twin *t = th_twin(0, NULL);

	(void)state;
	if (!install(t, 0x08000000, "Katapult_1m.bin") ||
	    !install(t, 0x08002000, "Survey_Cartographer_CAN_1000000_8kib_offset_5.1.0.bin")) {
		twin_free(t);
		skip();
	}
	boot_settled(t);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_APP);
	assert_int_equal(twin_get_iface(t), TWIN_IFACE_CAN);
	assert_int_equal(twin_get_can_bitrate(t), 1000000);
	twin_power_off(t, 1);
	twin_flash_write_raw(t, 0x08002000, (const uint8_t *)"\0\0\0\0", 4);
	boot_settled(t);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_can_bitrate(t), 1000000);
	twin_free(t);
}

/* The real USB Katapult presents 1d50:6177 and the USB application 1d50:614e. */
static void test_twin_real_usb_katapult_and_app(void **state)
{
	struct twin *t = th_twin(0, NULL);
	struct twin_usb_id id;

	(void)state;
	if (!install(t, 0x08000000, "Katapult_USB.bin") ||
	    !install(t, 0x08002000, "Survey_Cartographer_USB_8kib_offset.bin")) {
		twin_free(t);
		skip();
	}
	boot_settled(t);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_APP);
	assert_true(twin_get_usb_id(t, &id));
	assert_int_equal(id.pid, 0x614e);
	twin_serial_line(t, 1200, false, true, 1);
	twin_advance(t, 10);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_true(twin_get_usb_id(t, &id));
	assert_int_equal(id.pid, 0x6177);
	twin_free(t);
}

/* katapult.md §4: the real 1M deployer over a USB Katapult leaves the embedded CAN Katapult. */
static void test_twin_real_deployer_switches_to_can(void **state)
{
	struct twin *t = th_twin(0, NULL);

	(void)state;
	if (!install(t, 0x08000000, "Katapult_USB.bin") ||
	    !install(t, 0x08002000, "katapult-deployer-1m.bin")) {
		twin_free(t);
		skip();
	}
	boot_settled(t);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_iface(t), TWIN_IFACE_CAN);
	assert_int_equal(twin_get_can_bitrate(t), 1000000);
	assert_int_equal(twin_get_stats(t)->deployer_rewrites, 1);
	/* images.md §2.3: the 1M deployer embeds exactly the 4644-byte Katapult_1m.bin code */
	{
		struct twin *ref = th_twin(0, NULL);
		assert_true(install(ref, 0x08000000, "Katapult_1m.bin"));
		assert_memory_equal(twin_flash(t, NULL), twin_flash(ref, NULL), 4644);
		twin_free(ref);
	}
	twin_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_twin_real_can_katapult_and_app),
	    cmocka_unit_test(test_twin_real_usb_katapult_and_app),
	    cmocka_unit_test(test_twin_real_deployer_switches_to_can),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
