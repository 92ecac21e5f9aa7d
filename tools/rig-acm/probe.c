// SPDX-License-Identifier: GPL-3.0-or-later
/* rig-acm behaviour "twin": the probe twin's USB CDC-ACM side (application or Katapult over USB).
 */

/*
 * The twin (tools/twin/twin.h) decides everything: which identity it presents (application
 * 1d50:614e, Katapult 1d50:6177, nothing for CAN firmware), what it answers, and when it resets
 * (1200-baud touch, COMPLETE). A change of its usb_enumerations counter is a USB reset: main
 * unbinds and presents the new identity, so the host sees a real disconnect and re-enumeration.
 * The twin runs in real time (speed 1) by default: flash timing is the chip's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/rig-acm/acm.h"
#include "tools/twin/twin.h"

static struct {
	struct twin *t;
	uint32_t enumerations;
} probe;

static void probe_twin_log(void *ctx, const char *line)
{
	(void)ctx;
	acm_log("twin: %s", line);
}

/* Args: FLASH-FILE UID-HEX24 [SPEED]. */
static int probe_init(int argc, char **argv)
{
	struct twin_config cfg = {.speed = 1, .log = probe_twin_log};

	if (argc < 2 || argc > 3 || strlen(argv[1]) != 24)
		return -1;
	for (int i = 0; i < 12; i++) {
		unsigned byte;

		if (sscanf(argv[1] + 2 * i, "%2x", &byte) != 1)
			return -1;
		cfg.uid[i] = (uint8_t)byte;
	}
	if (argc == 3)
		cfg.speed = atof(argv[2]);
	cfg.flash_file = argv[0];
	probe.t = twin_new(&cfg);
	if (!probe.t) {
		fprintf(stderr, "rig-acm: cannot load flash file %s\n", argv[0]);
		return -1;
	}
	twin_power_on(probe.t, acm_now_us());
	probe.enumerations = twin_get_stats(probe.t)->usb_enumerations;
	acm_log("twin powered on: mode %s", twin_mode_name(twin_get_mode(probe.t)));
	return 0;
}

static void probe_fini(void)
{
	if (probe.t)
		acm_log("twin stops in mode %s", twin_mode_name(twin_get_mode(probe.t)));
	twin_free(probe.t); /* saves the flash file */
	probe.t = NULL;
}

static bool probe_identity(struct gadget_id *id)
{
	struct twin_usb_id u;

	if (!twin_get_usb_id(probe.t, &u))
		return false;
	*id = (struct gadget_id){
	    .vid = u.vid,
	    .pid = u.pid,
	    .bcd_device = 0x0100,
	    .manufacturer = u.manufacturer,
	    .product = u.product,
	    .serial = u.serial,
	};
	return true;
}

static void probe_line(uint32_t baud, bool dtr, uint64_t now_us)
{
	/* A CDC-ACM host raises DTR on open and drops it on close (rig.md §5.3). */
	twin_serial_line(probe.t, baud, dtr, dtr, now_us);
}

static void probe_step(uint64_t now_us)
{
	uint8_t buf[512];
	size_t n, took, got;

	twin_advance(probe.t, now_us);
	n = acm_rx_peek(buf, sizeof(buf));
	if (n) {
		/* USB flow control: what the twin's buffer cannot take stays queued. */
		took = twin_serial_receive(probe.t, buf, n, now_us);
		acm_rx_consume(took);
	}
	twin_advance(probe.t, now_us);
	while ((got = twin_serial_pop(probe.t, now_us, buf, sizeof(buf))) > 0)
		acm_tx_put(buf, got);
}

static int probe_poll_ms(uint64_t now_us)
{
	const uint64_t next = twin_next_event_us(probe.t);

	if (next <= now_us)
		return 0;
	return next - now_us >= 100000 ? 100 : (int)((next - now_us + 999) / 1000);
}

static bool probe_reset_pending(void)
{
	const uint32_t e = twin_get_stats(probe.t)->usb_enumerations;

	if (e == probe.enumerations)
		return false;
	probe.enumerations = e;
	acm_log("twin reset: mode %s", twin_mode_name(twin_get_mode(probe.t)));
	return true;
}

const struct acm_behaviour acm_twin = {
    .name = "twin",
    .init = probe_init,
    .fini = probe_fini,
    .identity = probe_identity,
    .line = probe_line,
    .step = probe_step,
    .poll_ms = probe_poll_ms,
    .reset_pending = probe_reset_pending,
};
