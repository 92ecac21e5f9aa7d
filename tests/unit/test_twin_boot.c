/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The twin's boot rules, application personality, deployer and a full scripted CAN session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "protocol/katapult.h"
#include "protocol/klipper.h"
#include "tests/unit/test_twin_harness.h"

#define MS 1000ull

/* katapult.md §2.2 vectors for UUID e0ef270ca188 */
static const uint8_t query[1] = {0x00};
static const uint8_t req_boot[7] = {0x02, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88};
static const uint8_t set_kp_129[8] = {0x11, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x81};
static const uint8_t set_kl_4[8] = {0x01, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x04};

static struct twin *can_probe(double speed, bool app)
{
	struct twin *t = th_twin(speed, NULL);

	assert_non_null(t);
	assert_int_equal(th_install_katapult(t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	if (app)
		assert_int_equal(th_install_app(t, IMAGE_IFACE_CAN, 1000000, "Cartographer 4.0.0"),
				 0);
	return t;
}

static size_t admin_reply(struct th *h, uint8_t *out)
{
	return th_can_collect(h, CANBUS_ADMIN_RESP_ID, out, 8, 100 * MS);
}

static void test_twin_boot_valid_app_waits_double_reset_window(void **state)
{
	struct th h = {0};

	(void)state;
	h.t = can_probe(1.0, true);
	twin_power_on(h.t, 0);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_BOOTING);
	twin_advance(h.t, 499 * MS);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_BOOTING);

	twin_advance(h.t, 500 * MS);

	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	assert_int_equal(twin_get_iface(h.t), TWIN_IFACE_CAN);
	assert_int_equal(twin_get_can_bitrate(h.t), 1000000);
	twin_free(h.t);
}

static void test_twin_boot_double_reset_enters_katapult(void **state)
{
	struct twin *t = can_probe(1.0, true);

	(void)state;
	twin_power_on(t, 0);

	twin_reset(t, 200 * MS);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	twin_free(t);
}

/* §5: the application is "invalid" only when its first word is 0 or 0xFFFFFFFF. */
static void test_twin_boot_invalid_app_stays_in_katapult(void **state)
{
	static const uint8_t zero[4] = {0};
	struct twin *t = can_probe(0, false);

	(void)state;
	twin_power_on(t, 0);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	twin_power_off(t, 1);
	assert_int_equal(th_install_app(t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	assert_int_equal(twin_flash_write_raw(t, TWIN_APP_START, zero, 4), 0);

	twin_power_on(t, 2);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	twin_free(t);
}

static void test_twin_app_query_answers_klipper(void **state)
{
	static const uint8_t want[8] = {0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x01};
	struct th h = {0};
	uint8_t got[8];

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);

	th_can_frame(&h, CANBUS_ADMIN_ID, query, 1);

	assert_int_equal(admin_reply(&h, got), 8);
	assert_memory_equal(got, want, 8);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kl_4, 8); /* assigned nodes stay silent (§2.6) */
	th_can_frame(&h, CANBUS_ADMIN_ID, query, 1);
	assert_int_equal(admin_reply(&h, got), 0);
	twin_free(h.t);
}

/* §8.3: identify over CAN node 4 returns the installed image's dictionary, then an ACK. */
static void test_twin_app_identify_serves_installed_dictionary(void **state)
{
	static const uint8_t ident0[] = {0x08, 0x10, 0x01, 0x00, 0x28, 0x5e, 0x9f, 0x7e};
	static const uint8_t ack[] = {0x05, 0x11, 0x8f, 0x08, 0x7e};
	struct mkimage_app_opts o = {.version = "Cartographer 4.0.0"};
	struct th h = {0};
	uint8_t got[128], *zdict;
	size_t zlen, n;

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	assert_int_equal(mkimage_dictionary(&o, &zdict, &zlen), 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kl_4, 8);

	th_can_stream(&h, 0x108, ident0, sizeof(ident0));
	n = th_can_collect(&h, 0x109, got, 5 + 3 + 40 + 5, 100 * MS);

	assert_int_equal(n, 53);
	assert_int_equal(got[0], 48);
	assert_int_equal(got[1], 0x11);
	assert_memory_equal(got + 2, "\x00\x00\x28", 3); /* identify_response offset 0, 40 bytes */
	assert_memory_equal(got + 5, zdict, 40);
	assert_memory_equal(got + 48, ack, sizeof(ack));
	free(zdict);
	twin_free(h.t);
}

