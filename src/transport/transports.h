/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The transport backends this build knows; one file each in src/transport/. */
#ifndef CARTOFLASH_SRC_TRANSPORT_TRANSPORTS_H
#define CARTOFLASH_SRC_TRANSPORT_TRANSPORTS_H

#include "transport.h"

extern const struct transport_ops socketcan_ops; /* src/transport/socketcan.c: "can0" */
extern const struct transport_ops sim_ops;	  /* src/transport/sim.c: "sim:PATH" */
extern const struct transport_ops tty_ops;	  /* src/transport/tty.c: "/dev/ttyACM0" */

struct simbus_filter;
/*
 * The simulated bus's receive filter (simbus.h), for a twin modelling a node's hardware filter;
 * not the set_filter op, so cartoflash's own use of "sim:" stays unfiltered. count 0 receives
 * everything. While a filter is set, recv hands each frame over with MSG_PEEK and takes it off
 * the socket at the next recv: set the filter a frame calls for before asking for the next.
 * CF_ERR_NOT_SUPPORTED when t is not a sim transport, CF_ERR_USAGE for more than
 * SIMBUS_MAX_FILTERS pairs, CF_ERR_AGAIN when the hub is not reading us (send again later).
 */
int sim_set_filter(struct transport *t, const struct simbus_filter *f, size_t count);

#endif
