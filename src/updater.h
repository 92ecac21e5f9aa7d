/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The backend contract: Katapult and DFU updaters behind one interface (design.md, style.md §2.2). */
#ifndef CARTOFLASH_SRC_UPDATER_H
#define CARTOFLASH_SRC_UPDATER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

struct loop;
struct updater;
struct cf_failure;
struct image_info; /* protocol/image.h */

/* What a step tells the layer above while it runs (progress bars, --json events). */
struct updater_events {
	void *ctx;
	/* stage: "connect", "write", "verify" ...; done/total in bytes (total 0 = unknown). */
	void (*progress)(void *ctx, struct updater *u, const char *stage, size_t done, size_t total);
	/* A step finished: err is 0 or a negative cf_err with details in updater_failure(u). */
	void (*step_done)(void *ctx, struct updater *u, int err);
};

enum updater_step {
	UPDATER_IDENTIFY,    /* find the device, get it into its bootloader, connect */
	UPDATER_CHECK_IMAGE, /* refusal rules R1-R6 against the identity; writes nothing */
	UPDATER_WRITE,
	UPDATER_VERIFY,
	UPDATER_FINISH, /* leave the bootloader and confirm the application came back */
};

/*
 * Each op starts its step and returns at once: 0 when started (the end is reported through
 * events.step_done from the backend's own loop sources and timers), or a negative cf_err when
 * it could not start. No op blocks or sleeps. Ops the backend does not offer may be NULL.
 */
struct updater_ops {
	const char *name; /* "katapult", "dfu" */
	size_t priv_size;
	int (*identify)(struct updater *u);
	int (*check_image)(struct updater *u);
	int (*write)(struct updater *u);
	int (*verify)(struct updater *u);
	int (*finish)(struct updater *u);
	/* Stop at the next safe point (never mid-frame); reports CF_ERR_INTERRUPTED. */
	void (*cancel)(struct updater *u);
	void (*release)(struct updater *u);
};

/* Refusal overrides (images.md §7); --force lifts only the sane ones and says which. */
enum updater_force {
	UPDATER_FORCE_BITRATE = 1u << 0,   /* R3 */
	UPDATER_FORCE_SWITCH = 1u << 1,	   /* R4: explicit interface switch requested */
	UPDATER_FORCE_UNKNOWN = 1u << 2,   /* R7: --allow-unknown, no known release build */
	UPDATER_FORCE_LINK_BASE = 1u << 3, /* R1: user states the load address */
	UPDATER_FORCE_VARIANT = 1u << 4,   /* R8: --allow-variant-change */
};

/*
 * --switch-to (images.md §7 R4): the interface a deployer is to leave the probe on. Its own enum
 * so this header needs no protocol/image.h; src/katapult/switch.h maps it to enum image_iface.
 */
enum updater_switch {
	UPDATER_SWITCH_NONE, /* no interface change requested */
	UPDATER_SWITCH_CAN,
	UPDATER_SWITCH_USB,
};

struct updater_options {
	bool dry_run;	 /* every check, no write */
	bool no_reboot;	 /* leave the device in its bootloader */
	unsigned force;	 /* enum updater_force bits */
	bool mass_erase; /* DFU only */
	bool unprotect;	 /* DFU only: read-unprotect, wipes the chip */
	uint64_t timeout_us; /* overall deadline for reaching the bootloader; 0 = backend default */
	enum updater_switch switch_to; /* --switch-to: lets R4 pass a deployer of that interface */
};

struct updater_config {
	const struct updater_ops *ops;
	struct loop *loop;
	struct updater_events events;
	/* What the user named (iface + can_uuid, tty, usb_path); the backend fills the rest. */
	struct device_identity target;
	/* Borrowed for the updater's lifetime. NULL for steps that need no image (info, reboot). */
	const uint8_t *image;
	size_t image_len;
	const struct image_info *image_info;
	/* Second image for DFU recovery (application behind a bootloader image), else NULL. */
	const uint8_t *app_image;
	size_t app_image_len;
	const struct image_info *app_image_info;
	struct updater_options opts;
};

/* Allocate an updater with ops->priv_size private bytes. Caller frees with updater_free. */
struct updater *updater_new(const struct updater_config *cfg);
/* Calls ops->release; NULL-safe. */
void updater_free(struct updater *u);
/* Start one step; CF_ERR_NOT_SUPPORTED when the backend has no such op. */
int updater_start_step(struct updater *u, enum updater_step step);
void updater_cancel(struct updater *u);

/* For backends: */
void *updater_priv(struct updater *u);
const struct updater_config *updater_get_config(const struct updater *u);
struct device_identity *updater_identity(struct updater *u);
struct cf_failure *updater_failure(struct updater *u);
/* Report the end of the running step (0 or negative cf_err; details already in the failure). */
void updater_step_done(struct updater *u, int err);
void updater_progress(struct updater *u, const char *stage, size_t done, size_t total);
const char *updater_step_name(enum updater_step step);
/* A short outcome text for the report table ("CARTOGRAPHER 5.1.0 written, 341 blocks verified");
 * the backend sets it as steps finish. Borrowed, valid until updater_free. */
void updater_set_summary(struct updater *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *updater_get_summary(const struct updater *u);

#endif
