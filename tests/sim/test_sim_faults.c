// SPDX-License-Identifier: GPL-3.0-or-later
// Thousands of seeded fault schedules against the twin; design.md rules 1-3 checked after each.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "failure.h"
#include "sim_harness.h"

/* SIM_SEED=n SIM_SCHEDULES=1 reruns one printed seed. */
#define SCHEDULES 2000u
#define FIRST_SEED 1u

static uint32_t env_u32(const char *name, uint32_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? (uint32_t)strtoul(v, NULL, 0) : dflt;
}

/* Images built once: Katapult for each interface, an old application for each. */
static struct {
	uint8_t *kp[2], *old[2];
	size_t kp_len[2], old_len[2];
} Img;

enum fault_kind {
	FK_DROP_RX,
	FK_CORRUPT_RX,
	FK_DROP_TX,
	FK_CORRUPT_TX,
	FK_DELAY_TX,
	FK_POWER_BLOCK,
	FK_POWER_ERASE,
	FK_BUSY,
	FK_TX_MIX, /* drop, corrupt and delay device->host together */
	FK_CANCEL, /* the user presses Ctrl-C after some frame */
	FK_LATE_LOST, /* a reply late past the timeout, and a frame lost near it */
	FK_CORRUPT_FLASH, /* a bit flips in flash after Katapult's compare: only verify sees it */
	FK_COUNT,
};

static const char *const fault_names[] = {
	[FK_DROP_RX] = "drop_rx",	    [FK_CORRUPT_RX] = "corrupt_rx",
	[FK_DROP_TX] = "drop_tx",	    [FK_CORRUPT_TX] = "corrupt_tx",
	[FK_DELAY_TX] = "delay_tx",	    [FK_POWER_BLOCK] = "power_loss_block",
	[FK_POWER_ERASE] = "power_loss_erase", [FK_BUSY] = "busy",
	[FK_TX_MIX] = "tx_mix",		    [FK_CANCEL] = "cancel",
	[FK_LATE_LOST] = "late_and_lost",   [FK_CORRUPT_FLASH] = "corrupt_flash",
};

struct schedule {
	uint32_t seed;
	enum fault_kind kind;
	bool usb;
	size_t img_len;
	struct twin_faults faults;
	unsigned busy_at;   /* FK_BUSY: frame after which BUSY replies start */
	unsigned cancel_at; /* FK_CANCEL: frame after which the engine is cancelled */
	bool stale_pages;   /* old flash with data behind erased first quarters (§1.6) */
	char desc[300];
};

/* Counts over all schedules, printed at the end so a reader sees what was covered. */
static struct {
	unsigned runs, ok_first, wedged, power_losses, window, invalid_after_loss, old_after_loss,
		new_after_loss, reruns, completes_unacked, stalled_out, cancelled, invalidated,
		stale_runs, reerased, verify_caught, late_lost, same_address;
} Tally;

static int setup_images(void **state)
{
	struct mkimage_katapult_opts ko;
	struct mkimage_app_opts ao;

	(void)state;
	for (int usb = 0; usb < 2; usb++) {
		memset(&ko, 0, sizeof(ko));
		ko.iface = usb ? IMAGE_IFACE_USB : IMAGE_IFACE_CAN;
		memset(&ao, 0, sizeof(ao));
		ao.iface = ko.iface;
		ao.version = "CARTOGRAPHER 5.0.0";
		if (mkimage_katapult(&ko, &Img.kp[usb], &Img.kp_len[usb]) ||
		    mkimage_app(&ao, &Img.old[usb], &Img.old_len[usb]))
			return -1;
	}
	return 0;
}

static int teardown_images(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		free(Img.kp[i]);
		free(Img.old[i]);
	}
	return 0;
}

/*
 * A fresh twin on its old application, entered into Katapult. Its clock runs at 1 % of the
 * datasheet figures: flash work takes time (replies wait for erases) and the double-reset
 * window exists, which recovery from a half-written page 0 needs.
 */
