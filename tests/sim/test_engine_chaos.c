// SPDX-License-Identifier: GPL-3.0-or-later
// The engine against a device whose replies are lost, damaged, repeated or buried in noise.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_cases.h"
#include "failure.h"
#include "fake_device.h"
#include "katapult/engine.h"
#include "protocol/err.h"
#include "protocol/katapult.h"

#define CHAOS_RUNS 3000u

struct chaos {
	uint32_t rng;
	unsigned pct; /* chance in % that a reply is tampered with */
	uint8_t last[KATAPULT_MAX_FRAME];
	size_t last_len;
};

static uint32_t chaos_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Device->host trouble only: the host->device direction stays clean, as on a healthy bus
 * where only replies get lost (katapult.md §2.4: "loss device -> host is recoverable"). */
static size_t chaos_mutate(struct fake *f, const uint8_t *in, size_t len, uint8_t *out,
			   size_t cap)
{
	struct chaos *c = f->ctx;
	size_t n = 0, i;

	memcpy(out, in, len);
	n = len;
	if (chaos_rand(&c->rng) % 100 < c->pct) {
		switch (chaos_rand(&c->rng) % 6) {
		case 0: /* lost */
			n = 0;
			break;
		case 1: /* one bit flipped anywhere */
			out[chaos_rand(&c->rng) % len] ^= (uint8_t)(1u << (chaos_rand(&c->rng) % 8));
			break;
		case 2: /* cut short */
			n = chaos_rand(&c->rng) % len;
			break;
		case 3: /* the previous reply again first (a stale duplicate) */
			if (c->last_len && c->last_len + len <= cap) {
				memcpy(out, c->last, c->last_len);
				memcpy(out + c->last_len, in, len);
				n = c->last_len + len;
			}
			break;
		case 4: /* line noise in front, possibly with 01 88 in it */
			n = 1 + chaos_rand(&c->rng) % 20;
			for (i = 0; i < n; i++)
				out[i] = (uint8_t)chaos_rand(&c->rng);
			if (n + len <= cap) {
				memcpy(out + n, in, len);
				n += len;
			}
			break;
		case 5: /* the same reply twice */
			if (2 * len <= cap) {
				memcpy(out + len, in, len);
				n = 2 * len;
			}
			break;
		}
	}
	memcpy(c->last, in, len);
	c->last_len = len;
	return n;
}

static void chaos_run(uint32_t seed, unsigned *ok, unsigned *failed)
{
	static struct fake f;
	struct chaos c = { .rng = seed * 2654435761u | 1u };
	const size_t len = 64 + chaos_rand(&c.rng) % 3000;
	uint8_t *img = make_image(len);
	struct katapult_engine_config cfg = flash_cfg(img, len);
	struct katapult_engine *e;
	const struct cf_failure *why;
	int rc;

	fake_init(&f);
	f.mutate = chaos_mutate;
	f.ctx = &c;
	f.feed_chunk = 1 + chaos_rand(&c.rng) % 16;
	c.pct = 5 + chaos_rand(&c.rng) % 30;
	cfg.expect_uuid = chaos_rand(&c.rng) % 2;
	memcpy(cfg.uuid, f.uuid, 6);
	e = new_engine(&cfg);

	rc = fake_run(&f, e, 0);
	why = katapult_engine_failure(e);

	if (rc == CF_ERR_AGAIN)
		fail_msg("seed %u: the session never ended", seed);
	/* design.md rule 2: COMPLETE went out only with every block of the image in flash. */
	if (fake_count(&f, KATAPULT_CMD_COMPLETE) && memcmp(f.flash + 0x2000, img, len))
		fail_msg("seed %u: COMPLETE without the image in flash", seed);
	if (!rc && memcmp(f.flash + 0x2000, img, len))
		fail_msg("seed %u: success without the image in flash", seed);
	if (rc && strcmp(why->stage, "complete") && fake_count(&f, KATAPULT_CMD_COMPLETE))
		fail_msg("seed %u: COMPLETE after %s in %s", seed, cf_err_name(rc), why->stage);
	if (rc && (!why->stage[0] || !why->detail[0] || !why->hint[0]))
		fail_msg("seed %u: %s without stage, detail or hint", seed, cf_err_name(rc));
	/* The flash is always right and the device never NACKs: only running out of tries
	 * (a timeout) is an acceptable way to give up. */
	if (rc && rc != CF_ERR_TIMEOUT)
		fail_msg("seed %u: %s: %s: %s", seed, cf_err_name(rc), why->stage, why->detail);
	*ok += rc == 0;
	*failed += rc != 0;
	katapult_engine_free(e);
	free(img);
}

static void test_engine_survives_damaged_replies(void **state)
{
	unsigned ok = 0, failed = 0;

	(void)state;
	for (uint32_t seed = 1; seed <= CHAOS_RUNS; seed++)
		chaos_run(seed, &ok, &failed);
	print_message("%u sessions with damaged replies: %u flashed and verified, %u gave up "
		      "with a named failure\n",
		      CHAOS_RUNS, ok, failed);
	/* Losing up to a third of the replies, five tries per command still get through. */
	assert_true(ok > CHAOS_RUNS * 9 / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_survives_damaged_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