/* §8.1: a block with the wrong sequence is NAKed with the expected seq. */
static void test_twin_app_wrong_seq_is_naked(void **state)
{
	static const uint8_t ident1[] = {0x08, 0x11, 0x01, 0x28, 0x28, 0xaf, 0xd7, 0x7e};
	static const uint8_t nak0[] = {0x05, 0x10, 0x9e, 0x81, 0x7e};
	struct th h = {0};
	uint8_t got[16];

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kl_4, 8);

	th_can_stream(&h, 0x108, ident1, sizeof(ident1));

	assert_int_equal(th_can_collect(&h, 0x109, got, 5, 100 * MS), 5);
	assert_memory_equal(got, nak0, 5);
	twin_free(h.t);
}

static void test_twin_app_request_bootloader_enters_katapult(void **state)
{
	static const uint8_t want[8] = {0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x11};
	struct th h = {0};
	uint8_t got[8], wrong[7];

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	memcpy(wrong, req_boot, 7);
	wrong[6] ^= 1;
	th_can_frame(&h, CANBUS_ADMIN_ID, wrong, 7);
	th_step(&h);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);

	th_can_frame(&h, CANBUS_ADMIN_ID, req_boot, 7);
	th_step(&h);

	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_KATAPULT);
	th_can_frame(&h, CANBUS_ADMIN_ID, query, 1);
	assert_int_equal(admin_reply(&h, got), 8);
	assert_memory_equal(got, want, 8);
	/* §5 (c): a power cycle clears the RAM flag: back to the application */
	twin_power_cycle(h.t, h.now + 1);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	twin_free(h.t);
}

/* §1.3: COMPLETE -> ACK -> 100 ms -> application, with no double-reset window. */
static void test_twin_boot_complete_starts_app_after_100ms(void **state)
{
	static const uint8_t complete[] = {0x01, 0x88, 0x15, 0x00, 0x91, 0x1b, 0x99, 0x03};
	struct th h = {.node = 129};
	uint8_t got[16];
	uint64_t t0;

	(void)state;
	h.t = can_probe(1.0, true);
	twin_power_on(h.t, 0);
	twin_reset(h.t, 100 * MS);
	h.now = 100 * MS;
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kp_129, 8);
	assert_int_equal(th_kp(&h, complete, sizeof(complete), got, 12), 12);
	t0 = h.now;

	twin_advance(h.t, t0 + 99 * MS);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_KATAPULT);
	twin_advance(h.t, t0 + 101 * MS);

	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	twin_free(h.t);
}

static void test_twin_boot_blank_chip_and_boot0_give_rom_dfu(void **state)
{
	struct twin *t = th_twin(0, NULL);
	struct twin_usb_id id;

	(void)state;
	twin_power_on(t, 0);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_ROM_DFU);
	assert_true(twin_get_usb_id(t, &id));
	assert_int_equal(id.vid, 0x0483);
	assert_int_equal(id.pid, 0xdf11);
	twin_power_off(t, 1);
	assert_int_equal(th_install_katapult(t, IMAGE_IFACE_CAN, 1000000, NULL), 0);
	twin_set_boot0(t, true);
	twin_power_on(t, 2);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_ROM_DFU);

	twin_rom_dfu_leave(t, 3);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	twin_free(t);
}

static void flash_block(struct th *h, uint32_t addr, const uint8_t *data, uint8_t *reply)
{
	uint8_t frame[KATAPULT_SEND_BLOCK_FRAME_LEN];
	size_t len;

	assert_int_equal(katapult_build_send_block(addr, data, frame, sizeof(frame), &len), 0);
	th_kp(h, frame, len, reply, 16);
}

/* §5 (d): a power loss after block 0 leaves a valid-looking half image: the probe hangs. */
static void test_twin_boot_power_loss_mid_image_hangs(void **state)
{
	struct twin_faults f = {.power_loss_block = 2};
	struct th h = {.node = 129};
	uint8_t *img, reply[16];
	size_t len;

	(void)state;
	h.t = can_probe(0, false);
	twin_power_on(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kp_129, 8);
	assert_int_equal(th_make_app(IMAGE_IFACE_CAN, 1000000, NULL, &img, &len), 0);
	twin_set_faults(h.t, &f);
	flash_block(&h, 0x08002000, img, reply);

	flash_block(&h, 0x08002040, img + 64, reply);

	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_OFF);
	assert_int_equal(twin_get_stats(h.t)->power_losses, 1);
	assert_true(twin_app_is_valid(h.t)); /* valid-looking, half written */
	twin_power_on(h.t, 10);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_HUNG);
	free(img);
	twin_free(h.t);
}

