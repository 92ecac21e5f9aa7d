/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A non-blocking client of Klipper's API socket (Klipper docs, API_Server) on the event loop. */
#ifndef CARTOFLASH_SRC_KLIPPY_KLIPPY_API_H
#define CARTOFLASH_SRC_KLIPPY_KLIPPY_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct cf_failure;
struct klippy_api;

/*
 * The wire (API_Server.md "Request format"): JSON objects, each terminated by one 0x03 byte,
 * both ways. A request {"id": N, "method": M, "params": {...}} gets {"id": N, "result": {...}}
 * or {"id": N, "error": {"error": …, "message": …}}; messages without our ids (subscriptions)
 * are dropped. Klipper answers out of order when it likes, so replies are matched by id.
 */
#define KLIPPY_API_ETX	     0x03
#define KLIPPY_API_MSG_MAX   (8u << 20) /* one reply; configfile.settings is ~50-300 KiB */
#define KLIPPY_API_CALLS_MAX 8

/*
 * A reply: err 0 with result (borrowed, valid during the call), or err < 0 with why filled:
 * CF_ERR_PROTOCOL for an "error" reply (its message in detail), CF_ERR_TIMEOUT when nothing
 * came before the call's deadline, CF_ERR_NO_DEVICE when the socket closed, CF_ERR_IO.
 */
typedef void (*klippy_api_reply_fn)(void *ctx, int err, json_t *result,
				    const struct cf_failure *why);

/*
 * Connect to the Unix stream socket at path without blocking. Returns 0 and *out (close with
 * klippy_api_close), or: CF_ERR_NO_DEVICE when no socket file exists or nobody listens on it
 * (Klipper not running; why says which), CF_ERR_ACCESS when we may not connect, CF_ERR_IO.
 */
int klippy_api_open(struct loop *loop, const char *path, struct klippy_api **out,
		    struct cf_failure *why);
/* Fail every call still waiting (CF_ERR_NO_DEVICE is not reported: no callback), close.
 * NULL-safe. */
void klippy_api_close(struct klippy_api *a);

/*
 * Send {"id", "method", "params"} (params stolen; NULL = none) and call cb once: with the
 * result, the error, or CF_ERR_TIMEOUT after timeout_us. Never blocks; cb runs from the loop.
 * Returns 0, CF_ERR_BUSY (KLIPPY_API_CALLS_MAX calls waiting), CF_ERR_NOMEM, or the error
 * that already closed the connection.
 */
int klippy_api_call(struct klippy_api *a, const char *method, json_t *params, uint64_t timeout_us,
		    klippy_api_reply_fn cb, void *ctx);

/*
 * Split a byte stream into 0x03-terminated messages: returns the length of the first message
 * in buf[0..len) without its terminator (the terminator is at buf[ret]), or -1 when none is
 * complete yet. Pure.
 */
long klippy_api_frame_end(const char *buf, size_t len);

/*
 * The socket of the invoking user: ~/printer_data/comms/klippy.sock (KIAUH, printer_data
 * installs), with ~ the home of SUDO_USER when running as root under sudo, else of the
 * current user ($HOME, then the password database). Writes a NUL-terminated path.
 */
void klippy_api_default_path(char *buf, size_t cap);

#endif
