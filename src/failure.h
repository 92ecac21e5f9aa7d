/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Context that travels outward with an error: who, where, what, and what to do next. */
#ifndef CARTOFLASH_SRC_FAILURE_H
#define CARTOFLASH_SRC_FAILURE_H

/*
 * The transport sets code and sys_errno; the updater adds stage and detail (the block address,
 * the refusal rule and both values); the session adds the device; the CLI prints one line:
 *   cartoflash: probe e0ef270ca188 (can0 node 3): verify: block 0x08002400 differs; left in
 *   Katapult, rerun flash
 */
struct cf_failure {
	int code;	 /* enum cf_err, negative; 0 = no failure recorded */
	int sys_errno;	 /* raw errno where a syscall failed, else 0 */
	char device[96]; /* "probe e0ef270ca188 (can0 node 3)" */
	char stage[32];	 /* "connect", "write", "verify", "refusal R3" ... */
	char detail[256];
	char hint[256]; /* the next step for the user */
};

/* Reset to "no failure". */
void cf_failure_clear(struct cf_failure *f);
/* Record code, stage and a printf-style detail. NULL f is allowed (no-op). Returns code. */
int cf_failure_set(struct cf_failure *f, int code, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cf_failure_set_device(struct cf_failure *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cf_failure_set_hint(struct cf_failure *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Format the one-line message (no program prefix, no newline) into buf. */
void cf_failure_format(const struct cf_failure *f, char *buf, unsigned long cap);
/* Print "cartoflash: <line>\n" to stderr. */
void cf_failure_print(const struct cf_failure *f);

#endif
