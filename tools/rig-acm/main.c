// SPDX-License-Identifier: GPL-3.0-or-later
/* rig-acm: a userspace CDC-ACM USB device over FunctionFS on the rig's dummy_hcd (rig.md §5.3). */

/*
 * The host's cdc-acm binds it as /dev/ttyACMn. Unlike the kernel's f_acm, this device sees
 * SET_LINE_CODING and SET_CONTROL_LINE_STATE (pitfall 7), so it can act on the 1200-baud touch:
 * the behaviour behind it decides, and when the device identity changes (application ->
 * Katapult -> application) the program unbinds, rewrites the identity and binds again: the host
 * sees the device leave and a new one arrive on the same port (§5.4, pitfall 12).
 *
 * Behaviours (acm.h): "echo" (smoke tests) sends bytes back and re-enumerates 1d50:614e ->
 * 1d50:6177 with the same serial on a close at 1200 baud, the way the probe enters Katapult;
 * "twin" (probe.c) is the probe twin's USB side.
 *
 * Threads: bulk OUT and bulk IN endpoint files block (FunctionFS has no poll for them), so one
 * thread reads, one writes; the main thread polls ep0 and owns the behaviour. Stopping unbinds
 * the UDC first (in-flight I/O ends with ESHUTDOWN) and interrupts waits with SIGUSR1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "protocol/bytes.h"
#include "tools/rig-acm/acm.h"
#include "tools/rig-gadget/gadget.h"

#define ACM_FS_PACKET 64
#define ACM_HS_PACKET 512
#define ACM_QUEUE     8192

/* CDC PSTN 1.2 §6.3 class requests. */
#define ACM_SET_LINE_CODING	   0x20
#define ACM_GET_LINE_CODING	   0x21
#define ACM_SET_CONTROL_LINE_STATE 0x22
#define ACM_SEND_BREAK		   0x23

struct queue {
	uint8_t buf[ACM_QUEUE];
	size_t len;
};

static struct {
	struct gadget g;
	int ep_in, ep_out, wake; /* wake: eventfd, reader -> main */
	pthread_t reader, writer;
	pthread_mutex_t lock;
	pthread_cond_t tx_ready, rx_room;
	struct queue rx, tx; /* rx: host -> device, tx: device -> host */
	atomic_bool stopping;
	bool running; /* presented: ep0 open, threads alive */
	uint32_t baud;
	bool dtr;
	FILE *log;
} acm = {.ep_in = -1,
	 .ep_out = -1,
	 .wake = -1,
	 .lock = PTHREAD_MUTEX_INITIALIZER,
	 .tx_ready = PTHREAD_COND_INITIALIZER,
	 .rx_room = PTHREAD_COND_INITIALIZER,
	 .baud = 9600};

static volatile sig_atomic_t quit;

static void on_quit(int sig)
{
	(void)sig;
	quit = 1;
}

static void on_usr1(int sig)
{
	(void)sig; /* only interrupts a blocked endpoint read or write */
}

uint64_t acm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void acm_log(const char *fmt, ...)
{
	va_list ap;

	if (!acm.log)
		return;
	fprintf(acm.log, "%.3f ", (double)acm_now_us() / 1e6);
	va_start(ap, fmt);
	vfprintf(acm.log, fmt, ap);
	va_end(ap);
	fputc('\n', acm.log);
	fflush(acm.log);
}

/* rig.md §5.3: one interface 02/02/00, an OTG descriptor in place of the CDC functional
 * descriptors FunctionFS refuses (pitfall 8), interrupt IN, bulk IN, bulk OUT. */
