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
		/* katapult.md §1.3: out of order, below the start, unaligned or flash failure;
		 * a retransmit is never refused, so resending cannot help. */
		cf_failure_set(&e->failure, CF_ERR_PROTOCOL, "write",
			       "bootloader refused block 0x%08x (command error: out-of-order write "
			       "or flash write failed)",
			       e->addr);
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

static const char *hint_for(const struct katapult_engine *e)
{
	const enum katapult_engine_stage stage = engine_flow_stage(e);

	switch (e->failure.code) {
	case CF_ERR_WEDGED:
		return "bootloader wedged - power-cycle the probe, then rerun flash";
	case CF_ERR_INTERRUPTED:
		return e->wrote ? "left in Katapult with an incomplete application; rerun flash "
				  "to resume"
				: "nothing written, probe left in Katapult";
	case CF_ERR_NACK:
		return "the bootloader rejected the frame every time; power-cycle the probe if it "
		       "stops answering, then rerun flash";
	case CF_ERR_NO_DEVICE:
		return "another node answers on this node id; check the UUID with cartoflash scan";
	case CF_ERR_VERIFY:
		return e->cfg.op == KATAPULT_ENGINE_FLASH ? "left in Katapult, rerun flash"
							  : "left in Katapult; flash the image";
	}
	if (stage == KATAPULT_STAGE_COMPLETE)
		return "COMPLETE was not acknowledged; the probe may already run its application - "
		       "check with cartoflash scan";
	if (stage == KATAPULT_STAGE_CONNECT && e->failure.code == CF_ERR_TIMEOUT)
		return "is the probe in Katapult on this interface? If an earlier run was cut off "
		       "mid-command, power-cycle the probe";
	if (e->wrote)
		return "left in Katapult, rerun flash";
	return "nothing written, probe left in Katapult; rerun the command";
}

void engine_fail_hint(struct katapult_engine *e)
{
	if (e->failure.hint[0])
		return;
	cf_failure_set_hint(&e->failure, "%s", hint_for(e));
}
