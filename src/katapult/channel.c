// SPDX-License-Identifier: GPL-3.0-or-later
// Which channel carries Katapult over a link kind: the one place that asks.
#include "katapult/channel.h"

#include <stdlib.h>
#include <string.h>

#include "failure.h"
#include "protocol/err.h"

int kchannel_open(enum identity_link link, const struct kchannel *c, struct kchannel **out)
{
	const struct kchannel_ops *ops = NULL;
	struct kchannel *ch;

	*out = NULL;
	switch (link) {
	case IDENTITY_LINK_CAN:
		ops = &kchannel_can_ops;
		break;
	case IDENTITY_LINK_TTY:
		ops = &kchannel_tty_ops;
		break;
	case IDENTITY_LINK_USB_DFU:
	case IDENTITY_LINK_NONE:
		return cf_failure_set(c->why, CF_ERR_USAGE, "identify",
				      "Katapult does not run over %s", identity_link_name(link));
	}
	ch = calloc(1, sizeof(*ch) + ops->priv_size);
	if (!ch)
		return cf_failure_set(c->why, CF_ERR_NOMEM, "identify", "out of memory");
	memcpy(ch, c, sizeof(*ch));
	ch->ops = ops;
	ch->from_app = false;
	ch->session = false;
	ch->label[0] = '\0';
	*out = ch;
	return ops->open(ch);
}

void kchannel_close(struct kchannel *c)
{
	if (!c)
		return;
	c->ops->close(c);
	free(c);
}
