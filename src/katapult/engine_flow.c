// SPDX-License-Identifier: GPL-3.0-or-later
// The Katapult session: connect, check, write in the safer order, EOF, verify, COMPLETE.
#include "katapult/engine.h"

#include <string.h>

#include "katapult/engine_internal.h"
#include "protocol/err.h"
#include "protocol/mcu.h"

static const char *const stage_names[] = {
    [KATAPULT_STAGE_CONNECT] = "connect",   [KATAPULT_STAGE_CHECK] = "check",
    [KATAPULT_STAGE_WRITE] = "write",	    [KATAPULT_STAGE_VERIFY] = "verify",
    [KATAPULT_STAGE_COMPLETE] = "complete", [KATAPULT_STAGE_FINISHED] = "finished",
};

const char *katapult_engine_stage_name(enum katapult_engine_stage stage)
{
	if ((unsigned)stage >= sizeof(stage_names) / sizeof(stage_names[0]))
		return "unknown";
	return stage_names[stage];
}

enum katapult_engine_stage engine_flow_stage(const struct katapult_engine *e)
{
	switch (e->phase) {
	case ENGINE_PHASE_PRIME:
	case ENGINE_PHASE_CONNECT:
	case ENGINE_PHASE_CANBUS_ID:
		return KATAPULT_STAGE_CONNECT;
	case ENGINE_PHASE_WRITE:
	case ENGINE_PHASE_EOF:
		return KATAPULT_STAGE_WRITE;
	case ENGINE_PHASE_VERIFY:
		return KATAPULT_STAGE_VERIFY;
	case ENGINE_PHASE_COMPLETE:
		return KATAPULT_STAGE_COMPLETE;
	case ENGINE_PHASE_END:
		return KATAPULT_STAGE_FINISHED;
	}
	return KATAPULT_STAGE_FINISHED;
}

void katapult_engine_progress(const struct katapult_engine *e, struct katapult_engine_progress *out)
{
	out->stage = engine_flow_stage(e);
	out->stage_name = katapult_engine_stage_name(out->stage);
	out->done = 0;
	out->total = 0;
	if (out->stage == KATAPULT_STAGE_WRITE || out->stage == KATAPULT_STAGE_VERIFY ||
	    (out->stage == KATAPULT_STAGE_FINISHED && e->nblocks)) {
		out->done = e->done_blocks * KATAPULT_BLOCK_SIZE;
		out->total = e->nblocks * KATAPULT_BLOCK_SIZE;
	}
}

/* ---- blocks and their order --------------------------------------------------------------- */

/* Image block i as sent: the last one padded with 0xFF to a full block (katapult.md §1.3). */
static const uint8_t *block_data(const struct katapult_engine *e, size_t i)
{
	if (i + 1 == e->nblocks)
		return e->last_block;
	return e->cfg.image + i * KATAPULT_BLOCK_SIZE;
}

static uint32_t block_addr(const struct katapult_engine *e, size_t i)
{
	return e->info.app_start + (uint32_t)(i * KATAPULT_BLOCK_SIZE);
}

static size_t write_steps(const struct katapult_engine *e)
{
	return e->page_blocks ? e->nblocks + 1 : e->nblocks;
}

/*
 * katapult.md §5 "Safer ordering" with q blocks per erase page and m = blocks past page 0:
 *   step 0          0xFF at start: erases page 0, the application turns invalid
 *   steps 1..m      blocks q .. n-1 ascending (each page start erases its page)
 *   step m+1        the real block 0 into the still erased page 0
 *   steps m+2..n    blocks 1 .. q-1
 * Block 0 never follows other blocks of page 0: a page-start write would erase them again.
 * Returns false for the 0xFF step, else true with *idx.
 */
