// SPDX-License-Identifier: GPL-3.0-or-later
// The Katapult CAN backend end to end in one process: fleet -> backend -> mux -> twins.
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "can/canmux.h"
#include "failure.h"
#include "fleet.h"
#include "katapult/can_entry.h"
#include "katapult/katapult.h"
#include "log.h"
#include "loop.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "report.h"
#include "tools/mkimage/mkimage.h"
#include "tools/twin/twin.h"
#include "transport.h"

#define MAX_TWINS 4
#define BUS_BITRATE 1000000u

/* A bus in memory: what the host sends reaches every twin, what twins send comes back. */
struct membus {
	struct twin *twins[MAX_TWINS];
	int ntwins;
	int pipe[2];
	struct canbus_frame out[512];
	size_t nout, pos;
	unsigned host_frames;
	unsigned interrupt_after; /* raise SIGINT after this many host frames (0 = never) */
	bool partial;		  /* a host frame was refused mid-command (never expected) */
	unsigned drop_complete_ack; /* lose this many ACKs of COMPLETE on the way to the host */
	unsigned dropping;	    /* frames of the ACK being lost still to drop */
};

static struct membus Bus;

static void collect(uint64_t now)
{
	for (int i = 0; i < Bus.ntwins; i++) {
		struct canbus_frame f;

		twin_advance(Bus.twins[i], now);
		while (Bus.nout < sizeof(Bus.out) / sizeof(Bus.out[0]) &&
		       twin_can_pop(Bus.twins[i], now, &f) == CF_OK) {
			/* katapult.md §1.2: ACK (0xa0) of COMPLETE (0x15), 12 bytes in two frames */
			if (Bus.drop_complete_ack && f.len == 8 && f.data[0] == 0x01 &&
			    f.data[1] == 0x88 && f.data[2] == 0xa0 && f.data[4] == 0x15) {
				Bus.drop_complete_ack--;
				Bus.dropping = 2;
			}
			if (Bus.dropping) {
				Bus.dropping--;
				continue;
			}
			Bus.out[Bus.nout++] = f;
			/* Other twins hear it too (an id clash would show up there). */
			for (int j = 0; j < Bus.ntwins; j++)
				if (j != i)
					twin_can_receive(Bus.twins[j], &f, now);
		}
	}
}

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
	collect(cf_now_us());
	if (max < 1 || Bus.pos == Bus.nout)
		return 0;
	fds[0] = (struct pollfd){ .fd = Bus.pipe[0], .events = POLLIN };
	return 1;
}

static int mb_send(struct transport *t, const void *buf, size_t len)
{
	uint64_t now = cf_now_us();

	(void)t;
	assert_int_equal(len, sizeof(struct canbus_frame));
	for (int i = 0; i < Bus.ntwins; i++)
		twin_can_receive(Bus.twins[i], buf, now);
	if (++Bus.host_frames == Bus.interrupt_after)
		raise(SIGINT);
	return CF_OK;
}

static int mb_recv(struct transport *t, void *buf, size_t cap, size_t *len)
{
	(void)t;
	(void)cap;
	collect(cf_now_us());
	if (Bus.pos == Bus.nout) {
		Bus.pos = Bus.nout = 0;
		return CF_ERR_AGAIN;
	}
	memcpy(buf, &Bus.out[Bus.pos++], sizeof(struct canbus_frame));
	*len = sizeof(struct canbus_frame);
	return CF_OK;
}

static int mb_bitrate(struct transport *t, uint32_t *bitrate)
{
	(void)t;
	*bitrate = BUS_BITRATE;
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
	.get_bitrate = mb_bitrate,
};

/* ---- fixtures ---- */

struct img {
	uint8_t *data;
	size_t len;
	struct image_info info;
};

static void make_app(struct img *im, uint32_t bitrate, const char *version, size_t size)
{
	struct mkimage_app_opts o = { .iface = IMAGE_IFACE_CAN, .bitrate = bitrate,
				      .version = version, .size = size };
	uint8_t *scratch = malloc(IMAGE_SCRATCH_SIZE);

	assert_int_equal(mkimage_app(&o, &im->data, &im->len), CF_OK);
	assert_int_equal(image_inspect(im->data, im->len, scratch, IMAGE_SCRATCH_SIZE, &im->info),
			 CF_OK);
	free(scratch);
}

