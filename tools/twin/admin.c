/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CAN admin messages on 0x3F0 as the application and as Katapult handle them (katapult.md §2.2). */
#include <string.h>

#include "tools/twin/twin_priv.h"

#define ADMIN_QUERY_UNASSIGNED	   0x00
#define ADMIN_SET_KLIPPER_NODEID   0x01
#define ADMIN_REQUEST_BOOTLOADER   0x02
#define ADMIN_SET_CANBOOT_NODEID   0x11
#define ADMIN_CLEAR_CANBOOT_NODEID 0x12
#define ADMIN_RESP_NEED_NODEID	   0x20
#define ADMIN_APP_KLIPPER	   0x01
#define ADMIN_APP_CANBOOT	   0x11

void twin_effective_uuid(const struct twin *t, uint8_t out[6])
{
	memcpy(out, t->uuid, 6);
	if (t->faults.wrong_uuid)
		out[5] ^= 0xff;
}

static bool uuid_match(const struct twin *t, const struct canbus_frame *f)
{
	uint8_t u[6];

	twin_effective_uuid(t, u);
	return f->len >= 7 && !memcmp(f->data + 1, u, 6);
}

static void answer_query(struct twin *t, uint8_t app, uint64_t now_us)
{
	uint8_t d[8];

	if (t->node_id >= 0)
		return; /* §2.6: nodes with an id do not answer */
	d[0] = ADMIN_RESP_NEED_NODEID;
	twin_effective_uuid(t, d + 1);
	d[7] = app;
	twin_can_send_admin(t, d, 8, now_us);
}

void twin_app_admin(struct twin *t, const struct canbus_frame *f, uint64_t now_us)
{
	if (!f->len)
		return;
	switch (f->data[0]) {
	case ADMIN_QUERY_UNASSIGNED:
		answer_query(t, ADMIN_APP_KLIPPER, now_us);
		return;
	case ADMIN_SET_KLIPPER_NODEID:
		if (f->len < 8)
			return;
		if (uuid_match(t, f)) {
			t->node_id = f->data[7];
		} else if (f->data[7] == t->node_id) {
			/* "Another CAN node assigned this ID" */
			t->node_id = -1;
			t->stats.app_shutdown = true;
		}
		return;
	case ADMIN_REQUEST_BOOTLOADER:
		/* works with or without an assigned id, and in shutdown */
		if (uuid_match(t, f))
			twin_bootloader_request(t, now_us);
		return;
	}
}

void twin_katapult_admin(struct twin *t, const struct canbus_frame *f, uint64_t now_us)
{
	if (!f->len)
		return;
	switch (f->data[0]) {
	case ADMIN_QUERY_UNASSIGNED:
		answer_query(t, ADMIN_APP_CANBOOT, now_us);
		return;
	case ADMIN_SET_CANBOOT_NODEID:
		if (f->len < 8)
			return;
		if (uuid_match(t, f))
			t->node_id = f->data[7];
		else if (f->data[7] == t->node_id)
			t->node_id = -1;
		return;
	case ADMIN_CLEAR_CANBOOT_NODEID:
		t->node_id = -1;
		return;
	}
}