static void open_twin(struct sim *s, bool usb)
{
	struct twin_config c;

	memset(s, 0, sizeof(*s));
	sim_twin_config(&c, 0.01);
	s->usb = usb;
	s->t = twin_new(&c);
	assert_non_null(s->t);
	assert_int_equal(sim_install(s, TWIN_FLASH_BASE, Img.kp[usb], Img.kp_len[usb]), 0);
	assert_int_equal(sim_install(s, TWIN_APP_START, Img.old[usb], Img.old_len[usb]), 0);
	twin_power_on(s->t, s->now);
	sim_settle(s, 1000000);
	sim_snapshot(s);
	assert_true(sim_enter_katapult(s));
}

/*
 * katapult.md §1.6: old flash Katapult's quarter checks miss. Every second page of the
 * application area gets an erased first quarter with data behind it (page 0 keeps the old
 * vector table, so the old application stays valid); the snapshot is taken again.
 */
static void hide_old_data(struct sim *s, uint32_t seed)
{
	const uint32_t page = twin_mcu(s->t)->page_size;
	size_t flash_len;
	uint8_t *app = twin_flash_mut(s->t, &flash_len) + SIM_APP_OFF;
	const size_t room = flash_len - SIM_APP_OFF;

	for (size_t p = page; p + page <= room; p += 2 * page) {
		for (size_t i = page / 4; i < page; i++)
			if (app[p + i] == 0xff)
				app[p + i] = (uint8_t)(0x40 | (sim_rand(&seed) & 0x3f));
		memset(app + p, 0xff, page / 4);
	}
	twin_flash_changed(s->t, SIM_APP_OFF, room);
	sim_snapshot(s);
}

/* An application-like image: a plausible vector table, then seeded bytes. */
static void make_raw_image(struct sim *s, uint32_t *rng, size_t len)
{
	uint8_t *img = malloc(len);

	assert_non_null(img);
	for (size_t i = 0; i < len; i++)
		img[i] = (uint8_t)sim_rand(rng);
	cf_put_le32(img, 0x20001800u);
	cf_put_le32(img + 4, TWIN_APP_START + 0x1b9u);
	sim_set_image(s, img, len);
}

/* The faults of one kind at a seeded place: frame numbers span the whole session. */
static void pick_faults(struct schedule *sc, uint32_t *r, size_t blocks)
{
	/* frames the engine sends: CONNECT (+ prime or GET_CANBUS_ID), n + 1 writes, EOF, n
	 * reads, COMPLETE; on CAN about 10 bus frames per block command. */
	const uint32_t frames = (uint32_t)(2 * blocks + 5);
	const uint32_t rx_span = sc->usb ? 2 * frames : 10 * frames;
	const uint32_t tx_span = sc->usb ? frames : 6 * frames;
	struct twin_faults *f = &sc->faults;

	switch (sc->kind) {
	case FK_DROP_RX:
		f->drop_rx = 1 + sim_rand(r) % rx_span;
		break;
	case FK_CORRUPT_RX:
		f->corrupt_rx = 1 + sim_rand(r) % rx_span;
		break;
	case FK_DROP_TX:
		f->drop_tx = 1 + sim_rand(r) % tx_span;
		break;
	case FK_CORRUPT_TX:
		f->corrupt_tx = 1 + sim_rand(r) % tx_span;
		break;
	case FK_DELAY_TX:
		f->delay_tx = 1 + sim_rand(r) % tx_span;
		f->delay_us = 1000 + sim_rand(r) % 6000000;
		break;
	case FK_POWER_BLOCK:
		f->power_loss_block = 1 + sim_rand(r) % (uint32_t)(blocks + 2);
		break;
	case FK_POWER_ERASE:
		f->power_loss_erase = 1 + sim_rand(r) % (uint32_t)(blocks / 16 + 2);
		break;
	case FK_BUSY:
		f->busy_replies = 1 + sim_rand(r) % 3;
		sc->busy_at = sim_rand(r) % frames;
		break;
	case FK_TX_MIX:
		f->drop_tx = 1 + sim_rand(r) % (3 * frames);
		f->corrupt_tx = 1 + sim_rand(r) % (3 * frames);
		f->delay_tx = 1 + sim_rand(r) % (3 * frames);
		f->delay_us = sim_rand(r) % 3000000;
		break;
	case FK_CANCEL:
		sc->cancel_at = 1 + sim_rand(r) % frames;
		break;
	case FK_LATE_LOST:
		/* A reply late past the reply timeout (2 s; SEND_BLOCK 5 s), so the command was
		 * resent and the late ACK lands while a later command waits: with a lost reply
		 * near it, or with a host->device frame lost just behind it (that later command,
		 * whose ACK must not be taken from the late one). */
		f->delay_tx = 1 + sim_rand(r) % tx_span;
		if (sim_rand(r) % 3 == 0) {
			f->delay_us = 2100000 + sim_rand(r) % 7000000;
			f->drop_tx = f->delay_tx + 1 + sim_rand(r) % 3;
			break;
		}
		/* Aimed: a slow SEND_BLOCK answers after the engine resent it; the ACK of the
		 * resend comes late, while the next block waits -- and that next block's first
		 * frame is lost (USB: its first of 2 packets; CAN: its first of 10 frames).
		 * Taking the duplicate ACK as the next block's would leave that block unwritten. */
		f->delay_tx = 0;
		f->slow_block = 1 + sim_rand(r) % (uint32_t)(blocks + 1);
		f->delay_us = 5800000 + sim_rand(r) % 4500000;
		f->late_next_us = 1000 + sim_rand(r) % 3000000;
		f->drop_rx_after_delay = sc->usb ? 3 : 11;
		break;
	case FK_CORRUPT_FLASH:
		f->corrupt_flash = 1 + sim_rand(r) % (uint32_t)(blocks + 1);
		if (sim_rand(r) % 2) {
			f->delay_tx = 1 + sim_rand(r) % tx_span;
			f->delay_us = 2100000 + sim_rand(r) % 5000000;
		}
		break;
	case FK_COUNT:
		break;
	}
}