/* A probe: CAN Katapult at 0x08000000 and (optionally) an old application at 0x08002000. */
static struct twin *add_twin(uint8_t uid_last, bool with_app)
{
	struct twin_config c = { .speed = 0, .bus_bitrate = BUS_BITRATE };
	struct mkimage_katapult_opts ko = { .iface = IMAGE_IFACE_CAN, .bitrate = BUS_BITRATE,
					    .version = "v0.0.1-110-g902f335" };
	uint8_t *kp;
	size_t klen;
	struct twin *t;

	for (int i = 0; i < 12; i++)
		c.uid[i] = (uint8_t)(0x10 + i);
	c.uid[11] = uid_last;
	t = twin_new(&c);
	assert_non_null(t);
	assert_int_equal(mkimage_katapult(&ko, &kp, &klen), CF_OK);
	assert_int_equal(twin_flash_write_raw(t, TWIN_FLASH_BASE, kp, klen), CF_OK);
	free(kp);
	if (with_app) {
		struct img old;

		make_app(&old, BUS_BITRATE, "CARTOGRAPHER 4.0.0", 0);
		assert_int_equal(twin_flash_write_raw(t, TWIN_APP_START, old.data, old.len), CF_OK);
		free(old.data);
	}
	twin_power_on(t, cf_now_us());
	Bus.twins[Bus.ntwins++] = t;
	return t;
}

struct run {
	struct loop *loop;
	struct canmux *mux;
	struct report *report;
	struct fleet *fleet;
	FILE *sink;
};

static void run_open(struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop_new();
	assert_int_equal(canmux_open_ops(r->loop, &membus_ops, "mem0", &r->mux, NULL), CF_OK);
	r->sink = fopen("/dev/null", "w");
	r->report = report_new(REPORT_PLAIN, r->sink, r->sink);
	r->fleet = fleet_new(r->loop, r->report);
}

static int add_job(struct run *r, const struct twin *t, const struct img *im, uint64_t timeout)
{
	struct updater_config cfg = { .ops = &katapult_ops };
	uint8_t uuid[6];

	twin_uuid(t, uuid);
	snprintf(cfg.target.iface, sizeof(cfg.target.iface), "mem0");
	canbus_uuid_format(uuid, cfg.target.can_uuid);
	cfg.target.node_id = -1;
	cfg.target.link = IDENTITY_LINK_CAN;
	cfg.opts.timeout_us = timeout;
	if (im) {
		cfg.image = im->data;
		cfg.image_len = im->len;
		cfg.image_info = &im->info;
	}
	return fleet_add(r->fleet, &cfg, fleet_steps_flash, 5, NULL);
}

static void run_close(struct run *r)
{
	fleet_free(r->fleet);
	report_free(r->report);
	canmux_release(r->mux);
	loop_free(r->loop);
	fclose(r->sink);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < Bus.ntwins; i++)
		twin_free(Bus.twins[i]);
	memset(&Bus, 0, sizeof(Bus));
	return 0;
}

static void assert_app_is(const struct twin *t, const struct img *im)
{
	size_t len;
	const uint8_t *flash = twin_flash(t, &len);

	assert_memory_equal(flash + (TWIN_APP_START - TWIN_FLASH_BASE), im->data, im->len);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_APP);
}

/* ---- tests ---- */

static void test_can_backend_flashes_a_probe_running_its_application(void **state)
{
	struct twin *t = add_twin(0x20, true);
	struct img im;
	struct run r;
	int job;

	(void)state;
	make_app(&im, BUS_BITRATE, "CARTOGRAPHER 5.1.0", 22 * 1024);
	run_open(&r);
	job = add_job(&r, t, &im, 0);

	assert_int_equal(fleet_run(r.fleet, false), 0);

	assert_int_equal(fleet_get_result(r.fleet, job), CF_OK);
	assert_app_is(t, &im);
	assert_int_equal(twin_get_stats(t)->bootloader_requests, 1);
	assert_int_equal(twin_get_stats(t)->completes, 1);
	assert_int_equal(twin_get_stats(t)->nacks, 0);
	assert_int_equal(updater_identity(fleet_get_updater(r.fleet, job))->mode,
			 DEVICE_MODE_APPLICATION);
	run_close(&r);
	free(im.data);
}

