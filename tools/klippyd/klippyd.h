/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test stand-in for Klipper's API socket (Klipper docs, API_Server.md): framing, methods, states. */
#ifndef CARTOFLASH_TOOLS_KLIPPYD_KLIPPYD_H
#define CARTOFLASH_TOOLS_KLIPPYD_KLIPPYD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct klippyd;

/*
 * What klippy.py -a PATH serves, as far as a flasher asks: a Unix stream socket carrying JSON
 * objects each terminated by 0x03; "info", "objects/list", "objects/query" (and
 * "objects/subscribe" answered like a query), "emergency_stop" (sets the shutdown state);
 * any other method gets Klipper's error reply; a request without "id" gets no answer;
 * undecodable requests are skipped, as webhooks.py does.
 *
 * A scenario (JSON) holds the printer:
 *   {"info": {"state": "ready", "state_message": …, "software_version": …, …},
 *    "objects": {"configfile": {"settings": {"mcu scanner": {"canbus_uuid": …}}},
 *                "print_stats": {"state": "printing", "filename": "benchy.gcode"},
 *                "mcu scanner": {"mcu_version": …, "mcu_constants": {…}}, …},
 *    "timeline": [{"after": 1.5, "set": {"print_stats": {"state": "complete"}}}]}
 * "timeline" entries change objects (merged field by field, "info" too) once "after" seconds
 * have passed since the scenario was loaded: states that change over time.
 */

struct klippyd_config {
	const char *socket; /* borrowed */
	bool mute;	    /* accept and read, never answer (a hung Klipper) */
	/* Optional: one line per request ("info", "objects/query print_stats,…") */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
};

/* Create (not yet listening). Returns 0 and *out, or CF_ERR_NOMEM. */
int klippyd_new(struct loop *loop, const struct klippyd_config *cfg, struct klippyd **out);
void klippyd_free(struct klippyd *k); /* NULL-safe: stops first */

/* Replace the scenario (root is copied; its timeline starts now). CF_ERR_USAGE when root is no
 * object. */
int klippyd_set_scenario(struct klippyd *k, const json_t *root);
/* Read a scenario file. 0, CF_ERR_NOINPUT, CF_ERR_USAGE (not JSON: the line in *err). */
int klippyd_load(struct klippyd *k, const char *path, char *err, size_t cap);

/* Bind and listen at the socket path (a stale file is replaced). 0 or CF_ERR_IO. */
int klippyd_start(struct klippyd *k);
/* Vanish: close every connection and the listener, unlink the socket file. */
void klippyd_stop(struct klippyd *k);
bool klippyd_running(const struct klippyd *k);

/* Requests answered so far (tests). */
unsigned klippyd_requests(const struct klippyd *k);

#endif
