/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --dry-run without a reboot: the refusal rules against discovery's facts of a probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dryrun.h"
#include "failure.h"
#include "protocol/err.h"
#include "tools/mkimage/mkimage.h"

static uint8_t scratch[IMAGE_SCRATCH_SIZE];

static void load(struct image_info *info, enum image_iface iface, uint32_t bitrate,
		 const char *version)
{
	struct mkimage_app_opts o = {.iface = iface, .bitrate = bitrate, .version = version};
	uint8_t *img;
	size_t len;

	assert_int_equal(mkimage_app(&o, &img, &len), 0);
	assert_int_equal(image_inspect(img, len, scratch, sizeof(scratch), info), 0);
	free(img);
}

/* A CAN probe running CARTOGRAPHER 5.1.0 at 1 Mbit/s, identified directly. */
static void running(struct discover_probe *p, enum image_iface iface, const char *version)
{
	memset(p, 0, sizeof(*p));
	p->link = iface == IMAGE_IFACE_CAN ? DISCOVER_LINK_CAN : DISCOVER_LINK_USB;
	p->mode = DISCOVER_MODE_APPLICATION;
	p->source = DISCOVER_SRC_IDENTIFY;
	p->has_app = true;
	snprintf(p->app.app.version, sizeof(p->app.app.version), "%s", version);
	snprintf(p->app.app.mcu, sizeof(p->app.app.mcu), "stm32f042x6");
	p->app.app.iface = iface;
	p->app.app.can_bitrate = iface == IMAGE_IFACE_CAN ? 1000000 : 0;
}

static void bus_at(struct discover_bus *b, uint32_t bitrate, bool bridge)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->iface, sizeof(b->iface), "can0");
	b->bridge.klipper_bridge = bridge;
	b->bitrate.bitrate = bitrate;
	snprintf(b->bitrate.source, sizeof(b->bitrate.source), bitrate ? "interface can0" :
			 "unknown: can0 is a Klipper USB-to-CAN bridge (1d50:606f), whose host bitrate (1000000) does not describe the bus, and no node on it told its own");
}

static void test_dryrun_passes_a_matching_image_and_says_so(void **state)
{
	struct image_info img;
	struct discover_probe p;
	struct discover_bus b;
	struct cf_failure why;
	char summary[256];

	(void)state;
	load(&img, IMAGE_IFACE_CAN, 1000000, "CARTOGRAPHER 5.1.2");
	running(&p, IMAGE_IFACE_CAN, "CARTOGRAPHER 5.1.0");
	bus_at(&b, 1000000, false);
	cf_failure_clear(&why);

	assert_int_equal(dryrun_check(&img, &p, &b, 0, IMAGE_IFACE_UNKNOWN, summary,
				      sizeof(summary), &why), 0);

	assert_string_equal(summary, "dry run: R1-R5, R8 passed against the running application's "
				     "dictionary (CARTOGRAPHER 5.1.2, now CARTOGRAPHER 5.1.0), "
				     "nothing written, never rebooted");
}

static void test_dryrun_refuses_like_a_real_run(void **state)
{
	static const struct {
		const char *name;
		enum image_iface iface;
		uint32_t bitrate;
		const char *version;
		const char *rule;
	} cases[] = {
		{"R3 bitrate", IMAGE_IFACE_CAN, 500000, "CARTOGRAPHER 5.1.2", "refusal R3: "},
		{"R4 interface", IMAGE_IFACE_USB, 0, "CARTOGRAPHER 5.1.2", "refusal R4: "},
		{"R8 variant", IMAGE_IFACE_CAN, 1000000, "CARTOGRAPHER 5.1.2 lite", "refusal R8: "},
	};
	struct discover_probe p;
	struct discover_bus b;

	(void)state;
	running(&p, IMAGE_IFACE_CAN, "CARTOGRAPHER 5.1.0");
	bus_at(&b, 1000000, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image_info img;
		struct cf_failure why;
		char summary[256];

		load(&img, cases[i].iface, cases[i].bitrate, cases[i].version);
		cf_failure_clear(&why);
		if (dryrun_check(&img, &p, &b, 0, IMAGE_IFACE_UNKNOWN, summary, sizeof(summary),
				 &why) != CF_ERR_REFUSED)
			fail_msg("%s: not refused", cases[i].name);
		if (strcmp(why.stage, "check") || strncmp(why.detail, cases[i].rule,
							     strlen(cases[i].rule)))
			fail_msg("%s: %s: %s", cases[i].name, why.stage, why.detail);
		assert_non_null(strstr(why.hint, "dry run, not rebooted"));
	}
}

/* On a Klipper bridge with no node's word for the bitrate, R3 cannot pass on the host figure. */
static void test_dryrun_bridge_without_bus_bitrate_is_refused(void **state)
{
	struct image_info img;
	struct discover_probe p;
	struct discover_bus b;
	struct cf_failure why;
	char summary[256];

	(void)state;
	load(&img, IMAGE_IFACE_CAN, 1000000, NULL);
	running(&p, IMAGE_IFACE_CAN, "CARTOGRAPHER 5.1.0");
	p.mode = DISCOVER_MODE_KATAPULT;
	p.has_app = false;
	p.source = DISCOVER_SRC_CONNECT;
	snprintf(p.katapult_mcu, sizeof(p.katapult_mcu), "stm32f042x6");
	bus_at(&b, 0, true);
	cf_failure_clear(&why);

	assert_int_equal(dryrun_check(&img, &p, &b, 0, IMAGE_IFACE_UNKNOWN, summary,
				      sizeof(summary), &why), CF_ERR_REFUSED);

	assert_string_equal(why.stage, "check");
	assert_non_null(strstr(why.detail, "refusal R3: "));
	assert_non_null(strstr(why.detail, "does not describe the bus"));
	assert_int_equal(dryrun_check(&img, &p, &b, IMAGE_FORCE_BITRATE, IMAGE_IFACE_UNKNOWN,
				      summary, sizeof(summary), &why), 0);
}

static void test_dryrun_silent_probe_tells_nothing(void **state)
{
	struct image_info img;
	struct discover_probe p = {.link = DISCOVER_LINK_CAN, .mode = DISCOVER_MODE_SILENT};
	struct cf_failure why;
	char summary[256];

	(void)state;
	load(&img, IMAGE_IFACE_CAN, 1000000, NULL);
	cf_failure_clear(&why);

	assert_int_equal(dryrun_check(&img, &p, NULL, 0, IMAGE_IFACE_UNKNOWN, summary,
				      sizeof(summary), &why), CF_ERR_NO_DEVICE);
	assert_non_null(strstr(why.detail, "does not reboot it to ask"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dryrun_passes_a_matching_image_and_says_so),
		cmocka_unit_test(test_dryrun_refuses_like_a_real_run),
		cmocka_unit_test(test_dryrun_bridge_without_bus_bitrate_is_refused),
		cmocka_unit_test(test_dryrun_silent_probe_tells_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
