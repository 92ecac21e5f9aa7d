/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The hub in-process: arbitration, delivery to the others, receive filters, and the issue's
 * session over sim:PATH (the twin filtering as its firmware does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above */
#include <cmocka.h>

#include <linux/can.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "protocol/katapult.h"
#include "tests/unit/test_twin_harness.h"
#include "tools/simbus/hub.h"
#include "transport.h"
#include "transport/simbus.h"
#include "transport/transports.h"

static char path[108];

static struct simbus_hub *hub_up(void)
{
	snprintf(path, sizeof(path), "/tmp/simbus-hub-test-%d", (int)getpid());
	return simbus_hub_new(path, 1000000, 0, NULL);
}

static int raw_client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, uint32_t id, uint8_t tag)
{
	struct can_frame f = {.can_id = id, .len = 1, .data = {tag}};

	assert_int_equal(send(fd, &f, sizeof(f), 0), sizeof(f));
}

/* Data frames the client has received (hello skipped), as "id:tag" into out. */
static int raw_collect(int fd, uint32_t *ids, int max)
{
	struct can_frame f;
	int n = 0;

	while (n < max && recv(fd, &f, sizeof(f), MSG_DONTWAIT) == (ssize_t)sizeof(f))
		if (!(f.can_id & CAN_ERR_FLAG))
			ids[n++] = f.can_id << 8 | f.data[0];
	return n;
}

/* Pending frames go out lowest id first; every client but the sender receives each. */
static void test_simbus_hub_arbitration_and_delivery(void **state)
{
	struct simbus_hub *h = hub_up();
	uint32_t got[8];
	int a, b, c;

	(void)state;
	assert_non_null(h);
	a = raw_client();
	b = raw_client();
	c = raw_client();
	simbus_hub_run_once(h, 10); /* accept, hello */
	raw_send(a, 0x300, 1);
	raw_send(a, 0x300, 2);
	raw_send(a, 0x300, 3);
	raw_send(b, 0x100, 9);

	for (int i = 0; i < 20; i++)
		simbus_hub_run_once(h, 1);

	assert_int_equal(raw_collect(c, got, 8), 4);
	assert_int_equal(got[0], 0x10009);
	assert_int_equal(got[1], 0x30001);
	assert_int_equal(got[2], 0x30002);
	assert_int_equal(got[3], 0x30003);
	assert_int_equal(raw_collect(a, got, 8), 1);
	assert_int_equal(got[0], 0x10009);
	assert_int_equal(raw_collect(b, got, 8), 3);
	close(a);
	close(b);
	close(c);
	simbus_hub_free(h);
}

static void raw_filter(int fd, uint32_t count, const struct simbus_filter *f)
{
	struct simbus_filter_msg m = {.magic = SIMBUS_FILTER_MAGIC, .count = count};

	if (count)
		memcpy(m.f, f, count * sizeof(*f));
	assert_int_equal(send(fd, &m, SIMBUS_FILTER_MSG_SIZE, 0), SIMBUS_FILTER_MSG_SIZE);
}

static void hub_turns(struct simbus_hub *h, int n)
{
	for (int i = 0; i < n; i++)
		simbus_hub_run_once(h, 1);
}

/* One frame from a on the bus; what f and u have received of it (f reads at once, as the twin
 * does). */
static void one_frame(struct simbus_hub *h, int a, uint32_t id, uint8_t tag, int f, int u, int *nf,
		      int *nu)
{
	uint32_t got[8];

	raw_send(a, id, tag);
	hub_turns(h, 5);
	*nf = raw_collect(f, got, 8);
	if (*nf)
		assert_int_equal(got[0], id << 8 | tag);
	*nu = raw_collect(u, got, 8);
}

/* A filtered client receives only frames that match one of its (id, mask) pairs; one without a
 * filter receives every frame; every frame is on the wire all the same. */
static void test_simbus_hub_filter(void **state)
{
	static const struct simbus_filter node[2] = {{0x3f0, 0x7ff}, {0x102, 0x7fe}};
	static const uint32_t ids[7] = {0x3f0, 0x102, 0x103, 0x200, 0x3f1, 0x104, 0x101};
	static const int want[7] = {1, 1, 1, 0, 0, 0, 0};
	struct simbus_hub *h = hub_up();
	uint32_t got[8];
	uint64_t frames, stalls;
	int a, f, u, nf, nu;

	(void)state;
	assert_non_null(h);
	a = raw_client();
	f = raw_client();
	u = raw_client();
	hub_turns(h, 2);
	raw_filter(f, 2, node);
	hub_turns(h, 2);
	assert_int_equal(raw_collect(f, got, 8), 0); /* the hello: f has read all */
	assert_int_equal(raw_collect(u, got, 8), 0);
	for (int i = 0; i < 7; i++) {
		one_frame(h, a, ids[i], (uint8_t)i, f, u, &nf, &nu);
		assert_int_equal(nf, want[i]);
		assert_int_equal(nu, 1);
	}
	simbus_hub_counters(h, &frames, &stalls);
	assert_int_equal(frames, 7);
	assert_int_equal(simbus_hub_filtered(h), 4);

	/* an empty list receives everything again */
	raw_filter(f, 0, NULL);
	hub_turns(h, 2);
	one_frame(h, a, 0x200, 7, f, u, &nf, &nu);
	assert_int_equal(nf, 1);
	close(a);
	close(f);
	close(u);
	simbus_hub_free(h);
}

