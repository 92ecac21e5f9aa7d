/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin's Katapult, pinned to spec/katapult.md: reply bytes, flash rules, the wedge, prime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include "protocol/katapult.h"
#include "tests/unit/test_twin_harness.h"

static const char spec_version[] = "v0.0.1-110-g902f335"; /* katapult.md §1.2 CONNECT vector */

/* A CAN twin in Katapult (no application installed), node id 129 assigned. */
static int setup_can(void **state)
{
	static struct th h;
	const uint8_t set[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};

	memset(&h, 0, sizeof(h));
	h.t = th_twin(0, NULL);
	if (!h.t || th_install_katapult(h.t, IMAGE_IFACE_CAN, 1000000, spec_version))
		return -1;
	twin_power_on(h.t, 0);
	if (twin_get_mode(h.t) != TWIN_MODE_KATAPULT)
		return -1;
	h.node = 129;
	th_can_frame(&h, CANBUS_ADMIN_ID, set, 8); /* katapult.md §2.2 vector: id 129 */
	*state = &h;
	return 0;
}

static int teardown(void **state)
{
	struct th *h = *state;

	twin_free(h->t);
	return 0;
}

/* Spec vectors: request -> exact reply (katapult.md §1.2). */
static void test_twin_katapult_replies_match_spec_vectors(void **state)
{
	static const struct {
		const char *name;
		uint8_t req[16];
		size_t req_len;
		uint8_t want[64];
		size_t want_len;
	} cases[] = {
	    {"GET_CANBUS_ID",
	     {0x01, 0x88, 0x16, 0x00, 0xf9, 0x31, 0x99, 0x03},
	     8,
	     {0x01, 0x88, 0xa0, 0x03, 0x16, 0x00, 0x00, 0x00, 0xe0, 0xef,
	      0x27, 0x0c, 0xa1, 0x88, 0x00, 0x00, 0xb0, 0xd0, 0x99, 0x03},
	     20},
	    {"prime 0x90 -> command error",
	     {0x01, 0x88, 0x90, 0x00, 0xe5, 0xe9, 0x99, 0x03},
	     8,
	     {0x01, 0x88, 0xf2, 0x00, 0x00, 0xbf, 0x99, 0x03},
	     8},
	    {"CONNECT 1.1.0",
	     {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03},
	     8,
	     {0x01, 0x88, 0xa0, 0x0d, 0x11, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00,
	      0x00, 0x20, 0x00, 0x08, 0x40, 0x00, 0x00, 0x00, 0x73, 0x74, 0x6d, 0x33,
	      0x32, 0x66, 0x30, 0x34, 0x32, 0x78, 0x36, 0x00, 0x00, 0x00, 0x00, 0x00,
	      0x76, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x2d, 0x31, 0x31, 0x30, 0x2d, 0x67,
	      0x39, 0x30, 0x32, 0x66, 0x33, 0x33, 0x35, 0x00, 0x14, 0x51, 0x99, 0x03},
	     60},
	    {"SEND_EOF, nothing written",
	     {0x01, 0x88, 0x13, 0x00, 0x41, 0x4f, 0x99, 0x03},
	     8,
	     {0x01, 0x88, 0xa0, 0x02, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
	     16},
	};
	struct th *h = *state;
	uint8_t got[96];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = th_kp(h, cases[i].req, cases[i].req_len, got, sizeof(got));
		if (n < cases[i].want_len)
			fail_msg("%s: %zu bytes, want %zu", cases[i].name, n, cases[i].want_len);
		/* EOF: the spec gives no zero-page vector; compare the ACK up to the count */
		size_t cmp = i == 3 ? 12 : cases[i].want_len;
		if (memcmp(got, cases[i].want, cmp))
			fail_msg("%s: reply bytes differ", cases[i].name);
		assert_int_equal(n, cases[i].want_len);
	}
}

static void send_block_data(struct th *h, uint32_t addr, const uint8_t *data, uint8_t *reply,
			    size_t *n)
{
	uint8_t frame[KATAPULT_SEND_BLOCK_FRAME_LEN];
	size_t len;

	assert_int_equal(katapult_build_send_block(addr, data, frame, sizeof(frame), &len), 0);
	*n = th_kp(h, frame, len, reply, 16);
}

