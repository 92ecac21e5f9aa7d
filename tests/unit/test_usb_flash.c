// SPDX-License-Identifier: GPL-3.0-or-later
// The serial backend end to end in one process: the twin served on a pty, its USB port mirrored
// into a sysfs fixture tree, the updater steps run on the real loop and tty transport.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "failure.h"
#include "katapult/katapult.h"
#include "katapult/tty_entry.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"
#include "protocol/image.h"
#include "tools/mkimage/mkimage.h"
#include "tools/twin/sysfs_fixture.h"
#include "tools/twin/twin.h"
#include "updater.h"

#define SRV_TICK_US 1000u

/* katapult.md §2.3 vector: serial 16000C000F43304253373820 -> CAN UUID e0ef270ca188. */
static const uint8_t uid[12] = { 0x16, 0x00, 0x0c, 0x00, 0x0f, 0x43,
				 0x30, 0x42, 0x53, 0x37, 0x38, 0x20 };

/* The device side: the twin behind a pty master, as a CDC-ACM port the host opens. */
struct srv {
	struct twin *t;
	struct loop *loop;
	struct loop_timer tick;
	uint64_t t0;
	int master;
	char pts[64];
	bool touched;
	uint32_t enums;
	struct sysfs_fixture fx;
	uint8_t backlog[1024];
	size_t blen;
	uint32_t unplug_at_block; /* fault: the cable is pulled once this many blocks are written */
};

static uint64_t srv_now(const struct srv *s)
{
	return cf_now_us() - s->t0;
}

/* The port re-enumerates: the old tty vanishes, a new pty stands for the new ttyACM. */
static void srv_reenumerate(struct srv *s)
{
	struct twin_usb_id id;
	int slave;

	if (s->master >= 0)
		close(s->master);
	s->master = -1;
	s->touched = false;
	s->blen = 0;
	s->enums = twin_get_stats(s->t)->usb_enumerations;
	assert_int_equal(sysfs_fixture_update(&s->fx, NULL, NULL), 0);
	if (!twin_get_usb_id(s->t, &id))
		return;
	if (twin_get_mode(s->t) == TWIN_MODE_ROM_DFU) {
		assert_int_equal(sysfs_fixture_update(&s->fx, &id, NULL), 0);
		return;
	}
	assert_int_equal(openpty(&s->master, &slave, s->pts, NULL, NULL), 0);
	close(slave);
	fcntl(s->master, F_SETFL, O_NONBLOCK);
	assert_int_equal(sysfs_fixture_update(&s->fx, &id, s->pts), 0);
}

static void srv_io(struct srv *s, uint64_t now)
{
	struct termios tio;
	uint8_t out[512];
	ssize_t n;
	size_t took;

	/* dfu.md §5.1: a pty shows the host's baud rate, not DTR; 1200 then close is the touch. */
	if (!s->touched && tcgetattr(s->master, &tio) == 0 && cfgetospeed(&tio) == B1200) {
		s->touched = true;
		twin_serial_line(s->t, 1200, false, false, now);
	}
	n = read(s->master, s->backlog + s->blen, sizeof(s->backlog) - s->blen);
	if (n > 0)
		s->blen += (size_t)n;
	took = s->blen ? twin_serial_receive(s->t, s->backlog, s->blen, now) : 0;
	memmove(s->backlog, s->backlog + took, s->blen - took);
	s->blen -= took;
	n = (ssize_t)twin_serial_pop(s->t, now, out, sizeof(out));
	if (n > 0)
		assert_int_equal(write(s->master, out, (size_t)n), n);
}

static void srv_tick(struct loop_timer *timer, uint64_t now_us)
{
	struct srv *s = (struct srv *)((char *)timer - offsetof(struct srv, tick));
	const uint64_t now = srv_now(s);

	twin_advance(s->t, now);
	if (s->master >= 0)
		srv_io(s, now);
	if (s->unplug_at_block && twin_get_stats(s->t)->blocks_written >= s->unplug_at_block) {
		s->unplug_at_block = 0;
		twin_power_off(s->t, now);
	}
	if (twin_get_stats(s->t)->usb_enumerations != s->enums ||
	    (s->master >= 0 && twin_get_iface(s->t) != TWIN_IFACE_USB))
		srv_reenumerate(s);
	loop_arm(s->loop, &s->tick, now_us + SRV_TICK_US);
}

