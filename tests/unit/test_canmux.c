// SPDX-License-Identifier: GPL-3.0-or-later
// The CAN bus mux against a fake frame transport: order, resend on EAGAIN, routing, node ids.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "can/canmux.h"
#include "can/canquery.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "transport.h"

#define FAKE_MAX 256

/* The fake: refuses the sends whose call number is in again_at, records the rest. */
struct fake {
	int pipe[2];
	unsigned calls;
	unsigned again_at[8];
	size_t nagain;
	struct canbus_frame sent[FAKE_MAX];
	size_t nsent;
	struct canbus_frame inbound[FAKE_MAX];
	size_t nin, in_pos;
	int fail_with; /* a send error from the next call on */
};

static struct fake Fake;

static int fk_open(struct transport *t, const char *spec, struct cf_failure *why)
{
	(void)t;
	(void)spec;
	(void)why;
	return pipe(Fake.pipe) == 0 && write(Fake.pipe[1], "x", 1) == 1 ? CF_OK : CF_ERR_IO;
}

static void fk_close(struct transport *t)
{
	(void)t;
	close(Fake.pipe[0]);
	close(Fake.pipe[1]);
}

static int fk_pollfds(struct transport *t, struct pollfd *fds, int max)
{
	(void)t;
	if (max < 1 || Fake.in_pos == Fake.nin)
		return 0;
	fds[0] = (struct pollfd){ .fd = Fake.pipe[0], .events = POLLIN };
	return 1;
}

static int fk_send(struct transport *t, const void *buf, size_t len)
{
	unsigned call = ++Fake.calls;

	(void)t;
	assert_int_equal(len, sizeof(struct canbus_frame));
	if (Fake.fail_with)
		return Fake.fail_with;
	for (size_t i = 0; i < Fake.nagain; i++)
		if (Fake.again_at[i] == call)
			return CF_ERR_AGAIN;
	assert_true(Fake.nsent < FAKE_MAX);
	memcpy(&Fake.sent[Fake.nsent++], buf, len);
	return CF_OK;
}

static int fk_recv(struct transport *t, void *buf, size_t cap, size_t *len)
{
	(void)t;
	if (Fake.in_pos == Fake.nin)
		return CF_ERR_AGAIN;
	assert_true(cap >= sizeof(struct canbus_frame));
	memcpy(buf, &Fake.inbound[Fake.in_pos++], sizeof(struct canbus_frame));
	*len = sizeof(struct canbus_frame);
	return CF_OK;
}

static const struct transport_ops fake_ops = {
	.name = "fake",
	.unit = TRANSPORT_FRAMES,
	.open = fk_open,
	.close = fk_close,
	.pollfds = fk_pollfds,
	.send = fk_send,
	.recv = fk_recv,
};

struct probe_listener {
	struct canmux_listener l;
	unsigned frames, sent, errors;
	int last_err;
	struct canbus_frame last;
};

static void pl_frame(struct canmux_listener *l, const struct canbus_frame *f, uint64_t now)
{
	struct probe_listener *p = (struct probe_listener *)l;

	(void)now;
	p->frames++;
	p->last = *f;
}

static void pl_sent(struct canmux_listener *l, uint64_t now)
{
	(void)now;
	((struct probe_listener *)l)->sent++;
}

static void pl_error(struct canmux_listener *l, int err, uint64_t now)
{
	(void)now;
	((struct probe_listener *)l)->errors++;
	((struct probe_listener *)l)->last_err = err;
}

static void pl_init(struct probe_listener *p, uint32_t id)
{
	memset(p, 0, sizeof(*p));
	p->l.id = id;
	p->l.on_frame = pl_frame;
	p->l.on_sent = pl_sent;
	p->l.on_error = pl_error;
}

struct rig {
	struct loop *loop;
	struct canmux *mux;
};

static int setup(void **state)
{
	static struct rig r;

	memset(&Fake, 0, sizeof(Fake));
	r.loop = loop_new();
	assert_non_null(r.loop);
	assert_int_equal(canmux_open_ops(r.loop, &fake_ops, "fake0", &r.mux, NULL), CF_OK);
	*state = &r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	canmux_release(r->mux);
	loop_free(r->loop);
	return 0;
}

static void run_turns(struct rig *r, int turns)
{
	for (int i = 0; i < turns; i++)
		loop_run_once(r->loop, 3000);
}

/* katapult.md §1.2: SEND_BLOCK @0x08002000 with data 00..3f is 76 bytes. */
static void build_send_block(uint8_t out[76])
{
	static const uint8_t head[] = { 0x01, 0x88, 0x12, 0x11, 0x00, 0x20, 0x00, 0x08 };
	static const uint8_t tail[] = { 0xd2, 0xf3, 0x99, 0x03 };

	memcpy(out, head, sizeof(head));
	for (int i = 0; i < 64; i++)
		out[8 + i] = (uint8_t)i;
	memcpy(out + 72, tail, sizeof(tail));
}

