// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe request layer under seeded fault schedules: lost, stalled and failed transfers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dfu/dfuse.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "tools/twin/rom_dfu.h"

#define FLASH_SIZE 32768
#define SEEDS 300

/*
 * A fake link in front of the ROM model that, per transfer and by a seeded schedule, either
 * passes it, loses it before the device sees it (I/O error, device unchanged), loses the
 * answer after the device acted on it (I/O error, device changed), or STALLs it unseen.
 */
struct sim {
	struct loop *loop;
	struct rom_dfu model;
	uint8_t flash[FLASH_SIZE];
	struct dfuse eng;
	struct loop_timer deliver;
	enum dfuse_xfer_result pending;
	size_t pending_len;
	uint32_t rng;
	unsigned fault_pct;
	unsigned faults;
	bool done;
	struct dfuse_result res;
};

static struct sim sm;

static uint32_t next_random(void)
{
	sm.rng = sm.rng * 1103515245u + 12345u; /* deterministic per seed */
	return sm.rng >> 16;
}

static void deliver(struct loop_timer *t, uint64_t now_us)
{
	(void)t;
	(void)now_us;
	dfuse_xfer_done(&sm.eng, sm.pending, sm.pending_len);
}

static int sim_submit(void *link, const uint8_t setup[8], uint8_t *data, unsigned timeout_ms)
{
	const unsigned roll = next_random() % 100;
	enum rom_dfu_xfer x;

	(void)link;
	(void)timeout_ms;
	sm.pending_len = 0;
	if (roll < sm.fault_pct) {
		sm.faults++;
		switch (roll % 3) {
		case 0: /* lost on the way: the device never saw it */
			sm.pending = DFUSE_XFER_IO;
			break;
		case 1: /* the device acted, the answer was lost */
			rom_dfu_control(&sm.model, setup, data, &sm.pending_len, cf_now_us());
			sm.pending_len = 0;
			sm.pending = DFUSE_XFER_IO;
			break;
		default: /* a spurious STALL */
			sm.pending = DFUSE_XFER_STALL;
			break;
		}
	} else {
		x = rom_dfu_control(&sm.model, setup, data, &sm.pending_len, cf_now_us());
		sm.pending = x == ROM_DFU_XFER_OK ? DFUSE_XFER_OK
			     : x == ROM_DFU_XFER_STALL ? DFUSE_XFER_STALL
						       : DFUSE_XFER_NO_DEVICE;
	}
	loop_arm(sm.loop, &sm.deliver, cf_now_us());
	return 0;
}

static const struct dfuse_link_ops sim_ops = { .submit = sim_submit };

static void on_done(void *ctx, const struct dfuse_op *op, const struct dfuse_result *r)
{
	(void)ctx;
	(void)op;
	sm.done = true;
	sm.res = *r;
}

static void sim_start(uint32_t seed, unsigned fault_pct)
{
	const struct rom_dfu_config cfg = { .flash = sm.flash, .flash_size = FLASH_SIZE,
					    .flash_base = 0x08000000, .page_size = 1024 };

	memset(&sm, 0, sizeof(sm));
	memset(sm.flash, 0x3C, sizeof(sm.flash));
	sm.rng = seed;
	sm.fault_pct = fault_pct;
	sm.loop = loop_new();
	sm.deliver.fire = deliver;
	rom_dfu_init(&sm.model, &cfg);
	dfuse_init(&sm.eng, &(struct dfuse_config){ .loop = sm.loop, .ops = &sim_ops,
						    .done = on_done });
}

static void sim_stop(void)
{
	dfuse_fini(&sm.eng);
	loop_disarm(sm.loop, &sm.deliver);
	loop_free(sm.loop);
}