static void install(struct twin *t, uint32_t addr, int rc, uint8_t *img, size_t len)
{
	assert_int_equal(rc, 0);
	assert_int_equal(twin_flash_write_raw(t, addr, img, len), 0);
	free(img);
}

/* A USB Cartographer: Katapult USB, and the old application unless katapult_only. */
static void srv_start(struct srv *s, struct loop *loop, bool katapult_only, bool boot0)
{
	struct mkimage_katapult_opts ko = { .iface = IMAGE_IFACE_USB };
	struct mkimage_app_opts ao = { .iface = IMAGE_IFACE_USB, .version = "CARTOGRAPHER 5.0.0" };
	struct twin_config c = { .speed = 0 };
	char root[64] = "/tmp/cf-usbflash-XXXXXX";
	uint8_t *img;
	size_t len;
	int rc;

	memset(s, 0, sizeof(*s));
	memcpy(c.uid, uid, sizeof(uid));
	s->t = twin_new(&c);
	assert_non_null(s->t);
	rc = mkimage_katapult(&ko, &img, &len);
	install(s->t, TWIN_FLASH_BASE, rc, img, len);
	if (!katapult_only) {
		rc = mkimage_app(&ao, &img, &len);
		install(s->t, TWIN_APP_START, rc, img, len);
	}
	assert_non_null(mkdtemp(root));
	setenv("CARTOFLASH_SYSFS_ROOT", root, 1);
	assert_true(sysfs_fixture_from_env(&s->fx));
	s->loop = loop;
	s->master = -1;
	s->t0 = cf_now_us();
	twin_set_boot0(s->t, boot0);
	twin_power_on(s->t, 0);
	twin_advance(s->t, 1000000); /* past the double-reset window */
	s->t0 -= 1000000;
	srv_reenumerate(s);
	s->tick.fire = srv_tick;
	loop_arm(loop, &s->tick, cf_now_us() + SRV_TICK_US);
}

static void srv_stop(struct srv *s)
{
	char cmd[320];

	loop_disarm(s->loop, &s->tick);
	if (s->master >= 0)
		close(s->master);
	twin_free(s->t);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->fx.root);
	assert_int_equal(system(cmd), 0);
	unsetenv("CARTOFLASH_SYSFS_ROOT");
}

/* ---- the host side ---- */

struct host {
	struct loop *loop;
	struct updater *u;
	bool done;
	int err;
	uint8_t *image;
	size_t image_len;
	struct image_info info;
	struct srv *unplug_in_verify; /* fault: the cable is pulled once verify read back 4 KiB */
};

static void step_done(void *ctx, struct updater *u, int err)
{
	struct host *h = ctx;

	(void)u;
	h->done = true;
	h->err = err;
}

static void progress(void *ctx, struct updater *u, const char *stage, size_t done, size_t total)
{
	struct host *h = ctx;
	struct srv *s = h->unplug_in_verify;

	(void)u;
	(void)total;
	if (s && !strcmp(stage, "verify") && done >= 4096) {
		h->unplug_in_verify = NULL;
		twin_power_off(s->t, srv_now(s));
	}
}

static int run_step(struct host *h, enum updater_step step)
{
	const uint64_t give_up = cf_now_us() + 30000000u;
	int err;

	h->done = false;
	err = updater_start_step(h->u, step);
	if (err < 0)
		return err;
	while (!h->done && cf_now_us() < give_up)
		loop_run_once(h->loop, 100000u);
	assert_true(h->done);
	return h->err;
}

static void host_open(struct host *h, struct loop *loop, const char *tty, const char *version,
		      enum image_iface iface)
{
	struct mkimage_app_opts ao = { .iface = iface, .version = version, .size = 22 * 1024 };
	struct updater_config cfg = { .ops = &katapult_ops, .loop = loop };
	uint8_t *scratch = malloc(IMAGE_SCRATCH_SIZE);