static void test_twin_katapult_send_block_ack_matches_spec(void **state)
{
	static const uint8_t want[] = {0x01, 0x88, 0xa0, 0x02, 0x12, 0x00, 0x00, 0x00,
				       0x00, 0x20, 0x00, 0x08, 0x5a, 0xd6, 0x99, 0x03};
	struct th *h = *state;
	uint8_t data[64], reply[16];
	size_t n;

	for (int i = 0; i < 64; i++)
		data[i] = (uint8_t)i; /* §1.2: SEND_BLOCK @0x08002000, data 00 01 .. 3f */

	send_block_data(h, 0x08002000, data, reply, &n);

	assert_int_equal(n, sizeof(want));
	assert_memory_equal(reply, want, sizeof(want));
	assert_memory_equal(twin_flash(h->t, NULL) + 0x2000, data, 64);
}

/* §1.2: ACK SEND_EOF after 18 pages, and ACK COMPLETE. */
static void test_twin_katapult_eof_counts_pages_and_complete_acks(void **state)
{
	static const uint8_t eof[] = {0x01, 0x88, 0x13, 0x00, 0x41, 0x4f, 0x99, 0x03};
	static const uint8_t want_eof[] = {0x01, 0x88, 0xa0, 0x02, 0x13, 0x00, 0x00, 0x00,
					   0x12, 0x00, 0x00, 0x00, 0x41, 0x22, 0x99, 0x03};
	static const uint8_t complete[] = {0x01, 0x88, 0x15, 0x00, 0x91, 0x1b, 0x99, 0x03};
	static const uint8_t want_complete[] = {0x01, 0x88, 0xa0, 0x01, 0x15, 0x00,
						0x00, 0x00, 0x00, 0x2e, 0x99, 0x03};
	struct th *h = *state;
	uint8_t data[64], reply[16];
	size_t n;

	memset(data, 0x5a, sizeof(data));
	for (uint32_t a = 0x08002000; a < 0x08002000 + 18 * 1024; a += 64) {
		send_block_data(h, a, data, reply, &n);
		assert_int_equal(reply[2], 0xa0);
	}
	n = th_kp(h, eof, sizeof(eof), reply, sizeof(want_eof));
	assert_int_equal(n, sizeof(want_eof));
	assert_memory_equal(reply, want_eof, sizeof(want_eof));

	n = th_kp(h, complete, sizeof(complete), reply, sizeof(want_complete));
	assert_int_equal(n, sizeof(want_complete));
	assert_memory_equal(reply, want_complete, sizeof(want_complete));
	assert_int_equal(twin_get_stats(h->t)->completes, 1);
}

static void test_twin_katapult_1_0_0_connect_has_no_version(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	static const uint8_t set[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};
	struct th h = {.node = 129};
	uint8_t reply[64];
	size_t n;

	(void)state;
	h.t = th_twin(0, NULL);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	twin_power_on(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set, 8);

	n = th_kp(&h, connect, sizeof(connect), reply, 36);

	/* §1.4: 1.0.0 = echo, 00 00 01 00, start, 64, "stm32f042x6\0": N = 7, 36 bytes */
	assert_int_equal(n, 36);
	assert_int_equal(reply[3], 7);
	assert_memory_equal(reply + 8, "\x00\x00\x01\x00\x00\x20\x00\x08\x40\x00\x00\x00", 12);
	assert_memory_equal(reply + 20, "stm32f042x6\0", 12);
	twin_free(h.t);
}

/* §1.6: a block not at a page start must target erased bytes, else command error. */
static void test_twin_katapult_out_of_order_block_is_command_error(void **state)
{
	struct th *h = *state;
	uint8_t a[64], b[64], reply[16];
	size_t n;

	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	send_block_data(h, 0x08002040, a, reply, &n);
	assert_int_equal(reply[2], 0xa0);

	send_block_data(h, 0x08002040, b, reply, &n);

	assert_int_equal(n, 8);
	assert_memory_equal(reply, "\x01\x88\xf2\x00\x00\xbf\x99\x03", 8);
	assert_memory_equal(twin_flash(h->t, NULL) + 0x2040, a, 64);
}

