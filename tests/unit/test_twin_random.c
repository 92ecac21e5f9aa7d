/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Seeded random traffic against the twin: it must never crash (ASan/UBSan) nor break its rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include "protocol/katapult.h"
#include "tests/unit/test_twin_harness.h"

#ifndef SEEDS
#define SEEDS 60 /* more with -DSEEDS=N for a long soak */
#endif
#define STEPS 400

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Mostly well-formed Katapult commands with random fields, sometimes garbage. */
static size_t random_command(uint32_t *s, uint8_t *out, size_t cap)
{
	static const uint8_t cmds[] = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x90};
	uint8_t data[64];
	uint32_t addr = 0x08000000u + (rnd(s) % 0x9000u) / 64u * 64u;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rnd(s);
	switch (rnd(s) % 12) {
	case 0:
	case 1:
	case 2:
	case 3:
		katapult_build_send_block(addr, data, out, cap, &len);
		break;
	case 4:
		katapult_build_request_block(addr, out, cap, &len);
		break;
	case 6: /* a command cut short, as a killed host leaves it (§1.7) */
		katapult_build_send_block(addr, data, out, cap, &len);
		len = 1 + rnd(s) % (len - 1);
		break;
	case 5:
		len = 1 + rnd(s) % 40;
		for (size_t i = 0; i < len; i++)
			out[i] = (uint8_t)rnd(s);
		break;
	default:
		katapult_encode(cmds[rnd(s) % sizeof(cmds)], NULL, 0, out, cap, &len);
		break;
	}
	return len;
}

static void drain(struct twin *t, uint64_t now)
{
	struct canbus_frame f;
	uint8_t b[256];

	while (twin_can_pop(t, now, &f) == 0)
		assert_true(f.len <= 8);
	while (twin_serial_pop(t, now, b, sizeof(b)))
		;
}

static void one_step(struct twin *t, uint32_t *s, uint64_t *now)
{
	uint8_t buf[128];
	struct canbus_frame f;
	size_t len;

	switch (rnd(s) % 10) {
	case 0: /* admin: query, request bootloader, set ids */
		f.id = CANBUS_ADMIN_ID;
		f.len = (uint8_t)(rnd(s) % 4 ? 8 : 1 + rnd(s) % 8);
		f.data[0] = (uint8_t) "\x00\x01\x02\x11\x12"[rnd(s) % 5];
		memcpy(f.data + 1, th_uuid, 6);
		f.data[7] = (uint8_t)(rnd(s) % 2 ? 129 : 4);
		twin_can_receive(t, &f, *now);
		break;
	case 1:
		*now += rnd(s) % 600000;
		twin_advance(t, *now);
		break;
	case 2:
		if (rnd(s) % 8 == 0)
			twin_power_cycle(t, *now);
		else if (rnd(s) % 4 == 0)
			twin_reset(t, *now);
		break;
	case 3:
		twin_serial_line(t, rnd(s) % 2 ? 1200 : 115200, rnd(s) % 2, rnd(s) % 2, *now);
		break;
	default:
		len = random_command(s, buf, sizeof(buf));
		twin_serial_receive(t, buf, len, *now);
		f.id = rnd(s) % 32 ? 0x202 : (rnd(s) % 2 ? 0x108 : 0x203);
		for (size_t off = 0; off < len; off += 8) {
			f.len = (uint8_t)(len - off > 8 ? 8 : len - off);
			memcpy(f.data, buf + off, f.len);
			twin_can_receive(t, &f, *now);
		}
		break;
	}
	drain(t, *now);
}

/* What the random traffic reached, summed over seeds: the test is void if it reached nothing. */
struct reach {
	uint32_t blocks, wedges, completes, katapult_starts, app_starts;
};

static void run_seed(uint32_t seed, enum image_iface iface, struct reach *r)
{
	const struct twin_stats *st;
	uint8_t boot[TWIN_APP_START - TWIN_FLASH_BASE];
	struct twin *t = th_twin(seed % 3 ? 0 : 1.0, NULL);
	uint32_t s = seed * 2654435761u + 1;
	uint64_t now = 0;

	assert_non_null(t);
	assert_int_equal(th_install_katapult(t, iface, 1000000, NULL), 0);
	assert_int_equal(th_install_app(t, iface, 1000000, NULL), 0);
	memcpy(boot, twin_flash(t, NULL), sizeof(boot));
	twin_power_on(t, 0);
	for (int i = 0; i < STEPS; i++)
		one_step(t, &s, &now);

	/* Katapult refuses SEND_BLOCK below the application start: its own region is intact */
	if (memcmp(twin_flash(t, NULL), boot, sizeof(boot)))
		fail_msg("seed %u: bootloader region changed", seed);
	st = twin_get_stats(t);
	/* every counted page-start block was programmed (§1.6) */
	assert_true(st->eof_page_count <= st->blocks_written);
	r->blocks += st->blocks_written;
	r->wedges += st->wedges;
	r->completes += st->completes;
	r->katapult_starts += st->katapult_starts;
	r->app_starts += st->app_starts;
	twin_free(t);
}

static void check_reach(const struct reach *r)
{
	assert_true(r->blocks > 0);
	assert_true(r->wedges > 0);
	assert_true(r->completes > 0);
	assert_true(r->katapult_starts > SEEDS);
	assert_true(r->app_starts > 0);
}

static void test_twin_random_can_traffic_keeps_the_rules(void **state)
{
	struct reach r = {0};

	(void)state;
	for (uint32_t seed = 1; seed <= SEEDS; seed++)
		run_seed(seed, IMAGE_IFACE_CAN, &r);
	check_reach(&r);
}

static void test_twin_random_usb_traffic_keeps_the_rules(void **state)
{
	struct reach r = {0};

	(void)state;
	for (uint32_t seed = 1; seed <= SEEDS; seed++)
		run_seed(seed + 1000, IMAGE_IFACE_USB, &r);
	check_reach(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_twin_random_can_traffic_keeps_the_rules),
	    cmocka_unit_test(test_twin_random_usb_traffic_keeps_the_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
