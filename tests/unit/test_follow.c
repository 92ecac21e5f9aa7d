// SPDX-License-Identifier: GPL-3.0-or-later
// The one follow on the real loop: by UUID and as a new node after a census on a bus in memory,
// by port and serial and by port only in a sysfs fixture (the two forms the DFU finish uses).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "can/canmux.h"
#include "failure.h"
#include "follow/follow.h"
#include "follow/follow_census.h"
#include "follow/follow_usb.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "tools/twin/sysfs_fixture.h"
#include "transport.h"
#include "usb/sysfs.h"

/* ---- a bus in memory: nodes answer QUERY_UNASSIGNED while they are powered ---- */

#define MAX_NODES 4

struct node {
	uint8_t uuid[CANBUS_UUID_LEN];
	uint8_t app;
	bool on;
};

static struct {
	struct node nodes[MAX_NODES];
	int pipe[2];
	struct canbus_frame out[64];
	size_t nout, pos;
	unsigned queries, clears;
} Bus;

static int mb_open(struct transport *t, const char *spec, struct cf_failure *why)
{
	(void)t;
	(void)spec;
	(void)why;
	return pipe(Bus.pipe) == 0 && write(Bus.pipe[1], "x", 1) == 1 ? CF_OK : CF_ERR_IO;
}

static void mb_close(struct transport *t)
{
	(void)t;
	close(Bus.pipe[0]);
	close(Bus.pipe[1]);
}

static int mb_pollfds(struct transport *t, struct pollfd *fds, int max)
{
	(void)t;
	if (max < 1 || Bus.pos == Bus.nout)
		return 0;
	fds[0] = (struct pollfd){ .fd = Bus.pipe[0], .events = POLLIN };
	return 1;
}

static int mb_send(struct transport *t, const void *buf, size_t len)
{
	const struct canbus_frame *f = buf;

	(void)t;
	assert_int_equal(len, sizeof(*f));
	if (f->id != CANBUS_ADMIN_ID)
		return CF_OK;
	if (f->data[0] == CANBUS_CMD_CLEAR_KATAPULT_NODEID)
		Bus.clears++;
	if (f->data[0] != CANBUS_CMD_QUERY_UNASSIGNED)
		return CF_OK;
	Bus.queries++;
	for (int i = 0; i < MAX_NODES; i++)
		if (Bus.nodes[i].on && Bus.nout < sizeof(Bus.out) / sizeof(Bus.out[0]))
			canbus_build_need_nodeid(Bus.nodes[i].uuid, Bus.nodes[i].app,
						 &Bus.out[Bus.nout++]);
	return CF_OK;
}

static int mb_recv(struct transport *t, void *buf, size_t cap, size_t *len)
{
	(void)t;
	(void)cap;
	if (Bus.pos == Bus.nout) {
		Bus.pos = Bus.nout = 0;
		return CF_ERR_AGAIN;
	}
	memcpy(buf, &Bus.out[Bus.pos++], sizeof(struct canbus_frame));
	*len = sizeof(struct canbus_frame);
	return CF_OK;
}

static const struct transport_ops membus_ops = {
	.name = "membus",
	.unit = TRANSPORT_FRAMES,
	.open = mb_open,
	.close = mb_close,
	.pollfds = mb_pollfds,
	.send = mb_send,
	.recv = mb_recv,
};

static void node_set(int i, const char *uuid, uint8_t app, bool on)
{
	assert_int_equal(canbus_uuid_parse(uuid, Bus.nodes[i].uuid), CF_OK);
	Bus.nodes[i].app = app;
	Bus.nodes[i].on = on;
}

/* ---- running the loop ---- */

struct end {
	bool done;
	int err;
	struct follow_seen seen;
	unsigned calls;
};

static void on_end(void *ctx, int err, const struct follow_seen *seen, uint64_t now)
{
	struct end *e = ctx;

	(void)now;
	e->done = true;
	e->err = err;
	e->seen = *seen;
	e->calls++;
}

/* Something the world does at a time: a node powers on, a port re-enumerates. */
struct event {
	struct loop_timer timer;
	void (*what)(void *arg);
	void *arg;
	bool fired;
	bool follow_was_done; /* the follow had ended before the world changed */
	const struct end *end;
};

static void event_fire(struct loop_timer *t, uint64_t now)
{
	struct event *ev = (struct event *)t;

	(void)now;
	ev->fired = true;
	ev->follow_was_done = ev->end->done;
	ev->what(ev->arg);
}