/* Run one operation to its end; the engine must always report one (never hang). */
static int op(uint32_t seed, enum dfuse_op_kind kind, uint32_t addr, uint16_t block,
	      uint8_t *data, size_t len)
{
	const struct dfuse_op o = { kind, addr, block, data, len };

	sm.done = false;
	if (dfuse_start(&sm.eng, &o))
		fail_msg("seed %u: %s could not start", seed, dfuse_op_name(kind));
	for (int turns = 0; !sm.done; turns++) {
		if (turns > 10000)
			fail_msg("seed %u: %s never ended", seed, dfuse_op_name(kind));
		loop_run_once(sm.loop, 100000);
	}
	return sm.res.err;
}

/* After a failure the host gets the device back to dfuIDLE (retrying lost transfers). */
static void recover_idle(uint32_t seed)
{
	for (int i = 0; i < 20; i++)
		if (op(seed, DFUSE_OP_IDLE, 0, 0, NULL, 0) == 0)
			return;
	fail_msg("seed %u: device not brought back to dfuIDLE", seed);
}

/* Erase, write and read back one 2 KiB block, retrying each step after a failure. */
static void run_schedule(uint32_t seed)
{
	static uint8_t image[2048], back[2048];
	int tries;

	for (size_t i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 13 + seed);
	recover_idle(seed);
	for (uint32_t page = 0x08000000; page < 0x08000800; page += 1024)
		for (tries = 0; op(seed, DFUSE_OP_ERASE, page, 0, NULL, 0); tries++) {
			assert_true(tries < 20);
			recover_idle(seed);
		}
	for (tries = 0;; tries++) {
		assert_true(tries < 20);
		if (!op(seed, DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0) &&
		    !op(seed, DFUSE_OP_WRITE, 0, 2, image, sizeof(image)))
			break;
		recover_idle(seed);
		/* A half-done write leaves programmed half-words: erase again (F0 rule). */
		for (uint32_t page = 0x08000000; page < 0x08000800; page += 1024)
			while (op(seed, DFUSE_OP_ERASE, page, 0, NULL, 0))
				recover_idle(seed);
	}
	for (tries = 0;; tries++) {
		assert_true(tries < 20);
		recover_idle(seed);
		if (!op(seed, DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0) &&
		    !op(seed, DFUSE_OP_ABORT, 0, 0, NULL, 0) &&
		    !op(seed, DFUSE_OP_UPLOAD, 0, 2, back, sizeof(back)) &&
		    sm.res.actual == sizeof(back))
			break;
	}

	if (memcmp(back, image, sizeof(image)) || memcmp(sm.flash, image, sizeof(image)))
		fail_msg("seed %u: flash differs from the image after %u faults", seed, sm.faults);
	/* dfu.md §1.5: CLRSTATUS only in dfuERROR, whatever the faults. */
	if (sm.model.stats.clrstatus_outside_error)
		fail_msg("seed %u: %u CLRSTATUS outside dfuERROR", seed,
			 sm.model.stats.clrstatus_outside_error);
}

static void test_dfuse_fault_schedules_end_with_the_image(void **state)
{
	unsigned faults = 0;
	(void)state;

	for (uint32_t seed = 1; seed <= SEEDS; seed++) {
		sim_start(seed, 15);
		run_schedule(seed);
		faults += sm.faults;
		sim_stop();
	}
	/* The schedules did inject faults (a test that cannot fail proves nothing). */
	assert_true(faults > SEEDS);
}

static void test_dfuse_without_faults_needs_no_retry(void **state)
{
	static uint8_t image[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	(void)state;

	sim_start(7, 0);
	memset(sm.flash, 0xFF, sizeof(sm.flash));

	assert_int_equal(op(7, DFUSE_OP_IDLE, 0, 0, NULL, 0), 0);
	assert_int_equal(op(7, DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0), 0);
	assert_int_equal(op(7, DFUSE_OP_WRITE, 0, 2, image, sizeof(image)), 0);
	assert_memory_equal(sm.flash, image, sizeof(image));
	assert_int_equal(sm.faults, 0);
	sim_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dfuse_fault_schedules_end_with_the_image),
		cmocka_unit_test(test_dfuse_without_faults_needs_no_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
