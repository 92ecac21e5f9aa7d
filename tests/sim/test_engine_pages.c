// SPDX-License-Identifier: GPL-3.0-or-later
// The engine against a scripted device: erasing a page again, ACKs for other addresses, verify
// differences in every byte, page 0 erased again before a stop, what the hints say.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>

#include "engine_cases.h"
#include "failure.h"

/* ---- a refused block: its page is erased again, once ------------------------------------- */

struct refuse_ctx {
	uint32_t addr;	/* refuse SEND_BLOCK at this address ... */
	unsigned times; /* ... this many times */
	unsigned refused;
};

static enum fake_action refuse_addr(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	struct refuse_ctx *r = f->ctx;

	(void)n;
	if (cmd != KATAPULT_CMD_SEND_BLOCK || addr != r->addr || r->refused == r->times)
		return FAKE_NORMAL;
	r->refused++;
	return FAKE_CMD_ERROR;
}

/* Index of the n-th SEND_BLOCK to addr in what the engine sent; -1 when there is none. */
static int nth_block(const struct fake *f, uint32_t addr, unsigned nth)
{
	for (unsigned i = 0; i < f->ncmds; i++)
		if (f->cmds[i] == KATAPULT_CMD_SEND_BLOCK && f->addrs[i] == addr && !nth--)
			return (int)i;
	return -1;
}

/*
 * katapult.md §1.6: block 0x08002780 of page 0x08002400 is refused once (old data Katapult
 * did not see). The engine writes a force block and the page's first block at 0x08002400,
 * then the page again from its second block, and finishes.
 */
static void test_engine_refused_block_erases_its_page_again(void **state)
{
	uint8_t *img = make_image(4096);
	struct katapult_engine_config c = flash_cfg(img, 4096);
	struct refuse_ctx r = {.addr = START + 0x780, .times = 1};
	static struct fake f;
	struct katapult_engine *e;
	struct katapult_engine_progress p;
	int force, again;

	(void)state;
	fake_init(&f);
	f.script = refuse_addr;
	f.ctx = &r;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(katapult_engine_stats(e)->pages_reerased, 1);
	force = nth_block(&f, START + 0x400, 1);
	again = nth_block(&f, START + 0x400, 2);
	assert_true(force > 0 && again == force + 1);
	assert_int_equal(f.addrs[force - 1], START + 0x780); /* right after the refusal */
	assert_int_equal(f.addrs[again + 1], START + 0x440);
	/* 64 blocks + the 0xFF block + force + page 0x400 again (15 blocks up to 0x780) */
	assert_int_equal(fake_count(&f, KATAPULT_CMD_SEND_BLOCK), 64 + 1 + 1 + 15);
	assert_memory_equal(f.flash + 0x2000, img, 4096);
	assert_int_equal(f.completes, 1);
	katapult_engine_progress(e, &p);
	assert_int_equal(p.done, 4096); /* rewritten blocks are not counted twice */
	katapult_engine_free(e);
	free(img);
}

/* What the force block wrote: captured when the page's first block comes again after it. */
struct force_ctx {
	struct refuse_ctx r;
	unsigned page_starts;
	uint8_t force[KATAPULT_BLOCK_SIZE];
};

static enum fake_action refuse_and_capture(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	struct force_ctx *x = f->ctx;
	struct refuse_ctx *r = &x->r;

	(void)n;
	if (cmd == KATAPULT_CMD_SEND_BLOCK && addr == START + 0x400 && ++x->page_starts == 3)
		memcpy(x->force, f->flash + 0x2400, sizeof(x->force));
	if (cmd != KATAPULT_CMD_SEND_BLOCK || addr != r->addr || r->refused == r->times)
		return FAKE_NORMAL;
	r->refused++;
	return FAKE_CMD_ERROR;
}

/*
 * The force block must differ from the page's first block (else Katapult would take the
 * first block again as a retransmit and not erase) and must not be 0xFF (else it would land
 * on an erased quarter as "erased"): zeros, or zeros and a 1 when the first block is zeros.
 */
