/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulated bus: exact CAN bit lengths, and the sim:PATH transport against a fake hub. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <linux/can.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "failure.h"
#include "protocol/bytes.h"
#include "protocol/canbus.h"
#include "protocol/err.h"
#include "tools/simbus/canwire.h"
#include "transport/simbus.h"
#include "transport.h"
#include "transport/transports.h"

/*
 * Stuff bits of standard data frames. The all-zero frame is worked by hand: SOF, id, RTR, IDE,
 * r0, DLC and the CRC of zeros are 34 dominant bits, stuffed after every 5th: 6 stuff bits.
 * The others were computed with an independent windowed stuffing implementation.
 */
static const struct {
	const char *name;
	uint32_t id;
	uint8_t len;
	uint8_t data[8];
	unsigned stuff, bits;
} wire_cases[] = {
    {"id 0x000, no data (by hand)", 0x000, 0, {0}, 6, 53},
    {"id 0x7ff, no data", 0x7ff, 0, {0}, 3, 50},
    {"admin query 0x3f0 [1] 00", 0x3f0, 1, {0x00}, 4, 59},
    {"0x123 de ad be ef", 0x123, 4, {0xde, 0xad, 0xbe, 0xef}, 2, 81},
    {"CONNECT on 0x202", 0x202, 8, {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03}, 7, 118},
};

static void test_simbus_frame_bits_count_real_stuffing(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++) {
		struct canbus_frame f = {.id = wire_cases[i].id, .len = wire_cases[i].len};
		memcpy(f.data, wire_cases[i].data, 8);
		if (canwire_stuff_bits(&f) != wire_cases[i].stuff)
			fail_msg("%s: %u stuff bits, want %u", wire_cases[i].name,
				 canwire_stuff_bits(&f), wire_cases[i].stuff);
		if (canwire_frame_bits(&f) != wire_cases[i].bits)
			fail_msg("%s: %u bits, want %u", wire_cases[i].name, canwire_frame_bits(&f),
				 wire_cases[i].bits);
	}
}

/* ISO 11898-1 bound: at most (34 + 8n - 1) / 4 stuff bits; 8n + 47 unstuffed bits with IFS. */
static void test_simbus_frame_bits_within_worst_case(void **state)
{
	uint32_t seed = 12345;

	(void)state;
	for (int k = 0; k < 2000; k++) {
		struct canbus_frame f;
		seed = seed * 1103515245u + 12345u;
		f.id = (seed >> 8) & 0x7ff;
		f.len = (uint8_t)((seed >> 20) % 9);
		for (int i = 0; i < 8; i++) {
			seed = seed * 1103515245u + 12345u;
			f.data[i] = (uint8_t)(seed >> 16);
		}
		unsigned s = canwire_stuff_bits(&f);
		assert_true(s <= (34u + 8u * f.len - 1u) / 4u);
		assert_int_equal(canwire_frame_bits(&f), 47u + 8u * f.len + s);
	}
}

static void test_simbus_frame_time_follows_bitrate(void **state)
{
	struct canbus_frame f = {
	    .id = 0x202, .len = 8, .data = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03}};

	(void)state;
	assert_int_equal(canwire_frame_ns(&f, 1000000), 118000);
	assert_int_equal(canwire_frame_ns(&f, 250000), 472000);
}

/* ---- sim:PATH against a fake hub in this process ---- */

struct fake_hub {
	char path[108];
	int lfd, cfd;
	struct transport *t;
};

