/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Cross-process bus locks: all or none, waits on the loop, names the holder, released on exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "buslock.h"
#include "can/canmux.h"
#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cf-lock-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return setenv("CARTOFLASH_LOCK_DIR", dir, 1);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A child process takes names, says so on a pipe, and holds them until killed. */
static pid_t hold_in_child(const char *const *names, size_t n)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		struct loop *loop = loop_new();
		struct buslock *l;

		if (buslock_acquire(loop, names, n, 0, "flash", &l, NULL) == 0)
			(void)!write(p[1], "k", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	close(p[1]);
	return pid;
}

static void test_buslock_paths_never_collide(void **state)
{
	char a[256], b[256];

	(void)state;
	buslock_path("can:sim:/tmp/a_b", a, sizeof(a));
	buslock_path("can:sim:/tmp/a/b", b, sizeof(b));

	assert_string_not_equal(a, b);
	assert_non_null(strstr(a, dir));
	assert_non_null(strstr(b, "cartoflash-can_3asim_3a_2ftmp_2fa_2fb.lock"));
}

/* Another run holds can0: a second run that may not wait is refused at once, naming it. */
static void test_buslock_busy_bus_is_refused_naming_the_holder(void **state)
{
	const char *held[] = {"can:can0"};
	const char *want[] = {"usb:1-1.3", "can:can0"};
	struct loop *loop = loop_new();
	struct buslock *l = NULL;
	struct cf_failure why;
	char text[64];
	pid_t child = hold_in_child(held, 1);

	(void)state;
	cf_failure_clear(&why);
	snprintf(text, sizeof(text), "cartoflash flash, pid %d", (int)child);

	assert_int_equal(buslock_acquire(loop, want, 2, 0, "status", &l, &why), CF_ERR_BUSY);

	assert_null(l);
	assert_string_equal(why.stage, "lock");
	assert_non_null(strstr(why.detail, "can:can0 is in use by"));
	assert_non_null(strstr(why.detail, text));
	assert_non_null(strstr(why.hint, "--lock-wait"));
	/* all or none: the free usb port was given back */
	{
		const char *usb[] = {"usb:1-1.3"};
		struct buslock *u;

		assert_int_equal(buslock_acquire(loop, usb, 1, 0, "scan", &u, NULL), 0);
		buslock_release(u);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	loop_free(loop);
}

/* The holder dies (or finishes): the kernel drops its lock and the waiter gets the bus. */
static void test_buslock_waiter_gets_the_bus_when_the_holder_ends(void **state)
{
	const char *names[] = {"can:can0"};
	struct loop *loop = loop_new();
	struct buslock *l = NULL;
	pid_t child = hold_in_child(names, 1);
	pid_t killer = fork();

	(void)state;
	if (killer == 0) {
		usleep(200000);
		kill(child, SIGKILL);
		_exit(0);
	}

	assert_int_equal(buslock_acquire(loop, names, 1, 5000000, "flash", &l, NULL), 0);

	assert_non_null(l);
	assert_int_equal(waitpid(child, NULL, WNOHANG), child);
	buslock_release(l);
	waitpid(killer, NULL, 0);
	loop_free(loop);
}

/* A wait has a deadline: the bus stays busy, the waiter gives up, it never hangs. */
static void test_buslock_wait_ends_at_its_deadline(void **state)
{
	const char *names[] = {"usb:1-1.3"};
	struct loop *loop = loop_new();
	struct buslock *l = NULL;
	pid_t child = hold_in_child(names, 1);
	const uint64_t t0 = cf_now_us();

	(void)state;
	assert_int_equal(buslock_acquire(loop, names, 1, 300000, "flash", &l, NULL), CF_ERR_BUSY);

	assert_true(cf_now_us() - t0 >= 300000);
	assert_true(cf_now_us() - t0 < 3000000);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	loop_free(loop);
}

static void test_buslock_duplicates_and_release(void **state)
{
	const char *names[] = {"can:can0", "can:can0", "can:can1"};
	struct loop *loop = loop_new();
	struct buslock *a, *b;

	(void)state;
	assert_int_equal(buslock_acquire(loop, names, 3, 0, "flash", &a, NULL), 0);
	buslock_release(a);
	assert_int_equal(buslock_acquire(loop, names, 3, 0, "flash", &b, NULL), 0);
	buslock_release(b);
	loop_free(loop);
}

/* One process holds a bus once, counted: a run's own lock and its mux's lock are one. */
static void test_buslock_same_process_shares_its_lock(void **state)
{
	const char *names[] = {"can:can0"};
	struct loop *loop = loop_new();
	struct buslock *a, *b, *c;

	(void)state;
	assert_int_equal(buslock_acquire(loop, names, 1, 0, "flash", &a, NULL), 0);
	assert_int_equal(buslock_acquire(loop, names, 1, 0, NULL, &b, NULL), 0);
	buslock_release(a);
	/* still held through b: another process would be refused */
	{
		pid_t child = fork();

		if (child == 0) {
			/* a forked child shares our registry: ask the kernel with a fresh open */
			char path[256];
			int fd;

			buslock_path(names[0], path, sizeof(path));
			fd = open(path, O_RDONLY);
			_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK ? 0 : 1);
		}
		int st;
		assert_int_equal(waitpid(child, &st, 0), child);
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	buslock_release(b);
	assert_int_equal(buslock_acquire(loop, names, 1, 0, "flash", &c, NULL), 0);
	buslock_release(c);
	loop_free(loop);
}

/* The CAN mux locks the bus it opens: a second run on that bus is refused before a frame. */
static void test_canmux_refuses_a_bus_another_run_holds(void **state)
{
	const char *held[] = {"can:sim:/tmp/cf-no-such-bus"};
	struct loop *loop = loop_new();
	struct canmux *m = NULL;
	struct cf_failure why;
	pid_t child = hold_in_child(held, 1);

	(void)state;
	cf_failure_clear(&why);

	assert_int_equal(canmux_acquire(loop, "sim:/tmp/cf-no-such-bus", &m, &why), CF_ERR_BUSY);

	assert_null(m);
	assert_non_null(strstr(why.detail, "is in use by cartoflash flash"));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buslock_paths_never_collide),
		cmocka_unit_test(test_buslock_busy_bus_is_refused_naming_the_holder),
		cmocka_unit_test(test_buslock_waiter_gets_the_bus_when_the_holder_ends),
		cmocka_unit_test(test_buslock_wait_ends_at_its_deadline),
		cmocka_unit_test(test_buslock_duplicates_and_release),
		cmocka_unit_test(test_buslock_same_process_shares_its_lock),
		cmocka_unit_test(test_canmux_refuses_a_bus_another_run_holds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