static void event_at(struct loop *loop, struct event *ev, uint64_t at, void (*what)(void *),
		     void *arg, const struct end *e)
{
	memset(ev, 0, sizeof(*ev));
	ev->timer.fire = event_fire;
	ev->what = what;
	ev->arg = arg;
	ev->end = e;
	loop_arm(loop, &ev->timer, at);
}

static void run_until_done(struct loop *loop, const struct end *e, uint64_t limit_us)
{
	const uint64_t stop = cf_now_us() + limit_us;

	while (!e->done && cf_now_us() < stop)
		assert_true(loop_run_once(loop, 10000) >= 0);
}

/* ---- CAN ---- */

#define OTHER_UUID "90a4ae022dfc"
#define PROBE_UUID "e0ef270ca188"

static void power_probe(void *arg)
{
	(void)arg;
	Bus.nodes[1].on = true;
}

struct census_end {
	bool done;
	int err;
};

static void census_done(void *ctx, int err, uint64_t now)
{
	struct census_end *c = ctx;

	(void)now;
	c->done = true;
	c->err = err;
}

static struct loop *can_setup(struct canmux **mux)
{
	struct loop *loop = loop_new();

	memset(&Bus, 0, sizeof(Bus));
	assert_non_null(loop);
	assert_int_equal(canmux_open_ops(loop, &membus_ops, "mem0", mux, NULL), CF_OK);
	return loop;
}

static void take_census(struct loop *loop, struct follow_census *c)
{
	struct census_end ce = { 0 };
	struct cf_failure why = { 0 };
	const uint64_t stop = cf_now_us() + 3000000u;

	memset(c, 0, sizeof(*c));
	assert_int_equal(follow_census_start(c, loop, "mem0", census_done, &ce, &why), CF_OK);
	while (!ce.done && cf_now_us() < stop)
		assert_true(loop_run_once(loop, 10000) >= 0);
	assert_true(ce.done);
	assert_int_equal(ce.err, CF_OK);
}

static void test_can_new_node_is_the_one_the_census_did_not_see(void **state)
{
	struct canmux *mux;
	struct loop *loop = can_setup(&mux);
	struct follow_census census;
	struct follow_target t = { .link = IDENTITY_LINK_CAN, .want = DEVICE_MODE_UNKNOWN };
	struct cf_failure why = { 0 };
	struct follow *f;
	struct end e = { 0 };
	struct event power;
	uint8_t other[CANBUS_UUID_LEN];
	const uint64_t now = cf_now_us();

	(void)state;
	node_set(0, OTHER_UUID, CANBUS_APP_KLIPPER, true); /* already on the bus */
	node_set(1, PROBE_UUID, CANBUS_APP_KLIPPER, false);
	take_census(loop, &census);
	assert_int_equal(Bus.clears, 1); /* flashtool -q: old Katapult ids dropped first */
	assert_int_equal(canbus_uuid_parse(OTHER_UUID, other), CF_OK);
	assert_true(follow_census_has(&census, other));
	assert_ptr_equal(follow_census_mux(&census), mux);

	snprintf(t.iface, sizeof(t.iface), "mem0");
	t.before = &census;
	t.first_look_us = now;
	t.deadline_us = now + 3000000u;
	assert_int_equal(follow_start(loop, &t, follow_census_mux(&census), on_end, &e, &f, &why),
			 CF_OK);
	/* The other probe answers every query meanwhile: it must not end the follow. */
	event_at(loop, &power, cf_now_us() + 150000u, power_probe, NULL, &e);
	run_until_done(loop, &e, 3000000u);

	assert_true(power.fired);
	assert_false(power.follow_was_done);
	assert_true(e.done);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.err, CF_OK);
	assert_string_equal(e.seen.can_uuid, PROBE_UUID);
	assert_int_equal(e.seen.mode, DEVICE_MODE_APPLICATION);
	assert_true(Bus.queries >= 3); /* the census's, then the follow's until the answer */
	follow_free(f);
	follow_census_stop(&census);
	canmux_release(mux);
	loop_free(loop);
}