static size_t acm_descs(uint8_t *out, size_t cap)
{
	uint8_t fs[36], hs[36];
	const uint8_t intf[9] = {9, USB_DT_INTERFACE, 0, 0, 3, 0x02, 0x02, 0x00, 1};
	const uint8_t otg[3] = {3, USB_DT_OTG, 0};
	const uint8_t ep_int[7] = {7, USB_DT_ENDPOINT, 0x81, USB_ENDPOINT_XFER_INT, 16, 0, 9};
	uint8_t ep_in[7] = {7, USB_DT_ENDPOINT, 0x82, USB_ENDPOINT_XFER_BULK, 0, 0, 0};
	uint8_t ep_out[7] = {7, USB_DT_ENDPOINT, 0x03, USB_ENDPOINT_XFER_BULK, 0, 0, 0};
	uint8_t *sets[2] = {fs, hs};

	for (int i = 0; i < 2; i++) {
		uint8_t *p = sets[i];

		cf_put_le16(ep_in + 4, i ? ACM_HS_PACKET : ACM_FS_PACKET);
		cf_put_le16(ep_out + 4, i ? ACM_HS_PACKET : ACM_FS_PACKET);
		memcpy(p, intf, 9);
		memcpy(p + 9, otg, 3);
		memcpy(p + 12, ep_int, 7);
		memcpy(p + 19, ep_in, 7);
		memcpy(p + 26, ep_out, 7);
	}
	return gadget_build_descs(out, cap, 0, fs, 33, 5, hs, 33, 5);
}

static void *reader_main(void *arg)
{
	uint8_t buf[ACM_HS_PACKET];
	const uint64_t one = 1;

	(void)arg;
	while (!acm.stopping) {
		ssize_t n = read(acm.ep_out, buf, sizeof(buf));

		if (n <= 0) {
			if (!acm.stopping)
				usleep(10000); /* not enabled yet, or the host reset the port */
			continue;
		}
		pthread_mutex_lock(&acm.lock);
		/* Never drop host bytes: wait until the device has taken enough (flow control). */
		while ((size_t)n > sizeof(acm.rx.buf) - acm.rx.len && !acm.stopping)
			pthread_cond_wait(&acm.rx_room, &acm.lock);
		if (acm.stopping) {
			pthread_mutex_unlock(&acm.lock);
			break;
		}
		memcpy(acm.rx.buf + acm.rx.len, buf, (size_t)n);
		acm.rx.len += (size_t)n;
		pthread_mutex_unlock(&acm.lock);
		if (write(acm.wake, &one, sizeof(one)) < 0)
			break;
	}
	return NULL;
}

static void *writer_main(void *arg)
{
	uint8_t buf[ACM_QUEUE];

	(void)arg;
	while (!acm.stopping) {
		size_t n;

		pthread_mutex_lock(&acm.lock);
		while (!acm.tx.len && !acm.stopping)
			pthread_cond_wait(&acm.tx_ready, &acm.lock);
		n = acm.tx.len;
		memcpy(buf, acm.tx.buf, n);
		acm.tx.len = 0;
		pthread_mutex_unlock(&acm.lock);
		for (size_t off = 0; off < n && !acm.stopping;) {
			ssize_t w = write(acm.ep_in, buf + off, n - off);

			if (w > 0)
				off += (size_t)w;
			else
				usleep(10000);
		}
	}
	return NULL;
}

size_t acm_rx_peek(uint8_t *buf, size_t cap)
{
	size_t n;

	pthread_mutex_lock(&acm.lock);
	n = acm.rx.len < cap ? acm.rx.len : cap;
	memcpy(buf, acm.rx.buf, n);
	pthread_mutex_unlock(&acm.lock);
	return n;
}

void acm_rx_consume(size_t len)
{
	pthread_mutex_lock(&acm.lock);
	if (len > acm.rx.len)
		len = acm.rx.len;
	memmove(acm.rx.buf, acm.rx.buf + len, acm.rx.len - len);
	acm.rx.len -= len;
	if (len)
		pthread_cond_signal(&acm.rx_room);
	pthread_mutex_unlock(&acm.lock);
}