/* §5 safer ordering: block 0 as 0xFF first keeps the image invalid: Katapult after power loss. */
static void test_twin_boot_power_loss_with_safer_ordering_stays_in_katapult(void **state)
{
	struct twin_faults f = {.power_loss_block = 3};
	struct th h = {.node = 129};
	uint8_t *img, reply[16], ff[64];
	size_t len;

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	twin_reset(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, req_boot, 7);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kl_4, 8);
	twin_power_off(h.t, 1); /* start over: old app installed, enter Katapult by request */
	twin_power_on(h.t, 2);
	th_can_frame(&h, CANBUS_ADMIN_ID, req_boot, 7);
	th_step(&h);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_KATAPULT);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kp_129, 8);
	assert_int_equal(th_make_app(IMAGE_IFACE_CAN, 1000000, NULL, &img, &len), 0);
	memset(ff, 0xff, sizeof(ff));
	twin_set_faults(h.t, &f);
	flash_block(&h, 0x08002000, ff, reply);
	flash_block(&h, 0x08002400, img + 0x400, reply);

	flash_block(&h, 0x08002440, img + 0x440, reply);

	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_OFF);
	assert_false(twin_app_is_valid(h.t));
	twin_power_on(h.t, h.now + 10);
	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_KATAPULT);
	free(img);
	twin_free(h.t);
}

/* §4: a deployer rewrites the bootloader region and comes back on the new Katapult's iface. */
static void test_twin_deployer_switches_usb_katapult_to_can(void **state)
{
	struct mkimage_deployer_opts o = {
	    .katapult = {.iface = IMAGE_IFACE_CAN, .bitrate = 1000000}};
	struct twin *t = th_twin(1.0, NULL);
	uint8_t *img;
	size_t len;
	uint64_t now = 0;

	(void)state;
	assert_int_equal(th_install_katapult(t, IMAGE_IFACE_USB, 0, NULL), 0);
	assert_int_equal(mkimage_deployer(&o, &img, &len), 0);
	assert_int_equal(twin_flash_write_raw(t, TWIN_APP_START, img, len), 0);
	twin_power_on(t, 0);
	while (twin_next_event_us(t) != UINT64_MAX && now < 10000 * MS) {
		now = twin_next_event_us(t);
		twin_advance(t, now);
	}

	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_iface(t), TWIN_IFACE_CAN);
	assert_int_equal(twin_get_can_bitrate(t), 1000000);
	assert_int_equal(twin_get_stats(t)->deployer_rewrites, 1);
	/* 100 ms wait, then 5 pages of ~22 ms erase + ~27 ms programming each */
	assert_true(now > 100 * MS + 5 * 22 * MS);
	/* §4: later boots find the flash equal and re-request Katapult without writing */
	twin_power_cycle(t, now + 1);
	for (int i = 0; i < 8 && twin_next_event_us(t) != UINT64_MAX; i++)
		twin_advance(t, twin_next_event_us(t));
	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_stats(t)->deployer_rewrites, 1);
	free(img);
	twin_free(t);
}

/* §3.3: USB application, 1200 baud then DTR low -> Katapult USB. */
static void test_twin_app_usb_1200_baud_requests_bootloader(void **state)
{
	struct twin *t = th_twin(0, NULL);
	struct twin_usb_id id;

	(void)state;
	assert_int_equal(th_install_katapult(t, IMAGE_IFACE_USB, 0, NULL), 0);
	assert_int_equal(th_install_app(t, IMAGE_IFACE_USB, 0, NULL), 0);
	twin_power_on(t, 0);
	assert_true(twin_get_usb_id(t, &id));
	assert_int_equal(id.pid, 0x614e);
	assert_string_equal(id.manufacturer, "Cartographer");
	assert_string_equal(id.product, "");

	twin_serial_line(t, 1200, true, true, 1);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_APP);
	twin_serial_line(t, 1200, false, true, 2);
	twin_advance(t, 3);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_true(twin_get_usb_id(t, &id));
	assert_int_equal(id.pid, 0x6177);
	twin_flash_erase_all(t);
	assert_int_equal(th_install_app(t, IMAGE_IFACE_USB, 0, NULL), 0);
	twin_power_cycle(t, 10);
	/* [I] no bootloader: the F04x empty check boots the ROM DFU bootloader */
	assert_int_equal(twin_get_mode(t), TWIN_MODE_ROM_DFU);
	twin_free(t);
}