	memset(h, 0, sizeof(*h));
	h->loop = loop;
	assert_int_equal(mkimage_app(&ao, &h->image, &h->image_len), 0);
	assert_non_null(scratch);
	assert_int_equal(image_inspect(h->image, h->image_len, scratch, IMAGE_SCRATCH_SIZE,
				       &h->info),
			 0);
	free(scratch);
	cfg.events = (struct updater_events){ .ctx = h, .step_done = step_done,
					      .progress = progress };
	snprintf(cfg.target.tty, sizeof(cfg.target.tty), "%s", tty);
	cfg.target.node_id = -1;
	cfg.target.link = IDENTITY_LINK_TTY;
	cfg.image = h->image;
	cfg.image_len = h->image_len;
	cfg.image_info = &h->info;
	h->u = updater_new(&cfg);
	assert_non_null(h->u);
}

static void host_close(struct host *h)
{
	updater_free(h->u);
	free(h->image);
}

static void test_serial_flash_from_application_comes_back_with_same_serial(void **state)
{
	struct loop *loop = loop_new();
	const struct device_identity *id;
	struct srv s;
	struct host h;
	size_t flen;

	(void)state;
	srv_start(&s, loop, false, false);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	host_open(&h, loop, s.pts, "CARTOGRAPHER 5.1.0", IMAGE_IFACE_USB);

	assert_int_equal(run_step(&h, UPDATER_IDENTIFY), CF_OK);
	id = updater_identity(h.u);
	assert_int_equal(id->mode, DEVICE_MODE_KATAPULT);
	assert_string_equal(id->tty, s.pts); /* the new tty after re-enumeration */
	assert_string_equal(id->uid_hex, "16000C000F43304253373820");
	assert_string_equal(id->can_uuid, "e0ef270ca188");
	assert_string_equal(id->usb_path, "1-1.3");
	assert_string_equal(id->mcu, "stm32f042x6");
	assert_int_equal(twin_get_stats(s.t)->bootloader_requests, 1);
	assert_int_equal(run_step(&h, UPDATER_CHECK_IMAGE), CF_OK);
	assert_int_equal(twin_get_stats(s.t)->blocks_written, 0);
	assert_int_equal(run_step(&h, UPDATER_WRITE), CF_OK);
	assert_int_equal(run_step(&h, UPDATER_VERIFY), CF_OK);
	assert_int_equal(twin_get_stats(s.t)->completes, 0); /* design.md rule 2: not yet */
	assert_int_equal(run_step(&h, UPDATER_FINISH), CF_OK);

	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	assert_int_equal(twin_get_stats(s.t)->completes, 1);
	assert_memory_equal(twin_flash(s.t, &flen) + (TWIN_APP_START - TWIN_FLASH_BASE), h.image,
			    h.image_len);
	assert_int_equal(id->mode, DEVICE_MODE_APPLICATION);
	assert_string_equal(id->uid_hex, "16000C000F43304253373820");
	assert_string_equal(id->tty, s.pts);
	host_close(&h);
	srv_stop(&s);
	loop_free(loop);
}

static void test_serial_katapult_is_used_without_a_request(void **state)
{
	struct loop *loop = loop_new();
	struct srv s;
	struct host h;

	(void)state;
	srv_start(&s, loop, true, false);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_KATAPULT);
	host_open(&h, loop, "auto", "CARTOGRAPHER 5.1.0", IMAGE_IFACE_USB);

	assert_int_equal(run_step(&h, UPDATER_IDENTIFY), CF_OK);
	assert_int_equal(run_step(&h, UPDATER_CHECK_IMAGE), CF_OK);
	assert_int_equal(run_step(&h, UPDATER_WRITE), CF_OK);

	assert_int_equal(twin_get_stats(s.t)->bootloader_requests, 0);
	assert_string_equal(updater_identity(h.u)->tty, s.pts); /* found by --serial auto */
	assert_true(twin_get_stats(s.t)->blocks_written >= h.image_len / 64);
	host_close(&h);
	srv_stop(&s);
	loop_free(loop);
}

static void test_serial_rom_dfu_is_refused_with_the_recover_hint(void **state)
{
	struct loop *loop = loop_new();
	struct srv s;
	struct host h;
	const struct cf_failure *why;

	(void)state;
	srv_start(&s, loop, false, true); /* BOOT0 high: the ROM bootloader */
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_ROM_DFU);
	host_open(&h, loop, "auto", "CARTOGRAPHER 5.1.0", IMAGE_IFACE_USB);

	assert_int_equal(updater_start_step(h.u, UPDATER_IDENTIFY), CF_ERR_NOT_SUPPORTED);

	why = updater_failure(h.u);
	assert_non_null(strstr(why->detail, "ROM DFU"));
	assert_non_null(strstr(why->hint, "cartoflash recover --path 1-1.3"));
	host_close(&h);
	srv_stop(&s);
	loop_free(loop);
}