/* §1.6: identical retransmits are ignored, at a page start and elsewhere; no page counted. */
static void test_twin_katapult_retransmit_is_idempotent(void **state)
{
	struct th *h = *state;
	uint8_t a[64], reply[16];
	size_t n;

	memset(a, 0x33, sizeof(a));
	send_block_data(h, 0x08002400, a, reply, &n);
	send_block_data(h, 0x08002400, a, reply, &n);
	assert_int_equal(reply[2], 0xa0);
	send_block_data(h, 0x08002440, a, reply, &n);
	send_block_data(h, 0x08002440, a, reply, &n);
	assert_int_equal(reply[2], 0xa0);

	assert_int_equal(twin_get_stats(h->t)->eof_page_count, 1);
	assert_int_equal(twin_get_stats(h->t)->blocks_retransmit, 2);
	assert_int_equal(twin_get_stats(h->t)->pages_erased, 0);
}

/* §5 safer ordering: block 0 resent after later blocks of its page erases them. */
static void test_twin_katapult_page_start_resend_erases_later_blocks(void **state)
{
	struct th *h = *state;
	uint8_t a[64], reply[16];
	size_t n;

	memset(a, 0x34, sizeof(a));
	send_block_data(h, 0x08002400, a, reply, &n);
	send_block_data(h, 0x08002440, a, reply, &n);

	send_block_data(h, 0x08002400, a, reply, &n);

	assert_int_equal(reply[2], 0xa0);
	assert_int_equal(twin_get_stats(h->t)->pages_erased, 1);
	assert_int_equal(twin_get_stats(h->t)->eof_page_count, 2);
	assert_int_equal(twin_flash(h->t, NULL)[0x2440], 0xff);
}

/* §1.6: a page-start block into a written page erases the whole page (lazy erase). */
static void test_twin_katapult_page_start_block_erases_page(void **state)
{
	struct th *h = *state;
	uint8_t a[64], b[64], reply[16];
	size_t n;

	memset(a, 0x44, sizeof(a));
	memset(b, 0x55, sizeof(b));
	send_block_data(h, 0x08002800, a, reply, &n);
	send_block_data(h, 0x08002bc0, a, reply, &n);

	send_block_data(h, 0x08002800, b, reply, &n);

	assert_int_equal(reply[2], 0xa0);
	assert_int_equal(twin_get_stats(h->t)->pages_erased, 1);
	assert_memory_equal(twin_flash(h->t, NULL) + 0x2800, b, 64);
	assert_int_equal(twin_flash(h->t, NULL)[0x2bc0], 0xff);
}

static void test_twin_katapult_refuses_bad_blocks(void **state)
{
	struct th *h = *state;
	uint8_t a[64], reply[16], frame[80];
	size_t n, len;

	memset(a, 0x66, sizeof(a));
	send_block_data(h, 0x08001c00, a, reply, &n); /* below the application start */
	assert_int_equal(reply[2], 0xf2);
	send_block_data(h, 0x08002010, a, reply, &n); /* not block aligned */
	assert_int_equal(reply[2], 0xf2);
	/* a short last block (N = 9): §1.3 requires padding to a full block */
	uint8_t payload[36] = {0x00, 0x20, 0x00, 0x08};
	assert_int_equal(
	    katapult_encode(0x12, payload, sizeof(payload), frame, sizeof(frame), &len), 0);
	n = th_kp(h, frame, len, reply, 8);
	assert_int_equal(reply[2], 0xf2);
	assert_int_equal(twin_get_stats(h->t)->block_errors, 3);
}

/* §1.6: no top-of-flash check: the real F042 hangs. */
static void test_twin_katapult_write_past_end_hangs(void **state)
{
	struct th *h = *state;
	uint8_t a[64], reply[16];
	size_t n;

	memset(a, 0x77, sizeof(a));
	send_block_data(h, 0x08008000, a, reply, &n);

	assert_int_equal(n, 0);
	assert_int_equal(twin_get_mode(h->t), TWIN_MODE_HUNG);
	assert_int_equal(twin_get_stats(h->t)->wrote_past_end, 1);
}