static bool write_order(const struct katapult_engine *e, size_t k, size_t *idx)
{
	const size_t n = e->nblocks, q = e->page_blocks;
	const size_t m = n > q ? n - q : 0;

	if (!q) {
		*idx = k;
		return true;
	}
	if (k == 0)
		return false;
	if (k <= m)
		*idx = q + k - 1;
	else if (k == m + 1)
		*idx = 0;
	else
		*idx = k - m - 1;
	return true;
}

/* The write step that sends block idx: write_order's inverse. */
static size_t step_of(const struct katapult_engine *e, size_t idx)
{
	const size_t n = e->nblocks, q = e->page_blocks;
	const size_t m = n > q ? n - q : 0;

	if (!q)
		return idx;
	return idx >= q ? idx - q + 1 : m + 1 + idx;
}

static void send_write_step(struct katapult_engine *e)
{
	size_t idx;

	if (e->step >= write_steps(e)) {
		e->phase = ENGINE_PHASE_EOF;
		engine_command(e, KATAPULT_CMD_SEND_EOF, 0, NULL);
		return;
	}
	if (write_order(e, e->step, &idx))
		engine_command(e, KATAPULT_CMD_SEND_BLOCK, block_addr(e, idx), block_data(e, idx));
	else
		engine_command(e, KATAPULT_CMD_SEND_BLOCK, block_addr(e, 0), e->ff_block);
}

static void send_verify_step(struct katapult_engine *e)
{
	engine_command(e, KATAPULT_CMD_REQUEST_BLOCK, block_addr(e, e->step), NULL);
}

static void start_write(struct katapult_engine *e)
{
	e->phase = ENGINE_PHASE_WRITE;
	e->step = 0;
	e->done_blocks = 0;
	engine_log(e, "writing %zu blocks at 0x%08x, %u-block erase pages%s", e->nblocks,
		   e->info.app_start, e->page_blocks, e->page_blocks ? " (safer order)" : "");
	send_write_step(e);
}

static void start_verify(struct katapult_engine *e)
{
	e->phase = ENGINE_PHASE_VERIFY;
	e->step = 0;
	e->done_blocks = 0;
	send_verify_step(e);
}

static void start_complete(struct katapult_engine *e)
{
	e->phase = ENGINE_PHASE_COMPLETE;
	engine_command(e, KATAPULT_CMD_COMPLETE, 0, NULL);
}

/* ---- session ------------------------------------------------------------------------------ */

static void split_image(struct katapult_engine *e)
{
	const size_t len = e->cfg.image_len;
	size_t tail;

	memset(e->ff_block, 0xff, sizeof(e->ff_block));
	memset(e->last_block, 0xff, sizeof(e->last_block));
	e->nblocks = (len + KATAPULT_BLOCK_SIZE - 1) / KATAPULT_BLOCK_SIZE;
	if (!e->nblocks)
		return;
	tail = len - (e->nblocks - 1) * KATAPULT_BLOCK_SIZE;
	memcpy(e->last_block, e->cfg.image + (e->nblocks - 1) * KATAPULT_BLOCK_SIZE, tail);
}

void engine_flow_start(struct katapult_engine *e)
{
	const bool reboot = e->cfg.op == KATAPULT_ENGINE_REBOOT && !e->cfg.dry_run;

	if (e->cfg.image)
		split_image(e);
	if (e->cfg.prime) {
		e->phase = ENGINE_PHASE_PRIME;
		engine_command(e, KATAPULT_CMD_PRIME, 0, NULL);
	} else if (reboot) {
		start_complete(e);
	} else {
		e->phase = ENGINE_PHASE_CONNECT;
		engine_command(e, KATAPULT_CMD_CONNECT, 0, NULL);
	}
}

void engine_flow_after_prime(struct katapult_engine *e)
{
	if (e->cfg.op == KATAPULT_ENGINE_REBOOT && !e->cfg.dry_run) {
		start_complete(e);
		return;
	}
	e->phase = ENGINE_PHASE_CONNECT;
	engine_command(e, KATAPULT_CMD_CONNECT, 0, NULL);
}

