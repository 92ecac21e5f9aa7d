// SPDX-License-Identifier: GPL-3.0-or-later
// The serial backend on a plain UART (a tty sysfs does not place on USB): the optional
// bootloader request string at --baud, no prime, then CONNECT (katapult.md §3.2 step 6, §3.6).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failure.h"
#include "katapult/katapult.h"
#include "katapult/tty_entry.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "updater.h"
#include "usb/ttybaud.h"

/* katapult.md §3.6 */
static const uint8_t magic[33] = {
	0x7e, 0x20, 0x1c, 0x20, 0x52, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74, 0x20, 0x53, 0x65, 0x72,
	0x69, 0x61, 0x6c, 0x20, 0x42, 0x6f, 0x6f, 0x74, 0x6c, 0x6f, 0x61, 0x64, 0x65, 0x72, 0x21,
	0x21, 0x20, 0x7e,
};
/* katapult.md §1.2 vectors: CONNECT, and its ACK from a 1.1.0 Katapult. */
static const uint8_t connect_frame[8] = { 0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03 };
static const uint8_t connect_ack[60] = {
	0x01, 0x88, 0xa0, 0x0d, 0x11, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x20, 0x00,
	0x08, 0x40, 0x00, 0x00, 0x00, 0x73, 0x74, 0x6d, 0x33, 0x32, 0x66, 0x30, 0x34, 0x32, 0x78,
	0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x76, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x2d, 0x31, 0x31,
	0x30, 0x2d, 0x67, 0x39, 0x30, 0x32, 0x66, 0x33, 0x33, 0x35, 0x00, 0x14, 0x51, 0x99, 0x03,
};

/* A UART Katapult: answers CONNECT, records everything the host sent. */
struct uart_dev {
	struct loop_timer tick;
	struct loop *loop;
	int master;
	char pts[64];
	uint8_t rx[4096];
	size_t rx_len, answered_at;
	uint32_t baud_at_connect;
};

static void dev_tick(struct loop_timer *t, uint64_t now)
{
	struct uart_dev *d = (struct uart_dev *)((char *)t - offsetof(struct uart_dev, tick));
	const ssize_t n = read(d->master, d->rx + d->rx_len, sizeof(d->rx) - d->rx_len);
	size_t i;

	if (n > 0)
		d->rx_len += (size_t)n;
	for (i = d->answered_at; i + sizeof(connect_frame) <= d->rx_len; i++) {
		if (memcmp(d->rx + i, connect_frame, sizeof(connect_frame)))
			continue;
		(void)ttybaud_get(d->master, &d->baud_at_connect);
		assert_int_equal(write(d->master, connect_ack, sizeof(connect_ack)),
				 sizeof(connect_ack));
		d->answered_at = i + sizeof(connect_frame);
		break;
	}
	loop_arm(d->loop, &d->tick, now + 1000);
}

struct run {
	bool done;
	int err;
};

static void step_done(void *ctx, struct updater *u, int err)
{
	struct run *r = ctx;

	(void)u;
	r->done = true;
	r->err = err;
}

/* Run identify against a UART Katapult on a pty; returns the updater (caller frees). */
static struct updater *identify(struct uart_dev *d, struct loop *loop, bool request,
				struct run *r, uint64_t *elapsed_us)
{
	struct updater_config cfg = { .ops = &katapult_ops, .loop = loop };
	char root[64] = "/tmp/cf-uart-XXXXXX";
	struct updater *u;
	uint64_t t0;
	int slave;

	memset(d, 0, sizeof(*d));
	assert_int_equal(openpty(&d->master, &slave, d->pts, NULL, NULL), 0);
	close(slave);
	fcntl(d->master, F_SETFL, O_NONBLOCK);
	d->loop = loop;
	d->tick.fire = dev_tick;
	loop_arm(loop, &d->tick, cf_now_us() + 1000);
	/* An empty sysfs tree: the pty is no USB device, so it is a UART. */
	assert_non_null(mkdtemp(root));
	setenv("CARTOFLASH_SYSFS_ROOT", root, 1);
	cfg.events = (struct updater_events){ .ctx = r, .step_done = step_done };
	snprintf(cfg.target.tty, sizeof(cfg.target.tty), "%.40s@115200", d->pts);
	cfg.target.mode = request ? DEVICE_MODE_APPLICATION : DEVICE_MODE_UNKNOWN;
	cfg.target.link = IDENTITY_LINK_TTY;
	u = updater_new(&cfg);
	assert_non_null(u);
	t0 = cf_now_us();
	assert_int_equal(updater_start_step(u, UPDATER_IDENTIFY), CF_OK);
	while (!r->done && cf_now_us() < t0 + 10000000u)
		loop_run_once(loop, 100000u);
	*elapsed_us = cf_now_us() - t0;
	loop_disarm(loop, &d->tick);
	rmdir(root);
	unsetenv("CARTOFLASH_SYSFS_ROOT");
	return u;
}

static void test_uart_request_string_then_connect_without_prime(void **state)
{
	struct loop *loop = loop_new();
	const struct device_identity *id;
	struct uart_dev d;
	struct run r = { 0 };
	uint64_t elapsed;
	struct updater *u = identify(&d, loop, true, &r, &elapsed);

	(void)state;
	assert_true(r.done);
	assert_int_equal(r.err, CF_OK);

	/* the request string first, whole, then (after the settle time) CONNECT and nothing else */
	assert_true(d.rx_len >= sizeof(magic) + sizeof(connect_frame));
	assert_memory_equal(d.rx, magic, sizeof(magic));
	assert_memory_equal(d.rx + sizeof(magic), connect_frame, sizeof(connect_frame));
	assert_true(elapsed >= TTY_ENTRY_UART_SETTLE_US);
	assert_int_equal(d.baud_at_connect, 115200);
	id = updater_identity(u);
	assert_int_equal(id->mode, DEVICE_MODE_KATAPULT);
	assert_string_equal(id->mcu, "stm32f042x6");
	assert_string_equal(id->bootloader_version, "v0.0.1-110-g902f335");
	assert_int_equal(id->protocol_version, 0x00010100);
	assert_string_equal(id->uid_hex, ""); /* a UART has no USB serial */
	updater_free(u);
	close(d.master);
	loop_free(loop);
}

static void test_uart_without_request_connects_at_once(void **state)
{
	struct loop *loop = loop_new();
	struct uart_dev d;
	struct run r = { 0 };
	uint64_t elapsed;
	struct updater *u = identify(&d, loop, false, &r, &elapsed);

	(void)state;
	assert_int_equal(r.err, CF_OK);
	/* katapult.md §3.2 step 6: no automatic request on a UART, and no prime (§3.4 is USB) */
	assert_int_equal(d.rx_len, sizeof(connect_frame));
	assert_memory_equal(d.rx, connect_frame, sizeof(connect_frame));
	assert_true(elapsed < TTY_ENTRY_UART_SETTLE_US);
	updater_free(u);
	close(d.master);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uart_request_string_then_connect_without_prime),
		cmocka_unit_test(test_uart_without_request_connects_at_once),
	};

	cf_log_set_level(CF_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
