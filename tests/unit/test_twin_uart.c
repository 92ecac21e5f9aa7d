/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin on a UART wire: a UART application enters Katapult on the request string (§3.6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>

#include "protocol/katapult.h"
#include "tests/unit/test_twin_harness.h"
#include "tools/twin/options.h"

/* katapult.md §3.6: the 33 bytes flashtool -r writes at the MCU's baud rate. */
static const uint8_t request[33] = "~ \x1c Request Serial Bootloader!! ~";

/* A probe with Katapult and an application of app_iface, its byte side a UART or USB. */
static struct th probe(bool uart, enum image_iface app_iface)
{
	struct twin_config c;
	struct th h;

	memset(&h, 0, sizeof(h));
	memset(&c, 0, sizeof(c));
	memcpy(c.uid, th_uid, sizeof(c.uid));
	c.uart = uart;
	h.t = twin_new(&c);
	assert_non_null(h.t);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_USB, 0, "v0.0.1-110-g902f335"), 0);
	assert_int_equal(th_install_app(h.t, app_iface, 0, "CARTOGRAPHER 5.1.0"), 0);
	twin_power_on(h.t, 0);
	while (twin_get_mode(h.t) != TWIN_MODE_APP && th_step(&h))
		;
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	return h;
}

/* Feed the request string, then let a second of virtual time pass (flashtool sleeps 1 s). */
static void send_request(struct th *h)
{
	uint8_t reply[64];
	const uint64_t end = h->now + 1000000;

	th_usb(h, request, sizeof(request), reply, sizeof(reply), 1000);
	while (twin_next_event_us(h->t) <= end && th_step(h))
		;
}

static void test_uart_application_enters_katapult_on_the_request_string(void **state)
{
	struct th h = probe(true, IMAGE_IFACE_UART);
	struct twin_usb_id id;

	(void)state;
	assert_int_equal(twin_get_iface(h.t), TWIN_IFACE_UART);
	assert_false(twin_get_usb_id(h.t, &id)); /* nothing on USB */
	send_request(&h);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_stats(h.t)->bootloader_requests, 1);
	assert_int_equal(twin_get_iface(h.t), TWIN_IFACE_UART); /* Katapult on the same wire */
	assert_false(twin_get_usb_id(h.t, &id));
	twin_free(h.t);
}

/* On the UART, Katapult answers CONNECT at once: no USB prime quirk holds the first reply. */
static void test_uart_katapult_answers_connect_without_a_prime(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th h = probe(true, IMAGE_IFACE_UART);
	uint8_t reply[256];
	size_t n;

	(void)state;
	send_request(&h);
	n = th_usb(&h, connect, sizeof(connect), reply, 60, 5000000);
	assert_int_equal(n, 60);
	assert_int_equal(reply[2], 0xa0); /* ACK */
	twin_free(h.t);
}

/* Anything but the exact string is a bad block and nothing more. */
static void test_uart_application_ignores_a_near_miss(void **state)
{
	struct th h = probe(true, IMAGE_IFACE_UART);
	uint8_t near[33];
	uint8_t reply[64];

	(void)state;
	memcpy(near, request, sizeof(near));
	near[20] ^= 0x20; /* "bootloader" in lower case */
	th_usb(&h, near, sizeof(near), reply, sizeof(reply), 1000);
	while (th_step(&h) && h.now < 1000000)
		;
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	assert_int_equal(twin_get_stats(h.t)->bootloader_requests, 0);
	twin_free(h.t);
}

/* A USB application has no serial_irq.c: the string is noise to it (katapult.md §3.6). */
static void test_usb_application_ignores_the_request_string(void **state)
{
	struct th h = probe(false, IMAGE_IFACE_USB);

	(void)state;
	send_request(&h);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	assert_int_equal(twin_get_stats(h.t)->bootloader_requests, 0);
	twin_free(h.t);
}

/* On a UART wire a USB application hears nothing at all. */
static void test_usb_application_on_a_uart_wire_hears_nothing(void **state)
{
	struct th h = probe(true, IMAGE_IFACE_USB);

	(void)state;
	send_request(&h);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	assert_int_equal(twin_get_stats(h.t)->bootloader_requests, 0);
	twin_free(h.t);
}

/* The twin's command line: argv as main gets it; getopt starts over each time. */
static int parse(struct twin_options *o, int argc, const char **argv)
{
	bool boot0 = false;

	memset(o, 0, sizeof(*o));
	optind = 0;
	return twin_options_parse(argc, (char **)argv, o, &boot0);
}

static void test_options_uart_is_a_pty_wire_of_its_own(void **state)
{
	const char *uart[] = {"twin", "--uart", "--pty", "/tmp/ttyS0", NULL};
	const char *usb[] = {"twin", "--pty", "/tmp/ttyACM0", NULL};
	const char *no_pty[] = {"twin", "--uart", "--attach", "sim:/tmp/bus", NULL};
	const char *both[] = {"twin", "--uart", "--pty", "/tmp/ttyS0", "--attach", "sim:/tmp/bus",
			      NULL};
	struct twin_options o;

	(void)state;
	assert_int_equal(parse(&o, 4, uart), CF_OK);
	assert_true(o.cfg.uart);
	assert_string_equal(o.pty, "/tmp/ttyS0");
	assert_int_equal(parse(&o, 3, usb), CF_OK);
	assert_false(o.cfg.uart);
	assert_int_equal(parse(&o, 4, no_pty), CF_ERR_USAGE);
	assert_int_equal(parse(&o, 6, both), CF_ERR_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uart_application_enters_katapult_on_the_request_string),
	    cmocka_unit_test(test_uart_katapult_answers_connect_without_a_prime),
	    cmocka_unit_test(test_uart_application_ignores_a_near_miss),
	    cmocka_unit_test(test_usb_application_ignores_the_request_string),
	    cmocka_unit_test(test_usb_application_on_a_uart_wire_hears_nothing),
	    cmocka_unit_test(test_options_uart_is_a_pty_wire_of_its_own),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
