/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The target parser of the device verbs: --can/--uuid, --serial/--baud, and the updater options. */
#ifndef CARTOFLASH_SRC_CMD_TARGET_H
#define CARTOFLASH_SRC_CMD_TARGET_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "identity.h"
#include "liverun.h"
#include "updater.h"

/* Long-only option values of the target options (above CLI_OPT_COMMON_END). */
enum {
	CMD_OPT_CAN = CLI_OPT_COMMON_END + 1,
	CMD_OPT_UUID,
	CMD_OPT_TIMEOUT,
	CMD_OPT_DRY_RUN,
	CMD_OPT_NO_REBOOT,
	CMD_OPT_FORCE,
	CMD_OPT_ALLOW_BITRATE,
	CMD_OPT_SERIAL,		     /* --serial PATH|auto: a tty target (h6) */
	CMD_OPT_BAUD,		     /* --baud N: UART rate of the tty targets */
	CMD_OPT_REQUEST_BOOTLOADER, /* --request-bootloader: UART magic string first */
	CMD_OPT_SWITCH_TO,	     /* --switch-to can|usb: interface switch by deployer (R4) */
	CMD_OPT_ALLOW_UNKNOWN,	     /* --allow-unknown: lifts R7 */
	CMD_OPT_ALLOW_VARIANT,	     /* --allow-variant-change: lifts R8 */
	CMD_OPT_VERB_FIRST, /* verbs number their own options from here */
};

/*
 * One device a verb works on: a CAN node (iface + UUID) or a tty (--serial PATH). link says
 * which; a new kind of target adds a link kind and a case in cmd_targets_option, nothing in the
 * verbs.
 */
struct cmd_target {
	enum identity_link link;
	char iface[64];	   /* "can0", "sim:/tmp/bus" */
	char can_uuid[13]; /* 12 lower-case hex digits */
	char label[64];	   /* a name from a manifest section, else empty */
	char image[256];   /* per-target image (fleet manifests), else empty */
	char tty[64];	   /* --serial: resolved tty path or "auto"; then iface/can_uuid are empty */
	enum updater_switch switch_to; /* manifest switch_to; NONE = the command line's */
};

struct cmd_targets {
	struct cmd_target *v;
	size_t count, cap;
	char iface[64]; /* the latest --can: each --uuid binds to the --can before it */
	uint32_t baud;	/* --baud for tty targets, 0 = default */
	bool request_bootloader;
	bool iface_unused; /* a --can no --uuid followed (yet) */
};

/* getopt_long entries for -i/--can/--interface, --uuid and the tty target options (--serial,
 * --baud, --request-bootloader); merge into each verb's table. */
#define CMD_TARGET_OPTIONS                                                   \
	{ "can", required_argument, NULL, CMD_OPT_CAN },                     \
	{ "interface", required_argument, NULL, 'i' },                       \
	{ "uuid", required_argument, NULL, CMD_OPT_UUID },                   \
	{ "serial", required_argument, NULL, CMD_OPT_SERIAL },               \
	{ "baud", required_argument, NULL, CMD_OPT_BAUD },                   \
	{ "request-bootloader", no_argument, NULL, CMD_OPT_REQUEST_BOOTLOADER }, \
	LIVERUN_OPTIONS
/* getopt_long entries of the R7/R8 overrides of every verb that writes. */
#define CMD_RELEASE_OPTIONS                                                  \
	{ "allow-unknown", no_argument, NULL, CMD_OPT_ALLOW_UNKNOWN },       \
	{ "allow-variant-change", no_argument, NULL, CMD_OPT_ALLOW_VARIANT }
/* getopt_long entry of --switch-to (flash, fleet); cmd_updater_option handles it. */
#define CMD_SWITCH_OPTION { "switch-to", required_argument, NULL, CMD_OPT_SWITCH_TO }
/* The options shared by every verb (cli.h). */
#define CMD_COMMON_OPTIONS                                                   \
	{ "help", no_argument, NULL, 'h' }, { "json", no_argument, NULL, CLI_OPT_JSON }, \
	{ "quiet", no_argument, NULL, 'q' }, { "verbose", no_argument, NULL, 'v' }

/*
 * Handle a target option c (CMD_OPT_CAN, 'i', CMD_OPT_UUID) for verb. Returns 1 when handled,
 * 0 when c is no target option, or a usage exit code (64) after printing the one-line error.
 */
int cmd_targets_option(struct cmd_targets *t, const char *verb, int c, const char *arg);
/* Append one target; iface and uuid are checked. 0, CF_ERR_USAGE, CF_ERR_BUSY (the same probe
 * named twice) or CF_ERR_NOMEM. */
int cmd_targets_add(struct cmd_targets *t, const char *iface, const char *uuid,
		    const char *label, const char *image);
/* Usage exit code (64) with a message when no target was named; 0 otherwise. */
int cmd_targets_require(const struct cmd_targets *t, const char *verb);
void cmd_targets_fini(struct cmd_targets *t);

/* The options common to flash-like verbs: --dry-run, --no-reboot, --force,
 * --allow-bitrate-mismatch, --allow-unknown, --allow-variant-change, --timeout, --switch-to. Returns 1 handled, 0 not ours, or 64 after
 * an error. */
int cmd_updater_option(struct updater_options *o, const char *verb, int c, const char *arg);

/*
 * Parse a verb that takes targets, --timeout (and, with allow_no_reboot, --no-reboot) but no
 * positional argument. usage prints the verb's help. Returns 0, -1 after --help, or 64.
 */
int cmd_parse_targets_only(int argc, char **argv, const char *verb, void (*usage)(FILE *out),
			   bool allow_no_reboot, struct cmd_targets *t, struct updater_options *o);

#endif