size_t acm_tx_put(const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&acm.lock);
	if (len > sizeof(acm.tx.buf) - acm.tx.len)
		len = sizeof(acm.tx.buf) - acm.tx.len;
	memcpy(acm.tx.buf + acm.tx.len, buf, len);
	acm.tx.len += len;
	pthread_cond_signal(&acm.tx_ready);
	pthread_mutex_unlock(&acm.lock);
	return len;
}

static int acm_start(const struct gadget_id *id)
{
	const char *strs[1] = {"CDC ACM"};
	uint8_t descs[128], strings[64];
	size_t dl = acm_descs(descs, sizeof(descs));
	size_t sl = gadget_build_strings(strings, sizeof(strings), strs, 1);

	if (gadget_set_id(&acm.g, id) || gadget_start(&acm.g, descs, dl, strings, sl))
		return -1;
	acm.ep_in = gadget_ep_open(&acm.g, 2, O_WRONLY);
	acm.ep_out = gadget_ep_open(&acm.g, 3, O_RDONLY);
	if (acm.ep_in < 0 || acm.ep_out < 0)
		return -1;
	acm.stopping = 0;
	acm.rx.len = acm.tx.len = 0;
	if (pthread_create(&acm.reader, NULL, reader_main, NULL))
		return -1;
	if (pthread_create(&acm.writer, NULL, writer_main, NULL)) {
		acm.stopping = 1;
		pthread_kill(acm.reader, SIGUSR1);
		pthread_join(acm.reader, NULL);
		return -1;
	}
	acm.running = true;
	acm_log("present %04x:%04x serial %s product '%s'", id->vid, id->pid, id->serial,
		id->product);
	return 0;
}

/* Unbind first so in-flight endpoint I/O fails, then interrupt the waits until both exit. */
static void acm_stop(void)
{
	struct timespec ts;

	if (!acm.running)
		return;
	acm.running = false;
	acm.stopping = 1;
	gadget_stop(&acm.g);
	for (int i = 0; i < 200; i++) { /* bounded: 2 s */
		pthread_mutex_lock(&acm.lock);
		pthread_cond_broadcast(&acm.tx_ready);
		pthread_cond_broadcast(&acm.rx_room);
		pthread_mutex_unlock(&acm.lock);
		pthread_kill(acm.reader, SIGUSR1);
		pthread_kill(acm.writer, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (!pthread_timedjoin_np(acm.reader, NULL, &ts))
			break;
	}
	pthread_join(acm.writer, NULL);
	close(acm.ep_in);
	close(acm.ep_out);
	acm.ep_in = acm.ep_out = -1;
	acm_log("gone");
}

static void acm_setup(const struct usb_ctrlrequest *req, const struct acm_behaviour *b)
{
	const uint16_t value = req->wValue, len = req->wLength;
	uint8_t coding[7];

	if (req->bRequestType == 0x21 && req->bRequest == ACM_SET_LINE_CODING && len == 7) {
		if (gadget_ep0_read(&acm.g, coding, 7) == 0) {
			acm.baud = cf_get_le32(coding);
			acm_log("line coding %u", acm.baud);
			b->line(acm.baud, acm.dtr, acm_now_us());
		}
	} else if (req->bRequestType == 0xa1 && req->bRequest == ACM_GET_LINE_CODING) {
		cf_put_le32(coding, acm.baud);
		coding[4] = 0, coding[5] = 0, coding[6] = 8;
		gadget_ep0_reply(&acm.g, coding, len < 7 ? len : 7);
	} else if (req->bRequestType == 0x21 && req->bRequest == ACM_SET_CONTROL_LINE_STATE) {
		gadget_ep0_ack(&acm.g);
		acm.dtr = value & 1;
		acm_log("control lines dtr %d rts %d", value & 1, (value >> 1) & 1);
		b->line(acm.baud, acm.dtr, acm_now_us());
	} else if (req->bRequestType == 0x21 && req->bRequest == ACM_SEND_BREAK) {
		gadget_ep0_ack(&acm.g);
	} else {
		gadget_ep0_stall(&acm.g, req->bRequestType & USB_DIR_IN);
	}
}

/* Handles one ep0 event; returns -1 when ep0 failed. */
static int acm_ep0_event(const struct acm_behaviour *b)
{
	struct usb_functionfs_event ev;
	ssize_t n = read(acm.g.ep0, &ev, sizeof(ev));

	if (n != sizeof(ev))
		return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
	switch (ev.type) {
	case FUNCTIONFS_SETUP:
		acm_setup(&ev.u.setup, b);
		break;
	case FUNCTIONFS_ENABLE:
		acm_log("enabled");
		break;
	case FUNCTIONFS_DISABLE:
		acm.dtr = false;
		break;
	default:
		break;
	}
	return 0;
}

static const struct acm_behaviour *const behaviours[] = {&acm_echo, &acm_twin};

static const struct acm_behaviour *behaviour_find(const char *name)
{
	for (size_t i = 0; i < sizeof(behaviours) / sizeof(behaviours[0]); i++)
		if (!strcmp(behaviours[i]->name, name))
			return behaviours[i];
	return NULL;
}

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: rig-acm [--log FILE] [--timeout SECONDS] BEHAVIOUR ARGS...\n"
	    "  echo SERIAL    loopback; a 1200-baud touch re-enumerates 1d50:614e -> 1d50:6177\n"
	    "  twin FLASH-FILE UID-HEX24 [SPEED]   the probe twin's USB side (speed 1 = real "
	    "time)\n"
	    "Examples:\n  rig-acm --log /tmp/acm.log echo 0123456789ABCDEF01234567\n"
	    "  rig-acm --log /tmp/acm.log twin /tmp/probe.flash 0123456789ABCDEF01234567\n");
	return 64;
}

