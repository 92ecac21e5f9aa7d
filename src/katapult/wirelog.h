/* SPDX-License-Identifier: GPL-3.0-or-later */
/* -v: the Katapult exchange decoded, one line per command and reply, for every channel. */
#ifndef CARTOFLASH_SRC_KATAPULT_WIRELOG_H
#define CARTOFLASH_SRC_KATAPULT_WIRELOG_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/katapult.h"

/* Caller-embedded; the parser only reassembles replies for the log, never for the engine. */
struct wirelog {
	struct katapult_parser parser;
};

void wirelog_init(struct wirelog *w);
/* A whole frame the host sent ("-> SEND_BLOCK 0x08002400"). Costs nothing below -v. */
void wirelog_tx(struct wirelog *w, const char *device, const uint8_t *frame, size_t len);
/* Bytes the device sent, in any chunking ("<- ACK SEND_BLOCK 0x08002400"). */
void wirelog_rx(struct wirelog *w, const char *device, const uint8_t *data, size_t len);

#endif
