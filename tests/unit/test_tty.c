// SPDX-License-Identifier: GPL-3.0-or-later
// The tty transport on a pty: raw 8N1, exclusive use, whole units out, hang-up as device gone.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
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
#include "transport.h"
#include "transport/transports.h"
#include "usb/ttybaud.h"
#include "usb/ttyio.h"

/* katapult.md §1.2: CONNECT and its trailer, byte for byte. */
static const uint8_t connect_frame[8] = { 0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03 };

struct pty {
	int master;
	char name[64];
};

static void pty_open(struct pty *p)
{
	int slave;

	assert_int_equal(openpty(&p->master, &slave, p->name, NULL, NULL), 0);
	close(slave);
	fcntl(p->master, F_SETFL, O_NONBLOCK);
}

static size_t master_read(struct pty *p, uint8_t *buf, size_t want)
{
	size_t n = 0;

	while (n < want) {
		struct pollfd pf = { .fd = p->master, .events = POLLIN };
		ssize_t r;

		if (poll(&pf, 1, 1000) != 1)
			break;
		r = read(p->master, buf + n, want - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

static void test_tty_open_sets_raw_8n1_at_the_baud(void **state)
{
	struct transport *t;
	struct cf_failure why;
	struct termios tio;
	char spec[96];
	struct pty p;

	(void)state;
	pty_open(&p);
	snprintf(spec, sizeof(spec), "%s@115200", p.name);

	assert_int_equal(transport_open(&tty_ops, spec, &t, &why), CF_OK);

	assert_int_equal(tcgetattr(p.master, &tio), 0);
	assert_int_equal(cfgetospeed(&tio), B115200);
	assert_int_equal(tio.c_cflag & CSIZE, CS8);
	assert_false(tio.c_cflag & (PARENB | CSTOPB | CRTSCTS));
	assert_false(tio.c_lflag & (ICANON | ECHO | ISIG));
	assert_false(tio.c_iflag & (IXON | ICRNL));
	assert_false(tio.c_oflag & OPOST);
	assert_int_equal(transport_unit(t), TRANSPORT_BYTES);
	assert_string_equal(transport_name(t), "tty");
	transport_close(t);
	close(p.master);
}

static void test_tty_default_baud_is_katapult_uart_250000(void **state)
{
	struct transport *t;
	struct cf_failure why;
	uint32_t baud = 0;
	struct pty p;

	(void)state;
	pty_open(&p);

	assert_int_equal(transport_open(&tty_ops, p.name, &t, &why), CF_OK);

	assert_int_equal(ttybaud_get(p.master, &baud), 0);
	assert_int_equal(baud, 250000); /* katapult.md §3.6 */
	transport_close(t);
	close(p.master);
}

static void test_tty_bytes_travel_both_ways(void **state)
{
	struct transport *t;
	struct cf_failure why;
	uint8_t buf[64];
	size_t len = 0;
	struct pty p;

	(void)state;
	pty_open(&p);
	assert_int_equal(transport_open(&tty_ops, p.name, &t, &why), CF_OK);

	assert_int_equal(transport_recv(t, buf, sizeof(buf), &len), CF_ERR_AGAIN);
	assert_int_equal(transport_send(t, connect_frame, sizeof(connect_frame)), CF_OK);
	assert_int_equal(master_read(&p, buf, sizeof(connect_frame)), sizeof(connect_frame));
	assert_memory_equal(buf, connect_frame, sizeof(connect_frame));

	assert_int_equal(write(p.master, connect_frame, sizeof(connect_frame)), 8);
	usleep(20000);
	assert_int_equal(transport_recv(t, buf, sizeof(buf), &len), CF_OK);
	assert_int_equal(len, sizeof(connect_frame));
	assert_memory_equal(buf, connect_frame, sizeof(connect_frame));
	transport_close(t);
	close(p.master);
}

/* Design rule 1: a unit is taken whole or not at all, and what was taken leaves in order. */
static void test_tty_full_port_takes_whole_units_and_asks_for_pollout(void **state)
{
	static uint8_t got[1 << 20];
	uint8_t unit[76];
	struct transport *t;
	struct cf_failure why;
	struct pollfd pf;
	size_t sent = 0, n = 0, i;
	struct pty p;
	int err;

	(void)state;
	pty_open(&p);
	assert_int_equal(transport_open(&tty_ops, p.name, &t, &why), CF_OK);

	for (i = 0;; i++) {
		memset(unit, (int)(i & 0xff), sizeof(unit));
		err = transport_send(t, unit, sizeof(unit));
		if (err == CF_ERR_AGAIN)
			break;
		assert_int_equal(err, CF_OK);
		sent += sizeof(unit);
		assert_true(sent < sizeof(got));
	}
	assert_int_equal(transport_pollfds(t, &pf, 1), 1);
	assert_true(pf.events & POLLOUT);

	while (n < sent) {
		struct pollfd mp = { .fd = p.master, .events = POLLIN };
		ssize_t r;
		size_t len;
		uint8_t scratch[8];

		(void)transport_recv(t, scratch, sizeof(scratch), &len); /* flushes the backlog */
		if (poll(&mp, 1, 1000) != 1)
			break;
		r = read(p.master, got + n, sizeof(got) - n);
		if (r > 0)
			n += (size_t)r;
	}
	assert_int_equal(n, sent);
	for (i = 0; i < sent; i++)
		if (got[i] != (uint8_t)((i / sizeof(unit)) & 0xff))
			fail_msg("byte %zu out of order", i);
	assert_int_equal(transport_pollfds(t, &pf, 1), 1);
	assert_false(pf.events & POLLOUT);
	transport_close(t);
	close(p.master);
}

static void test_tty_hangup_is_device_gone(void **state)
{
	struct transport *t;
	struct cf_failure why;
	uint8_t buf[8];
	size_t len;
	struct pty p;

	(void)state;
	pty_open(&p);
	assert_int_equal(transport_open(&tty_ops, p.name, &t, &why), CF_OK);

	close(p.master); /* the USB device left: the tty hangs up */

	assert_int_equal(transport_recv(t, buf, sizeof(buf), &len), CF_ERR_NO_DEVICE);
	assert_int_equal(transport_send(t, connect_frame, sizeof(connect_frame)), CF_ERR_NO_DEVICE);
	transport_close(t);
}

static void test_tty_refuses_a_port_another_process_holds(void **state)
{
	struct transport *t;
	struct cf_failure why;
	char expect[64], c;
	int ready[2];
	struct pty p;
	pid_t pid;

	(void)state;
	pty_open(&p);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	if (pid == 0) {
		int fd = open(p.name, O_RDWR | O_NOCTTY);

		(void)!write(ready[1], fd >= 0 ? "y" : "n", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	cf_failure_clear(&why);

	assert_int_equal(transport_open(&tty_ops, p.name, &t, &why), CF_ERR_BUSY);

	snprintf(expect, sizeof(expect), "in use by pid %d", (int)pid);
	assert_non_null(strstr(why.detail, expect));
	assert_non_null(strstr(why.detail, p.name));
	assert_true(why.hint[0] != '\0');
	assert_null(t);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	close(p.master);
}

static void test_tty_second_open_meets_the_lock(void **state)
{
	struct transport *a, *b;
	struct cf_failure why;
	struct pty p;

	(void)state;
	pty_open(&p);
	assert_int_equal(transport_open(&tty_ops, p.name, &a, &why), CF_OK);
	cf_failure_clear(&why);

	assert_int_equal(transport_open(&tty_ops, p.name, &b, &why), CF_ERR_BUSY);

	assert_non_null(strstr(why.detail, "locked"));
	transport_close(a);
	close(p.master);
}

static void test_tty_missing_port_is_no_device_with_a_hint(void **state)
{
	struct transport *t;
	struct cf_failure why;

	(void)state;
	cf_failure_clear(&why);

	assert_int_equal(transport_open(&tty_ops, "/dev/ttyACM-cartoflash-none", &t, &why),
			 CF_ERR_NO_DEVICE);

	assert_string_equal(why.stage, "open");
	assert_non_null(strstr(why.hint, "scan --usb"));
}

static void test_tty_bad_baud_is_usage(void **state)
{
	struct transport *t;
	struct cf_failure why;

	(void)state;
	assert_int_equal(transport_open(&tty_ops, "/dev/ttyACM0@fast", &t, &why), CF_ERR_USAGE);
	assert_int_equal(transport_open(&tty_ops, "@250000", &t, &why), CF_ERR_USAGE);
}

static void test_tty_permission_denied_names_the_group(void **state)
{
	struct cf_failure why;

	(void)state;
	cf_failure_clear(&why);

	/* Run as root the open itself cannot fail this way; the mapping is what users meet. */
	assert_int_equal(ttyio_open_error("/dev/null", EACCES, "open", &why), CF_ERR_ACCESS);

	assert_int_equal(why.sys_errno, EACCES);
	assert_non_null(strstr(why.detail, "no permission"));
	assert_non_null(strstr(why.hint, "usermod -aG"));
	assert_non_null(strstr(why.hint, "udev"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tty_open_sets_raw_8n1_at_the_baud),
		cmocka_unit_test(test_tty_default_baud_is_katapult_uart_250000),
		cmocka_unit_test(test_tty_bytes_travel_both_ways),
		cmocka_unit_test(test_tty_full_port_takes_whole_units_and_asks_for_pollout),
		cmocka_unit_test(test_tty_hangup_is_device_gone),
		cmocka_unit_test(test_tty_refuses_a_port_another_process_holds),
		cmocka_unit_test(test_tty_second_open_meets_the_lock),
		cmocka_unit_test(test_tty_missing_port_is_no_device_with_a_hint),
		cmocka_unit_test(test_tty_bad_baud_is_usage),
		cmocka_unit_test(test_tty_permission_denied_names_the_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