/* Issue 10: a lost ACK of COMPLETE is confirmed through the application before it is called a
 * failure; the probe runs the new application, so the run succeeds. */
static void test_can_backend_lost_complete_ack_is_confirmed_by_the_application(void **state)
{
	struct twin *t = add_twin(0x21, true);
	struct img im;
	struct run r;
	int job;

	(void)state;
	make_app(&im, BUS_BITRATE, "CARTOGRAPHER 5.1.0", 4096);
	run_open(&r);
	job = add_job(&r, t, &im, 0);
	Bus.drop_complete_ack = 8; /* every COMPLETE the engine sends loses its ACK */

	assert_int_equal(fleet_run(r.fleet, false), 0);

	assert_int_equal(fleet_get_result(r.fleet, job), CF_OK);
	assert_true(Bus.drop_complete_ack < 8); /* the ACK was sent, and lost */
	assert_app_is(t, &im);
	assert_int_equal(updater_identity(fleet_get_updater(r.fleet, job))->mode,
			 DEVICE_MODE_APPLICATION);
	assert_non_null(strstr(updater_get_summary(fleet_get_updater(r.fleet, job)),
			       "written, 64 blocks verified, application running"));
	run_close(&r);
	free(im.data);
}

static void test_can_backend_flashes_four_probes_at_once(void **state)
{
	struct twin *t[4];
	struct img im;
	struct run r;

	(void)state;
	for (int i = 0; i < 4; i++)
		t[i] = add_twin((uint8_t)(0x30 + i), i != 3); /* the last one has no application */
	make_app(&im, BUS_BITRATE, "CARTOGRAPHER 5.1.0", 4096);
	run_open(&r);
	for (int i = 0; i < 4; i++)
		add_job(&r, t[i], &im, 0);

	assert_int_equal(fleet_run(r.fleet, false), 0);

	for (int i = 0; i < 4; i++) {
		assert_int_equal(fleet_get_result(r.fleet, i), CF_OK);
		assert_app_is(t[i], &im);
		assert_int_equal(twin_get_stats(t[i])->nacks, 0);
	}
	/* One node id each: a shared id would have mixed two streams into NACKs and wedges. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(twin_get_stats(t[i])->completes, 1);
		assert_int_equal(twin_get_stats(t[i])->wedges, 0);
	}
	run_close(&r);
	free(im.data);
}

static void test_can_backend_refuses_a_wrong_bitrate_image_before_the_request(void **state)
{
	struct twin *t = add_twin(0x40, true);
	struct img im;
	struct run r;
	int job;

	(void)state;
	make_app(&im, 500000, "CARTOGRAPHER 5.1.0", 0);
	run_open(&r);
	job = add_job(&r, t, &im, 0);

	/* style.md §2.10: 65 = image refused. */
	assert_int_equal(fleet_run(r.fleet, false), 65);

	assert_int_equal(fleet_get_result(r.fleet, job), CF_ERR_REFUSED);
	assert_non_null(strstr(updater_failure(fleet_get_updater(r.fleet, job))->detail, "R3"));
	assert_int_equal(twin_get_stats(t)->blocks_written, 0);
	/* R3 needs only the bus's bitrate: refused before the bootloader request, so the probe
	 * never left its application (no COMPLETE was needed to put it back). */
	assert_int_equal(twin_get_stats(t)->completes, 0);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_APP);
	assert_non_null(strstr(updater_failure(fleet_get_updater(r.fleet, job))->hint,
			       "nothing was written, the probe was never rebooted"));
	run_close(&r);
	free(im.data);
}

static void test_can_backend_unknown_uuid_is_no_device(void **state)
{
	struct twin *t = add_twin(0x50, true);
	struct twin_config c = { .speed = 0 };
	struct twin *ghost;
	struct img im;
	struct run r;
	int job;

	(void)state;
	memset(c.uid, 0x77, sizeof(c.uid));
	ghost = twin_new(&c); /* never on the bus: only its UUID is used */
	make_app(&im, BUS_BITRATE, NULL, 0);
	run_open(&r);
	job = add_job(&r, ghost, &im, 300000);

	assert_int_equal(fleet_run(r.fleet, false), 69);

	assert_int_equal(fleet_get_result(r.fleet, job), CF_ERR_NO_DEVICE);
	assert_int_equal(twin_get_stats(t)->bootloader_requests, 0);
	run_close(&r);
	twin_free(ghost);
	free(im.data);
}