/* §1.3: REQUEST_BLOCK reads any address, including the bootloader itself. */
static void test_twin_katapult_request_block_reads_bootloader(void **state)
{
	static const uint8_t req[] = {0x01, 0x88, 0x14, 0x01, 0x00, 0x00, 0x00, 0x08};
	struct th *h = *state;
	uint8_t frame[16], reply[80];
	size_t n, len;

	assert_int_equal(katapult_build_request_block(0x08000000, frame, sizeof(frame), &len), 0);
	assert_memory_equal(frame, req, sizeof(req));

	n = th_kp(h, frame, len, reply, sizeof(reply));

	assert_int_equal(n, 80);
	assert_memory_equal(reply + 12, twin_flash(h->t, NULL), 64);
}

/* §1.2: REQUEST_BLOCK @0x08002000 vector; the ACK echoes the address. */
static void test_twin_katapult_request_block_vector(void **state)
{
	static const uint8_t req[] = {0x01, 0x88, 0x14, 0x01, 0x00, 0x20,
				      0x00, 0x08, 0x5b, 0xde, 0x99, 0x03};
	struct th *h = *state;
	uint8_t reply[80];

	assert_int_equal(th_kp(h, req, sizeof(req), reply, sizeof(reply)), 80);
	assert_memory_equal(reply, "\x01\x88\xa0\x12\x14\x00\x00\x00\x00\x20\x00\x08", 12);
	for (int i = 12; i < 76; i++)
		assert_int_equal(reply[i], 0xff);
}

/* §1.7: partial SEND_BLOCK (68 of 76) + full retransmit -> exactly one NACK, then stuck. */
static void test_twin_katapult_parser_wedges_after_partial_frame(void **state)
{
	static const uint8_t nack[] = {0x01, 0x88, 0xf1, 0x00, 0x68, 0x95, 0x99, 0x03};
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th *h = *state;
	uint8_t data[64] = {0}, frame[76], reply[64];
	size_t len, n;

	assert_int_equal(katapult_build_send_block(0x08002000, data, frame, sizeof(frame), &len),
			 0);
	th_can_stream(h, 0x202, frame, 68);
	th_can_stream(h, 0x202, frame, len);
	n = th_can_collect(h, 0x203, reply, sizeof(reply), 5000000);
	assert_int_equal(n, 8);
	assert_memory_equal(reply, nack, 8);

	n = th_kp(h, connect, sizeof(connect), reply, sizeof(reply));

	assert_int_equal(n, 0);
	assert_true(twin_get_stats(h->t)->wedged);
	assert_int_equal(twin_get_stats(h->t)->nacks, 1);
}

/* §1.7: junk not starting with 0x01 is discarded: the parser resyncs. */
static void test_twin_katapult_parser_resyncs_after_junk(void **state)
{
	static const uint8_t junk[] = {0x55, 0x99, 0x03, 0x42};
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th *h = *state;
	uint8_t buf[12], reply[96];
	size_t n;

	memcpy(buf, junk, 4);
	memcpy(buf + 4, connect, 8);

	n = th_kp(h, buf, sizeof(buf), reply, 8 + 60);

	assert_int_equal(n, 68);
	assert_memory_equal(reply, "\x01\x88\xf1\x00\x68\x95\x99\x03", 8);
	assert_int_equal(reply[10], 0xa0);
	assert_false(twin_get_stats(h->t)->wedged);
}

/* §1.5: the 192-byte CAN receive buffer silently drops frames that do not fit. */
static void test_twin_katapult_can_rx_overflow_drops(void **state)
{
	struct th *h = *state;
	struct twin_faults f = {.wedge = true};
	uint8_t junk[256];

	memset(junk, 0x01, sizeof(junk));
	twin_set_faults(h->t, &f);
	th_can_stream(h, 0x202, junk, sizeof(junk));

	assert_true(twin_get_stats(h->t)->rx_overflow_drops > 0);
}

static void test_twin_katapult_busy_fault_sends_busy_vector(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	static const uint8_t busy[] = {0x01, 0x88, 0xf3, 0x00, 0xd8, 0xa6, 0x99, 0x03};
	struct th *h = *state;
	struct twin_faults f = {.busy_replies = 1};
	uint8_t reply[64];

	twin_set_faults(h->t, &f);

	assert_int_equal(th_kp(h, connect, sizeof(connect), reply, 8), 8);
	assert_memory_equal(reply, busy, 8);
	assert_int_equal(th_kp(h, connect, sizeof(connect), reply, 60), 60);
	assert_int_equal(reply[2], 0xa0);
}