/* Several twins on one in-process bus: distinct UUIDs, only the addressed one moves. */
static void test_twin_several_twins_have_distinct_uuids(void **state)
{
	struct twin *t[3];
	uint8_t uid[12], uuids[3][6], got[3][8];
	struct canbus_frame f = {.id = CANBUS_ADMIN_ID, .len = 1}, r;

	(void)state;
	for (int i = 0; i < 3; i++) {
		memcpy(uid, th_uid, 12);
		uid[11] = (uint8_t)(uid[11] + i);
		t[i] = th_twin(0, uid);
		assert_int_equal(th_install_katapult(t[i], IMAGE_IFACE_CAN, 1000000, NULL), 0);
		assert_int_equal(th_install_app(t[i], IMAGE_IFACE_CAN, 1000000, NULL), 0);
		twin_power_on(t[i], 0);
		twin_uuid(t[i], uuids[i]);
		twin_can_receive(t[i], &f, 1);
		assert_int_equal(twin_can_pop(t[i], 1, &r), 0);
		memcpy(got[i], r.data, 8);
	}
	assert_memory_equal(uuids[0], th_uuid, 6);
	assert_memory_not_equal(uuids[0], uuids[1], 6);
	assert_memory_not_equal(uuids[1], uuids[2], 6);
	assert_memory_not_equal(uuids[0], uuids[2], 6);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(got[i] + 1, uuids[i], 6);

	f.len = 7;
	f.data[0] = 0x02;
	memcpy(f.data + 1, uuids[1], 6);
	for (int i = 0; i < 3; i++) {
		twin_can_receive(t[i], &f, 2);
		twin_advance(t[i], 10);
	}

	assert_int_equal(twin_get_mode(t[0]), TWIN_MODE_APP);
	assert_int_equal(twin_get_mode(t[1]), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_mode(t[2]), TWIN_MODE_APP);
	for (int i = 0; i < 3; i++)
		twin_free(t[i]);
}

static void test_twin_flash_persists_to_file(void **state)
{
	char path[] = "/tmp/twin-test-XXXXXX";
	struct twin_config c = {.speed = 0};
	struct twin *t;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	memcpy(c.uid, th_uid, 12);
	c.flash_file = path;
	t = twin_new(&c);
	assert_int_equal(th_install_katapult(t, IMAGE_IFACE_CAN, 500000, NULL), 0);
	twin_free(t);

	t = twin_new(&c);
	twin_power_on(t, 0);

	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_can_bitrate(t), 500000);
	twin_free(t);
	unlink(path);
}

/* §8.4: get_canbus_id (id from the dictionary) answers canbus_id with the UUID and node id. */
static void test_twin_app_get_canbus_id_from_dictionary(void **state)
{
	/* mkimage dictionary: "get_canbus_id": 9, "canbus_id canbus_uuid=%.*s ...": 85 */
	static const uint8_t cmd[] = {0x09};
	static const uint8_t want[] = {0x55, 0x06, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x04};
	struct th h = {0};
	struct klipper_block b;
	uint8_t req[16], got[32];
	size_t n, used;

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kl_4, 8);
	assert_int_equal(klipper_block_encode(0, cmd, 1, req, sizeof(req), &n), 0);

	th_can_stream(&h, 0x108, req, n);

	assert_int_equal(th_can_collect(&h, 0x109, got, 14 + 5, 100 * MS), 19);
	assert_int_equal(klipper_block_find(got, 14, &used, &b), 1);
	assert_int_equal(b.content_len, sizeof(want));
	assert_memory_equal(b.content, want, sizeof(want));
	assert_false(twin_get_stats(h.t)->app_shutdown);
	twin_free(h.t);
}

/* §8.2: an id the dictionary does not list shuts the application down; identify still works. */
static void test_twin_app_unknown_command_shuts_down(void **state)
{
	static const uint8_t cmd[] = {0x7f}; /* msgid 127: not in the dictionary */
	struct th h = {0};
	uint8_t req[16], got[16];
	size_t n;

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	th_can_frame(&h, CANBUS_ADMIN_ID, set_kl_4, 8);
	assert_int_equal(klipper_block_encode(0, cmd, 1, req, sizeof(req), &n), 0);

	th_can_stream(&h, 0x108, req, n);

	assert_int_equal(th_can_collect(&h, 0x109, got, 5, 100 * MS), 5); /* the ACK */
	assert_true(twin_get_stats(h.t)->app_shutdown);
	twin_free(h.t);
}