static void test_can_new_node_nothing_new_is_a_timeout(void **state)
{
	struct canmux *mux;
	struct loop *loop = can_setup(&mux);
	struct follow_census census;
	struct follow_target t = { .link = IDENTITY_LINK_CAN, .want = DEVICE_MODE_UNKNOWN };
	struct cf_failure why = { 0 };
	struct follow *f;
	struct end e = { 0 };
	unsigned before;

	(void)state;
	node_set(0, OTHER_UUID, CANBUS_APP_KATAPULT, true);
	take_census(loop, &census);
	before = Bus.queries;
	snprintf(t.iface, sizeof(t.iface), "mem0");
	t.before = &census;
	t.first_look_us = cf_now_us();
	t.deadline_us = t.first_look_us + 200000u;
	assert_int_equal(follow_start(loop, &t, mux, on_end, &e, &f, &why), CF_OK);
	run_until_done(loop, &e, 2000000u);

	assert_true(e.done);
	assert_int_equal(e.err, CF_ERR_TIMEOUT);
	assert_int_equal(e.seen.mode, DEVICE_MODE_UNKNOWN);
	assert_string_equal(e.seen.can_uuid, "");
	assert_true(Bus.queries - before >= 2); /* it kept asking, and heard only the other */
	follow_free(f);
	follow_census_stop(&census);
	canmux_release(mux);
	loop_free(loop);
}

static void test_can_new_node_needs_a_census(void **state)
{
	struct canmux *mux;
	struct loop *loop = can_setup(&mux);
	struct follow_target t = { .link = IDENTITY_LINK_CAN, .want = DEVICE_MODE_UNKNOWN };
	struct cf_failure why = { 0 };
	struct follow *f = (struct follow *)&t;
	struct end e = { 0 };

	(void)state;
	snprintf(t.iface, sizeof(t.iface), "mem0");
	t.deadline_us = cf_now_us() + 100000u;
	assert_int_equal(follow_start(loop, &t, mux, on_end, &e, &f, &why), CF_ERR_USAGE);
	assert_null(f);
	assert_non_null(strstr(why.detail, "census"));
	canmux_release(mux);
	loop_free(loop);
}

/* By UUID the mode matters: Katapult answering where the application was wanted is PROTOCOL,
 * and UNKNOWN (either) takes it. */
static void test_can_by_uuid_mode_rules(void **state)
{
	const enum device_mode wants[] = { DEVICE_MODE_APPLICATION, DEVICE_MODE_UNKNOWN };
	const int results[] = { CF_ERR_PROTOCOL, CF_OK };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct canmux *mux;
		struct loop *loop = can_setup(&mux);
		struct follow_target t = { .link = IDENTITY_LINK_CAN, .want = wants[i] };
		struct cf_failure why = { 0 };
		struct follow *f;
		struct end e = { 0 };

		node_set(0, OTHER_UUID, CANBUS_APP_KLIPPER, true);
		node_set(1, PROBE_UUID, CANBUS_APP_KATAPULT, true);
		snprintf(t.iface, sizeof(t.iface), "mem0");
		snprintf(t.can_uuid, sizeof(t.can_uuid), PROBE_UUID);
		t.deadline_us = cf_now_us() + 1000000u;
		assert_int_equal(follow_start(loop, &t, mux, on_end, &e, &f, &why), CF_OK);
		run_until_done(loop, &e, 2000000u);
		assert_true(e.done);
		assert_int_equal(e.err, results[i]);
		assert_int_equal(e.seen.mode, DEVICE_MODE_KATAPULT);
		assert_string_equal(e.seen.can_uuid, PROBE_UUID);
		follow_free(f);
		canmux_release(mux);
		loop_free(loop);
	}
}

/* ---- USB, in a sysfs fixture ---- */

static const struct twin_usb_id rom_id = { 0x0483, 0xdf11, "STMicroelectronics",
					   "DFU in FS Mode", "FFFFFFFEFFFF" };
static const struct twin_usb_id katapult_id = { 0x1d50, 0x6177, "katapult", "stm32f042x6",
						"16000C000F43304253373820" };
static const struct twin_usb_id app_id = { 0x1d50, 0x614e, "Cartographer", "",
					   "16000C000F43304253373820" };
static const struct twin_usb_id other_id = { 0x0403, 0x6001, "FTDI", "FT232R", "A10KZ3" };

static struct sysfs_fixture Fx;

static void fixture_open(void)
{
	char root[64] = "/tmp/cf-follow-XXXXXX";

	assert_non_null(mkdtemp(root));
	setenv("CARTOFLASH_SYSFS_ROOT", root, 1);
	unsetenv("CARTOFLASH_SYSFS_PORT");
	assert_true(sysfs_fixture_from_env(&Fx));
}

static void fixture_close(void)
{
	char cmd[320];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", Fx.root);
	assert_int_equal(system(cmd), 0);
	unsetenv("CARTOFLASH_SYSFS_ROOT");
}

static void show(void *arg)
{
	assert_int_equal(sysfs_fixture_update(&Fx, arg, NULL), 0);
}

