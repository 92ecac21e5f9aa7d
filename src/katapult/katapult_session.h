/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One engine session of the Katapult updater: its config from the channel, its failure words. */
#ifndef CARTOFLASH_SRC_KATAPULT_KATAPULT_SESSION_H
#define CARTOFLASH_SRC_KATAPULT_KATAPULT_SESSION_H

#include "katapult/channel.h"
#include "katapult/engine.h"
#include "updater.h"

/* The probe as the refusal rules see it: what the channel says (R4 interface, R3 bitrate)
 * and what CONNECT said (MCU, application start). */
void ksession_target(struct updater *u, struct kchannel *ch, struct image_target *t);

/* The engine config of op for the updater u over channel ch (what the channel says it needs:
 * R4 interface, bitrate, prime, UUID). COMPLETE only in REBOOT (design.md rule 2). */
void ksession_config(struct updater *u, struct kchannel *ch, enum katapult_engine_op op,
		     struct katapult_engine_config *c);

/*
 * A session of op ended with err (e still readable): the engine's failure into the updater's,
 * with what is known about the probe (a --timeout that ended CONNECT, what the engine knows
 * the flash holds, and seen: what the channel saw of a probe that stopped answering, NULL
 * when it did not look); the identity from CONNECT; and a COMPLETE whose ACK never came - no
 * failure yet, the channel confirms the probe first: *ack_lost set, ack_why filled, 0
 * returned. Returns err else.
 */
int ksession_result(struct updater *u, enum katapult_engine_op op,
		    const struct katapult_engine *e, const struct kchannel_seen *seen, int err,
		    bool *ack_lost, struct cf_failure *ack_why);

#endif