static void test_can_backend_interrupt_leaves_katapult_and_a_rerun_resumes(void **state)
{
	struct twin *t = add_twin(0x60, true);
	struct img im;
	struct run r;
	int job;

	(void)state;
	make_app(&im, BUS_BITRATE, "CARTOGRAPHER 5.1.0", 8192);
	run_open(&r);
	job = add_job(&r, t, &im, 0);
	Bus.interrupt_after = 200; /* well inside the write */

	assert_int_equal(fleet_run(r.fleet, false), 130);

	assert_int_equal(fleet_get_result(r.fleet, job), CF_ERR_INTERRUPTED);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_stats(t)->nacks, 0); /* the command in flight went out whole */
	assert_int_equal(twin_get_stats(t)->completes, 0);
	run_close(&r);

	Bus.interrupt_after = 0;
	run_open(&r);
	job = add_job(&r, t, &im, 0);
	assert_int_equal(fleet_run(r.fleet, false), 0);
	assert_app_is(t, &im);
	run_close(&r);
	free(im.data);
}

/* ---- the CAN entry alone ---- */

struct entry_wait {
	bool done;
	int err;
};

static void entry_finished(void *ctx, int err, uint64_t now)
{
	struct entry_wait *w = ctx;

	(void)now;
	w->done = true;
	w->err = err;
}

static void run_entry(struct twin *t, struct can_entry *e)
{
	struct entry_wait w = { 0 };
	uint8_t uuid[6];
	struct run r;

	twin_uuid(t, uuid);
	run_open(&r);
	memset(e, 0, sizeof(*e));
	e->on_done = entry_finished;
	e->ctx = &w;
	assert_int_equal(can_entry_start(e, r.mux, r.loop, uuid, 129, true, 2000000), CF_OK);
	while (!w.done)
		assert_int_equal(loop_run_once(r.loop, 10000), CF_OK);
	assert_int_equal(w.err, CF_OK);
	run_close(&r);
}

/* A node answering the query with our UUID as Klipper runs its application: the request goes
 * out on that answer, not after the probe round's 30 ms of silence (a timer never fires early,
 * so the probe path could not request sooner). */
static void test_can_entry_requests_a_node_that_answers_as_its_application(void **state)
{
	struct twin *t = add_twin(0x70, true);
	struct can_entry e;

	(void)state;
	run_entry(t, &e);

	assert_true(e.requested);
	assert_true(e.requested_us - e.start_us < CAN_ENTRY_PROBE_US);
	assert_int_equal(twin_get_stats(t)->bootloader_requests, 1);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
}

/* A node in Katapult answers the query as Katapult: never requested, so a dry run or a refusal
 * leaves it where it was. */
static void test_can_entry_leaves_a_node_in_katapult_unrequested(void **state)
{
	struct twin *t = add_twin(0x71, false);
	struct can_entry e;

	(void)state;
	run_entry(t, &e);

	assert_false(e.requested);
	assert_int_equal(twin_get_stats(t)->bootloader_requests, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_can_backend_flashes_a_probe_running_its_application,
					  teardown),
		cmocka_unit_test_teardown(test_can_backend_lost_complete_ack_is_confirmed_by_the_application,
					  teardown),
		cmocka_unit_test_teardown(test_can_backend_flashes_four_probes_at_once, teardown),
		cmocka_unit_test_teardown(
			test_can_backend_refuses_a_wrong_bitrate_image_before_the_request, teardown),
		cmocka_unit_test_teardown(test_can_backend_unknown_uuid_is_no_device, teardown),
		cmocka_unit_test_teardown(
			test_can_backend_interrupt_leaves_katapult_and_a_rerun_resumes, teardown),
		cmocka_unit_test_teardown(
			test_can_entry_requests_a_node_that_answers_as_its_application, teardown),
		cmocka_unit_test_teardown(test_can_entry_leaves_a_node_in_katapult_unrequested,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