static void test_canmux_send_block_goes_out_as_ten_frames_in_order(void **state)
{
	struct rig *r = *state;
	struct probe_listener p;
	uint8_t block[76];

	pl_init(&p, 0x203);
	canmux_listen(r->mux, &p.l);
	build_send_block(block);

	assert_int_equal(canmux_send_stream(r->mux, &p.l, 0x202, block, sizeof(block)), CF_OK);
	run_turns(r, 3);

	/* katapult.md §2.4: 76 B = 9 x 8 + 1 x 4, on the host -> node id 0x202 of node 129. */
	assert_int_equal(Fake.nsent, 10);
	for (size_t i = 0; i < 10; i++) {
		assert_int_equal(Fake.sent[i].id, 0x202);
		assert_int_equal(Fake.sent[i].len, i < 9 ? 8 : 4);
		assert_memory_equal(Fake.sent[i].data, block + 8 * i, Fake.sent[i].len);
	}
	assert_int_equal(p.sent, 1);
	canmux_unlisten(r->mux, &p.l);
}

static void test_canmux_eagain_resends_the_same_frame_and_keeps_order(void **state)
{
	struct rig *r = *state;
	struct probe_listener p;
	uint8_t block[76];

	pl_init(&p, 0x203);
	canmux_listen(r->mux, &p.l);
	build_send_block(block);
	Fake.again_at[0] = 1;
	Fake.again_at[1] = 4;
	Fake.again_at[2] = 5;
	Fake.nagain = 3;

	assert_int_equal(canmux_send_stream(r->mux, &p.l, 0x202, block, sizeof(block)), CF_OK);
	run_turns(r, 20);

	/* Design rule 1: refused frames go again; nothing is dropped or reordered. */
	assert_int_equal(Fake.calls, 13);
	assert_int_equal(Fake.nsent, 10);
	for (size_t i = 0; i < 10; i++)
		assert_memory_equal(Fake.sent[i].data, block + 8 * i, Fake.sent[i].len);
	assert_int_equal(p.sent, 1);
	canmux_unlisten(r->mux, &p.l);
}

static void test_canmux_on_sent_waits_for_the_last_frame(void **state)
{
	struct rig *r = *state;
	struct probe_listener p;
	uint8_t block[76];

	pl_init(&p, 0x203);
	canmux_listen(r->mux, &p.l);
	build_send_block(block);
	Fake.again_at[0] = 10; /* the last frame is refused once */
	Fake.nagain = 1;

	assert_int_equal(canmux_send_stream(r->mux, &p.l, 0x202, block, sizeof(block)), CF_OK);
	loop_run_once(r->loop, 0);

	assert_int_equal(Fake.nsent, 9);
	assert_int_equal(p.sent, 0);
	run_turns(r, 5);
	assert_int_equal(Fake.nsent, 10);
	assert_int_equal(p.sent, 1);
	canmux_unlisten(r->mux, &p.l);
}

static void test_canmux_unlisten_keeps_queued_frames_going(void **state)
{
	struct rig *r = *state;
	struct probe_listener p;
	uint8_t block[76];

	pl_init(&p, 0x203);
	canmux_listen(r->mux, &p.l);
	build_send_block(block);

	assert_int_equal(canmux_send_stream(r->mux, &p.l, 0x202, block, sizeof(block)), CF_OK);
	canmux_unlisten(r->mux, &p.l);
	run_turns(r, 3);

	assert_int_equal(Fake.nsent, 10);
	assert_int_equal(p.sent, 0);
}

static void test_canmux_routes_frames_by_id_to_every_listener(void **state)
{
	struct rig *r = *state;
	struct probe_listener a, b, other;

	pl_init(&a, CANBUS_ADMIN_RESP_ID);
	pl_init(&b, CANBUS_ADMIN_RESP_ID);
	pl_init(&other, 0x203);
	canmux_listen(r->mux, &a.l);
	canmux_listen(r->mux, &b.l);
	canmux_listen(r->mux, &other.l);
	/* katapult.md §2.2: 20 uuid 11 = a Katapult node answering the query. */
	Fake.inbound[0] = (struct canbus_frame){ 0x3f1, 8, { 0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1,
							      0x88, 0x11 } };
	Fake.inbound[1] = (struct canbus_frame){ 0x123, 1, { 0x55 } };
	Fake.nin = 2;

	run_turns(r, 2);

	assert_int_equal(a.frames, 1);
	assert_int_equal(b.frames, 1);
	assert_int_equal(other.frames, 0);
	assert_int_equal(a.last.data[7], 0x11);
	canmux_unlisten(r->mux, &a.l);
	canmux_unlisten(r->mux, &b.l);
	canmux_unlisten(r->mux, &other.l);
}