/* Presents the behaviour's identity if it has one now (after a reset, or at start). */
static int acm_present(const struct acm_behaviour *b)
{
	struct gadget_id id;

	if (!b->identity(&id))
		return 0;
	return acm_start(&id);
}

static int acm_run(const struct acm_behaviour *b, double timeout_s)
{
	const uint64_t end = acm_now_us() + (uint64_t)(timeout_s * 1e6);
	uint64_t junk;

	if (acm_present(b))
		return 69;
	while (!quit && acm_now_us() < end) {
		struct pollfd pfd[2] = {{.fd = acm.running ? acm.g.ep0 : -1, .events = POLLIN},
					{.fd = acm.wake, .events = POLLIN}};

		if (poll(pfd, 2, b->poll_ms(acm_now_us())) < 0 && errno != EINTR)
			return 74;
		if ((pfd[0].revents & POLLIN) && acm_ep0_event(b))
			return 74;
		if ((pfd[1].revents & POLLIN) && read(acm.wake, &junk, sizeof(junk)) < 0)
			return 74;
		b->step(acm_now_us());
		if (b->reset_pending()) {
			acm_stop();
			if (acm_present(b))
				return 69;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct acm_behaviour *b;
	struct gadget_id id;
	double timeout_s = 120;
	int i = 1, rc;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--log"))
			acm.log = fopen(argv[i + 1], "we");
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = atof(argv[i + 1]);
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	b = behaviour_find(argv[i]);
	if (!b || b->init(argc - i - 1, argv + i + 1))
		return usage();
	signal(SIGTERM, on_quit);
	signal(SIGINT, on_quit);
	sigaction(SIGUSR1, &(struct sigaction){.sa_handler = on_usr1}, NULL); /* no SA_RESTART */
	acm.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	/* Booting or CAN firmware presents nothing yet: set up with a neutral identity. */
	if (!b->identity(&id))
		id = (struct gadget_id){.manufacturer = "", .product = "", .serial = ""};
	rc = gadget_setup(&acm.g, "acm", &id) ? 69 : acm_run(b, timeout_s);
	acm_stop();
	b->fini();
	gadget_teardown(&acm.g);
	if (acm.log)
		fclose(acm.log);
	close(acm.wake);
	return rc;
}