static void test_engine_force_block_differs_from_the_first_block(void **state)
{
	uint8_t *img = make_image(4096);
	struct katapult_engine_config c = flash_cfg(img, 4096);
	static struct force_ctx x;
	static struct fake f;
	uint8_t zeros[KATAPULT_BLOCK_SIZE];
	struct katapult_engine *e;

	(void)state;
	memset(zeros, 0, sizeof(zeros));
	for (int first_is_zero = 0; first_is_zero < 2; first_is_zero++) {
		if (first_is_zero)
			memset(img + 0x400, 0, KATAPULT_BLOCK_SIZE);
		memset(&x, 0, sizeof(x));
		x.r.addr = START + 0x440;
		x.r.times = 1;
		fake_init(&f);
		f.script = refuse_and_capture;
		f.ctx = &x;
		e = new_engine(&c);
		assert_int_equal(fake_run(&f, e, 0), 0);
		assert_int_equal(x.page_starts, 3);
		assert_memory_not_equal(x.force, img + 0x400, KATAPULT_BLOCK_SIZE);
		if (first_is_zero) {
			assert_memory_equal(x.force, zeros, KATAPULT_BLOCK_SIZE - 1);
			assert_int_equal(x.force[KATAPULT_BLOCK_SIZE - 1], 0x01);
		} else {
			assert_memory_equal(x.force, zeros, KATAPULT_BLOCK_SIZE);
		}
		assert_memory_equal(f.flash + 0x2000, img, 4096);
		katapult_engine_free(e);
	}
	free(img);
}

/* Refused again after the page was erased again: a real failure, named as such. */
static void test_engine_refused_twice_stops(void **state)
{
	uint8_t *img = make_image(4096);
	struct katapult_engine_config c = flash_cfg(img, 4096);
	struct refuse_ctx r = {.addr = START + 0x780, .times = 2};
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	f.script = refuse_addr;
	f.ctx = &r;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_PROTOCOL);

	why = katapult_engine_failure(e);
	assert_non_null(strstr(why->detail, "block 0x08002780"));
	assert_non_null(strstr(why->detail, "also after erasing its page again"));
	assert_int_equal(katapult_engine_stats(e)->pages_reerased, 1);
	assert_int_equal(f.completes, 0);
	/* Page 0 still held the 0xFF block: the application is invalid, the hint says so. */
	assert_int_equal(katapult_engine_app(e), KATAPULT_APP_INVALID);
	assert_non_null(strstr(why->hint, "application is erased"));
	katapult_engine_free(e);
	free(img);
}

/*
 * A block of page 0 refused twice: the application looked valid (block 0 written), so before
 * stopping the engine erases page 0 again with the 0xFF block, and says so.
 */
static void test_engine_refused_in_page0_erases_page0_before_stopping(void **state)
{
	uint8_t *img = make_image(4096);
	struct katapult_engine_config c = flash_cfg(img, 4096);
	struct refuse_ctx r = {.addr = START + 0x100, .times = 2};
	static struct fake f;
	struct katapult_engine *e;
	const struct cf_failure *why;

	(void)state;
	fake_init(&f);
	f.script = refuse_addr;
	f.ctx = &r;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), CF_ERR_PROTOCOL);

	assert_int_equal(f.cmds[f.ncmds - 1], KATAPULT_CMD_SEND_BLOCK);
	assert_int_equal(f.addrs[f.ncmds - 1], START);
	for (int i = 0; i < BS; i++)
		assert_int_equal(f.flash[0x2000 + i], 0xff);
	assert_int_equal(katapult_engine_app(e), KATAPULT_APP_INVALID);
	why = katapult_engine_failure(e);
	assert_non_null(strstr(why->detail, "block 0x08002100"));
	assert_non_null(strstr(why->hint, "application is erased"));
	katapult_engine_free(e);
	free(img);
}

/* ---- an ACK for another address is not the answer ----------------------------------------- */

/*
 * katapult.md §1.3: the echo is all there is. The device loses SEND_BLOCK 0x08002480 (not
 * written) and answers with the ACK of the block before it, left over from an earlier try.
 * Taken as the answer, the block would never be written and verify would fail; dropped as
 * stale, the engine resends the block after its timeout and the flash is right.
 */
static enum fake_action lose_block_echo_previous(struct fake *f, unsigned n, uint8_t cmd,
						 uint32_t addr)
{
	size_t len;

	(void)n;
	if (cmd != KATAPULT_CMD_SEND_BLOCK || addr != START + 0x480 || f->pages == 0xffff)
		return FAKE_NORMAL;
	f->pages = 0xffff; /* once */
	katapult_build_block_ack(addr - BS, f->custom, sizeof(f->custom), &len);
	f->custom_len = len;
	return FAKE_CUSTOM;
}