static void make_schedule(struct schedule *sc, uint32_t seed)
{
	uint32_t r = seed * 2654435761u + 0x9e3779b9u;
	const struct twin_faults *f = &sc->faults;

	memset(sc, 0, sizeof(*sc));
	sc->seed = seed;
	sim_rand(&r);
	sc->usb = sim_rand(&r) % 4 == 0;
	sc->img_len = 640 + sim_rand(&r) % 4500;
	sc->kind = (enum fault_kind)(sim_rand(&r) % FK_COUNT);
	sc->stale_pages = sim_rand(&r) % 3 == 0;
	pick_faults(sc, &r, (sc->img_len + 63) / 64);
	snprintf(sc->desc, sizeof(sc->desc),
		 "%s %s%s image %zu B drop_rx %u corrupt_rx %u drop_tx %u corrupt_tx %u "
		 "delay_tx %u/%lluus pl_block %u pl_erase %u busy %u@%u cancel@%u corrupt_flash %u "
		 "slow_block %u drop_rx_after_delay %u",
		 sc->usb ? "usb" : "can", fault_names[sc->kind],
		 sc->stale_pages ? " stale-pages" : "", sc->img_len, f->drop_rx, f->corrupt_rx,
		 f->drop_tx, f->corrupt_tx, f->delay_tx, (unsigned long long)f->delay_us,
		 f->power_loss_block, f->power_loss_erase, f->busy_replies, sc->busy_at,
		 sc->cancel_at, f->corrupt_flash, f->slow_block, f->drop_rx_after_delay);
}

static void busy_hook(struct sim *s, unsigned n, const uint8_t *frame, size_t len)
{
	const struct schedule *sc = s->hook_ctx;
	struct twin_faults f;

	(void)frame, (void)len;
	if (n != sc->busy_at)
		return;
	memset(&f, 0, sizeof(f));
	f.busy_replies = sc->faults.busy_replies;
	twin_set_faults(s->t, &f);
}

#define CHECK(cond, sc, ...)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			print_error("seed %u (%s): ", (sc)->seed, (sc)->desc);                    \
			fail_msg(__VA_ARGS__);                                                     \
		}                                                                                  \
	} while (0)

static bool host_to_device_fault(const struct schedule *sc)
{
	return sc->faults.drop_rx || sc->faults.corrupt_rx || sc->faults.drop_rx_after_delay;
}

