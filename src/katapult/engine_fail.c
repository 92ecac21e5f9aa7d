// SPDX-License-Identifier: GPL-3.0-or-later
// What a failed Katapult session says: the facts (command, block address) and the next step.
#include "katapult/engine.h"

#include <stdio.h>

#include "katapult/engine_internal.h"
#include "protocol/err.h"

bool engine_fail_cmd_error(struct katapult_engine *e)
{
	switch (e->cmd) {
	case KATAPULT_CMD_SEND_BLOCK:
		/* A stop was asked for: this reply ends the run; a rerun deals with the block. */
		if (e->cancel) {
			engine_finish_interrupted(e);
			return true;
		}
		/* katapult.md §1.6: old data behind the quarter Katapult tests; erase again. */
		if (engine_flow_reerase(e))
			return true;
		/* katapult.md §1.3: out of order, below the start, unaligned or flash failure;
		 * a retransmit is never refused, so resending cannot help. */
		cf_failure_set(&e->failure, CF_ERR_PROTOCOL, "write",
			       "bootloader refused block 0x%08x (command error: out-of-order write "
			       "or flash write failed%s)",
			       e->addr, e->reerased ? ", also after erasing its page again" : "");
		engine_finish(e, CF_ERR_PROTOCOL);
		return true;
	case KATAPULT_CMD_GET_CANBUS_ID:
		cf_failure_set(&e->failure, CF_ERR_NOT_SUPPORTED, "connect",
			       "GET_CANBUS_ID answered with a command error: not a CAN bootloader");
		engine_finish(e, CF_ERR_NOT_SUPPORTED);
		return true;
	}
	/* flashtool §1.8 (3): any other command error is retried. */
	engine_log(e, "command error on %s, try %u/%u", katapult_cmd_name(e->cmd), e->tries,
		   e->max_tries);
	return false;
}

static void describe_cmd(const struct katapult_engine *e, char *buf, size_t cap)
{
	if (e->cmd == KATAPULT_CMD_SEND_BLOCK || e->cmd == KATAPULT_CMD_REQUEST_BLOCK)
		snprintf(buf, cap, "%s 0x%08x", katapult_cmd_name(e->cmd), e->addr);
	else
		snprintf(buf, cap, "%s", katapult_cmd_name(e->cmd));
}

void engine_fail_give_up(struct katapult_engine *e, int err)
{
	const char *stage = katapult_engine_stage_name(engine_flow_stage(e));
	char what[48];

	describe_cmd(e, what, sizeof(what));
	switch (err) {
	case CF_ERR_WEDGED:
		cf_failure_set(&e->failure, err, stage,
			       "NACK on %s, then silence on %u tries: the bootloader parser is "
			       "wedged",
			       what, e->max_tries);
		break;
	case CF_ERR_NACK:
		cf_failure_set(&e->failure, err, stage, "%s rejected with NACK after %u tries",
			       what, e->max_tries);
		break;
	case CF_ERR_BUSY:
		cf_failure_set(&e->failure, err, stage, "device busy on all %u tries of %s",
			       e->max_tries, what);
		break;
	default:
		cf_failure_set(&e->failure, err, stage, "no reply to %s after %u tries", what,
			       e->max_tries);
		break;
	}
	engine_finish(e, err);
}

const char *katapult_engine_app_text(const struct katapult_engine *e)
{
	switch (e->app) {
	case KATAPULT_APP_UNTOUCHED:
		return "";
	case KATAPULT_APP_MAYBE_ERASED:
		return "the old application may already be erased";
	case KATAPULT_APP_INVALID:
		return "the application is erased, so the probe stays in Katapult, also after a "
		       "reset or power cycle";
	case KATAPULT_APP_HALF:
		return "page 0 is half written: the application looks valid but is not, and a "
		       "reset or power cycle would start it";
	case KATAPULT_APP_WRITTEN:
		return "every block is written (Katapult compared each), not all read back: a "
		       "reset starts the new application";
	case KATAPULT_APP_VERIFIED:
		return "the new application is written and verified: a reset starts it";
	case KATAPULT_APP_DIFFERS:
		return "the application differs from the image, and a reset would start it";
	case KATAPULT_APP_STARTED:
		return "the new application is starting";
	}
	return "";
}

