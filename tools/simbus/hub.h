/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The simulated CAN bus hub as a library: the simbus process and in-process tests drive it. */
#ifndef CARTOFLASH_TOOLS_SIMBUS_HUB_H
#define CARTOFLASH_TOOLS_SIMBUS_HUB_H

#include <stdint.h>
#include <stdio.h>

struct simbus_hub;

/*
 * Listen on path (an existing socket file is replaced) for clients speaking the wire format of
 * src/transport/simbus.h, at bitrate bit/s; speed scales wire time (0 = frames go at once, 1 =
 * real time). log (borrowed, may be NULL) receives one candump line per frame. Returns NULL when
 * the socket cannot be created (the reason is printed on stderr). Caller frees with
 * simbus_hub_free, which closes every client and removes the socket file.
 */
struct simbus_hub *simbus_hub_new(const char *path, uint32_t bitrate, double speed, FILE *log);
void simbus_hub_free(struct simbus_hub *h);
/*
 * One turn: wait for clients or the end of the frame on the wire (at most max_wait_ms; -1 = no
 * limit), accept, read queued frames while each client's queue has room, finish and deliver the
 * frame on the wire, start the next in arbitration order. 0, or -errno when poll failed.
 */
int simbus_hub_run_once(struct simbus_hub *h, int max_wait_ms);
void simbus_hub_counters(const struct simbus_hub *h, uint64_t *frames, uint64_t *stalls);
/* Deliveries a client's receive filter saved (one per client and frame). */
uint64_t simbus_hub_filtered(const struct simbus_hub *h);

#endif
