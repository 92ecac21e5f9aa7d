/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one Katapult updater: the same steps, texts and safety rules over every channel. */
#ifndef CARTOFLASH_SRC_KATAPULT_KATAPULT_H
#define CARTOFLASH_SRC_KATAPULT_KATAPULT_H

#include "updater.h"

/*
 * updater_ops for a Katapult device. cfg->target.link picks the channel (katapult/channel.h):
 * IDENTITY_LINK_CAN (iface + can_uuid; every updater on one (loop, iface) shares one bus mux
 * and gets its own node id) or IDENTITY_LINK_TTY (tty: a node, "auto", or "PATH@BAUD" for a
 * UART; target.mode APPLICATION on a UART asks for the request string, --request-bootloader).
 * Nothing here asks which channel it holds.
 *
 *   identify     reach Katapult (target.mode KATAPULT: no bootloader request, as flashtool -s;
 *                a probe found in its application is then left alone), CONNECT; opts.timeout_us
 *                (default KATAPULT_REACH_US) bounds the whole wait. Fills the identity.
 *   check_image  refusal rules R1-R5 (image_check_against) in one place for every channel:
 *                stage "check", "refusal Rn: ..."; lifted rules are named in a warning. A probe
 *                that identify took out of its application gets COMPLETE back first.
 *   write        the engine's flash session: safe order, EOF and the read-back of every block.
 *   verify       after write: its verify result; alone: read back and compare.
 *   finish       COMPLETE (unless opts.no_reboot), then the channel confirms the application
 *                (or a deployer's new Katapult); a lost ACK of COMPLETE is confirmed the same way
 *                before it is called a failure.
 *   cancel       stop at the next safe point; the message says where the probe is.
 */
extern const struct updater_ops katapult_ops;

#define KATAPULT_REACH_US 11000000u	/* reach Katapult (flashtool's 1 s + 5 x 2 s on CAN) */
#define KATAPULT_CONFIRM_US 5000000u	/* the application answers within this after COMPLETE */
#define KATAPULT_DEPLOYER_US 10000000u	/* a deployer's rewrite comes before its Katapult answers */

#endif