bool engine_flow_ack_matches(const struct katapult_engine *e, const struct katapult_reply *r)
{
	uint8_t data[KATAPULT_BLOCK_SIZE];
	uint32_t addr;

	if (r->kind != KATAPULT_REPLY_ACK)
		return false;
	switch (e->cmd) {
	case KATAPULT_CMD_SEND_BLOCK:
		return !katapult_parse_block_ack(r->payload, r->payload_len, &addr) &&
		       addr == e->addr;
	case KATAPULT_CMD_REQUEST_BLOCK:
		return !katapult_parse_read_ack(r->payload, r->payload_len, &addr, data) &&
		       addr == e->addr;
	}
	return true;
}

/* Everything known about the device: run the checks, then the operation. */
static void after_connect(struct katapult_engine *e)
{
	uint32_t page;

	switch (e->cfg.op) {
	case KATAPULT_ENGINE_INFO_ONLY:
	case KATAPULT_ENGINE_REBOOT:
		engine_finish(e, 0);
		return;
	case KATAPULT_ENGINE_FLASH:
	case KATAPULT_ENGINE_VERIFY_ONLY:
		break;
	}
	if (engine_check_image(e) < 0) {
		engine_finish(e, e->failure.code);
		return;
	}
	if (e->cfg.dry_run) {
		engine_finish(e, 0);
		return;
	}
	if (e->cfg.op == KATAPULT_ENGINE_VERIFY_ONLY) {
		start_verify(e);
		return;
	}
	page = e->cfg.page_size ? e->cfg.page_size : mcu_page_size(e->info.mcu);
	e->page_blocks = page / KATAPULT_BLOCK_SIZE;
	if (page && !e->page_blocks)
		e->page_blocks = 1;
	start_write(e);
}

static void on_connect(struct katapult_engine *e, const struct katapult_reply *r)
{
	if (katapult_parse_connect(r->payload, r->payload_len, &e->info) < 0) {
		cf_failure_set(&e->failure, CF_ERR_PROTOCOL, "connect",
			       "CONNECT reply unreadable (%zu payload bytes)", r->payload_len);
		engine_finish(e, CF_ERR_PROTOCOL);
		return;
	}
	e->have_info = true;
	/* Our frames carry 64-byte blocks (katapult.md §1.4: 64 on every platform). */
	if (e->info.block_size != KATAPULT_BLOCK_SIZE) {
		cf_failure_set(&e->failure, CF_ERR_NOT_SUPPORTED, "connect",
			       "bootloader block size %u bytes, only %u is supported",
			       e->info.block_size, KATAPULT_BLOCK_SIZE);
		engine_finish(e, CF_ERR_NOT_SUPPORTED);
		return;
	}
	if (e->info.app_start % KATAPULT_BLOCK_SIZE) {
		cf_failure_set(&e->failure, CF_ERR_PROTOCOL, "connect",
			       "application start 0x%08x is not block aligned", e->info.app_start);
		engine_finish(e, CF_ERR_PROTOCOL);
		return;
	}
	engine_log(e, "connected: %s, protocol %u.%u.%u, start 0x%08x, block %u", e->info.mcu,
		   KATAPULT_PROTO_MAJOR(e->info.proto_version),
		   KATAPULT_PROTO_MINOR(e->info.proto_version),
		   KATAPULT_PROTO_PATCH(e->info.proto_version), e->info.app_start,
		   e->info.block_size);
	if (e->cfg.expect_uuid) {
		e->phase = ENGINE_PHASE_CANBUS_ID;
		engine_command(e, KATAPULT_CMD_GET_CANBUS_ID, 0, NULL);
		return;
	}
	after_connect(e);
}

