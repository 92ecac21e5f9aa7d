// SPDX-License-Identifier: GPL-3.0-or-later
// Port in-use detection and the bootloader requests, observed from the master side of a pty.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "failure.h"
#include "protocol/err.h"
#include "usb/inuse.h"
#include "usb/touch.h"
#include "usb/ttybaud.h"

struct pty {
	int master, slave;
	char name[64];
};

static void pty_open(struct pty *p)
{
	assert_int_equal(openpty(&p->master, &p->slave, p->name, NULL, NULL), 0);
	/* Only the path is used by the code under test: the slave fd would count as ours. */
	close(p->slave);
	p->slave = -1;
}

/* A child that holds path open until killed, as Klipper holds its MCU's tty. */
static pid_t spawn_holder(const char *path)
{
	int ready[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_NOCTTY);

		(void)!write(ready[1], fd >= 0 ? "y" : "n", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(c, 'y');
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_inuse_names_the_process_holding_the_port(void **state)
{
	struct inuse_holder h[4];
	char text[256];
	struct pty p;
	size_t count;
	pid_t pid;

	(void)state;
	pty_open(&p);
	pid = spawn_holder(p.name);

	assert_int_equal(inuse_find(p.name, h, 4, &count), CF_OK);

	assert_int_equal(count, 1);
	assert_int_equal(h[0].pid, pid);
	assert_non_null(strstr(h[0].cmdline, "test_usb")); /* the forked copy of this binary */
	inuse_describe(&h[0], text, sizeof(text));
	assert_non_null(strstr(text, "pid "));
	reap(pid);
	close(p.master);
}

static void test_inuse_ignores_the_calling_process(void **state)
{
	struct inuse_holder h[4];
	struct pty p;
	size_t count = 99;
	int fd;

	(void)state;
	pty_open(&p);
	fd = open(p.name, O_RDWR | O_NOCTTY);
	assert_true(fd >= 0);

	assert_int_equal(inuse_find(p.name, h, 4, &count), CF_OK);

	assert_int_equal(count, 0);
	close(fd);
	close(p.master);
}

static void test_inuse_missing_path_is_no_device(void **state)
{
	struct inuse_holder h[1];
	size_t count;

	(void)state;
	assert_int_equal(inuse_find("/dev/cartoflash-none", h, 1, &count), CF_ERR_NO_DEVICE);
}

static void test_inuse_describe_prefers_the_systemd_unit(void **state)
{
	const struct inuse_holder unit = { 812, "klipper.service", "python3 klippy.py" };
	const struct inuse_holder cmd = { 813, "", "python3 klippy.py printer.cfg" };
	char text[256];

	(void)state;
	inuse_describe(&unit, text, sizeof(text));
	assert_string_equal(text, "pid 812 (systemd unit klipper.service)");
	inuse_describe(&cmd, text, sizeof(text));
	assert_string_equal(text, "pid 813 (python3 klippy.py printer.cfg)");
}

/* /proc/<pid>/cgroup as cgroup v2 and v1 hosts write it. */
static const struct cgroup_case {
	const char *name;
	const char *text;
	const char *unit;
} cgroups[] = {
	{ "v2 system service", "0::/system.slice/klipper.service\n", "klipper.service" },
	{ "v2 user service", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
			     "moonraker.service\n", "moonraker.service" },
	{ "v2 login session", "0::/user.slice/user-1000.slice/session-3.scope\n", "" },
	{ "v1 named hierarchy", "12:cpuset:/\n11:memory:/system.slice/klipper.service\n"
				"1:name=systemd:/system.slice/klipper.service\n",
	  "klipper.service" },
	{ "container root", "0::/\n", "" },
	{ "empty", "", "" },
};

static void test_inuse_unit_from_cgroup_names_the_service(void **state)
{
	char unit[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]); i++) {
		inuse_unit_from_cgroup(cgroups[i].text, unit, sizeof(unit));
		if (strcmp(unit, cgroups[i].unit))
			fail_msg("%s: got '%s', want '%s'", cgroups[i].name, unit, cgroups[i].unit);
	}
}

static void test_touch_leaves_the_port_at_1200_baud(void **state)
{
	struct cf_failure why;
	struct termios t;
	struct pty p;

	(void)state;
	pty_open(&p);
	cf_failure_clear(&why);

	/* katapult.md §3.3: the device reboots when the rate is 1200 and DTR drops; a pty has no
	 * DTR (dfu.md §5.1), so the rate is what the master can see. */
	assert_int_equal(touch_request_usb(p.name, &why), CF_OK);

	assert_int_equal(tcgetattr(p.master, &t), 0);
	assert_int_equal(cfgetospeed(&t), B1200);
	assert_int_equal(cfgetispeed(&t), B1200);
	close(p.master);
}

static void test_touch_on_a_missing_tty_says_no_device(void **state)
{
	struct cf_failure why;

	(void)state;
	cf_failure_clear(&why);

	assert_int_equal(touch_request_usb("/dev/cartoflash-none", &why), CF_ERR_NO_DEVICE);

	assert_string_equal(why.stage, "bootloader");
	assert_non_null(strstr(why.detail, "/dev/cartoflash-none"));
	assert_true(why.hint[0] != '\0');
}

/* katapult.md §3.6, byte for byte. */
static const uint8_t uart_magic[33] = {
	0x7e, 0x20, 0x1c, 0x20, 0x52, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74, 0x20, 0x53, 0x65, 0x72,
	0x69, 0x61, 0x6c, 0x20, 0x42, 0x6f, 0x6f, 0x74, 0x6c, 0x6f, 0x61, 0x64, 0x65, 0x72, 0x21,
	0x21, 0x20, 0x7e,
};

static void test_uart_request_sends_the_string_at_the_baud(void **state)
{
	struct cf_failure why;
	uint8_t got[64];
	uint32_t baud = 0;
	size_t n = 0;
	struct pty p;

	(void)state;
	pty_open(&p);
	cf_failure_clear(&why);

	assert_int_equal(touch_request_uart(p.name, 250000, uart_magic, sizeof(uart_magic), &why),
			 CF_OK);

	while (n < sizeof(uart_magic)) {
		struct pollfd pf = { .fd = p.master, .events = POLLIN };
		ssize_t r;

		assert_int_equal(poll(&pf, 1, 1000), 1);
		r = read(p.master, got + n, sizeof(got) - n);
		assert_true(r > 0);
		n += (size_t)r;
	}
	assert_int_equal(n, sizeof(uart_magic));
	assert_memory_equal(got, uart_magic, sizeof(uart_magic));
	assert_int_equal(ttybaud_get(p.master, &baud), 0);
	assert_int_equal(baud, 250000);
	close(p.master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inuse_names_the_process_holding_the_port),
		cmocka_unit_test(test_inuse_ignores_the_calling_process),
		cmocka_unit_test(test_inuse_missing_path_is_no_device),
		cmocka_unit_test(test_inuse_describe_prefers_the_systemd_unit),
		cmocka_unit_test(test_inuse_unit_from_cgroup_names_the_service),
		cmocka_unit_test(test_touch_leaves_the_port_at_1200_baud),
		cmocka_unit_test(test_touch_on_a_missing_tty_says_no_device),
		cmocka_unit_test(test_uart_request_sends_the_string_at_the_baud),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
