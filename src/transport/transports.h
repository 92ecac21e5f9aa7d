/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The transport backends this build knows; one file each in src/transport/. */
#ifndef CARTOFLASH_SRC_TRANSPORT_TRANSPORTS_H
#define CARTOFLASH_SRC_TRANSPORT_TRANSPORTS_H

#include "transport.h"

extern const struct transport_ops socketcan_ops; /* src/transport/socketcan.c: "can0" */
extern const struct transport_ops sim_ops;	  /* src/transport/sim.c: "sim:PATH" */
extern const struct transport_ops tty_ops;	  /* src/transport/tty.c: "/dev/ttyACM0" */

#endif