/* While a filtered client has not read a frame delivered to it, it receives every frame: the
 * filter that frame may call for (a set-id) is not there yet. Once it has read them, the
 * filter holds again. */
static void test_simbus_hub_filter_waits_for_reader(void **state)
{
	static const struct simbus_filter admin = {0x3f0, 0x7ff};
	static const struct simbus_filter node = {0x102, 0x7fe};
	struct simbus_filter both[2] = {admin, node};
	struct simbus_hub *h = hub_up();
	uint32_t got[8];
	int a, f;

	(void)state;
	assert_non_null(h);
	a = raw_client();
	f = raw_client();
	hub_turns(h, 2);
	raw_filter(f, 1, &admin);
	hub_turns(h, 2);
	assert_int_equal(raw_collect(f, got, 8), 0);
	raw_send(a, 0x3f0, 1); /* the "set-id": f has not read it ... */
	raw_send(a, 0x102, 2); /* ... so this reaches it too */
	hub_turns(h, 10);
	assert_int_equal(raw_collect(f, got, 8), 2);
	assert_int_equal(got[1], 0x10202);
	raw_send(a, 0x102, 3); /* read, no new filter: filtered */
	hub_turns(h, 10);
	assert_int_equal(raw_collect(f, got, 8), 0);
	/* the filter sent after reading, then frames for it */
	raw_filter(f, 2, both);
	raw_send(a, 0x102, 4);
	hub_turns(h, 10);
	assert_int_equal(raw_collect(f, got, 8), 1);
	assert_int_equal(got[0], 0x10204);
	raw_send(a, 0x200, 5);
	hub_turns(h, 10);
	assert_int_equal(raw_collect(f, got, 8), 0);
	assert_int_equal(simbus_hub_filtered(h), 2);
	close(a);
	close(f);
	simbus_hub_free(h);
}

/* ---- the session over the simulated bus, all in one process ---- */

struct rig {
	struct simbus_hub *hub;
	struct twin *t;
	struct transport *dev, *host;
	struct canbus_frame pending;
	bool has_pending;
	size_t filt_n; /* the twin's filter as last sent (tools/twin/main.c does the same) */
	uint32_t filt_id[2];
};

static void rig_filter(struct rig *r)
{
	struct simbus_filter f[2];
	uint32_t ids[2], masks[2];
	size_t n = twin_can_filter(r->t, ids, masks);

	if (n == r->filt_n && !memcmp(ids, r->filt_id, n * sizeof(ids[0])))
		return;
	for (size_t i = 0; i < n; i++)
		f[i] = (struct simbus_filter){ids[i], masks[i]};
	assert_int_equal(sim_set_filter(r->dev, f, n), 0);
	r->filt_n = n;
	memcpy(r->filt_id, ids, sizeof(ids));
}

/* One round: the hub, then the twin's side of its transport. */
static void rig_turn(struct rig *r)
{
	struct canbus_frame f;
	size_t len;

	simbus_hub_run_once(r->hub, 1);
	rig_filter(r);
	while (transport_recv(r->dev, &f, sizeof(f), &len) == 0) {
		twin_can_receive(r->t, &f, cf_now_us());
		rig_filter(r); /* before the next frame is read, as the twin process does */
	}
	twin_advance(r->t, cf_now_us());
	rig_filter(r);
	for (;;) {
		if (!r->has_pending && twin_can_pop(r->t, cf_now_us(), &r->pending) < 0)
			break;
		r->has_pending = true;
		if (transport_send(r->dev, &r->pending, sizeof(r->pending)) < 0)
			break;
		r->has_pending = false;
	}
}

/* Host: send a byte stream on id as 8-byte frames, then collect want bytes from reply_id. */
static size_t rig_talk(struct rig *r, uint32_t id, const uint8_t *buf, size_t n, uint32_t reply_id,
		       uint8_t *out, size_t want)
{
	struct canbus_frame f;
	size_t got = 0, len;

	for (size_t off = 0; off < n;) {
		f.id = id;
		f.len = (uint8_t)(n - off > 8 ? 8 : n - off);
		memcpy(f.data, buf + off, f.len);
		if (transport_send(r->host, &f, sizeof(f)) == 0)
			off += f.len;
		rig_turn(r);
	}
	for (int i = 0; i < 2000 && got < want; i++) {
		rig_turn(r);
		while (transport_recv(r->host, &f, sizeof(f), &len) == 0)
			if (f.id == reply_id && got + f.len <= want) {
				memcpy(out + got, f.data, f.len);
				got += f.len;
			}
	}
	return got;
}

