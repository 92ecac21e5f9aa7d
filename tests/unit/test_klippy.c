/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Klipper API client and snapshot against the socket stand-in (tools/klippyd) on one loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "failure.h"
#include "klippy/klippy_api.h"
#include "klippy/klippy_state.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "tools/klippyd/klippyd.h"

struct rig {
	char dir[64], path[128];
	struct loop *loop;
	struct klippyd *k;
};

static const char scenario[] =
	"{\"info\": {\"state\": \"ready\", \"software_version\": \"v0.13.0-91-g1a2b3c4\"},"
	" \"objects\": {"
	"  \"configfile\": {\"settings\": {"
	"    \"mcu\": {\"serial\": \"/dev/serial/by-id/usb-Klipper_stm32f446xx_1-if00\"},"
	"    \"mcu scanner\": {\"canbus_uuid\": \"E0EF270CA188\", \"canbus_interface\": \"can1\"},"
	"    \"extruder\": {\"nozzle_diameter\": 0.4}}},"
	"  \"print_stats\": {\"state\": \"printing\", \"filename\": \"benchy.gcode\"},"
	"  \"idle_timeout\": {\"state\": \"Printing\"},"
	"  \"mcu\": {\"mcu_version\": \"v0.13.0-91\", \"mcu_constants\": {\"MCU\": \"stm32f446xx\"}},"
	"  \"mcu scanner\": {\"mcu_version\": \"CARTOGRAPHER 5.1.0\","
	"    \"mcu_build_versions\": \"gcc: 12.2.1 binutils: 2.40\","
	"    \"mcu_constants\": {\"MCU\": \"stm32f042x6\", \"CANBUS_FREQUENCY\": 500000,"
	"      \"RESERVE_PINS_CAN\": \"PA11,PA12\", \"CLOCK_FREQ\": 48000000}}},"
	" \"timeline\": [{\"after\": 0.3, \"set\": {\"print_stats\": {\"state\": \"complete\"},"
	"   \"idle_timeout\": {\"state\": \"Idle\"}}}]}";

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	const struct klippyd_config cfg = {.socket = r->path};
	json_t *root = json_loads(scenario, 0, NULL);

	snprintf(r->dir, sizeof(r->dir), "/tmp/cf-klippy-XXXXXX");
	if (!root || !mkdtemp(r->dir))
		return -1;
	snprintf(r->path, sizeof(r->path), "%s/klippy.sock", r->dir);
	r->loop = loop_new();
	if (klippyd_new(r->loop, &cfg, &r->k) || klippyd_set_scenario(r->k, root) ||
	    klippyd_start(r->k))
		return -1;
	json_decref(root);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	klippyd_free(r->k);
	loop_free(r->loop);
	rmdir(r->dir);
	free(r);
	return 0;
}

static void test_klippy_api_frame_end_finds_the_etx(void **state)
{
	(void)state;
	assert_int_equal(klippy_api_frame_end("{}\x03{", 4), 2);
	assert_int_equal(klippy_api_frame_end("{\"a\":1", 6), -1);
	assert_int_equal(klippy_api_frame_end("\x03", 1), 0);
	assert_int_equal(klippy_api_frame_end("", 0), -1);
}

/* Everything status and the guard need, in one snapshot. */
static void test_klippy_state_reads_printer_and_mcus(void **state)
{
	struct rig *r = *state;
	struct klippy_state st;
	struct cf_failure why;
	const struct klippy_mcu *m;

	cf_failure_clear(&why);

	assert_int_equal(klippy_state_read(r->loop, r->path, 2000000, &st, &why), 0);

	assert_string_equal(st.state, "ready");
	assert_string_equal(st.software_version, "v0.13.0-91-g1a2b3c4");
	assert_string_equal(st.print_state, "printing");
	assert_string_equal(st.print_filename, "benchy.gcode");
	assert_true(klippy_state_is_busy(&st));
	assert_int_equal(st.nmcus, 2);
	m = klippy_state_find_uuid(&st, "e0ef270ca188");
	assert_non_null(m);
	assert_string_equal(m->object, "mcu scanner");
	assert_string_equal(m->canbus_iface, "can1");
	assert_true(m->connected);
	assert_true(m->has_facts);
	assert_string_equal(m->facts.app.version, "CARTOGRAPHER 5.1.0");
	assert_string_equal(m->facts.app.mcu, "stm32f042x6");
	assert_int_equal(m->facts.app.iface, IMAGE_IFACE_CAN);
	assert_int_equal(m->facts.app.can_bitrate, 500000);
	assert_string_equal(m->facts.build_versions, "gcc: 12.2.1 binutils: 2.40");
	m = klippy_state_find_tty(&st, "/dev/serial/by-id/usb-Klipper_stm32f446xx_1-if00");
	assert_non_null(m);
	assert_string_equal(m->object, "mcu");
	/* the listener is this very process */
	assert_int_equal(st.pid, getpid());
}

/* The timeline: printing now, complete 0.3 s later. */
static void test_klippy_state_follows_the_timeline(void **state)
{
	struct rig *r = *state;
	struct klippy_state st;
	const uint64_t until = cf_now_us() + 400000;

	while (cf_now_us() < until)
		loop_run_once(r->loop, until - cf_now_us());

	assert_int_equal(klippy_state_read(r->loop, r->path, 2000000, &st, NULL), 0);

	assert_string_equal(st.print_state, "complete");
	assert_false(klippy_state_is_busy(&st));
}