static void test_engine_block_ack_for_another_address_is_not_accepted(void **state)
{
	uint8_t *img = make_image(4096);
	struct katapult_engine_config c = flash_cfg(img, 4096);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = lose_block_echo_previous;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);

	assert_int_equal(katapult_engine_stats(e)->stale, 1);
	assert_int_equal(katapult_engine_stats(e)->timeouts, 1);
	assert_true(nth_block(&f, START + 0x480, 1) > 0); /* sent again */
	assert_memory_equal(f.flash + 0x2000, img, 4096);
	katapult_engine_free(e);
	free(img);
}

/* The same for REQUEST_BLOCK: a read ACK for another block is not that block's data. */
static enum fake_action read_echo_other(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	size_t len;

	(void)n;
	if (cmd != KATAPULT_CMD_REQUEST_BLOCK || addr != START + 0x200 || f->completes == 99)
		return FAKE_NORMAL;
	f->completes = 99; /* once */
	katapult_build_read_ack(START + 0x1c0, f->flash + 0x21c0, f->custom, sizeof(f->custom),
				&len);
	f->custom_len = len;
	return FAKE_CUSTOM;
}

static void test_engine_read_ack_for_another_address_is_not_accepted(void **state)
{
	uint8_t *img = make_image(2048);
	struct katapult_engine_config c = flash_cfg(img, 2048);
	static struct fake f;
	struct katapult_engine *e;

	(void)state;
	fake_init(&f);
	f.script = read_echo_other;
	e = new_engine(&c);

	assert_int_equal(fake_run(&f, e, 0), 0);
	assert_int_equal(katapult_engine_stats(e)->stale, 1);
	katapult_engine_free(e);
	free(img);
}

/* ---- verify: a difference in any byte of a block ------------------------------------------ */

struct damage {
	uint32_t block; /* flash offset of the block read back damaged */
	unsigned byte;
};

static enum fake_action damage_on_read(struct fake *f, unsigned n, uint8_t cmd, uint32_t addr)
{
	const struct damage *d = f->ctx;

	(void)n;
	if (cmd == KATAPULT_CMD_REQUEST_BLOCK && addr == FAKE_FLASH_BASE + d->block)
		f->flash[d->block + d->byte] ^= 0x01;
	return FAKE_NORMAL;
}

/* Every byte 0..63 of a block, in the first, a middle and the (padded) last block. */
static void test_engine_verify_catches_every_byte(void **state)
{
	const size_t len = 2048 - 5; /* last block padded with 0xFF */
	uint8_t *img = make_image(len);
	const uint32_t blocks[] = {0x2000, 0x2000 + 13 * BS, 0x2000 + 31 * BS};
	unsigned caught = 0;

	(void)state;
	for (size_t b = 0; b < 3; b++) {
		for (unsigned i = 0; i < BS; i++) {
			struct katapult_engine_config c = flash_cfg(img, len);
			struct damage d = {blocks[b], i};
			static struct fake f;
			struct katapult_engine *e;
			char want[64];

			fake_init(&f);
			f.script = damage_on_read;
			f.ctx = &d;
			e = new_engine(&c);
			if (fake_run(&f, e, 0) != CF_ERR_VERIFY)
				fail_msg("block 0x%08x byte %u: no verify failure",
					 FAKE_FLASH_BASE + d.block, i);
			snprintf(want, sizeof(want),
				 "differs at 0x%08x:", FAKE_FLASH_BASE + d.block + i);
			assert_non_null(strstr(katapult_engine_failure(e)->detail, want));
			assert_int_equal(f.completes, 0);
			caught++;
			katapult_engine_free(e);
		}
	}
	assert_int_equal(caught, 3 * BS);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_refused_block_erases_its_page_again),
	    cmocka_unit_test(test_engine_force_block_differs_from_the_first_block),
	    cmocka_unit_test(test_engine_refused_twice_stops),
	    cmocka_unit_test(test_engine_refused_in_page0_erases_page0_before_stopping),
	    cmocka_unit_test(test_engine_block_ack_for_another_address_is_not_accepted),
	    cmocka_unit_test(test_engine_read_ack_for_another_address_is_not_accepted),
	    cmocka_unit_test(test_engine_verify_catches_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