/* §3.4: a USB Katapult holds its first reply until a second is queued. */
static void test_twin_katapult_usb_holds_first_reply_until_primed(void **state)
{
	static const uint8_t prime[] = {0x01, 0x88, 0x90, 0x00, 0xe5, 0xe9, 0x99, 0x03};
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th h = {0};
	struct twin_usb_id id;
	uint8_t reply[128];
	size_t n;

	(void)state;
	h.t = th_twin(0, NULL);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_USB, 0, NULL), 0);
	twin_power_on(h.t, 0);
	assert_int_equal(twin_get_iface(h.t), TWIN_IFACE_USB);
	assert_true(twin_get_usb_id(h.t, &id));
	assert_int_equal(id.pid, 0x6177);
	assert_string_equal(id.manufacturer, "katapult");
	assert_string_equal(id.serial, "16000C000F43304253373820");

	n = th_usb(&h, prime, sizeof(prime), reply, sizeof(reply), 5000000);
	assert_int_equal(n, 0);

	n = th_usb(&h, connect, sizeof(connect), reply, 8 + 36, 5000000);

	assert_int_equal(n, 44);
	assert_memory_equal(reply, "\x01\x88\xf2\x00\x00\xbf\x99\x03", 8);
	assert_int_equal(reply[10], 0xa0);
	twin_free(h.t);
}

/* §1.6 timing: page erase 22 ms + 32 half-words x 53.5 us at speed 1. */
static void test_twin_katapult_block_timing_follows_datasheet(void **state)
{
	struct th h = {.node = 129};
	static const uint8_t set[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};
	uint8_t data[64], reply[16];
	uint64_t t0;
	size_t n;

	(void)state;
	h.t = th_twin(1.0, NULL);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	assert_int_equal(th_install_app(h.t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	twin_power_on(h.t, 0);
	twin_reset(h.t, 100000); /* inside the double-reset window -> Katapult */
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_KATAPULT);
	h.now = 100000;
	th_can_frame(&h, CANBUS_ADMIN_ID, set, 8);
	memset(data, 0x12, sizeof(data));

	t0 = h.now;
	send_block_data(&h, 0x08002000, data, reply, &n); /* page holds the old app: erase */
	assert_int_equal(n, 16);
	assert_true(h.now - t0 >= 22000 + 1712);
	assert_true(h.now - t0 <= 22000 + 1712 + 10);

	t0 = h.now;
	send_block_data(&h, 0x08002040, data, reply, &n);
	assert_true(h.now - t0 >= 1712 && h.now - t0 <= 1712 + 10);
	twin_free(h.t);
}

/* §1.5 + §1.7 on USB: 68 bytes of a frame leave 60 free, below one packet: the parser waits
 * forever for the rest (no NACK), and nothing else gets in. */
static void test_twin_katapult_usb_partial_frame_stalls(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th h = {0};
	uint8_t data[64] = {0}, frame[76], reply[64];
	size_t len;

	(void)state;
	h.t = th_twin(0, NULL);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_USB, 0, NULL), 0);
	twin_power_on(h.t, 0);
	assert_int_equal(katapult_build_send_block(0x08002000, data, frame, sizeof(frame), &len),
			 0);

	assert_int_equal(twin_serial_receive(h.t, frame, 68, 1), 68);
	assert_int_equal(twin_serial_receive(h.t, frame, len, 2), 0);
	assert_int_equal(twin_serial_receive(h.t, connect, sizeof(connect), 3), 0);

	assert_int_equal(twin_serial_pop(h.t, 10, reply, sizeof(reply)), 0);
	assert_int_equal(twin_get_stats(h.t)->nacks, 0);
	twin_free(h.t);
}

/* Faults: a dropped host->device CAN frame wedges the parser as a real lost frame does. */
static void test_twin_katapult_dropped_rx_frame_wedges(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th *h = *state;
	struct twin_faults f = {.drop_rx = 3};
	uint8_t data[64] = {0}, frame[76], reply[64];
	size_t len, n;

	twin_set_faults(h->t, &f);
	assert_int_equal(katapult_build_send_block(0x08002000, data, frame, sizeof(frame), &len),
			 0);
	n = th_kp(h, frame, len, reply, sizeof(reply));
	assert_int_equal(n, 0); /* 68 bytes: waits for 8 more */

	n = th_kp(h, connect, sizeof(connect), reply, sizeof(reply));

	assert_int_equal(n, 8);
	assert_memory_equal(reply, "\x01\x88\xf1\x00\x68\x95\x99\x03", 8);
	assert_int_equal(th_kp(h, connect, sizeof(connect), reply, sizeof(reply)), 0);
	assert_true(twin_get_stats(h->t)->wedged);
}

