/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared by the files of tools/klippyd only: the server state and the method handlers. */
#ifndef CARTOFLASH_TOOLS_KLIPPYD_KLIPPYD_PRIV_H
#define CARTOFLASH_TOOLS_KLIPPYD_KLIPPYD_PRIV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "tools/klippyd/klippyd.h"

#define KLIPPYD_CONNS_MAX 16

struct klippyd_conn {
	int fd; /* -1: free slot */
	char *rx, *tx;
	size_t rx_len, rx_cap, tx_len, tx_cap;
};

struct klippyd {
	struct loop *loop;
	struct klippyd_config cfg;
	char path[108];
	int listen_fd;
	struct klippyd_conn conns[KLIPPYD_CONNS_MAX];
	json_t *scenario;   /* {"info", "objects", "timeline"}: owned */
	uint64_t loaded_us; /* the timeline counts from here */
	unsigned requests;
	struct loop_source src;
};

/* One request (without its 0x03) from connection c: answer into c's send buffer. */
void klippyd_handle(struct klippyd *k, struct klippyd_conn *c, const char *msg, size_t len);
/* Queue msg and its 0x03 terminator on c. */
void klippyd_send(struct klippyd_conn *c, const json_t *msg);

#endif
