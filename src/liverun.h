/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A run on a live printer: the print guard and the bus locks around it, and a dry run that
 * reboots nothing. */
#ifndef CARTOFLASH_SRC_LIVERUN_H
#define CARTOFLASH_SRC_LIVERUN_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buslock.h"
#include "cli.h"
#include "guard.h"
#include "protocol/image.h"

struct loop;
struct report;

/* The options every verb that reboots probes takes (their long-only ids, clear of the verbs'). */
enum {
	LIVERUN_OPT_KLIPPY_SOCKET = CLI_OPT_COMMON_END + 0x100,
	LIVERUN_OPT_STOP_KLIPPER,
	LIVERUN_OPT_KLIPPER_SERVICE,
	LIVERUN_OPT_LOCK_WAIT,
};
#define LIVERUN_OPTIONS                                                              \
	{ "klippy-socket", required_argument, NULL, LIVERUN_OPT_KLIPPY_SOCKET },     \
	{ "stop-klipper", no_argument, NULL, LIVERUN_OPT_STOP_KLIPPER },             \
	{ "klipper-service", required_argument, NULL, LIVERUN_OPT_KLIPPER_SERVICE }, \
	{ "lock-wait", required_argument, NULL, LIVERUN_OPT_LOCK_WAIT }
/* For --help texts. */
#define LIVERUN_HELP                                                                        \
	"      --klippy-socket PATH  Klipper's API socket (default\n"                        \
	"                            ~/printer_data/comms/klippy.sock of the invoking user)\n" \
	"      --stop-klipper        stop Klipper's service when it holds a probe, start it\n" \
	"                            again afterwards (never while it prints)\n"             \
	"      --klipper-service UNIT  the systemd unit to stop (default: the socket's owner)\n" \
	"      --lock-wait DURATION  wait this long for a bus another run holds (default 10s)\n"

struct liverun_opts {
	const char *klippy_socket; /* NULL: the invoking user's default */
	bool stop_klipper;
	const char *klipper_service;
	uint64_t lock_wait_us;
	bool lock_wait_set;
	/* the caller chose each image by the probe's running build (update): R8 needs no identify */
	bool variants_chosen;
};

/* What the command line said (one run per process, like cli_common). */
extern struct liverun_opts liverun_cli;

/* Handle option c: 1 handled, 0 not ours, or the usage exit code (64) after the message. */
int liverun_option(struct liverun_opts *o, const char *verb, int c, const char *arg);

/* What a verb is about to touch: a CAN node, or a tty ("auto" allowed). */
struct liverun_target {
	const char *iface;
	const char *uuid;
	const char *tty;
	const char *label; /* for the dry run's report lines; may be NULL */
	uint32_t bus_bitrate; /* out (liverun_begin): on a Klipper bridge, the bus's own bitrate */
	/* out (liverun_begin, with images): what its application runs (identify), "" unknown */
	char app_version[96];
	char app_mcu[32];
	uint32_t app_clock;
};

struct liverun {
	struct guard_opts gopts;
	struct guard guard;
	struct buslock *lock;
};

/*
 * Before a run that may reboot probes: the print guard (src/guard.h: refuse while printing,
 * refuse or stop Klipper when it holds a target), then the lock of every bus the targets are
 * on, waiting up to --lock-wait. Then, for CAN targets behind a Klipper USB-to-CAN bridge, the
 * bus bitrate R3 compares with (t[i].bus_bitrate), from the nodes' own dictionaries and
 * Klipper's word, never the host figure; the target's updater decides R3 with it before the
 * bootloader request (src/katapult/katapult_text.h). When no node tells the figure and infos[i]
 * (NULL: no images) is a CAN image, R3 is refused here for the whole run, unless force lifts it. A target that is the bridge MCU of its own
 * interface (its UUID from the bridge's USB serial) is refused (65) when infos[i] is given: a
 * Katapult session over the interface it takes away cannot work. Returns 0 to go on, or the exit code
 * after printing why (75 printing / held / busy, 65 R3). liverun_end must follow a 0,
 * whatever the run's outcome.
 */
int liverun_begin(struct loop *loop, const struct liverun_opts *o, const char *verb,
		  struct liverun_target *t, size_t n, const struct image_info *const *infos,
		  unsigned force, struct liverun *lr);

/* After the run: start Klipper again when liverun_begin stopped it (and say so), release the
 * locks. Returns the run's exit code, or the restart's when that failed and the run did not. */
int liverun_end(struct loop *loop, struct liverun *lr, int code);

/*
 * --dry-run without a reboot: discover the targets' buses (src/discover), then for each target
 * the refusal rules against what it runs now (src/dryrun.h), one report line each. infos[i]
 * and switch_to[i] belong to t[i]. Returns the worst exit code (report_exit_code).
 */
int liverun_dry_run(struct loop *loop, struct report *report, const struct liverun_opts *o,
		    const struct liverun_target *t, size_t n, const struct image_info *const *infos,
		    const enum image_iface *switch_to, unsigned force);

#endif