static void on_canbus_id(struct katapult_engine *e, const struct katapult_reply *r)
{
	if (katapult_parse_canbus_id(r->payload, r->payload_len, e->uuid) < 0) {
		cf_failure_set(&e->failure, CF_ERR_PROTOCOL, "connect",
			       "GET_CANBUS_ID reply unreadable (%zu payload bytes)",
			       r->payload_len);
		engine_finish(e, CF_ERR_PROTOCOL);
		return;
	}
	e->have_uuid = true;
	/* katapult.md §2.7 step 6: another node may hold the node id we talk to. */
	if (memcmp(e->uuid, e->cfg.uuid, sizeof(e->uuid))) {
		cf_failure_set(&e->failure, CF_ERR_NO_DEVICE, "connect",
			       "UUID mismatch: asked for %02x%02x%02x%02x%02x%02x, "
			       "%02x%02x%02x%02x%02x%02x answered",
			       e->cfg.uuid[0], e->cfg.uuid[1], e->cfg.uuid[2], e->cfg.uuid[3],
			       e->cfg.uuid[4], e->cfg.uuid[5], e->uuid[0], e->uuid[1], e->uuid[2],
			       e->uuid[3], e->uuid[4], e->uuid[5]);
		engine_finish(e, CF_ERR_NO_DEVICE);
		return;
	}
	after_connect(e);
}

void engine_flow_block_out(struct katapult_engine *e)
{
	size_t idx;

	if (e->app == KATAPULT_APP_UNTOUCHED)
		e->app = KATAPULT_APP_MAYBE_ERASED;
	if (e->phase != ENGINE_PHASE_WRITE || e->invalidating || e->reerasing)
		return;
	/* katapult.md §5: from the real block 0 on, the application looks valid. */
	if (write_order(e, e->step, &idx) && idx == 0)
		e->app = KATAPULT_APP_HALF;
}

/*
 * katapult.md §1.6 correction: Katapult tests a quarter of a page for "erased", so old data
 * further in survives a page-start block and a later block of the page is refused. A
 * page-start block that differs from what is at the page start always erases the page once
 * its first quarter holds something: send force_block there (it programs into an erased
 * quarter, or erases), then the page's real first block (which now differs: erase), then the
 * page again. Once per page; a second refusal is a real failure.
 */
bool engine_flow_reerase(struct katapult_engine *e)
{
	const size_t q = e->page_blocks;
	const uint8_t *first_data;
	size_t idx, first;

	if (e->phase != ENGINE_PHASE_WRITE || e->invalidating || e->reerasing || !q)
		return false;
	if (!write_order(e, e->step, &idx) || idx % q == 0)
		return false;
	first = idx - idx % q;
	if (e->reerased == first + 1)
		return false;
	e->reerased = first + 1;
	e->stats.pages_reerased++;
	e->done_blocks -= e->step - step_of(e, first);
	e->step = step_of(e, first);
	/* Zeros (first word 0: page 0 stays invalid meanwhile), or anything else non-0xFF when
	 * the first block is zeros itself. */
	first_data = block_data(e, first);
	memset(e->force_block, 0, sizeof(e->force_block));
	if (!memcmp(first_data, e->force_block, sizeof(e->force_block)))
		e->force_block[KATAPULT_BLOCK_SIZE - 1] = 0x01;
	e->reerasing = true;
	e->reerase_first = first;
	engine_log(e, "block 0x%08x refused: old data past the quarter Katapult tests for "
		      "erased; erasing page 0x%08x again",
		   block_addr(e, idx), block_addr(e, first));
	engine_command(e, KATAPULT_CMD_SEND_BLOCK, block_addr(e, first), e->force_block);
	return true;
}

bool engine_flow_invalidate(struct katapult_engine *e, int err)
{
	if (e->cfg.op != KATAPULT_ENGINE_FLASH || !e->page_blocks || e->invalidating)
		return false;
	if (e->app != KATAPULT_APP_HALF && e->app != KATAPULT_APP_DIFFERS)
		return false;
	/* Only while the device answers: after a timeout, NACK or stall nothing would arrive. */
	if (err != CF_ERR_INTERRUPTED && err != CF_ERR_PROTOCOL && err != CF_ERR_VERIFY)
		return false;
	e->stop_err = err;
	e->stop_failure = e->failure;
	e->invalidating = true;
	e->reerasing = false;
	engine_log(e, "stopping with page 0 %s: erasing it again first",
		   e->app == KATAPULT_APP_HALF ? "half written" : "differing from the image");
	/* The 0xFF block: differs from the written block 0 (erase), or lands on an erased
	 * quarter; either way the first word reads 0xFFFFFFFF. */
	engine_command(e, KATAPULT_CMD_SEND_BLOCK, block_addr(e, 0), e->ff_block);
	return true;
}