/* §3.1: a 6.x application (dictionary "app") names the MCU as its USB product. */
static void test_twin_app_6x_usb_product_is_the_mcu(void **state)
{
	struct mkimage_app_opts o = {.iface = IMAGE_IFACE_USB,
				     .app_name = "Cartographer",
				     .version = "CARTOGRAPHER V3 6.1.0"};
	struct twin *t = th_twin(0, NULL);
	struct twin_usb_id id;
	uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(th_install_katapult(t, IMAGE_IFACE_USB, 0, NULL), 0);
	assert_int_equal(mkimage_app(&o, &img, &len), 0);
	assert_int_equal(twin_flash_write_raw(t, TWIN_APP_START, img, len), 0);

	twin_power_on(t, 0);

	assert_true(twin_get_usb_id(t, &id));
	assert_int_equal(id.pid, 0x614e);
	assert_string_equal(id.product, "stm32f042x6");
	free(img);
	twin_free(t);
}

/* twin_init_state: the starting states of the process front end. */
static void test_twin_init_states(void **state)
{
	struct twin *t = th_twin(0, NULL);
	struct twin_usb_id id;

	(void)state;
	assert_int_equal(twin_init_state(t, "app:usb::CARTOGRAPHER 5.1.0"), 0);
	twin_power_on(t, 0);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_APP);
	assert_true(twin_get_usb_id(t, &id) && id.pid == 0x614e);
	twin_power_off(t, 1);
	assert_int_equal(twin_init_state(t, "katapult:can:250000:v0.0.1-110-g902f335"), 0);
	assert_int_equal(twin_init_state(t, "app-only:can:250000"), 0);
	twin_power_on(t, 2);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_APP);
	assert_int_equal(twin_get_can_bitrate(t), 250000);
	twin_power_off(t, 3);
	assert_int_equal(twin_init_state(t, "blank"), 0);
	twin_power_on(t, 4);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_ROM_DFU);
	assert_int_equal(twin_init_state(t, "katapult-only"), 0);
	twin_power_cycle(t, 5);
	assert_int_equal(twin_get_mode(t), TWIN_MODE_KATAPULT);
	assert_int_equal(twin_get_can_bitrate(t), 1000000);
	assert_int_equal(twin_init_state(t, "app:serial"), CF_ERR_USAGE);
	assert_int_equal(twin_init_state(t, "nonsense"), CF_ERR_USAGE);
	assert_int_equal(twin_init_state(t, "file:0x08002000:/nonexistent/x.bin"), CF_ERR_NOINPUT);
	twin_free(t);
}

/* SEND_BLOCK every 64-byte block of img, padded with 0xFF as flashtool does (§1.8). */
static void session_write(struct th *h, const uint8_t *img, size_t len)
{
	uint8_t buf[128], blk[64];
	size_t n;

	for (size_t off = 0; off < len; off += 64) {
		memset(blk, 0xff, 64);
		memcpy(blk, img + off, len - off < 64 ? len - off : 64);
		assert_int_equal(katapult_build_send_block(0x08002000 + (uint32_t)off, blk, buf,
							   sizeof(buf), &n),
				 0);
		assert_int_equal(th_kp(h, buf, n, buf, 16), 16);
		assert_int_equal(buf[2], 0xa0);
	}
}

/* SEND_EOF (page count) and REQUEST_BLOCK read-back of every block. */
static void session_eof_and_read_back(struct th *h, const uint8_t *img, size_t len)
{
	uint8_t buf[128], data[64];
	uint32_t pages, addr;
	size_t n;

	assert_int_equal(katapult_build_send_eof(buf, sizeof(buf), &n), 0);
	assert_int_equal(th_kp(h, buf, n, buf, 16), 16);
	assert_int_equal(katapult_parse_eof_ack(buf + 8, 4, &pages), 0);
	assert_int_equal(pages, (len + 1023) / 1024);
	for (size_t off = 0; off < len; off += 64) {
		assert_int_equal(
		    katapult_build_request_block(0x08002000 + (uint32_t)off, buf, sizeof(buf), &n),
		    0);
		assert_int_equal(th_kp(h, buf, n, buf, 80), 80);
		assert_int_equal(katapult_parse_read_ack(buf + 8, 68, &addr, data), 0);
		assert_int_equal(addr, 0x08002000 + off);
		assert_memory_equal(data, img + off, len - off < 64 ? len - off : 64);
	}
}

