// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: Klipper's API socket as a hostile peer (0x03 framing, replies, the status).
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "failure.h"
#include "klippy/klippy_api.h"
#include "klippy/klippy_state.h"
#include "loop.h"
#include "protocol/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is what Klipper sends back, byte for byte, on a real Unix socket: the client
 * (klippy_state_read: info, objects/list, objects/query with ids 1, 2, 3) reads it through its
 * framing, id matching and status parsing, then sees the socket end. The same bytes also go to
 * klippy_state_parse_status and the frame splitter directly.
 */
struct peer {
	int listen_fd;
	const uint8_t *data;
	size_t size;
};

static char sock_path[108];
static int listen_fd = -1;

static char sock_dir[32];

static void cleanup(void)
{
	unlink(sock_path);
	rmdir(sock_dir);
}

static void setup(void)
{
	char dir[] = "/tmp/cf-fuzz-klippy-XXXXXX";
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	if (!mkdtemp(dir))
		abort();
	snprintf(sock_dir, sizeof(sock_dir), "%s", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/klippy.sock", dir);
	atexit(cleanup);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(listen_fd, 4))
		abort();
}

/* Klipper's side: send everything, end the stream, read the requests until the client goes
 * (a peer that closes with unread bytes would reset the client's connection instead). */
static void *serve(void *arg)
{
	const struct peer *p = arg;
	const int fd = accept(p->listen_fd, NULL, NULL);
	size_t off = 0;
	char sink[4096];

	if (fd < 0)
		return NULL;
	while (off < p->size) {
		const ssize_t n = send(fd, p->data + off, p->size - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while (recv(fd, sink, sizeof(sink), 0) > 0)
		;
	close(fd);
	return NULL;
}

static void check_state(const struct klippy_state *st)
{
	if (st->nmcus > KLIPPY_STATE_MCUS_MAX)
		abort();
	for (size_t i = 0; i < st->nmcus; i++) {
		const struct klippy_mcu *m = &st->mcus[i];

		if (strnlen(m->canbus_uuid, sizeof(m->canbus_uuid)) == sizeof(m->canbus_uuid) ||
		    strnlen(m->section, sizeof(m->section)) == sizeof(m->section))
			abort();
		if (m->canbus_uuid[0] && !klippy_state_find_uuid(st, m->canbus_uuid))
			abort();
		if (m->has_facts && !m->connected)
			abort(); /* facts come from the mcu object of a connected MCU only */
	}
	(void)klippy_state_is_busy(st);
}

static void converse(const uint8_t *data, size_t size)
{
	struct peer p = {.listen_fd = listen_fd, .data = data, .size = size};
	struct klippy_state *st = calloc(1, sizeof(*st));
	struct loop *loop = loop_new();
	struct cf_failure why;
	pthread_t t;
	int err;

	if (!st || !loop || pthread_create(&t, NULL, serve, &p)) {
		free(st);
		loop_free(loop);
		return;
	}
	cf_failure_clear(&why);
	err = klippy_state_read(loop, sock_path, 5000000u, st, &why);
	pthread_join(t, NULL);
	/* the peer always ends the stream: an answer or the end, never the deadline */
	if (err == CF_ERR_TIMEOUT && strstr(why.detail, "within the deadline"))
		abort();
	if (err == CF_OK)
		check_state(st);
	else if (!why.detail[0])
		abort(); /* a failure says why */
	loop_free(loop);
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy so ASan catches any read past the input (style.md §2.9). */
	char *in = malloc(size ? size : 1);
	struct klippy_state *st = calloc(1, sizeof(*st));
	size_t pos = 0;

	if (!in || !st) {
		free(in);
		free(st);
		return 0;
	}
	if (listen_fd < 0)
		setup();
	memcpy(in, data, size);
	/* the splitter: each message ends at its 0x03, never past the input */
	while (pos < size) {
		const long end = klippy_api_frame_end(in + pos, size - pos);

		if (end < 0)
			break;
		if ((size_t)end >= size - pos || in[pos + (size_t)end] != KLIPPY_API_ETX ||
		    memchr(in + pos, KLIPPY_API_ETX, (size_t)end))
			abort();
		if (klippy_state_parse_status(st, in + pos, (size_t)end) == CF_OK)
			check_state(st);
		pos += (size_t)end + 1;
	}
	if (klippy_state_parse_status(st, in, size) == CF_OK)
		check_state(st);
	converse((const uint8_t *)in, size);
	free(st);
	free(in);
	return 0;
}