static void on_block_written(struct katapult_engine *e)
{
	size_t idx;

	if (e->invalidating) {
		e->app = KATAPULT_APP_INVALID;
		engine_finish(e, e->stop_err);
		return;
	}
	if (e->reerasing) {
		e->reerasing = false;
		if (e->reerase_first == 0)
			e->app = KATAPULT_APP_INVALID;
		send_write_step(e);
		return;
	}
	if (write_order(e, e->step, &idx))
		e->done_blocks++;
	else
		e->app = KATAPULT_APP_INVALID; /* the 0xFF block over page 0 */
	e->step++;
	if (e->step >= write_steps(e))
		e->app = KATAPULT_APP_WRITTEN;
	send_write_step(e);
}

static void after_verify(struct katapult_engine *e)
{
	const bool reboot =
	    e->cfg.op == KATAPULT_ENGINE_FLASH ? !e->cfg.no_reboot : e->cfg.reboot_after_verify;

	/* design.md rule 2: COMPLETE only once every block verified. */
	if (reboot)
		start_complete(e);
	else
		engine_finish(e, 0);
}

static void on_block_read(struct katapult_engine *e, const struct katapult_reply *r)
{
	uint8_t data[KATAPULT_BLOCK_SIZE];
	const uint8_t *want = block_data(e, e->step);
	uint32_t addr;
	size_t i;

	katapult_parse_read_ack(r->payload, r->payload_len, &addr, data);
	for (i = 0; i < KATAPULT_BLOCK_SIZE && data[i] == want[i]; i++)
		;
	if (i < KATAPULT_BLOCK_SIZE) {
		if (e->app == KATAPULT_APP_WRITTEN)
			e->app = KATAPULT_APP_DIFFERS;
		cf_failure_set(&e->failure, CF_ERR_VERIFY, "verify",
			       "block 0x%08x differs at 0x%08x: wrote %02x, read %02x", addr,
			       addr + (uint32_t)i, want[i], data[i]);
		engine_finish(e, CF_ERR_VERIFY);
		return;
	}
	e->done_blocks++;
	if (++e->step < e->nblocks) {
		send_verify_step(e);
		return;
	}
	if (e->app == KATAPULT_APP_WRITTEN)
		e->app = KATAPULT_APP_VERIFIED;
	after_verify(e);
}

void engine_flow_on_ack(struct katapult_engine *e, const struct katapult_reply *r)
{
	if (e->invalidating) {
		on_block_written(e);
		return;
	}
	switch (e->phase) {
	case ENGINE_PHASE_PRIME:
	case ENGINE_PHASE_END:
		return;
	case ENGINE_PHASE_CONNECT:
		on_connect(e, r);
		return;
	case ENGINE_PHASE_CANBUS_ID:
		on_canbus_id(e, r);
		return;
	case ENGINE_PHASE_WRITE:
		on_block_written(e);
		return;
	case ENGINE_PHASE_EOF:
		katapult_parse_eof_ack(r->payload, r->payload_len, &e->stats.eof_pages);
		engine_log(e, "write complete: %u pages", e->stats.eof_pages);
		start_verify(e);
		return;
	case ENGINE_PHASE_VERIFY:
		on_block_read(e, r);
		return;
	case ENGINE_PHASE_COMPLETE:
		e->completed = true;
		e->app = KATAPULT_APP_STARTED;
		engine_finish(e, 0);
		return;
	}
}