/* design.md rules 1 and 2 after a session, whatever its result. */
static void check_rules_1_2(struct sim *s, const struct schedule *sc, int rc,
			    const struct cf_failure *why, uint32_t completes_before)
{
	const struct twin_stats *ts = twin_get_stats(s->t);

	CHECK(!s->changed_mid_send && !s->abandoned_mid_send, sc,
	      "rule 1: frame changed %u, abandoned %u mid-send", s->changed_mid_send,
	      s->abandoned_mid_send);
	if (!host_to_device_fault(sc))
		CHECK(!ts->wedges && !ts->nacks, sc, "rule 1: device saw a broken frame");
	if (ts->completes > completes_before)
		CHECK(sim_app_state(s) == SIM_APP_NEW, sc, "rule 2: COMPLETE with app %s",
		      sim_app_state_name(sim_app_state(s)));
	if (rc && strcmp(why->stage, "complete"))
		CHECK(ts->completes == completes_before, sc, "rule 2: COMPLETE after failure %s",
		      cf_err_name(rc));
	if (!rc)
		CHECK(sim_app_state(s) == SIM_APP_NEW, sc, "success without the image in flash");
}

/* design.md rule 3: after a power loss the probe holds the old, the new or an invalid image
 * (except inside the documented safer-order window), and an invalid one boots Katapult. A
 * host-side stop never leaves that window either: the engine erases page 0 again first. */
static void check_rule_3(struct sim *s, const struct schedule *sc, bool host_stop)
{
	enum sim_app_state st;

	twin_set_faults(s->t, &(struct twin_faults){ .drop_rx = 0 });
	twin_power_on(s->t, s->now);
	sim_settle(s, 1000000);
	st = sim_app_state(s);
	CHECK(st != SIM_APP_BROKEN, sc, "rule 3: valid-looking half image after power loss");
	CHECK(!host_stop || st != SIM_APP_WINDOW, sc,
	      "a host-side stop left page 0 half written (engine said: %s)",
	      s->app == KATAPULT_APP_HALF ? "half" : "not half");
	switch (st) {
	case SIM_APP_INVALID:
		Tally.invalid_after_loss++;
		CHECK(twin_get_mode(s->t) == TWIN_MODE_KATAPULT, sc,
		      "rule 3: invalid app but the twin runs %s",
		      twin_mode_name(twin_get_mode(s->t)));
		break;
	case SIM_APP_WINDOW:
		Tally.window++;
		break;
	case SIM_APP_OLD:
		Tally.old_after_loss++;
		break;
	case SIM_APP_NEW:
		Tally.new_after_loss++;
		break;
	case SIM_APP_BROKEN:
		break;
	}
}

