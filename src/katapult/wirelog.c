// SPDX-License-Identifier: GPL-3.0-or-later
// The decoded Katapult exchange at -v (the CAN issue asks -v to show the protocol exchange;
// -vv adds decisions and timers, -vvv the raw frames), shared by the CAN and serial backends.
#include "katapult/wirelog.h"

#include <stdbool.h>

#include "log.h"
#include "protocol/bytes.h"

void wirelog_init(struct wirelog *w)
{
	katapult_parser_init(&w->parser);
}

static void log_frame(const char *device, const char *dir, const struct katapult_frame *f,
		      bool reply)
{
	const uint8_t *p = f->payload;
	const size_t n = f->payload_len;
	const bool ack = reply && f->cmd == KATAPULT_RESP_ACK;
	const uint8_t cmd = ack && n >= 4 ? p[0] : f->cmd;
	const size_t at = ack ? 4 : 0;
	const bool has_addr = (cmd == KATAPULT_CMD_SEND_BLOCK || cmd == KATAPULT_CMD_REQUEST_BLOCK) &&
			      n >= at + 4;

	if (has_addr)
		cf_log(CF_LOG_INFO, device, "katapult", "%s %s%s%s 0x%08x", dir,
		       reply ? katapult_cmd_name(f->cmd) : "", reply ? " " : "",
		       katapult_cmd_name(cmd), (unsigned)cf_get_le32(p + at));
	else
		cf_log(CF_LOG_INFO, device, "katapult", "%s %s%s%s", dir,
		       reply ? katapult_cmd_name(f->cmd) : "", ack ? " " : "",
		       reply && !ack ? "" : katapult_cmd_name(cmd));
}

void wirelog_tx(struct wirelog *w, const char *device, const uint8_t *frame, size_t len)
{
	struct katapult_frame f;
	size_t flen;

	(void)w;
	if (cf_log_enabled(CF_LOG_INFO) && katapult_decode(frame, len, &flen, &f) > 0)
		log_frame(device, "->", &f, false);
}

void wirelog_rx(struct wirelog *w, const char *device, const uint8_t *data, size_t len)
{
	// The parser must be fed until it returns 0: a good frame can sit behind a broken one.
	while (cf_log_enabled(CF_LOG_INFO)) {
		struct katapult_frame f;
		size_t used;
		const int rc = katapult_parser_feed(&w->parser, data, len, &used, &f);

		data += used;
		len -= used;
		if (rc > 0)
			log_frame(device, "<-", &f, true);
		else if (rc == 0)
			return;
	}
}
