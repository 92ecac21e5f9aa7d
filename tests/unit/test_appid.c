/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The identify session: spec blocks, against the twin's application over CAN and USB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include "appid/appdict.h"
#include "appid/appid.h"
#include "failure.h"
#include "protocol/klipper.h"
#include "tests/unit/test_twin_harness.h"

#define NODE 224 /* an application identify node id (src/appid/appid_can.h range) */

/* A twin running application app_iface (with the Katapult of that interface below it). */
static struct th *boot(enum image_iface iface, uint32_t bitrate, const char *version)
{
	static struct th h;

	memset(&h, 0, sizeof(h));
	h.t = th_twin(0, NULL);
	assert_non_null(h.t);
	assert_int_equal(th_install_katapult(h.t, iface, bitrate, NULL), 0);
	assert_int_equal(th_install_app(h.t, iface, bitrate, version), 0);
	twin_power_on(h.t, 0);
	while (twin_get_mode(h.t) != TWIN_MODE_APP && th_step(&h))
		;
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	return &h;
}

/* Pump one session against the twin over CAN node NODE (what src/appid/appid_can.c does). */
static void run_can(struct th *h, struct appid *s)
{
	const uint8_t *block;
	size_t len;
	struct canbus_frame f;

	while (appid_state(s) != APPID_DONE) {
		if (appid_poll_tx(s, &block, &len) > 0) {
			th_can_stream(h, canbus_node_tx_id(NODE), block, len);
			appid_tx_done(s, h->now);
		}
		while (twin_can_pop(h->t, h->now, &f) == 0)
			if (f.id == canbus_node_rx_id(NODE))
				appid_feed(s, f.data, f.len, h->now);
		if (appid_state(s) != APPID_WAIT)
			continue;
		if (twin_next_event_us(h->t) < appid_deadline(s)) {
			th_step(h);
		} else {
			h->now = appid_deadline(s);
			appid_tick(s, h->now);
		}
	}
}

static void run_usb(struct th *h, struct appid *s)
{
	const uint8_t *block;
	uint8_t buf[128];
	size_t len, n;

	while (appid_state(s) != APPID_DONE) {
		if (appid_poll_tx(s, &block, &len) > 0) {
			assert_int_equal(twin_serial_receive(h->t, block, len, h->now), len);
			appid_tx_done(s, h->now);
		}
		while ((n = twin_serial_pop(h->t, h->now, buf, sizeof(buf))) > 0)
			appid_feed(s, buf, n, h->now);
		if (appid_state(s) != APPID_WAIT)
			continue;
		if (twin_next_event_us(h->t) < appid_deadline(s)) {
			th_step(h);
		} else {
			h->now = appid_deadline(s);
			appid_tick(s, h->now);
		}
	}
}

static void assign(struct th *h, uint8_t node)
{
	struct canbus_frame f;

	canbus_build_set_klipper_nodeid(th_uuid, node, &f);
	twin_can_receive(h->t, &f, h->now);
}

/* katapult.md §8.3 vector: identify offset 0 count 40, seq 0, behind one flushing 0x7e. */
static void test_appid_first_block_is_spec_identify(void **state)
{
	static const uint8_t want[] = {0x7e, 0x08, 0x10, 0x01, 0x00, 0x28, 0x5e, 0x9f, 0x7e};
	const struct appid_config cfg = {0};
	struct appid *s;
	const uint8_t *block;
	size_t len;

	(void)state;
	assert_int_equal(appid_new(&cfg, &s), 0);

	assert_int_equal(appid_poll_tx(s, &block, &len), 1);

	assert_int_equal(len, sizeof(want));
	assert_memory_equal(block, want, sizeof(want));
	assert_int_equal(appid_deadline(s), UINT64_MAX);
	appid_free(s);
}