/* Faults: a corrupted device->host frame arrives corrupted; silence answers nothing. */
static void test_twin_katapult_tx_corruption_and_silence(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	struct th *h = *state;
	struct twin_faults f = {.corrupt_tx = 1};
	uint8_t reply[64];

	twin_set_faults(h->t, &f);
	assert_int_equal(th_kp(h, connect, sizeof(connect), reply, 60), 60);
	assert_int_equal(reply[7], 0x00 ^ 1); /* last byte of the first 8-byte frame */

	f = (struct twin_faults){.silent = true};
	twin_set_faults(h->t, &f);
	assert_int_equal(th_kp(h, connect, sizeof(connect), reply, 60), 0);
}

/* wire_time: a 60-byte CONNECT reply is 8 frames on the bus, each >= 47 + 8n bit times. */
static void test_twin_katapult_wire_time_serialises_reply(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	static const uint8_t set[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};
	struct twin_config c = {.speed = 1.0, .bus_bitrate = 1000000, .wire_time = true};
	struct th h = {.node = 129};
	uint8_t reply[64];

	(void)state;
	memcpy(c.uid, th_uid, 12);
	h.t = twin_new(&c);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_CAN, 1000000, "v0.0.1-110-g902f335"),
			 0);
	twin_power_on(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set, 8);

	assert_int_equal(th_kp(&h, connect, sizeof(connect), reply, 60), 60);

	/* 7 frames of 8 bytes (>= 111 bits) and one of 4 (>= 79 bits) at 1 us per bit */
	assert_true(h.now >= 7 * 111 + 79);
	assert_true(h.now <= 8 * 135);
	twin_free(h.t);
}

/* Faults: a host->device frame delivered late arrives out of order: one NACK, then wedged. */
static void test_twin_katapult_delayed_rx_frame_reorders(void **state)
{
	struct th *h = *state;
	struct twin_faults f = {.delay_rx = 2, .delay_us = 5000};
	uint8_t data[64] = {0}, frame[76], reply[64];
	size_t len;

	twin_set_faults(h->t, &f);
	assert_int_equal(katapult_build_send_block(0x08002000, data, frame, sizeof(frame), &len),
			 0);

	th_can_stream(h, 0x202, frame, len);

	assert_int_equal(th_can_collect(h, 0x203, reply, sizeof(reply), 100000), 8);
	assert_memory_equal(reply, "\x01\x88\xf1\x00\x68\x95\x99\x03", 8);
	assert_true(h->now >= 5000);
	assert_true(twin_get_stats(h->t)->wedged);
}

/* §1.4: a 1.1.0 build without version string: separator word, then an empty (NUL) version. */
static void test_twin_katapult_1_1_0_without_version(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	static const uint8_t set[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};
	struct twin_config c = {.speed = 0, .katapult_proto = 0x00010100};
	struct th h = {.node = 129};
	struct katapult_connect_info info;
	uint8_t reply[64];

	(void)state;
	memcpy(c.uid, th_uid, 12);
	h.t = twin_new(&c);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	twin_power_on(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set, 8);

	assert_int_equal(th_kp(&h, connect, sizeof(connect), reply, 44), 44);

	assert_int_equal(reply[3], 9);
	assert_memory_equal(reply + 8, "\x00\x01\x01\x00", 4);
	assert_memory_equal(reply + 20, "stm32f042x6\0\0\0\0\0\0\0\0\0", 20);
	assert_int_equal(katapult_parse_connect(reply + 8, 32, &info), 0);
	assert_string_equal(info.mcu, "stm32f042x6");
	assert_string_equal(info.version, "");
	twin_free(h.t);
}

/* §1.5: a host that does not wait (three SEND_BLOCKs during a 22 ms erase) overflows the
 * 192-byte CAN buffer: frames are dropped silently and the parser wedges. */