static void test_klippy_state_without_socket_is_no_klipper(void **state)
{
	struct rig *r = *state;
	struct klippy_state st;
	struct cf_failure why;
	char path[160];

	cf_failure_clear(&why);
	snprintf(path, sizeof(path), "%s/absent.sock", r->dir);

	assert_int_equal(klippy_state_read(r->loop, path, 500000, &st, &why), CF_ERR_NO_DEVICE);

	assert_non_null(strstr(why.detail, "no Klipper API socket at"));
}

/* A socket file nobody listens on (Klipper died without cleaning up). */
static void test_klippy_state_stale_socket_is_not_running(void **state)
{
	struct rig *r = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct klippy_state st;
	struct cf_failure why;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	cf_failure_clear(&why);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", r->dir);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);

	assert_int_equal(klippy_state_read(r->loop, sa.sun_path, 500000, &st, &why),
			 CF_ERR_NO_DEVICE);

	assert_non_null(strstr(why.detail, "Klipper is not running"));
	unlink(sa.sun_path);
}

static void on_reply(void *ctx, int err, json_t *result, const struct cf_failure *why)
{
	struct cf_failure *out = ctx;

	(void)result;
	cf_failure_clear(out);
	out->code = err;
	if (why)
		*out = *why;
	out->code = err ? err : 1;
}

static int call_and_wait(struct rig *r, const char *method, uint64_t timeout_us,
			 struct cf_failure *got, void (*during)(struct rig *r))
{
	struct klippy_api *a;
	int err = klippy_api_open(r->loop, r->path, &a, NULL);

	got->code = 0;
	if (err)
		return err;
	err = klippy_api_call(a, method, NULL, timeout_us, on_reply, got);
	if (during)
		during(r);
	while (!err && !got->code)
		loop_run_once(r->loop, 100000);
	klippy_api_close(a);
	return err;
}

static void test_klippy_api_error_reply_names_the_method(void **state)
{
	struct rig *r = *state;
	struct cf_failure got;

	assert_int_equal(call_and_wait(r, "gcode/nope", 1000000, &got, NULL), 0);

	assert_int_equal(got.code, CF_ERR_PROTOCOL);
	assert_non_null(strstr(got.detail, "gcode/nope: No registered callback for path"));
}

static void mute(struct rig *r)
{
	klippyd_free(r->k);
	r->k = NULL;
}

/* Klipper accepts but never answers: the deadline ends the wait. */
static void test_klippy_api_silence_times_out(void **state)
{
	struct rig *r = *state;
	const struct klippyd_config cfg = {.socket = r->path, .mute = true};
	struct cf_failure got;
	const uint64_t t0 = cf_now_us();

	mute(r);
	assert_int_equal(klippyd_new(r->loop, &cfg, &r->k), 0);
	assert_int_equal(klippyd_start(r->k), 0);

	assert_int_equal(call_and_wait(r, "info", 200000, &got, NULL), 0);

	assert_int_equal(got.code, CF_ERR_TIMEOUT);
	assert_true(cf_now_us() - t0 >= 200000);
	assert_non_null(strstr(got.detail, "no answer to info"));
	assert_true(klippyd_requests(r->k) >= 1);
}

static void vanish(struct rig *r)
{
	/* let the request arrive, then the socket goes away with the call waiting */
	for (int i = 0; i < 5; i++)
		loop_run_once(r->loop, 20000);
	klippyd_stop(r->k);
}

static void test_klippy_api_vanishing_socket_ends_the_call(void **state)
{
	struct rig *r = *state;
	const struct klippyd_config cfg = {.socket = r->path, .mute = true};
	struct cf_failure got;

	mute(r);
	assert_int_equal(klippyd_new(r->loop, &cfg, &r->k), 0);
	assert_int_equal(klippyd_start(r->k), 0);

	assert_int_equal(call_and_wait(r, "info", 5000000, &got, vanish), 0);

	assert_int_equal(got.code, CF_ERR_NO_DEVICE);
	assert_non_null(strstr(got.detail, "Klipper closed its API socket"));
	assert_int_equal(access(r->path, F_OK), -1);
}

/* A reply split across reads, with a subscription message in front: matched by id. */
static void test_klippy_api_reassembles_split_replies(void **state)
{
	struct rig *r = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char part1[] = "{\"params\":{\"status\":{}}}\x03{\"id\":1,\"res";
	const char part2[] = "ult\":{\"state\":\"ready\"}}\x03";
	struct klippy_api *a;
	struct cf_failure got = {0};
	char req[256];
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0), cfd;

	klippyd_stop(r->k);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", r->path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(klippy_api_open(r->loop, r->path, &a, NULL), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_int_equal(klippy_api_call(a, "info", NULL, 2000000, on_reply, &got), 0);
	assert_true(read(cfd, req, sizeof(req)) > 0);
	assert_non_null(strstr(req, "\"method\":\"info\""));

	assert_int_equal(write(cfd, part1, sizeof(part1) - 1), (ssize_t)sizeof(part1) - 1);
	loop_run_once(r->loop, 50000);
	assert_int_equal(got.code, 0);
	assert_int_equal(write(cfd, part2, sizeof(part2) - 1), (ssize_t)sizeof(part2) - 1);
	while (!got.code)
		loop_run_once(r->loop, 100000);

	assert_int_equal(got.code, 1);
	klippy_api_close(a);
	close(cfd);
	close(lfd);
	unlink(r->path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_klippy_api_frame_end_finds_the_etx),
		cmocka_unit_test_setup_teardown(test_klippy_state_reads_printer_and_mcus, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_klippy_state_follows_the_timeline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_klippy_state_without_socket_is_no_klipper,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_klippy_state_stale_socket_is_not_running,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_klippy_api_error_reply_names_the_method, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_klippy_api_silence_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_klippy_api_vanishing_socket_ends_the_call,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_klippy_api_reassembles_split_replies, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