/* The dictionary read over CAN is the one embedded in the image the twin runs. */
static void test_appid_can_reads_the_installed_dictionary(void **state)
{
	struct th *h = boot(IMAGE_IFACE_CAN, 1000000, "CARTOGRAPHER 5.1.0 lite");
	const struct appid_config cfg = {.ask_canbus_id = true};
	uint8_t *img, uuid[6], node = 0, *scratch = malloc(IMAGE_SCRATCH_SIZE);
	size_t len, dlen;
	struct image_info info;
	struct appdict d;
	struct appid *s;
	const uint8_t *dict;

	(void)state;
	assert_int_equal(th_make_app(IMAGE_IFACE_CAN, 1000000, "CARTOGRAPHER 5.1.0 lite", &img,
				     &len), 0);
	assert_int_equal(image_inspect(img, len, scratch, IMAGE_SCRATCH_SIZE, &info), 0);
	assign(h, NODE);
	assert_int_equal(appid_new(&cfg, &s), 0);

	run_can(h, s);

	assert_int_equal(appid_result(s), 0);
	dict = appid_dict(s, &dlen);
	assert_int_equal(dlen, info.app.dict_len);
	assert_memory_equal(dict, img + info.app.dict_offset, dlen);
	assert_true(appid_canbus_id(s, uuid, &node));
	assert_memory_equal(uuid, th_uuid, 6);
	assert_int_equal(node, NODE);
	assert_int_equal(appdict_read(dict, dlen, &d), 0);
	assert_string_equal(d.app.version, "CARTOGRAPHER 5.1.0 lite");
	assert_string_equal(d.app.mcu, "stm32f042x6");
	assert_int_equal(d.app.iface, IMAGE_IFACE_CAN);
	assert_int_equal(d.app.can_bitrate, 1000000);
	assert_string_equal(d.build_versions, "gcc: (15:12.2.rel1-1) 12.2.1 20221205 binutils: 2.40");
	assert_int_equal(twin_get_mode(h->t), TWIN_MODE_APP);
	assert_int_equal(twin_get_stats(h->t)->bootloader_requests, 0);
	assert_false(twin_get_stats(h->t)->app_shutdown);
	appid_free(s);
	free(img);
	free(scratch);
	twin_free(h->t);
}

/* The same over the USB byte stream; a USB build has no get_canbus_id. */
static void test_appid_usb_reads_the_dictionary(void **state)
{
	struct th *h = boot(IMAGE_IFACE_USB, 0, "CARTOGRAPHER V3 6.1.0");
	const struct appid_config cfg = {0};
	struct appdict d;
	struct appid *s;
	const uint8_t *dict;
	size_t dlen;

	(void)state;
	assert_int_equal(appid_new(&cfg, &s), 0);

	run_usb(h, s);

	assert_int_equal(appid_result(s), 0);
	dict = appid_dict(s, &dlen);
	assert_int_equal(appdict_read(dict, dlen, &d), 0);
	assert_string_equal(d.app.version, "CARTOGRAPHER V3 6.1.0");
	assert_int_equal(d.app.iface, IMAGE_IFACE_USB);
	assert_int_equal(d.get_canbus_id, -1);
	assert_int_equal(twin_get_mode(h->t), TWIN_MODE_APP);
	assert_false(twin_get_stats(h->t)->app_shutdown);
	appid_free(s);
	twin_free(h->t);
}

/* A node left by an earlier session expects another sequence number: the NAK is adopted. */
static void test_appid_second_session_adopts_the_mcu_sequence(void **state)
{
	struct th *h = boot(IMAGE_IFACE_CAN, 1000000, NULL);
	const struct appid_config cfg = {.ask_canbus_id = true};
	struct appid *a, *b;
	uint8_t uuid[6], node;

	(void)state;
	assign(h, NODE);
	assert_int_equal(appid_new(&cfg, &a), 0);
	run_can(h, a);
	assert_int_equal(appid_result(a), 0);
	assert_int_equal(appid_new(&cfg, &b), 0);

	run_can(h, b);

	assert_int_equal(appid_result(b), 0);
	assert_true(appid_canbus_id(b, uuid, &node));
	assert_memory_equal(uuid, th_uuid, 6);
	/* the first session sent 1 + dictionary chunks + 1 blocks: never 0 or 1 mod 16 here */
	assert_true(appid_stats(a)->blocks_sent % 16 > 1);
	assert_true(appid_stats(b)->naks >= 1);
	assert_false(twin_get_stats(h->t)->app_shutdown);
	appid_free(a);
	appid_free(b);
	twin_free(h->t);
}

