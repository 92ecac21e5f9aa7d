/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Find every probe and what it runs, from every source, without rebooting any of them. */
#ifndef CARTOFLASH_SRC_DISCOVER_DISCOVER_H
#define CARTOFLASH_SRC_DISCOVER_DISCOVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "appid/appdict.h"
#include "can/canbridge.h"
#include "failure.h"
#include "klippy/klippy_state.h"

struct loop;

/*
 * Sources, in the order they are asked (`cartoflash status`, `update --all`):
 *   1. Klipper's API socket: print state, the MCUs of its configuration (canbus_uuid, serial)
 *      and, for those it is connected to, their firmware (mcu_version, mcu_constants).
 *   2. Klipper config files (--klipper-config; printer.cfg of the invoking user when Klipper
 *      does not answer): canbus_uuid entries.
 *   3. Each CAN interface: the admin query (unassigned nodes answer), a sweep of the identify
 *      node ids (src/appid/appid_can.h); free applications are identified directly, Katapult
 *      nodes CONNECTed. A node Klipper holds never answers the query and is never spoken to.
 *   4. USB in sysfs: applications (identify over their tty when no process holds it),
 *      Katapult (CONNECT), ROM DFU; then libusb for ROM DFU devices.
 * Nothing reboots a probe, enters a bootloader or writes flash. Every bus touched is locked
 * (src/buslock.h) while it is asked.
 */

enum discover_link {
	DISCOVER_LINK_CAN,
	DISCOVER_LINK_USB, /* a tty on USB (application, Katapult) */
	DISCOVER_LINK_DFU, /* STM32 ROM DFU on a USB port */
};

enum discover_mode {
	DISCOVER_MODE_UNKNOWN,
	DISCOVER_MODE_APPLICATION,
	DISCOVER_MODE_KATAPULT,
	DISCOVER_MODE_ROM_DFU,
	DISCOVER_MODE_SILENT, /* configured, but nothing answered for it */
};

enum discover_holder {
	DISCOVER_FREE,
	DISCOVER_HELD_KLIPPER, /* Klipper is connected to it (API) or holds its tty */
	DISCOVER_HELD_PROCESS, /* another process holds its tty */
};

/* Where the firmware facts came from. */
enum discover_source {
	DISCOVER_SRC_NONE,
	DISCOVER_SRC_IDENTIFY, /* its own identify dictionary, asked directly */
	DISCOVER_SRC_KLIPPER,  /* Klipper's API (mcu_version, mcu_constants) */
	DISCOVER_SRC_CONNECT,  /* Katapult CONNECT */
	DISCOVER_SRC_USB,      /* USB descriptors only */
};

struct discover_probe {
	char name[64];	       /* the config section naming it ("mcu scanner"), "" when none */
	char config_file[256]; /* the file that names it ("" for Klipper's own config) */
	enum discover_link link;
	char iface[64];	 /* CAN interface */
	char uuid[13];	 /* CAN UUID (computed from the serial for USB) */
	int node_id;	 /* CAN node id it holds after identify (224-254), -1 none */
	char serial[64]; /* USB serial = chip UID */
	char usb_path[32];
	char tty[128];
	char by_id[256]; /* its /dev/serial/by-id link, read (never built) */
	uint16_t vid, pid;
	enum discover_mode mode;
	enum discover_source source;
	bool has_app;	  /* app below is filled (application mode) */
	struct appdict app;
	char variant[24]; /* "full", "lite", "K1" … of the running version */
	/* Katapult (CONNECT) */
	char katapult_mcu[32];
	char katapult_version[64]; /* "" for the fork builds without a version string */
	uint32_t katapult_protocol;
	uint32_t app_start; /* Katapult's application start */
	enum discover_holder holder;
	char holder_text[192]; /* "Klipper (pid 812, klipper.service)" */
	bool klipper_connected;
	char note[256]; /* why a fact is missing, or what to do */
};

struct discover_bus {
	char iface[64];
	int err;	     /* 0, or why the bus could not be asked (missing, down, locked) */
	char err_text[256];
	uint32_t iface_bitrate; /* what the interface says (0: cannot tell) */
	struct canbridge_info bridge;
	struct canbridge_bitrate bitrate; /* the figure R3 may use, and its source */
	unsigned answered;		  /* nodes that answered the admin query */
	unsigned parked;		  /* applications found on the identify node ids */
};

#define DISCOVER_MAX_CONFIGS 8
#define DISCOVER_MAX_BUSES   8
#define DISCOVER_MAX_WANT    64
#define DISCOVER_TIMEOUT_US  5000000u /* all identify sessions together */

struct discover_opts {
	const char *klippy_socket; /* NULL: the invoking user's default; "" asks no Klipper */
	const char *configs[DISCOVER_MAX_CONFIGS];
	size_t nconfigs;
	bool default_config; /* read ~/printer_data/config/printer.cfg when Klipper is silent */
	const char *cans[DISCOVER_MAX_BUSES]; /* interfaces to ask besides the automatic ones */
	size_t ncans;
	bool auto_cans;	 /* every CAN netdev in sysfs that is up, and Klipper's interfaces */
	bool usb;	 /* USB devices from sysfs */
	bool dfu;	 /* ROM DFU devices through libusb */
	uint64_t timeout_us;   /* 0: DISCOVER_TIMEOUT_US */
	uint64_t lock_wait_us; /* how long a locked bus is waited for */
	const char *verb;      /* written into the lock files ("status", "update") */
	/* A run that looks for its own targets only: the admin query of a bus ends as soon as
	 * every UUID wanted on it answered, not after its quiet window (flash's identify). */
	const char *want_ifaces[DISCOVER_MAX_WANT];
	const char *want_uuids[DISCOVER_MAX_WANT];
	size_t nwant;
};

struct discover_result {
	struct discover_probe *v; /* owned; discover_result_fini frees */
	size_t count, cap;
	struct discover_bus buses[DISCOVER_MAX_BUSES];
	size_t nbuses;
	bool klipper; /* the API socket answered: klipper_state is valid */
	struct klippy_state klipper_state;
	struct cf_failure klipper_why; /* why not, when it did not */
	char config_note[256];	       /* a config file that could not be read */
};

/*
 * Run every source on loop and fill r (zeroed first). Per-source trouble is recorded, not
 * fatal (a bus that is down, a socket that vanished, a probe that did not answer); the
 * return is 0, or CF_ERR_NOMEM / CF_ERR_INTERRUPTED. Blocks only while the loop runs.
 */
int discover_run(struct loop *loop, const struct discover_opts *o, struct discover_result *r);
void discover_result_fini(struct discover_result *r);

/* Stable tokens for JSON and tables. */
const char *discover_link_name(enum discover_link link);	/* "can", "usb", "dfu" */
const char *discover_mode_name(enum discover_mode mode);	/* "application" … "silent" */
const char *discover_holder_name(enum discover_holder holder); /* "", "klipper", "process" */
const char *discover_source_name(enum discover_source src);	/* "identify", "klipper" … */

/* The row as one JSON object with the keys of `status --json` (caller decrefs). */
json_t *discover_probe_json(const struct discover_probe *p);
json_t *discover_bus_json(const struct discover_bus *b);

#endif