static void test_serial_can_image_on_usb_probe_is_refused_before_writing(void **state)
{
	struct loop *loop = loop_new();
	struct srv s;
	struct host h;
	const struct cf_failure *why;

	(void)state;
	srv_start(&s, loop, true, false);
	host_open(&h, loop, s.pts, "CARTOGRAPHER 5.1.0", IMAGE_IFACE_CAN);
	assert_int_equal(run_step(&h, UPDATER_IDENTIFY), CF_OK);

	assert_int_equal(run_step(&h, UPDATER_CHECK_IMAGE), CF_ERR_REFUSED);

	why = updater_failure(h.u);
	assert_string_equal(why->stage, "check"); /* images.md R4: interface change */
	assert_non_null(strstr(why->detail, "refusal R4: interface"));
	assert_non_null(strstr(why->device, "e0ef270ca188"));
	assert_int_equal(twin_get_stats(s.t)->blocks_written, 0);
	host_close(&h);
	srv_stop(&s);
	loop_free(loop);
}

static void test_serial_unplug_mid_write_says_it_stays_in_katapult(void **state)
{
	struct loop *loop = loop_new();
	struct srv s;
	struct host h;
	const struct cf_failure *why;

	(void)state;
	srv_start(&s, loop, true, false);
	host_open(&h, loop, s.pts, "CARTOGRAPHER 5.1.0", IMAGE_IFACE_USB);
	assert_int_equal(run_step(&h, UPDATER_IDENTIFY), CF_OK);
	s.unplug_at_block = 40;

	assert_int_equal(run_step(&h, UPDATER_WRITE), CF_ERR_NO_DEVICE);

	why = updater_failure(h.u);
	assert_string_equal(why->stage, "write");
	assert_non_null(strstr(why->detail, "disconnected"));
	assert_non_null(strstr(why->hint, "stays in Katapult"));
	assert_int_equal(twin_get_stats(s.t)->completes, 0);
	host_close(&h);
	srv_stop(&s);
	loop_free(loop);
}

/* Issue 10: a channel that breaks under a session fails in the stage its stage events named. */
static void test_serial_unplug_mid_verify_fails_in_verify(void **state)
{
	struct loop *loop = loop_new();
	struct srv s;
	struct host h;
	const struct cf_failure *why;
	char text[512];

	(void)state;
	srv_start(&s, loop, true, false);
	host_open(&h, loop, s.pts, "CARTOGRAPHER 5.1.0", IMAGE_IFACE_USB);
	/* cartoflash verify: the probe holds the image already, the step reads it back. */
	assert_int_equal(twin_flash_write_raw(s.t, TWIN_APP_START, h.image, h.image_len), 0);
	assert_int_equal(run_step(&h, UPDATER_IDENTIFY), CF_OK);
	h.unplug_in_verify = &s;

	assert_int_equal(run_step(&h, UPDATER_VERIFY), CF_ERR_NO_DEVICE);

	why = updater_failure(h.u);
	assert_null(h.unplug_in_verify);
	assert_string_equal(why->stage, "verify");
	assert_non_null(strstr(why->detail, "disconnected"));
	cf_failure_format(why, text, sizeof(text));
	assert_non_null(strstr(text, ": verify: the probe disconnected"));
	assert_null(strstr(text, "write:"));
	host_close(&h);
	srv_stop(&s);
	loop_free(loop);
}

/* Ctrl-C mid-write: the session stops after the command in flight, COMPLETE is never sent,
 * and the rerun (a new updater, as a new process would be) finishes the job. */
