/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin's USBFS prime quirk per packet (katapult.md §3.4), not per reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include "protocol/katapult.h"
#include "tests/unit/test_twin_harness.h"

/* A USB Katapult just enumerated: nothing was sent yet. */
static struct th usb_katapult(void)
{
	struct th h;

	memset(&h, 0, sizeof(h));
	h.t = th_twin(0, NULL);
	assert_non_null(h.t);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_USB, 0, "v0.0.1-110-g902f335"), 0);
	twin_power_on(h.t, 0);
	assert_int_equal(twin_get_iface(h.t), TWIN_IFACE_USB);
	return h;
}

/* The first reply fits one packet (CONNECT ACK, 60 bytes): held until a second is queued. */
static void test_twin_usb_first_packet_waits_for_a_second(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th h = usb_katapult();
	uint8_t reply[256];
	size_t n;

	(void)state;
	n = th_usb(&h, connect, sizeof(connect), reply, sizeof(reply), 5000000);
	assert_int_equal(n, 0);
	n = th_usb(&h, connect, sizeof(connect), reply, 120, 5000000);
	assert_int_equal(n, 120); /* both ACKs, the held one first */
	assert_int_equal(reply[2], 0xa0);
	assert_int_equal(reply[60 + 2], 0xa0);
	twin_free(h.t);
}

/*
 * The first reply is longer than a packet (a REQUEST_BLOCK ACK: 80 bytes): its own second
 * packet releases the first, so it arrives whole without any further reply.
 */
static void test_twin_usb_first_reply_of_two_packets_is_not_held(void **state)
{
	struct th h = usb_katapult();
	uint8_t req[KATAPULT_MAX_FRAME], reply[256];
	size_t len, n;

	(void)state;
	assert_int_equal(katapult_build_request_block(0x08000000u, req, sizeof(req), &len), 0);
	n = th_usb(&h, req, len, reply, sizeof(reply), 5000000);
	assert_int_equal(n, 80);
	assert_int_equal(reply[2], 0xa0);
	assert_int_equal(reply[3], 0x12); /* 2 + 16 words */
	/* and nothing is held back afterwards: the next reply comes alone */
	n = th_usb(&h, req, len, reply, sizeof(reply), 5000000);
	assert_int_equal(n, 80);
	twin_free(h.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_twin_usb_first_packet_waits_for_a_second),
	    cmocka_unit_test(test_twin_usb_first_reply_of_two_packets_is_not_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