static void test_twin_katapult_pipelined_blocks_overflow_while_busy(void **state)
{
	static const uint8_t connect[] = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03};
	static const uint8_t set[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};
	struct th h = {.node = 129};
	uint8_t data[64], frame[76], reply[64];
	size_t len;

	(void)state;
	h.t = th_twin(1.0, NULL);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	assert_int_equal(th_install_app(h.t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	twin_power_on(h.t, 0);
	twin_reset(h.t, 100000);
	h.now = 100000;
	th_can_frame(&h, CANBUS_ADMIN_ID, set, 8);
	memset(data, 0x21, sizeof(data));

	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(katapult_build_send_block(0x08002000 + 64 * i, data, frame,
							   sizeof(frame), &len),
				 0);
		th_can_stream(&h, 0x202, frame, len); /* no wait for the ACK */
	}
	/* three ACKs (16 bytes each): the fourth block lost frames in the full buffer */
	assert_int_equal(th_can_collect(&h, 0x203, reply, sizeof(reply), 1000000), 48);
	assert_true(twin_get_stats(h.t)->rx_overflow_drops > 0);
	for (int i = 0; i < 5; i++)
		th_can_stream(&h, 0x202, connect, sizeof(connect));

	assert_int_equal(th_can_collect(&h, 0x203, reply, sizeof(reply), 1000000), 8);
	assert_int_equal(reply[2], 0xf1); /* the one NACK, then nothing */
	assert_true(twin_get_stats(h.t)->wedged);
	twin_free(h.t);
}

/* USB full speed: replies leave in the next 1 ms frame (at speed 1). */
static void test_twin_katapult_usb_replies_wait_for_a_usb_frame(void **state)
{
	static const uint8_t prime[] = {0x01, 0x88, 0x90, 0x00, 0xe5, 0xe9, 0x99, 0x03};
	struct th h = {0};
	uint8_t reply[64];

	(void)state;
	h.t = th_twin(1.0, NULL);
	assert_int_equal(th_install_katapult(h.t, IMAGE_IFACE_USB, 0, NULL), 0);
	twin_power_on(h.t, 0);
	h.now = 1234;

	assert_int_equal(th_usb(&h, prime, sizeof(prime), reply, 0, 0), 0);
	assert_int_equal(th_usb(&h, prime, sizeof(prime), reply, 16, 10000), 16);

	assert_int_equal(h.now, 2000);
	twin_free(h.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_twin_katapult_replies_match_spec_vectors,
					    setup_can, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_send_block_ack_matches_spec,
					    setup_can, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_eof_counts_pages_and_complete_acks,
					    setup_can, teardown),
	    cmocka_unit_test(test_twin_katapult_1_0_0_connect_has_no_version),
	    cmocka_unit_test(test_twin_katapult_1_1_0_without_version),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_out_of_order_block_is_command_error,
					    setup_can, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_retransmit_is_idempotent, setup_can,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_twin_katapult_page_start_resend_erases_later_blocks, setup_can, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_page_start_block_erases_page,
					    setup_can, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_refuses_bad_blocks, setup_can,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_write_past_end_hangs, setup_can,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_request_block_reads_bootloader,
					    setup_can, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_request_block_vector, setup_can,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_parser_wedges_after_partial_frame,
					    setup_can, teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_parser_resyncs_after_junk, setup_can,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_can_rx_overflow_drops, setup_can,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_busy_fault_sends_busy_vector,
					    setup_can, teardown),
	    cmocka_unit_test(test_twin_katapult_usb_holds_first_reply_until_primed),
	    cmocka_unit_test(test_twin_katapult_block_timing_follows_datasheet),
	    cmocka_unit_test(test_twin_katapult_usb_partial_frame_stalls),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_dropped_rx_frame_wedges, setup_can,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_tx_corruption_and_silence, setup_can,
					    teardown),
	    cmocka_unit_test(test_twin_katapult_wire_time_serialises_reply),
	    cmocka_unit_test(test_twin_katapult_usb_replies_wait_for_a_usb_frame),
	    cmocka_unit_test(test_twin_katapult_pipelined_blocks_overflow_while_busy),
	    cmocka_unit_test_setup_teardown(test_twin_katapult_delayed_rx_frame_reorders, setup_can,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