/* What the first session of a schedule must have achieved, by fault kind. */
static void check_first_session(struct sim *s, const struct schedule *sc, int rc,
				const struct cf_failure *why)
{
	if (sc->kind == FK_CANCEL) {
		/* Cancelled once COMPLETE was on its way, the session simply finishes. */
		CHECK(rc == CF_ERR_INTERRUPTED || (rc == 0 && twin_get_stats(s->t)->completes), sc,
		      "cancel ended in %s", cf_err_name(rc));
		Tally.cancelled++;
		/* After the cancel only the 0xFF block over page 0, and only to end a half
		 * page 0 (the stop then says the application is erased). */
		if (rc == CF_ERR_INTERRUPTED && s->frames != sc->cancel_at) {
			CHECK(s->frames == sc->cancel_at + 1, sc, "%u frames after the cancel",
			      s->frames - sc->cancel_at);
			CHECK(s->last_cmd == KATAPULT_CMD_SEND_BLOCK && s->last_addr == TWIN_APP_START &&
				  s->last_ff,
			      sc, "the frame after the cancel is not the 0xFF block over page 0");
			CHECK(s->app == KATAPULT_APP_INVALID, sc, "page 0 not erased again");
			CHECK(strstr(why->hint, "erased"), sc, "hint: %s", why->hint);
			Tally.invalidated++;
		}
		/* Ctrl-C, then the probe loses power: rule 3 holds here too. */
		twin_power_off(s->t, s->now);
		check_rule_3(s, sc, true);
	} else if (sc->faults.corrupt_flash) {
		/* Silent corruption is for verify to find (design.md rule 2): no COMPLETE, and
		 * the differing application is erased again before the stop. */
		CHECK(rc == 0 || rc == CF_ERR_VERIFY || !strcmp(why->stage, "complete") ||
			      (host_to_device_fault(sc) && rc),
		      sc, "corrupted flash ended in %s %s: %s", cf_err_name(rc), why->stage,
		      why->detail);
		if (rc == CF_ERR_VERIFY) {
			Tally.verify_caught++;
			CHECK(s->app == KATAPULT_APP_INVALID, sc, "verify failure left app state %d",
			      (int)s->app);
			CHECK(sim_app_state(s) == SIM_APP_INVALID, sc, "app %s after verify failure",
			      sim_app_state_name(sim_app_state(s)));
		}
	} else if (!host_to_device_fault(sc) && !sc->faults.power_loss_block &&
		   !sc->faults.power_loss_erase) {
		CHECK(rc == 0 || !strcmp(why->stage, "complete"), sc,
		      "device->host faults must be survived: %s %s: %s", cf_err_name(rc),
		      why->stage, why->detail);
	}
	/*
	 * A lost frame may wedge the parser or cost tries, but never makes the engine count a
	 * block as written that the device did not write: it takes no ACK of another address.
	 * The one ambiguity the protocol leaves is two SEND_BLOCKs in a row to one page start
	 * (the 0xFF block and block 0 of a one-page image, a force block and the page's first
	 * block): an ACK echoes only the address. Verify catches that one (design.md rule 2).
	 */
	if (!sc->faults.corrupt_rx && !sc->faults.corrupt_tx && !sc->faults.corrupt_flash &&
	    !sc->faults.power_loss_block && !sc->faults.power_loss_erase && sc->kind != FK_CANCEL &&
	    rc == CF_ERR_VERIFY) {
		unsigned long at = strtoul(why->detail + strlen("block "), NULL, 16);

		CHECK(!strncmp(why->detail, "block 0x", 8) && at >= TWIN_APP_START &&
			      (at - TWIN_APP_START) % twin_mcu(s->t)->page_size == 0,
		      sc, "lost frames ended in a verify mismatch: %s", why->detail);
		Tally.same_address++;
	}
	if (sc->kind == FK_LATE_LOST && sc->faults.drop_rx_after_delay)
		Tally.late_lost++;
	if (rc && !strcmp(why->stage, "complete"))
		Tally.completes_unacked++;
	Tally.ok_first += rc == 0;
	Tally.wedged += rc == CF_ERR_WEDGED;
	if (rc == CF_ERR_WEDGED)
		CHECK(strstr(why->hint, "power-cycle"), sc, "wedge without power-cycle hint");
	if (twin_get_stats(s->t)->power_losses && sc->kind != FK_CANCEL) {
		Tally.power_losses++;
		check_rule_3(s, sc, false);
	}
}

/* A rerun recovers whatever happened (power-cycling a wedged probe first). */
static void rerun(struct sim *s, const struct schedule *sc,
		  const struct katapult_engine_config *c)
{
	struct cf_failure why;
	uint32_t completes;
	int rc;

	twin_set_faults(s->t, &(struct twin_faults){ .drop_rx = 0 });
	s->hook = NULL;
	s->cancel_after = 0;
	CHECK(sim_enter_katapult(s), sc, "cannot get back into Katapult (twin %s: %s)",
	      twin_mode_name(twin_get_mode(s->t)), twin_get_reason(s->t));
	completes = twin_get_stats(s->t)->completes;
	rc = sim_session(s, c, NULL, &why);
	Tally.reruns++;
	CHECK(rc == 0, sc, "rerun failed: %s %s: %s", cf_err_name(rc), why.stage, why.detail);
	check_rules_1_2(s, sc, rc, &why, completes);
}