/* The DFU finish's target: the ROM's port, no serial, either mode, no tty needed. */
static void rom_port_target(struct follow_target *t, uint64_t deadline_us)
{
	memset(t, 0, sizeof(*t));
	t->link = IDENTITY_LINK_TTY;
	t->want = DEVICE_MODE_UNKNOWN;
	t->device_only = true;
	snprintf(t->usb.dir, sizeof(t->usb.dir), "%s/bus/usb/devices/%s", sysfs_root(), Fx.port);
	t->usb.vid = SYSFS_VID_ST;
	t->usb.pid = SYSFS_PID_ST_ROM_DFU;
	t->first_look_us = cf_now_us();
	t->deadline_us = deadline_us;
}

static void follow_port(const struct twin_usb_id *comes_back, struct end *e, bool *changed_early)
{
	struct loop *loop = loop_new();
	struct follow_target t;
	struct cf_failure why = { 0 };
	struct follow *f;
	struct event gone, back;

	assert_int_equal(sysfs_fixture_update(&Fx, &rom_id, NULL), 0);
	rom_port_target(&t, cf_now_us() + 1500000u);
	assert_int_equal(follow_start(loop, &t, NULL, on_end, e, &f, &why), CF_OK);
	/* The ROM stays a while (looked at several times), leaves, then the probe comes. */
	event_at(loop, &gone, cf_now_us() + 100000u, show, NULL, e);
	event_at(loop, &back, cf_now_us() + 200000u, show, (void *)comes_back, e);
	run_until_done(loop, e, 3000000u);
	*changed_early = gone.follow_was_done || (comes_back && back.follow_was_done);
	follow_free(f);
	loop_free(loop);
}

static void test_usb_port_only_finds_whichever_probe_comes_back(void **state)
{
	const struct twin_usb_id *ids[] = { &katapult_id, &app_id };
	const enum device_mode modes[] = { DEVICE_MODE_KATAPULT, DEVICE_MODE_APPLICATION };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct end e = { 0 };
		bool early;

		fixture_open();
		follow_port(ids[i], &e, &early);
		assert_false(early); /* the ROM on its port was "not yet" */
		assert_true(e.done);
		assert_int_equal(e.err, CF_OK);
		assert_int_equal(e.seen.mode, modes[i]);
		assert_string_equal(e.seen.usb.serial, "16000C000F43304253373820");
		assert_string_equal(e.seen.usb.port, Fx.port);
		assert_string_equal(e.seen.usb.tty, ""); /* device_only: no tty needed */
		fixture_close();
	}
}

static void test_usb_port_only_another_device_is_not_the_probe(void **state)
{
	struct end e = { 0 };
	bool early;

	(void)state;
	fixture_open();
	follow_port(&other_id, &e, &early);
	assert_false(early);
	assert_true(e.done);
	assert_int_equal(e.err, CF_ERR_TIMEOUT);
	assert_int_equal(e.seen.usb.vid, 0x0403); /* what the port shows at the deadline */
	fixture_close();
}

static void test_usb_port_only_rom_still_there_at_the_deadline(void **state)
{
	struct loop *loop = loop_new();
	struct follow_target t;
	struct cf_failure why = { 0 };
	struct follow *f;
	struct end e = { 0 };

	(void)state;
	fixture_open();
	assert_int_equal(sysfs_fixture_update(&Fx, &rom_id, NULL), 0);
	rom_port_target(&t, cf_now_us() + 150000u);
	assert_int_equal(follow_start(loop, &t, NULL, on_end, &e, &f, &why), CF_OK);
	run_until_done(loop, &e, 2000000u);
	assert_true(e.done);
	assert_int_equal(e.err, CF_ERR_TIMEOUT);
	assert_int_equal(e.seen.mode, DEVICE_MODE_ROM_DFU); /* "ROM still attached" */
	follow_free(f);
	loop_free(loop);
	fixture_close();
}

/* A tty that hung up: its device is still listed a moment; only what comes after it counts. */
static void katapult_port_target(struct follow_target *t, uint64_t deadline_us)
{
	char dir[512];

	memset(t, 0, sizeof(*t));
	t->link = IDENTITY_LINK_TTY;
	t->want = DEVICE_MODE_UNKNOWN;
	t->device_only = true;
	t->gone_first = true;
	snprintf(dir, sizeof(dir), "%s/bus/usb/devices/%s", sysfs_root(), Fx.port);
	assert_int_equal(sysfs_usb_read(dir, &t->usb), CF_OK);
	t->first_look_us = cf_now_us();
	t->deadline_us = deadline_us;
}