/* A fleet of 40 probes confirming at once: every one of them hears each 0x3f1 answer. */
static void test_canmux_delivers_to_many_listeners_of_one_id(void **state)
{
	struct rig *r = *state;
	static struct probe_listener many[40];

	for (int i = 0; i < 40; i++) {
		pl_init(&many[i], CANBUS_ADMIN_RESP_ID);
		canmux_listen(r->mux, &many[i].l);
	}
	Fake.inbound[0] = (struct canbus_frame){ 0x3f1, 8, { 0x20, 1, 2, 3, 4, 5, 6, 0x01 } };
	Fake.nin = 1;

	run_turns(r, 2);

	for (int i = 0; i < 40; i++) {
		assert_int_equal(many[i].frames, 1);
		canmux_unlisten(r->mux, &many[i].l);
	}
}

static void test_canmux_send_error_fails_the_bus_for_every_listener(void **state)
{
	struct rig *r = *state;
	struct probe_listener a, b;
	struct canbus_frame f = { 0x3f0, 1, { 0x00 } };

	pl_init(&a, 0x203);
	pl_init(&b, 0x3f1);
	canmux_listen(r->mux, &a.l);
	canmux_listen(r->mux, &b.l);
	Fake.fail_with = CF_ERR_NO_DEVICE;

	assert_int_equal(canmux_send(r->mux, &a.l, &f, 1), CF_OK);
	run_turns(r, 2);

	assert_int_equal(a.errors, 1);
	assert_int_equal(b.errors, 1);
	assert_int_equal(a.last_err, CF_ERR_NO_DEVICE);
	assert_int_equal(canmux_error(r->mux), CF_ERR_NO_DEVICE);
	assert_int_equal(canmux_send(r->mux, &a.l, &f, 1), CF_ERR_NO_DEVICE);
	canmux_unlisten(r->mux, &a.l);
	canmux_unlisten(r->mux, &b.l);
	Fake.fail_with = 0;
}

static void test_canmux_node_ids_start_at_129_and_run_out(void **state)
{
	struct rig *r = *state;
	uint8_t node = 0;
	unsigned n = 0;

	assert_int_equal(canmux_alloc_node(r->mux, &node), CF_OK);
	/* katapult.md §2.1: flashtool's 129 (0x202/0x203), clear of Klipper's 4, 5, ... */
	assert_int_equal(node, 129);
	while (canmux_alloc_node(r->mux, &node) == CF_OK)
		n++;
	/* 224-254 belong to identified applications (src/appid/appid_can.h) */
	assert_int_equal(n, 223 - 129);
	assert_int_equal(node, 223);
	assert_int_equal(canmux_alloc_node(r->mux, &node), CF_ERR_BUSY);
	canmux_free_node(r->mux, 200);
	assert_int_equal(canmux_alloc_node(r->mux, &node), CF_OK);
	assert_int_equal(node, 200);
}

static void test_canquery_collects_each_uuid_once_until_quiet(void **state)
{
	struct rig *r = *state;
	static const uint8_t u1[6] = { 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88 };
	static const uint8_t u2[6] = { 0x90, 0xa4, 0xae, 0x02, 0x2d, 0xfc };
	struct canquery q;
	uint64_t t0 = cf_now_us();

	memset(&q, 0, sizeof(q));
	Fake.inbound[0] = (struct canbus_frame){ 0x3f1, 8, { 0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1,
							      0x88, 0x01 } };
	Fake.inbound[1] = (struct canbus_frame){ 0x3f1, 8, { 0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1,
							      0x88, 0x01 } };
	Fake.inbound[2] = (struct canbus_frame){ 0x3f1, 8, { 0x20, 0x90, 0xa4, 0xae, 0x02, 0x2d,
							      0xfc, 0x11 } };
	Fake.inbound[3] = (struct canbus_frame){ 0x3f1, 3, { 0x20, 0x01, 0x02 } }; /* too short */
	Fake.nin = 4;

	assert_int_equal(canquery_start(&q, r->mux, r->loop, true, 20000, 1000000), CF_OK);
	while (!q.done)
		loop_run_once(r->loop, 100000);

	/* katapult.md §2.6: flashtool -q sends 12 then 00 on 0x3f0. */
	assert_int_equal(Fake.nsent, 2);
	assert_int_equal(Fake.sent[0].id, 0x3f0);
	assert_int_equal(Fake.sent[0].data[0], 0x12);
	assert_int_equal(Fake.sent[1].data[0], 0x00);
	assert_int_equal(q.count, 2);
	assert_non_null(canquery_find(&q, u1));
	assert_int_equal(canquery_find(&q, u2)->app, 0x11);
	assert_int_equal(q.err, CF_OK);
	/* Quiet after 20 ms, far below the 1 s cap. */
	assert_true(q.end_us - t0 < 500000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_canmux_send_block_goes_out_as_ten_frames_in_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_canmux_eagain_resends_the_same_frame_and_keeps_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canmux_on_sent_waits_for_the_last_frame, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_canmux_unlisten_keeps_queued_frames_going,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_canmux_routes_frames_by_id_to_every_listener,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_canmux_delivers_to_many_listeners_of_one_id,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_canmux_send_error_fails_the_bus_for_every_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canmux_node_ids_start_at_129_and_run_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_canquery_collects_each_uuid_once_until_quiet,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
