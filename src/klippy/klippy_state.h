/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What Klipper says about the printer: state, print state, configured MCUs and their firmware. */
#ifndef CARTOFLASH_SRC_KLIPPY_KLIPPY_STATE_H
#define CARTOFLASH_SRC_KLIPPY_KLIPPY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "appid/appdict.h"

struct loop;
struct cf_failure;

#define KLIPPY_STATE_MCUS_MAX 16
#define KLIPPY_STATE_TIMEOUT_US 3000000u /* the whole snapshot: Klipper answers in milliseconds */

/* One configured MCU: a config section with canbus_uuid or serial (Klipper klippy/mcu.py). */
struct klippy_mcu {
	char object[72];      /* its status object: "mcu", "mcu scanner" */
	char section[64];     /* the config section naming it ("mcu scanner", "scanner") */
	char canbus_uuid[13]; /* lower-case, "" for a serial MCU */
	char canbus_iface[64];/* canbus_interface, default "can0" */
	char serial[256];     /* "/dev/serial/by-id/…", "" for a CAN MCU */
	/* Klipper talks to it now: the mcu object carries mcu_version (set once klippy identified
	 * it, klippy/mcu.py _mcu_identify) */
	bool connected;
	bool has_facts;	      /* facts below came from mcu_version / mcu_constants */
	struct appdict facts; /* version, build, MCU, interface, CAN bitrate (the same mapping as
			       * an image's dictionary) */
};

struct klippy_state {
	char socket[256];
	char state[16];		/* info.state: ready, startup, shutdown, error */
	char state_message[192];
	char software_version[64];
	char hostname[64];
	char config_file[256];
	/* print_stats.state (standby, printing, paused, complete, cancelled, error); "" when
	 * Klipper has no print_stats object (no [virtual_sdcard]) */
	char print_state[16];
	char print_filename[128];
	char idle_state[16]; /* idle_timeout.state: Idle, Ready, Printing */
	struct klippy_mcu mcus[KLIPPY_STATE_MCUS_MAX];
	size_t nmcus;
	pid_t pid;	 /* process listening on the socket, 0 when /proc does not say */
	char unit[128];	 /* its systemd unit ("klipper.service"), "" when none */
	char cmdline[192];
};

/*
 * Ask the API socket at path (info, objects/list, objects/query of webhooks, print_stats,
 * idle_timeout, configfile settings and every mcu object) and fill *st, running loop until
 * the answers are in or timeout_us passed (the loop must carry nothing else that minds
 * waiting). Returns 0; CF_ERR_NO_DEVICE when there is no Klipper (no socket file, nobody
 * listening: why says which); CF_ERR_TIMEOUT when Klipper accepted but did not answer in
 * time, or the socket vanished midway (CF_ERR_NO_DEVICE then too); CF_ERR_ACCESS.
 */
int klippy_state_read(struct loop *loop, const char *path, uint64_t timeout_us,
		      struct klippy_state *st, struct cf_failure *why);

/*
 * Fill st's MCUs and print facts from a parsed objects/query "status" object (JSON text) and
 * the configfile settings inside it. Used by klippy_state_read; exposed for tests. Returns 0
 * or CF_ERR_PROTOCOL.
 */
int klippy_state_parse_status(struct klippy_state *st, const char *status_json, size_t len);

/* The printer is busy with a job: print_stats printing or paused, or idle_timeout Printing. */
bool klippy_state_is_busy(const struct klippy_state *st);

/* The configured MCU whose canbus_uuid is uuid (12 hex, any case), or NULL. */
const struct klippy_mcu *klippy_state_find_uuid(const struct klippy_state *st, const char *uuid);
/* The configured MCU whose serial path names the same device as tty (both resolved), or
 * NULL. */
const struct klippy_mcu *klippy_state_find_tty(const struct klippy_state *st, const char *tty);

/*
 * The process that listens on the Unix socket path (/proc/net/unix, then /proc/<pid>/fd) and
 * its systemd unit as src/usb/inuse.h names units. Returns 0 with *pid (and unit, cmdline),
 * CF_ERR_NO_DEVICE when no listener is visible (another user's process without root).
 */
int klippy_state_socket_owner(const char *path, pid_t *pid, char *unit, size_t unit_cap,
			      char *cmdline, size_t cmd_cap);

#endif
