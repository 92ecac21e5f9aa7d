// SPDX-License-Identifier: GPL-3.0-or-later
// The DfuSe request layer under seeded fault schedules: lost, stalled and failed transfers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dfu/dfuse.h"
#include "dfu_virtual.h"
#include "protocol/err.h"
#include "tools/twin/rom_dfu.h"

#define FLASH_SIZE 32768
#define SEEDS 300

/*
 * In front of the ROM model, per transfer and by a seeded schedule, a fault either loses the
 * transfer before the device sees it (I/O error, device unchanged), loses the answer after
 * the device acted on it (I/O error, device changed), or STALLs it unseen.
 */
struct sim {
	struct vrom vr;
	struct dfuse eng;
	uint32_t rng;
	unsigned fault_pct;
	unsigned faults;
};

static struct sim sm;

static uint32_t next_random(void)
{
	sm.rng = sm.rng * 1103515245u + 12345u; /* deterministic per seed */
	return sm.rng >> 16;
}

static bool inject(struct vrom *v, const struct dfuse_request *req, uint8_t *buf, size_t *len,
		   enum dfuse_xfer_result *r)
{
	const unsigned roll = next_random() % 100;

	if (roll >= sm.fault_pct)
		return false;
	sm.faults++;
	switch (roll % 3) {
	case 0: /* lost on the way: the device never saw it */
		*r = DFUSE_XFER_IO;
		break;
	case 1: /* the device acted, the answer was lost */
		rom_dfu_control(&v->model, req->setup, buf, len, v->now_us);
		*len = 0;
		*r = DFUSE_XFER_IO;
		break;
	default: /* a spurious STALL */
		*r = DFUSE_XFER_STALL;
		break;
	}
	return true;
}

static void sim_start(uint32_t seed, unsigned fault_pct)
{
	memset(&sm, 0, sizeof(sm));
	memset(sm.vr.flash, 0x3C, sizeof(sm.vr.flash));
	vrom_init(&sm.vr, 0, 0);
	sm.vr.inject = inject;
	sm.rng = seed;
	sm.fault_pct = fault_pct;
	dfuse_init(&sm.eng, 0);
}

/* Run one operation to its end; the request layer must always report one (never hang). */
static int op(uint32_t seed, enum dfuse_op_kind kind, uint32_t addr, uint16_t block,
	      uint8_t *data, size_t len)
{
	(void)seed;
	return vrom_op(&sm.vr, &sm.eng, kind, addr, block, data, len).err;
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
		    dfuse_get_result(&sm.eng)->actual == sizeof(back))
			break;
	}

	if (memcmp(back, image, sizeof(image)) || memcmp(sm.vr.flash, image, sizeof(image)))
		fail_msg("seed %u: flash differs from the image after %u faults", seed, sm.faults);
	/* dfu.md §1.5: CLRSTATUS only in dfuERROR, whatever the faults. */
	if (sm.vr.model.stats.clrstatus_outside_error)
		fail_msg("seed %u: %u CLRSTATUS outside dfuERROR", seed,
			 sm.vr.model.stats.clrstatus_outside_error);
}

static void test_dfuse_fault_schedules_end_with_the_image(void **state)
{
	unsigned faults = 0;
	(void)state;

	for (uint32_t seed = 1; seed <= SEEDS; seed++) {
		sim_start(seed, 15);
		run_schedule(seed);
		faults += sm.faults;
	}
	/* The schedules did inject faults (a test that cannot fail proves nothing). */
	assert_true(faults > SEEDS);
}

static void test_dfuse_without_faults_needs_no_retry(void **state)
{
	static uint8_t image[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	(void)state;

	sim_start(7, 0);
	memset(sm.vr.flash, 0xFF, sizeof(sm.vr.flash));

	assert_int_equal(op(7, DFUSE_OP_IDLE, 0, 0, NULL, 0), 0);
	assert_int_equal(op(7, DFUSE_OP_SET_ADDRESS, 0x08000000, 0, NULL, 0), 0);
	assert_int_equal(op(7, DFUSE_OP_WRITE, 0, 2, image, sizeof(image)), 0);
	assert_memory_equal(sm.vr.flash, image, sizeof(image));
	assert_int_equal(sm.faults, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dfuse_fault_schedules_end_with_the_image),
		cmocka_unit_test(test_dfuse_without_faults_needs_no_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