static void run_schedule(uint32_t seed)
{
	static struct sim s;
	struct schedule sc;
	struct katapult_engine_config c;
	struct katapult_engine_stats st;
	struct cf_failure why;
	uint32_t completes, rng = seed | 1;
	int rc;

	make_schedule(&sc, seed);
	open_twin(&s, sc.usb);
	if (sc.stale_pages)
		hide_old_data(&s, seed);
	Tally.stale_runs += sc.stale_pages;
	make_raw_image(&s, &rng, sc.img_len);
	s.rng = rng;
	s.hook = NULL;
	s.stall_pct = sim_rand(&rng) % 30;
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	c.image_info = NULL; /* raw bytes: the refusal rules are tested elsewhere */
	if (sc.kind == FK_BUSY) {
		s.hook = busy_hook;
		s.hook_ctx = &sc;
	} else {
		twin_set_faults(s.t, &sc.faults);
	}
	s.cancel_after = sc.cancel_at;
	completes = twin_get_stats(s.t)->completes;

	rc = sim_session(&s, &c, &st, &why);
	sim_settle(&s, 2000000);

	Tally.runs++;
	Tally.reerased += st.pages_reerased;
	Tally.stalled_out += s.stalled_out;
	check_rules_1_2(&s, &sc, rc, &why, completes);
	check_first_session(&s, &sc, rc, &why);
	if (rc || sim_app_state(&s) != SIM_APP_NEW)
		rerun(&s, &sc, &c);
	sim_close(&s);
}

static void test_sim_fault_schedules(void **state)
{
	const uint32_t first = env_u32("SIM_SEED", FIRST_SEED);
	const uint32_t count = env_u32("SIM_SCHEDULES", SCHEDULES);

	(void)state;
	memset(&Tally, 0, sizeof(Tally));
	for (uint32_t seed = first; seed < first + count; seed++)
		run_schedule(seed);
	print_message("%u schedules (%u over old flash with data behind erased quarters: %u pages "
		      "erased again; %u silent flash corruptions caught by verify; %u late replies "
		      "with a frame lost behind them, %u of those runs failed verify at a page "
		      "start written twice in a row): "
		      "%u clean first runs, %u wedged, %u unacknowledged "
		      "COMPLETE, %u sends refused by a wedged device; %u injected power losses "
		      "and %u cancels followed by a power cut (%u of them erased a half page 0 "
		      "first) left the application %u invalid "
		      "(booted Katapult), %u old, %u new, %u in the step-3/4 window; %u reruns, all "
		      "recovered\n",
		      Tally.runs, Tally.stale_runs, Tally.reerased, Tally.verify_caught,
		      Tally.late_lost, Tally.same_address,
		      Tally.ok_first, Tally.wedged, Tally.completes_unacked,
		      Tally.stalled_out, Tally.power_losses, Tally.cancelled, Tally.invalidated,
		      Tally.invalid_after_loss, Tally.old_after_loss, Tally.new_after_loss,
		      Tally.window, Tally.reruns);
	assert_int_equal(Tally.runs, count);
}

/*
 * design.md rule 3 exhaustively (22 KiB over CAN, 12 KiB over USB): power lost half way
 * through programming every block the session writes, and through every page erase. The app
 * area afterwards must be invalid (the probe boots into Katapult) or the new image, except
 * inside the safer order's step-3/4 window (katapult.md §5: block 0 written, blocks 1..15 of
 * page 0 not yet), which the spec names as the remaining brick window. A rerun recovers all.
 */
