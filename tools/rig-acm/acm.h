/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rig-acm: the device behaviour behind the rig's userspace CDC-ACM gadget. */
#ifndef CARTOFLASH_TOOLS_RIG_ACM_ACM_H
#define CARTOFLASH_TOOLS_RIG_ACM_ACM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/rig-gadget/gadget.h"

/*
 * A behaviour owns what the device does; tools/rig-acm/main.c owns USB. All members run on the
 * main thread and must not block. Times are CLOCK_MONOTONIC microseconds.
 */
struct acm_behaviour {
	const char *name;
	int (*init)(int argc, char **argv); /* behaviour arguments; 0 or -1 (usage) */
	void (*fini)(void);
	/* Identity presented now; false when no USB device is presented. Strings borrowed. */
	bool (*identity)(struct gadget_id *id);
	/* Host changed line coding or DTR (SET_LINE_CODING, SET_CONTROL_LINE_STATE). */
	void (*line)(uint32_t baud, bool dtr, uint64_t now_us);
	/* Move bytes (acm_rx_peek / acm_rx_consume / acm_tx_put) and run what is due. */
	void (*step)(uint64_t now_us);
	/* How long main may sleep in poll, in ms (bytes arriving wake it earlier). */
	int (*poll_ms)(uint64_t now_us);
	/* True once per device reset: main unbinds and presents identity() again. */
	bool (*reset_pending)(void);
};

extern const struct acm_behaviour acm_echo;
extern const struct acm_behaviour acm_twin;

/* Provided by main.c for behaviours. */
uint64_t acm_now_us(void);
void acm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Bytes from the host, oldest first: peek copies, consume drops what the device accepted (the
 * rest stays queued: USB flow control). */
size_t acm_rx_peek(uint8_t *buf, size_t cap);
void acm_rx_consume(size_t len);
/* Bytes to the host; returns how many fit in the queue. */
size_t acm_tx_put(const uint8_t *buf, size_t len);

#endif