static void test_serial_cancel_mid_write_then_resume(void **state)
{
	struct loop *loop = loop_new();
	const uint64_t give_up = cf_now_us() + 30000000u;
	struct srv s;
	struct host h;
	size_t flen;

	(void)state;
	srv_start(&s, loop, true, false);
	host_open(&h, loop, s.pts, "CARTOGRAPHER 5.1.0", IMAGE_IFACE_USB);
	assert_int_equal(run_step(&h, UPDATER_IDENTIFY), CF_OK);
	h.done = false;
	assert_int_equal(updater_start_step(h.u, UPDATER_WRITE), CF_OK);
	while (twin_get_stats(s.t)->blocks_written < 50 && cf_now_us() < give_up)
		loop_run_once(loop, 100000u);

	updater_cancel(h.u);
	while (!h.done && cf_now_us() < give_up)
		loop_run_once(loop, 100000u);

	assert_int_equal(h.err, CF_ERR_INTERRUPTED);
	assert_int_equal(twin_get_stats(s.t)->completes, 0);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_KATAPULT);
	host_close(&h);

	host_open(&h, loop, "auto", "CARTOGRAPHER 5.1.0", IMAGE_IFACE_USB);
	assert_int_equal(run_step(&h, UPDATER_IDENTIFY), CF_OK);
	assert_int_equal(run_step(&h, UPDATER_WRITE), CF_OK);
	assert_int_equal(run_step(&h, UPDATER_FINISH), CF_OK);
	assert_memory_equal(twin_flash(s.t, &flen) + (TWIN_APP_START - TWIN_FLASH_BASE), h.image,
			    h.image_len);
	assert_int_equal(twin_get_mode(s.t), TWIN_MODE_APP);
	host_close(&h);
	srv_stop(&s);
	loop_free(loop);
}

/* `--serial auto` needs exactly one probe-like device (identify fails before any I/O). */
static int identify_auto(const char *root, struct cf_failure *out)
{
	struct updater_config cfg = { .ops = &katapult_ops };
	struct loop *loop = loop_new();
	struct updater *u;
	int err;

	cfg.loop = loop;
	snprintf(cfg.target.tty, sizeof(cfg.target.tty), "auto");
	cfg.target.link = IDENTITY_LINK_TTY;
	setenv("CARTOFLASH_SYSFS_ROOT", root, 1);
	u = updater_new(&cfg);
	assert_non_null(u);
	err = updater_start_step(u, UPDATER_IDENTIFY);
	*out = *updater_failure(u);
	updater_free(u);
	loop_free(loop);
	unsetenv("CARTOFLASH_SYSFS_ROOT");
	return err;
}

static void test_serial_auto_with_several_probes_names_them(void **state)
{
	struct cf_failure why;

	(void)state;
	assert_int_equal(identify_auto("tests/fixtures/sysfs/bench", &why), CF_ERR_USAGE);

	assert_non_null(strstr(why.detail, "needs exactly one probe"));
	assert_non_null(strstr(why.detail, "/dev/ttyACM0 (cartographer)"));
	assert_non_null(strstr(why.detail, "/dev/ttyACM1 (katapult)"));
	assert_non_null(strstr(why.detail, "1-1.3 (rom_dfu)"));
	assert_null(strstr(why.detail, "ttyACM2")); /* a Klipper mainboard is never picked */
	assert_non_null(strstr(why.hint, "--serial /dev/ttyACMx"));
}

static void test_serial_auto_without_probe_is_no_device(void **state)
{
	struct cf_failure why;

	(void)state;
	assert_int_equal(identify_auto("/nonexistent-sysfs", &why), CF_ERR_NO_DEVICE);
	assert_non_null(strstr(why.detail, "no Cartographer or Katapult USB device found"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_flash_from_application_comes_back_with_same_serial),
		cmocka_unit_test(test_serial_katapult_is_used_without_a_request),
		cmocka_unit_test(test_serial_rom_dfu_is_refused_with_the_recover_hint),
		cmocka_unit_test(test_serial_can_image_on_usb_probe_is_refused_before_writing),
		cmocka_unit_test(test_serial_unplug_mid_write_says_it_stays_in_katapult),
		cmocka_unit_test(test_serial_unplug_mid_verify_fails_in_verify),
		cmocka_unit_test(test_serial_cancel_mid_write_then_resume),
		cmocka_unit_test(test_serial_auto_with_several_probes_names_them),
		cmocka_unit_test(test_serial_auto_without_probe_is_no_device),
	};

	cf_log_set_level(getenv("CF_TEST_DEBUG") ? CF_LOG_DEBUG : CF_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
