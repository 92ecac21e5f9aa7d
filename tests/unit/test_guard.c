/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The print guard against the Klipper API stand-in, and systemctl runs against a fake one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failure.h"
#include "guard.h"
#include "klippy/klippy_service.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "tools/klippyd/klippyd.h"

struct rig {
	char dir[64], path[128];
	struct loop *loop;
	struct klippyd *k;
};

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct klippyd_config cfg = {0};

	snprintf(r->dir, sizeof(r->dir), "/tmp/cf-guard-XXXXXX");
	if (!mkdtemp(r->dir))
		return -1;
	snprintf(r->path, sizeof(r->path), "%s/klippy.sock", r->dir);
	cfg.socket = r->path;
	r->loop = loop_new();
	if (klippyd_new(r->loop, &cfg, &r->k) || klippyd_start(r->k))
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;
	char cmd[128];

	klippyd_free(r->k);
	loop_free(r->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	if (system(cmd))
		return -1;
	free(r);
	return 0;
}

static void scenario(struct rig *r, const char *print_state, bool connected)
{
	char text[1024];
	json_t *root;

	snprintf(text, sizeof(text),
		 "{\"info\": {\"state\": \"ready\", \"hostname\": \"voron\"},"
		 " \"objects\": {\"configfile\": {\"settings\": {"
		 "   \"mcu scanner\": {\"canbus_uuid\": \"e0ef270ca188\"},"
		 "   \"mcu\": {\"serial\": \"/dev/serial/by-id/usb-Klipper_stm32f446xx_1-if00\"}}},"
		 "  \"print_stats\": {\"state\": \"%s\", \"filename\": \"benchy.gcode\"},"
		 "  \"mcu scanner\": {%s}}}",
		 print_state,
		 connected ? "\"mcu_version\": \"CARTOGRAPHER 5.1.0\", \"mcu_constants\": {}" : "");
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	assert_int_equal(klippyd_set_scenario(r->k, root), 0);
	json_decref(root);
}

static int check(struct rig *r, const char *uuid, bool stop, struct guard *g, struct cf_failure *why)
{
	const struct guard_opts o = {.klippy_socket = r->path, .stop_klipper = stop, .verb = "flash"};
	const struct guard_target t = {.iface = "can0", .uuid = uuid};

	cf_failure_clear(why);
	return guard_check(r->loop, &o, &t, 1, g, why);
}

/* Printing or paused: refused, naming the state, the file and the printer, whatever is asked. */
static void test_guard_refuses_while_printing_or_paused(void **state)
{
	struct rig *r = *state;
	struct cf_failure why;
	struct guard g;

	scenario(r, "printing", true);
	assert_int_equal(check(r, "aabbccddeeff", true, &g, &why), CF_ERR_BUSY);
	assert_string_equal(why.detail, "printer voron: benchy.gcode is printing (print_stats.state)");
	assert_non_null(strstr(why.hint, "no option lifts this"));
	assert_false(g.stopped);
	scenario(r, "paused", false);
	assert_int_equal(check(r, "aabbccddeeff", false, &g, &why), CF_ERR_BUSY);
	assert_non_null(strstr(why.detail, "benchy.gcode is paused"));
}

/* Klipper is connected to the target: refused with both ways out. */
static void test_guard_refuses_a_probe_klipper_holds(void **state)
{
	struct rig *r = *state;
	struct cf_failure why;
	struct guard g;

	scenario(r, "complete", true);
	assert_int_equal(check(r, "E0EF270CA188", false, &g, &why), CF_ERR_BUSY);
	assert_non_null(strstr(why.detail, "is connected to mcu scanner (e0ef270ca188)"));
	assert_non_null(strstr(why.hint, "--stop-klipper"));
	assert_non_null(strstr(why.hint, "sudo systemctl stop"));
}

/* Configured but not connected (Klipper ready without it), another probe, no Klipper: go on. */
static void test_guard_lets_free_probes_through(void **state)
{
	struct rig *r = *state;
	struct cf_failure why;
	struct guard g;

	scenario(r, "standby", false);
	assert_int_equal(check(r, "e0ef270ca188", false, &g, &why), CF_OK);
	assert_true(g.klipper);
	scenario(r, "complete", true);
	assert_int_equal(check(r, "90a4ae022dfc", false, &g, &why), CF_OK);
	klippyd_stop(r->k);
	assert_int_equal(check(r, "e0ef270ca188", false, &g, &why), CF_OK);
	assert_false(g.klipper);
	assert_int_equal(why.code, 0);
}

/* A Klipper that accepts but never answers may be printing: refused. */
static void test_guard_refuses_a_silent_klipper(void **state)
{
	struct rig *r = *state;
	struct klippyd_config cfg = {.socket = r->path, .mute = true};
	struct cf_failure why;
	struct guard g;

	klippyd_free(r->k);
	assert_int_equal(klippyd_new(r->loop, &cfg, &r->k), 0);
	assert_int_equal(klippyd_start(r->k), 0);

	assert_int_equal(check(r, "e0ef270ca188", false, &g, &why), CF_ERR_BUSY);

	assert_non_null(strstr(why.detail, "no answer to info"));
	assert_non_null(strstr(why.hint, "Klipper may be printing"));
}

/* A fake systemctl on PATH: records its arguments, answers as told. */
static void fake_systemctl(const char *dir, const char *body)
{
	char path[160], newpath[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/systemctl", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho \"$*\" >>%s/calls\n%s\n", dir, body);
	fclose(f);
	chmod(path, 0755);
	snprintf(newpath, sizeof(newpath), "%s:%s", dir, getenv("PATH"));
	setenv("PATH", newpath, 1);
}

static void test_klippy_service_runs_systemctl_and_reads_its_verdict(void **state)
{
	struct rig *r = *state;
	const char *old = getenv("PATH");
	char *saved = strdup(old ? old : "/usr/bin:/bin"), calls[160], line[64] = "";
	struct cf_failure why;
	FILE *f;

	fake_systemctl(r->dir, "exit 0");
	cf_failure_clear(&why);
	assert_int_equal(klippy_service_run(r->loop, "stop", "klipper.service", 5000000, &why), 0);
	snprintf(calls, sizeof(calls), "%s/calls", r->dir);
	f = fopen(calls, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "stop klipper.service\n");
	setenv("PATH", saved, 1);

	fake_systemctl(r->dir, "echo 'Failed to stop klipper.service: Access denied' >&2; exit 4");
	assert_int_equal(klippy_service_run(r->loop, "stop", "klipper.service", 5000000, &why),
			 CF_ERR_ACCESS);
	assert_non_null(strstr(why.detail, "Access denied"));
	setenv("PATH", saved, 1);

	fake_systemctl(r->dir, "echo 'Unit nope.service not loaded.' >&2; exit 5");
	assert_int_equal(klippy_service_run(r->loop, "start", "nope.service", 5000000, &why),
			 CF_ERR_NO_DEVICE);
	setenv("PATH", saved, 1);

	fake_systemctl(r->dir, "sleep 5");
	assert_int_equal(klippy_service_run(r->loop, "stop", "klipper.service", 200000, &why),
			 CF_ERR_TIMEOUT);
	setenv("PATH", saved, 1);
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guard_refuses_while_printing_or_paused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_guard_refuses_a_probe_klipper_holds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_guard_lets_free_probes_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard_refuses_a_silent_klipper, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_klippy_service_runs_systemctl_and_reads_its_verdict, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