static int hub_setup(void **state)
{
	static struct fake_hub h;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char spec[128];

	snprintf(h.path, sizeof(h.path), "/tmp/simbus-test-%d", (int)getpid());
	strcpy(sa.sun_path, h.path);
	unlink(h.path);
	h.lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (h.lfd < 0 || bind(h.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(h.lfd, 4))
		return -1;
	/* connect() completes from the backlog; open waits briefly for a hello that this hub
	 * only sends after accepting */
	snprintf(spec, sizeof(spec), "sim:%s", h.path);
	if (transport_open(&sim_ops, spec, &h.t, NULL))
		return -1;
	h.cfd = accept(h.lfd, NULL, NULL);
	*state = &h;
	return h.cfd < 0 ? -1 : 0;
}

static int hub_teardown(void **state)
{
	struct fake_hub *h = *state;

	transport_close(h->t);
	if (h->cfd >= 0)
		close(h->cfd);
	close(h->lfd);
	unlink(h->path);
	return 0;
}

static void hub_send(struct fake_hub *h, uint32_t can_id, uint8_t len, const uint8_t *data)
{
	struct can_frame f = {.can_id = can_id, .len = len};

	memcpy(f.data, data, len);
	assert_int_equal(send(h->cfd, &f, sizeof(f), 0), sizeof(f));
}

static void test_simbus_sim_transport_moves_frames(void **state)
{
	static const uint8_t hello[8] = {SIMBUS_HELLO0, SIMBUS_HELLO1, 0, 0, 0x40, 0x42, 0x0f, 0};
	static const uint8_t ack[8] = {0x01, 0x88, 0xa0, 0x07, 0x11, 0x00, 0x00, 0x00};
	struct fake_hub *h = *state;
	struct canbus_frame in,
	    out = {.id = 0x202, .len = 8, .data = {0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03}};
	struct can_frame raw;
	uint32_t bitrate = 0;
	size_t len;

	hub_send(h, CAN_ERR_FLAG, 8, hello);
	hub_send(h, 0x12345678u | CAN_EFF_FLAG, 8, ack); /* extended: not ours (§2.1) */
	hub_send(h, 0x203, 8, ack);

	assert_int_equal(transport_recv(h->t, &in, sizeof(in), &len), 0);
	assert_int_equal(in.id, 0x203);
	assert_int_equal(in.len, 8);
	assert_memory_equal(in.data, ack, 8);
	assert_int_equal(transport_get_bitrate(h->t, &bitrate), 0);
	assert_int_equal(bitrate, 1000000);
	assert_int_equal(transport_recv(h->t, &in, sizeof(in), &len), CF_ERR_AGAIN);
	assert_int_equal(transport_send(h->t, &out, sizeof(out)), 0);
	assert_int_equal(recv(h->cfd, &raw, sizeof(raw), 0), 16);
	assert_int_equal(raw.can_id, 0x202);
	assert_int_equal(raw.len, 8);
	assert_memory_equal(raw.data, out.data, 8);
}

/* simbus.h: a hub that does not read makes the client see EAGAIN, never a silent drop. */
static void test_simbus_sim_transport_backpressure_is_eagain(void **state)
{
	struct fake_hub *h = *state;
	struct canbus_frame out = {.id = 0x202, .len = 8};
	struct can_frame raw;
	int sent = 0, rc, got = 0;

	while ((rc = transport_send(h->t, &out, sizeof(out))) == 0 && sent < 100000)
		out.data[0] = (uint8_t)++sent;
	assert_int_equal(rc, CF_ERR_AGAIN);
	assert_true(sent > 0 && sent < 1000);

	while (recv(h->cfd, &raw, sizeof(raw), MSG_DONTWAIT) == (ssize_t)sizeof(raw)) {
		assert_int_equal(raw.data[0], (uint8_t)got); /* in order, none missing */
		got++;
	}
	assert_int_equal(got, sent);
	assert_int_equal(transport_send(h->t, &out, sizeof(out)), 0);
}

static void test_simbus_sim_transport_hub_gone_is_no_device(void **state)
{
	struct fake_hub *h = *state;
	struct canbus_frame in;
	size_t len;

	close(h->cfd);
	h->cfd = -1;

	assert_int_equal(transport_recv(h->t, &in, sizeof(in), &len), CF_ERR_NO_DEVICE);
}

static void test_simbus_sim_transport_reports_missing_bus(void **state)
{
	struct cf_failure why;
	struct transport *t = NULL;

	(void)state;
	cf_failure_clear(&why);
	assert_int_equal(transport_open(&sim_ops, "sim:/tmp/no-such-simbus", &t, &why),
			 CF_ERR_NO_DEVICE);
	assert_null(t);
	assert_non_null(strstr(why.hint, "simbus --socket /tmp/no-such-simbus"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simbus_frame_bits_count_real_stuffing),
	    cmocka_unit_test(test_simbus_frame_bits_within_worst_case),
	    cmocka_unit_test(test_simbus_frame_time_follows_bitrate),
	    cmocka_unit_test(test_simbus_sim_transport_reports_missing_bus),
	    cmocka_unit_test_setup_teardown(test_simbus_sim_transport_moves_frames, hub_setup,
					    hub_teardown),
	    cmocka_unit_test_setup_teardown(test_simbus_sim_transport_backpressure_is_eagain,
					    hub_setup, hub_teardown),
	    cmocka_unit_test_setup_teardown(test_simbus_sim_transport_hub_gone_is_no_device,
					    hub_setup, hub_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
