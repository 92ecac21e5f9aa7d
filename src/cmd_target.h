/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared plumbing of the device verbs: target options, image loading, running the jobs. */
#ifndef CARTOFLASH_SRC_CMD_TARGET_H
#define CARTOFLASH_SRC_CMD_TARGET_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "protocol/image.h"
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
	CMD_OPT_VERB_FIRST, /* verbs number their own options from here */
};

/*
 * One device a verb works on. A CAN target is an interface plus a UUID; a later tty target
 * (--serial PATH) adds a field here and a case in cmd_targets_option, nothing in the verbs.
 */
struct cmd_target {
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
};

/* getopt_long entries for -i/--can/--interface, --uuid and the tty target options (--serial,
 * --baud, --request-bootloader); merge into each verb's table. */
#define CMD_TARGET_OPTIONS                                                   \
	{ "can", required_argument, NULL, CMD_OPT_CAN },                     \
	{ "interface", required_argument, NULL, 'i' },                       \
	{ "uuid", required_argument, NULL, CMD_OPT_UUID },                   \
	{ "serial", required_argument, NULL, CMD_OPT_SERIAL },               \
	{ "baud", required_argument, NULL, CMD_OPT_BAUD },                   \
	{ "request-bootloader", no_argument, NULL, CMD_OPT_REQUEST_BOOTLOADER }
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

/* A loaded and classified image. */
struct cmd_image {
	char path[256];
	uint8_t *data;
	size_t len;
	struct image_info info;
};

/* Read and inspect path. On failure prints the one-line error and returns its exit code (65,
 * 66); 0 on success. Free with cmd_image_fini. */
int cmd_image_load(struct cmd_image *img, const char *path);
void cmd_image_fini(struct cmd_image *img);

/* What one run of jobs does. */
struct cmd_run {
	const enum updater_step *steps;
	size_t nsteps;
	struct updater_options opts;
	bool in_katapult; /* the node is expected in Katapult already: no bootloader request */
	/* Optional per-finished-device hook (info prints the CONNECT facts). */
	void (*on_result)(const struct device_identity *id, int err, void *ctx);
	void *ctx;
};

/*
 * Run every target through run->steps at once on one loop, one updater each (the fleet):
 * one failure never stops the others. images[i] belongs to targets->v[i] (NULL entries: no
 * image). Prints progress, the table or JSON summary; returns the worst exit code.
 */
int cmd_run_targets(const struct cmd_targets *targets, struct cmd_image *const *images,
		    const struct cmd_run *run);

/* The options common to flash-like verbs: --dry-run, --no-reboot, --force,
 * --allow-bitrate-mismatch, --timeout, --switch-to. Returns 1 handled, 0 not ours, or 64 after
 * an error. */
int cmd_updater_option(struct updater_options *o, const char *verb, int c, const char *arg);

/*
 * Parse a verb that takes targets, --timeout (and, with allow_no_reboot, --no-reboot) but no
 * positional argument. usage prints the verb's help. Returns 0, -1 after --help, or 64.
 */
int cmd_parse_targets_only(int argc, char **argv, const char *verb, void (*usage)(FILE *out),
			   bool allow_no_reboot, struct cmd_targets *t, struct updater_options *o);

/* --dry-run: identify, check, then finish puts a probe taken out of its application back. */
extern const enum updater_step cmd_steps_dry_run[3];

/* The verbs of this family (cli.c's table): argv[0] is the verb, the result an exit code. */
int run_flash(int argc, char **argv);
int run_verify(int argc, char **argv);
int run_info(int argc, char **argv);
int run_bootloader(int argc, char **argv);
int run_reboot(int argc, char **argv);
int run_scan(int argc, char **argv);
int run_fleet(int argc, char **argv);

#endif