/* The probe stopped answering: it may have been reset, and then runs what its flash holds. */
static void hint_silent(struct katapult_engine *e, const char *fallback)
{
	switch (e->app) {
	case KATAPULT_APP_HALF:
		cf_failure_set_hint(&e->failure,
				    "%s. Still in Katapult: rerun flash now; if it was reset: short "
				    "its RESET pads twice within 0.5 s (or cartoflash recover), then "
				    "rerun flash",
				    katapult_engine_app_text(e));
		return;
	case KATAPULT_APP_WRITTEN:
	case KATAPULT_APP_VERIFIED:
	case KATAPULT_APP_DIFFERS:
		cf_failure_set_hint(&e->failure,
				    "%s; if the probe was reset it runs it now, else it waits in "
				    "Katapult - check with cartoflash scan, then rerun flash",
				    katapult_engine_app_text(e));
		return;
	case KATAPULT_APP_MAYBE_ERASED:
	case KATAPULT_APP_INVALID:
		cf_failure_set_hint(&e->failure, "%s; %s", katapult_engine_app_text(e), fallback);
		return;
	case KATAPULT_APP_UNTOUCHED:
	case KATAPULT_APP_STARTED:
		break;
	}
	cf_failure_set_hint(&e->failure, "%s", fallback);
}

/* A stop on request (or after a refused block) with what is known about the probe. */
static void hint_stopped(struct katapult_engine *e, const char *next)
{
	switch (e->app) {
	case KATAPULT_APP_UNTOUCHED:
		cf_failure_set_hint(&e->failure, "nothing written, probe left in Katapult");
		return;
	case KATAPULT_APP_HALF:
		cf_failure_set_hint(&e->failure,
				    "%s; erasing page 0 again failed - rerun flash now, before any "
				    "reset or power cycle",
				    katapult_engine_app_text(e));
		return;
	case KATAPULT_APP_WRITTEN:
	case KATAPULT_APP_VERIFIED:
		cf_failure_set_hint(&e->failure, "left in Katapult; %s; %s",
				    katapult_engine_app_text(e), next);
		return;
	case KATAPULT_APP_MAYBE_ERASED:
	case KATAPULT_APP_INVALID:
	case KATAPULT_APP_DIFFERS:
	case KATAPULT_APP_STARTED:
		break;
	}
	cf_failure_set_hint(&e->failure, "%s%s; %s", katapult_engine_app_text(e),
			    e->invalidate_failed ? " (erasing page 0 again failed)" : "", next);
}

static void hint_wedged(struct katapult_engine *e)
{
	if (e->app == KATAPULT_APP_HALF || e->app == KATAPULT_APP_DIFFERS)
		cf_failure_set_hint(&e->failure,
				    "bootloader wedged; %s: power-cycle it, short its RESET pads "
				    "twice within 0.5 s (or cartoflash recover), then rerun flash",
				    katapult_engine_app_text(e));
	else if (e->app == KATAPULT_APP_WRITTEN)
		cf_failure_set_hint(&e->failure,
				    "bootloader wedged; %s: power-cycle the probe, then rerun flash "
				    "to verify it",
				    katapult_engine_app_text(e));
	else
		cf_failure_set_hint(&e->failure,
				    "bootloader wedged - power-cycle the probe, then rerun flash");
}

void engine_fail_hint(struct katapult_engine *e)
{
	const enum katapult_engine_stage stage = engine_flow_stage(e);
	const bool flash = e->cfg.op == KATAPULT_ENGINE_FLASH;

	if (e->failure.hint[0])
		return;
	switch (e->failure.code) {
	case CF_ERR_WEDGED:
		hint_wedged(e);
		return;
	case CF_ERR_INTERRUPTED:
		hint_stopped(e, e->app == KATAPULT_APP_VERIFIED ? "cartoflash reboot starts it"
								: "rerun flash to resume");
		return;
	case CF_ERR_PROTOCOL:
		if (e->wrote) {
			hint_stopped(e, "rerun flash");
			return;
		}
		break;
	case CF_ERR_NO_DEVICE:
		cf_failure_set_hint(&e->failure, "another node answers on this node id; check the "
						 "UUID with cartoflash scan");
		return;
	case CF_ERR_VERIFY:
		if (flash)
			hint_stopped(e, "rerun flash");
		else
			cf_failure_set_hint(&e->failure, "left in Katapult; flash the image");
		return;
	case CF_ERR_NACK:
		hint_silent(e, "the bootloader rejected the frame every time; power-cycle the probe "
			       "if it stops answering, then rerun flash");
		return;
	case CF_ERR_IO:
		hint_silent(e, "check the cable or bus, power-cycle the probe, then rerun flash");
		return;
	}
	if (stage == KATAPULT_STAGE_COMPLETE) {
		cf_failure_set_hint(&e->failure,
				    "COMPLETE was not acknowledged; the probe may already run its "
				    "application - check with cartoflash scan");
		return;
	}
	if (stage == KATAPULT_STAGE_CONNECT && e->failure.code == CF_ERR_TIMEOUT) {
		cf_failure_set_hint(&e->failure,
				    "is the probe in Katapult on this interface? If an earlier run "
				    "was cut off mid-command, power-cycle the probe");
		return;
	}
	hint_silent(e, e->wrote ? "left in Katapult, rerun flash"
				: "nothing written, probe left in Katapult; rerun the command");
}