/* Nobody answers: every request is tried APPID_TRIES times, then a timeout names identify. */
static void test_appid_silence_times_out(void **state)
{
	const struct appid_config cfg = {0};
	struct appid *s;
	const uint8_t *block;
	size_t len;
	uint64_t now = 0;
	unsigned sent = 0;

	(void)state;
	assert_int_equal(appid_new(&cfg, &s), 0);

	while (appid_state(s) != APPID_DONE) {
		if (appid_poll_tx(s, &block, &len) > 0) {
			appid_tx_done(s, now);
			sent++;
		}
		now = appid_deadline(s);
		appid_tick(s, now);
	}

	assert_int_equal(appid_result(s), CF_ERR_TIMEOUT);
	assert_int_equal(sent, APPID_TRIES);
	assert_string_equal(appid_failure(s)->stage, "identify");
	assert_non_null(strstr(appid_failure(s)->detail, "no answer to identify"));
	assert_null(appid_dict(s, &len));
	appid_free(s);
}

/* A corrupted block is skipped (resync after 0x7e); the next good answer is taken. */
static void test_appid_skips_a_corrupted_block(void **state)
{
	const struct appid_config cfg = {0};
	static const uint8_t data[3] = {0x78, 0xda, 0x01};
	uint8_t good[64], bad[64];
	size_t glen, blen;
	const uint8_t *block;
	size_t len;
	struct appid *s;

	(void)state;
	assert_int_equal(appid_new(&cfg, &s), 0);
	assert_int_equal(appid_poll_tx(s, &block, &len), 1);
	appid_tx_done(s, 0);
	assert_int_equal(klipper_build_identify_response(1, 0, data, 3, good, sizeof(good), &glen),
			 0);
	memcpy(bad, good, glen);
	blen = glen;
	bad[4] ^= 0x01;

	appid_feed(s, bad, blen, 10);
	appid_feed(s, good, glen, 20);

	assert_int_equal(appid_state(s), APPID_TX);
	assert_int_equal(appid_poll_tx(s, &block, &len), 1);
	/* the next request asks at offset 3 with the MCU's sequence number 1 */
	assert_int_equal(block[0], 0x08);
	assert_int_equal(block[1], 0x11);
	assert_int_equal(block[3], 3);
	assert_int_equal(appid_stats(s)->bad_blocks, 1);
	appid_free(s);
}

/* katapult.md §8.4: canbus_id canbus_uuid=%.*s canbus_nodeid=%u, ids from the dictionary. */
static void test_appid_canbus_id_codec(void **state)
{
	/* msgid 86, buffer of 6, node 224 as a 2-byte VLQ (0x81 0x60) */
	static const uint8_t good[] = {86, 6, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81, 0x60};
	static const uint8_t short_uuid[] = {86, 5, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x04};
	uint8_t uuid[6], node = 0, block[16];
	size_t len;

	(void)state;
	assert_int_equal(klipper_parse_canbus_id(good, sizeof(good), 86, uuid, &node), 0);
	assert_memory_equal(uuid, th_uuid, 6);
	assert_int_equal(node, 224);
	assert_int_equal(klipper_parse_canbus_id(good, sizeof(good), 87, uuid, &node),
			 CF_ERR_PROTOCOL);
	assert_int_equal(klipper_parse_canbus_id(good, 5, 86, uuid, &node), CF_ERR_FRAME);
	assert_int_equal(klipper_parse_canbus_id(good, sizeof(good) - 1, 86, uuid, &node),
			 CF_ERR_FRAME);
	assert_int_equal(klipper_parse_canbus_id(short_uuid, sizeof(short_uuid), 86, uuid, &node),
			 CF_ERR_PROTOCOL);
	/* get_canbus_id (id 9, no parameters), seq 3: len 6, 0x13, 09, crc, 7e */
	assert_int_equal(klipper_build_command(3, 9, block, sizeof(block), &len), 0);
	assert_int_equal(len, 6);
	assert_int_equal(block[0], 6);
	assert_int_equal(block[1], 0x13);
	assert_int_equal(block[2], 9);
	assert_int_equal(block[5], 0x7e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appid_first_block_is_spec_identify),
		cmocka_unit_test(test_appid_can_reads_the_installed_dictionary),
		cmocka_unit_test(test_appid_usb_reads_the_dictionary),
		cmocka_unit_test(test_appid_second_session_adopts_the_mcu_sequence),
		cmocka_unit_test(test_appid_silence_times_out),
		cmocka_unit_test(test_appid_skips_a_corrupted_block),
		cmocka_unit_test(test_appid_canbus_id_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