static void test_usb_gone_first_waits_for_the_leaving_device(void **state)
{
	struct loop *loop = loop_new();
	struct follow_target t;
	struct cf_failure why = { 0 };
	struct follow *f;
	struct end e = { 0 };
	struct event gone, back;

	(void)state;
	fixture_open();
	assert_int_equal(sysfs_fixture_update(&Fx, &katapult_id, NULL), 0);
	katapult_port_target(&t, cf_now_us() + 1500000u);
	assert_int_equal(follow_start(loop, &t, NULL, on_end, &e, &f, &why), CF_OK);
	event_at(loop, &gone, cf_now_us() + 100000u, show, NULL, &e);
	event_at(loop, &back, cf_now_us() + 200000u, show, (void *)&katapult_id, &e);
	run_until_done(loop, &e, 3000000u);
	assert_false(gone.follow_was_done); /* the listed Katapult that hung up was not taken */
	assert_false(back.follow_was_done); /* nor the empty port */
	assert_int_equal(e.err, CF_OK);
	assert_int_equal(e.seen.mode, DEVICE_MODE_KATAPULT);
	follow_free(f);
	loop_free(loop);
	fixture_close();
}

static void test_usb_gone_first_still_listed_at_the_deadline(void **state)
{
	struct loop *loop = loop_new();
	struct follow_target t;
	struct cf_failure why = { 0 };
	struct follow *f;
	struct end e = { 0 };

	(void)state;
	fixture_open();
	assert_int_equal(sysfs_fixture_update(&Fx, &katapult_id, NULL), 0);
	katapult_port_target(&t, cf_now_us() + 150000u);
	assert_int_equal(follow_start(loop, &t, NULL, on_end, &e, &f, &why), CF_OK);
	run_until_done(loop, &e, 2000000u);
	assert_int_equal(e.err, CF_ERR_TIMEOUT);
	assert_int_equal(e.seen.mode, DEVICE_MODE_KATAPULT); /* what the port still lists */
	assert_int_equal(e.seen.usb.pid, 0x6177);
	follow_free(f);
	loop_free(loop);
	fixture_close();
}

/* One look at a time: the port-only rules, and the by-serial rules they must not loosen. */
static void test_usb_look_rules(void **state)
{
	struct sysfs_usb rom, out;
	struct follow_usb by_port, by_serial;
	char dir[512];

	(void)state;
	fixture_open();
	assert_int_equal(sysfs_fixture_update(&Fx, &rom_id, NULL), 0);
	snprintf(dir, sizeof(dir), "%s/bus/usb/devices/%s", sysfs_root(), Fx.port);
	assert_int_equal(sysfs_usb_read(dir, &rom), CF_OK);
	memset(rom.serial, 0, sizeof(rom.serial));
	follow_usb_init(&by_port, &rom);
	assert_int_equal(follow_usb_look(&by_port, DEVICE_MODE_UNKNOWN, &out), 0);
	/* Without device_only the probe needs its tty (the Katapult channel opens it next). */
	assert_int_equal(sysfs_fixture_update(&Fx, &app_id, NULL), 0);
	assert_int_equal(follow_usb_look(&by_port, DEVICE_MODE_UNKNOWN, &out), 0);
	by_port.device_only = true;
	assert_int_equal(follow_usb_look(&by_port, DEVICE_MODE_UNKNOWN, &out), 1);
	/* A probe in a mode other than the one asked for is named, not waited for. */
	assert_int_equal(follow_usb_look(&by_port, DEVICE_MODE_KATAPULT, &out), CF_ERR_PROTOCOL);
	/* By serial: another chip on the port is another device, also with device_only. */
	assert_int_equal(sysfs_usb_read(dir, &out), CF_OK);
	snprintf(out.serial, sizeof(out.serial), "0000000000000000000000AA");
	follow_usb_init(&by_serial, &out);
	by_serial.device_only = true;
	assert_int_equal(follow_usb_look(&by_serial, DEVICE_MODE_UNKNOWN, &out), CF_ERR_NO_DEVICE);
	fixture_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_can_new_node_is_the_one_the_census_did_not_see),
		cmocka_unit_test(test_can_new_node_nothing_new_is_a_timeout),
		cmocka_unit_test(test_can_new_node_needs_a_census),
		cmocka_unit_test(test_can_by_uuid_mode_rules),
		cmocka_unit_test(test_usb_port_only_finds_whichever_probe_comes_back),
		cmocka_unit_test(test_usb_port_only_another_device_is_not_the_probe),
		cmocka_unit_test(test_usb_port_only_rom_still_there_at_the_deadline),
		cmocka_unit_test(test_usb_gone_first_waits_for_the_leaving_device),
		cmocka_unit_test(test_usb_gone_first_still_listed_at_the_deadline),
		cmocka_unit_test(test_usb_look_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