static void test_simbus_hub_session_over_sim_path(void **state)
{
	static const uint8_t query[1] = {0x00};
	static const uint8_t want_app[8] = {0x20, 0xe0, 0xef, 0x27, 0x0c, 0xa1, 0x88, 0x01};
	struct rig r = {0};
	char spec[128];
	uint8_t buf[128], reply[96], uuid[6], *img, blk[64];
	size_t n, len;
	uint32_t pages;

	(void)state;
	r.hub = hub_up();
	assert_non_null(r.hub);
	snprintf(spec, sizeof(spec), "sim:%s", path);
	r.t = th_twin(0, NULL);
	assert_int_equal(twin_init_state(r.t, "app:can:1000000:Cartographer 4.0.0"), 0);
	twin_power_on(r.t, cf_now_us());
	assert_int_equal(transport_open(&sim_ops, spec, &r.dev, NULL), 0);
	assert_int_equal(transport_open(&sim_ops, spec, &r.host, NULL), 0);
	assert_int_equal(th_make_app(IMAGE_IFACE_CAN, 1000000, "CARTOGRAPHER 5.1.2", &img, &len),
			 0);
	twin_uuid(r.t, uuid);

	/* katapult.md §2.6-2.7: query, request bootloader, node id 129, CONNECT */
	assert_int_equal(rig_talk(&r, 0x3f0, query, 1, 0x3f1, reply, 8), 8);
	assert_memory_equal(reply, want_app, 8);
	buf[0] = 0x02;
	memcpy(buf + 1, uuid, 6);
	rig_talk(&r, 0x3f0, buf, 7, 0, reply, 0);
	for (int i = 0; i < 50 && twin_get_mode(r.t) != TWIN_MODE_KATAPULT; i++)
		rig_turn(&r);
	buf[0] = 0x11;
	buf[7] = 129;
	rig_talk(&r, 0x3f0, buf, 8, 0, reply, 0);
	assert_int_equal(katapult_build_connect(buf, sizeof(buf), &n), 0);
	assert_int_equal(rig_talk(&r, 0x202, buf, n, 0x203, reply, 36), 36);
	assert_int_equal(reply[2], 0xa0);

	for (size_t off = 0; off < len; off += 64) { /* blocks, padded with 0xFF */
		memset(blk, 0xff, 64);
		memcpy(blk, img + off, len - off < 64 ? len - off : 64);
		katapult_build_send_block(0x08002000 + (uint32_t)off, blk, buf, sizeof(buf), &n);
		assert_int_equal(rig_talk(&r, 0x202, buf, n, 0x203, reply, 16), 16);
		assert_int_equal(reply[2], 0xa0);
	}
	katapult_build_send_eof(buf, sizeof(buf), &n);
	assert_int_equal(rig_talk(&r, 0x202, buf, n, 0x203, reply, 16), 16);
	assert_int_equal(katapult_parse_eof_ack(reply + 8, 4, &pages), 0);
	assert_int_equal(pages, (len + 1023) / 1024);
	for (size_t off = 0; off < len; off += 64) { /* read-back */
		katapult_build_request_block(0x08002000 + (uint32_t)off, buf, sizeof(buf), &n);
		assert_int_equal(rig_talk(&r, 0x202, buf, n, 0x203, reply, 80), 80);
		assert_memory_equal(reply + 12, img + off, len - off < 64 ? len - off : 64);
	}
	katapult_build_complete(buf, sizeof(buf), &n);
	assert_int_equal(rig_talk(&r, 0x202, buf, n, 0x203, reply, 12), 12);
	assert_int_equal(reply[2], 0xa0);

	/* COMPLETE -> 100 ms (speed 0: at once) -> the new application answers the query */
	for (int i = 0; i < 50 && twin_get_mode(r.t) != TWIN_MODE_APP; i++)
		rig_turn(&r);
	assert_int_equal(rig_talk(&r, 0x3f0, query, 1, 0x3f1, reply, 8), 8);
	assert_memory_equal(reply, want_app, 8);
	assert_int_equal(r.filt_n, 1); /* the application has no id: admin only */
	assert_int_equal(sim_set_filter(r.host, NULL, 0), 0);
	free(img);
	transport_close(r.dev);
	transport_close(r.host);
	twin_free(r.t);
	simbus_hub_free(r.hub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simbus_hub_arbitration_and_delivery),
	    cmocka_unit_test(test_simbus_hub_filter),
	    cmocka_unit_test(test_simbus_hub_filter_waits_for_reader),
	    cmocka_unit_test(test_simbus_hub_session_over_sim_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
