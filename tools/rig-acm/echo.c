// SPDX-License-Identifier: GPL-3.0-or-later
/* rig-acm behaviour "echo": a loopback serial device that enters a fake Katapult on a 1200-baud
 * touch. */
#include <stdio.h>
#include <string.h>

#include "tools/rig-acm/acm.h"

/* katapult.md §3.1: the application and Katapult USB identities; the serial is kept. */
#define ECHO_VID	  0x1d50
#define ECHO_PID_APP	  0x614e
#define ECHO_PID_KATAPULT 0x6177

static struct {
	char serial[32];
	bool katapult, reset, touched;
} echo;

static int echo_init(int argc, char **argv)
{
	if (argc != 1 || strlen(argv[0]) >= sizeof(echo.serial))
		return -1;
	snprintf(echo.serial, sizeof(echo.serial), "%s", argv[0]);
	return 0;
}

static void echo_fini(void)
{
}

static bool echo_identity(struct gadget_id *id)
{
	*id = (struct gadget_id){
	    .vid = ECHO_VID,
	    .pid = echo.katapult ? ECHO_PID_KATAPULT : ECHO_PID_APP,
	    .bcd_device = 0x0100,
	    .manufacturer = "cartoflash rig",
	    .product = echo.katapult ? "katapult echo" : "echo",
	    .serial = echo.serial,
	};
	return true;
}

/* katapult.md §3.3: baud 1200 then DTR low asks the application for its bootloader. */
static void echo_line(uint32_t baud, bool dtr, uint64_t now_us)
{
	(void)now_us;
	if (!echo.katapult && baud == 1200 && !dtr && !echo.touched) {
		echo.touched = true;
		echo.katapult = true;
		echo.reset = true;
		acm_log("1200-baud touch: entering katapult");
	}
}

static void echo_step(uint64_t now_us)
{
	uint8_t buf[512];
	size_t n, put;

	(void)now_us;
	n = acm_rx_peek(buf, sizeof(buf));
	put = acm_tx_put(buf, n);
	acm_rx_consume(put);
}

static int echo_poll_ms(uint64_t now_us)
{
	(void)now_us;
	return 100;
}

static bool echo_reset_pending(void)
{
	const bool r = echo.reset;

	echo.reset = false;
	return r;
}

const struct acm_behaviour acm_echo = {
    .name = "echo",
    .init = echo_init,
    .fini = echo_fini,
    .identity = echo_identity,
    .line = echo_line,
    .step = echo_step,
    .poll_ms = echo_poll_ms,
    .reset_pending = echo_reset_pending,
};