/* The "done" scenario of the issue: old CAN application -> new one, scripted with protocol/. */
static void test_twin_session_old_can_app_to_new(void **state)
{
	struct th h = {.node = 129};
	struct canbus_frame f;
	struct katapult_parser p;
	struct katapult_frame kf;
	struct katapult_reply r;
	uint8_t buf[128], *img, uuid[6], app;
	size_t len, n, used;

	(void)state;
	h.t = can_probe(0, true);
	twin_power_on(h.t, 0);
	assert_int_equal(th_make_app(IMAGE_IFACE_CAN, 1000000, "CARTOGRAPHER 5.1.0", &img, &len),
			 0);
	canbus_build_query_unassigned(&f);
	twin_can_receive(h.t, &f, h.now);
	assert_int_equal(admin_reply(&h, buf), 8);
	canbus_build_request_bootloader(th_uuid, &f);
	twin_can_receive(h.t, &f, h.now);
	th_step(&h);
	canbus_build_set_katapult_nodeid(th_uuid, 129, &f);
	twin_can_receive(h.t, &f, h.now);
	katapult_parser_init(&p);

	assert_int_equal(katapult_build_connect(buf, sizeof(buf), &n), 0);
	n = th_kp(&h, buf, n, buf, 36);
	assert_int_equal(katapult_parser_feed(&p, buf, n, &used, &kf), 1);
	assert_int_equal(katapult_parse_reply(&kf, KATAPULT_CMD_CONNECT, &r), 0);
	session_write(&h, img, len);
	session_eof_and_read_back(&h, img, len);
	assert_int_equal(katapult_build_complete(buf, sizeof(buf), &n), 0);
	assert_int_equal(th_kp(&h, buf, n, buf, 12), 12);
	assert_int_equal(buf[2], 0xa0);
	for (int i = 0; i < 4; i++)
		th_step(&h);

	assert_int_equal(twin_get_mode(h.t), TWIN_MODE_APP);
	canbus_build_query_unassigned(&f);
	twin_can_receive(h.t, &f, h.now);
	assert_int_equal(th_can_collect(&h, CANBUS_ADMIN_RESP_ID, buf, 8, 100 * MS), 8);
	f.id = CANBUS_ADMIN_RESP_ID;
	f.len = 8;
	memcpy(f.data, buf, 8);
	assert_int_equal(canbus_parse_need_nodeid(&f, uuid, &app), 0);
	assert_memory_equal(uuid, th_uuid, 6);
	assert_int_equal(app, 0x01);
	assert_memory_equal(twin_flash(h.t, NULL) + 0x2000, img, len);
	free(img);
	twin_free(h.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_twin_boot_valid_app_waits_double_reset_window),
	    cmocka_unit_test(test_twin_boot_double_reset_enters_katapult),
	    cmocka_unit_test(test_twin_boot_invalid_app_stays_in_katapult),
	    cmocka_unit_test(test_twin_app_query_answers_klipper),
	    cmocka_unit_test(test_twin_app_identify_serves_installed_dictionary),
	    cmocka_unit_test(test_twin_app_wrong_seq_is_naked),
	    cmocka_unit_test(test_twin_app_get_canbus_id_from_dictionary),
	    cmocka_unit_test(test_twin_app_unknown_command_shuts_down),
	    cmocka_unit_test(test_twin_app_request_bootloader_enters_katapult),
	    cmocka_unit_test(test_twin_boot_complete_starts_app_after_100ms),
	    cmocka_unit_test(test_twin_boot_blank_chip_and_boot0_give_rom_dfu),
	    cmocka_unit_test(test_twin_boot_power_loss_mid_image_hangs),
	    cmocka_unit_test(test_twin_boot_power_loss_with_safer_ordering_stays_in_katapult),
	    cmocka_unit_test(test_twin_deployer_switches_usb_katapult_to_can),
	    cmocka_unit_test(test_twin_app_usb_1200_baud_requests_bootloader),
	    cmocka_unit_test(test_twin_several_twins_have_distinct_uuids),
	    cmocka_unit_test(test_twin_flash_persists_to_file),
	    cmocka_unit_test(test_twin_app_6x_usb_product_is_the_mcu),
	    cmocka_unit_test(test_twin_init_states),
	    cmocka_unit_test(test_twin_session_old_can_app_to_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