static bool power_loss_case(bool usb, const uint8_t *app, size_t len,
			    const struct twin_faults *f, unsigned *window)
{
	static struct sim s;
	struct schedule sc;
	struct katapult_engine_config c;
	enum sim_app_state st;
	int rc;

	memset(&sc, 0, sizeof(sc));
	sc.seed = f->power_loss_block ? f->power_loss_block : 1000 + f->power_loss_erase;
	snprintf(sc.desc, sizeof(sc.desc), "%s %zu B app, power loss at block %u / erase %u",
		 usb ? "usb" : "can", len, f->power_loss_block, f->power_loss_erase);
	open_twin(&s, usb);
	s.img = malloc(len);
	assert_non_null(s.img);
	memcpy(s.img, app, len);
	s.img_len = len;
	c = sim_config(&s, KATAPULT_ENGINE_FLASH);
	c.image_info = NULL;
	twin_set_faults(s.t, f);

	rc = sim_session(&s, &c, NULL, NULL);

	if (!twin_get_stats(s.t)->power_losses) {
		/* Fewer erases than asked for: the fault never fired, the flash must be fine. */
		CHECK(rc == 0 && sim_app_state(&s) == SIM_APP_NEW, &sc, "%s", cf_err_name(rc));
		sim_close(&s);
		return false;
	}
	CHECK(rc != 0, &sc, "a session without power cannot succeed");
	CHECK(twin_get_stats(s.t)->power_losses == 1, &sc, "power loss not injected");
	CHECK(!twin_get_stats(s.t)->completes, &sc, "rule 2: COMPLETE without power");
	twin_set_faults(s.t, &(struct twin_faults){ .drop_rx = 0 });
	twin_power_on(s.t, s.now);
	sim_settle(&s, 1000000);
	st = sim_app_state(&s);
	CHECK(st == SIM_APP_INVALID || st == SIM_APP_WINDOW, &sc, "rule 3: app %s after power loss",
	      sim_app_state_name(st));
	if (st == SIM_APP_INVALID)
		CHECK(twin_get_mode(s.t) == TWIN_MODE_KATAPULT, &sc, "invalid app but twin runs %s",
		      twin_mode_name(twin_get_mode(s.t)));
	*window += st == SIM_APP_WINDOW;
	CHECK(sim_enter_katapult(&s), &sc, "cannot reach Katapult");
	rc = sim_session(&s, &c, NULL, NULL);
	sim_settle(&s, 2000000);
	CHECK(rc == 0 && sim_app_state(&s) == SIM_APP_NEW, &sc, "rerun: %s", cf_err_name(rc));
	CHECK(twin_get_mode(s.t) == TWIN_MODE_APP, &sc, "new app does not run: %s",
	      twin_mode_name(twin_get_mode(s.t)));
	sim_close(&s);
	return true;
}

static void every_block(bool usb, size_t size)
{
	struct mkimage_app_opts o = { .iface = usb ? IMAGE_IFACE_USB : IMAGE_IFACE_CAN,
				      .version = "CARTOGRAPHER 5.1.0",
				      .size = size };
	uint8_t *app;
	size_t len, blocks;
	unsigned window = 0, cases = 0;

	if (getenv("SIM_SEED"))
		skip(); /* replaying one schedule */
	assert_int_equal(mkimage_app(&o, &app, &len), 0);
	blocks = (len + 63) / 64;
	/* n + 1 programmed blocks: the 0xFF block first (katapult.md §5) */
	for (uint32_t n = 1; n <= blocks + 1; n++, cases++) {
		const struct twin_faults f = { .power_loss_block = n };

		assert_true(power_loss_case(usb, app, len, &f, &window));
	}
	/* the old application's pages: page 0 by the 0xFF block, then one per page it used */
	for (uint32_t n = 1;; n++, cases++) {
		const struct twin_faults f = { .power_loss_erase = n };

		if (!power_loss_case(usb, app, len, &f, &window))
			break;
	}
	assert_true(cases > blocks + 1 + 4);
	print_message("%s: %u power-loss points (%zu blocks written, then every erase): %u in the "
		      "safer order's step-3/4 window, all others left an invalid application\n",
		      usb ? "usb" : "can", cases, blocks + 1, window);
	/* The window is block 0 and blocks 1..15 of page 0, exactly (katapult.md §5). */
	assert_int_equal(window, 1024 / 64);
	free(app);
}

static void test_sim_power_loss_at_every_block_can(void **state)
{
	(void)state;
	every_block(false, 22 * 1024);
}

static void test_sim_power_loss_at_every_block_usb(void **state)
{
	(void)state;
	every_block(true, 12 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_fault_schedules),
		cmocka_unit_test(test_sim_power_loss_at_every_block_can),
		cmocka_unit_test(test_sim_power_loss_at_every_block_usb),
	};
	return cmocka_run_group_tests(tests, setup_images, teardown_images);
}
