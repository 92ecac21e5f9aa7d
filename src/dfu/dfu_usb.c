// SPDX-License-Identifier: GPL-3.0-or-later
// libusb for DFU: discovery, selection by path, open/claim, the async control-transfer link.
#include "dfu/dfu_usb.h"

#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "failure.h"
#include "log.h"
#include "loop.h"
#include "protocol/err.h"

#define STRING_TIMEOUT_MS 1000
#define MAX_POLLFDS	  16

struct dfu_usb {
	libusb_context *ctx;
	struct loop *loop;
	struct loop_source source;
	unsigned in_flight; /* transfers submitted and not completed */
};

struct dfu_dev {
	struct dfu_usb *usb;
	libusb_device_handle *handle;
	uint8_t interface;
	char path[32]; /* for trace lines */
	bool claimed;
	struct libusb_transfer *xfer;
	bool in_flight;
	dfu_usb_done_fn done; /* NULL once closing: a cancelled transfer reports to nobody */
	void *ctx;
	uint16_t length; /* wLength of the transfer in flight */
	bool is_in;
	enum dfuse_xfer_result late_result; /* a submit that failed, reported from the loop */
	struct loop_timer late;
	uint8_t buffer[LIBUSB_CONTROL_SETUP_SIZE + DFUSE_MAX_XFER];
};

int dfu_usb_map_error(int e)
{
	switch (e) {
	case LIBUSB_SUCCESS:
		return CF_OK;
	case LIBUSB_ERROR_ACCESS:
		return CF_ERR_ACCESS;
	case LIBUSB_ERROR_BUSY:
		return CF_ERR_BUSY;
	case LIBUSB_ERROR_NO_DEVICE:
	case LIBUSB_ERROR_NOT_FOUND:
		return CF_ERR_NO_DEVICE;
	case LIBUSB_ERROR_TIMEOUT:
		return CF_ERR_TIMEOUT;
	case LIBUSB_ERROR_PIPE:
		return CF_ERR_PROTOCOL;
	case LIBUSB_ERROR_NO_MEM:
		return CF_ERR_NOMEM;
	case LIBUSB_ERROR_NOT_SUPPORTED:
		return CF_ERR_NOT_SUPPORTED;
	default:
		return CF_ERR_IO;
	}
}

const char *dfu_usb_access_hint(void)
{
	return "no permission on the USB device: install the udev rule "
	       "(sudo make install, or copy tools/udev/70-cartoflash.rules to /etc/udev/rules.d/ "
	       "and run 'sudo udevadm control --reload && sudo udevadm trigger'), replug, "
	       "or run as root";
}

/* ---- the loop source: libusb's fds, handled with a zero timeout ---- */

static int usb_pollfds(struct loop_source *src, struct pollfd *fds, int max)
{
	struct dfu_usb *u = (struct dfu_usb *)((char *)src - offsetof(struct dfu_usb, source));
	const struct libusb_pollfd **list;
	int n = 0;

	/* Nothing to reap: leave libusb's fds out. A usbfs node that always polls ready (as
	 * under umockdev) would otherwise turn every bwPollTimeout wait into a busy loop. */
	if (!u->in_flight)
		return 0;
	list = libusb_get_pollfds(u->ctx);
	for (int i = 0; list && list[i] && n < max && n < MAX_POLLFDS; i++, n++) {
		fds[n].fd = list[i]->fd;
		fds[n].events = list[i]->events;
		fds[n].revents = 0;
	}
	libusb_free_pollfds(list);
	return n;
}

static void usb_ready(struct loop_source *src, const struct pollfd *fds, int count, uint64_t now)
{
	struct dfu_usb *u = (struct dfu_usb *)((char *)src - offsetof(struct dfu_usb, source));
	struct timeval zero = {0, 0};
	bool any = false;

	(void)now;
	for (int i = 0; i < count; i++)
		any |= fds[i].revents != 0;
	if (any)
		libusb_handle_events_timeout_completed(u->ctx, &zero, NULL);
}

int dfu_usb_new(struct loop *loop, struct dfu_usb **out)
{
	struct dfu_usb *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return CF_ERR_NOMEM;
	if (libusb_init(&u->ctx) < 0) {
		free(u);
		return CF_ERR_IO;
	}
	if (cf_log_enabled(CF_LOG_TRACE))
		libusb_set_option(u->ctx, LIBUSB_OPTION_LOG_LEVEL, LIBUSB_LOG_LEVEL_DEBUG);
	u->loop = loop;
	u->source.pollfds = usb_pollfds;
	u->source.ready = usb_ready;
	if (loop)
		loop_add_source(loop, &u->source);
	*out = u;
	return CF_OK;
}

void dfu_usb_free(struct dfu_usb *u)
{
	if (!u)
		return;
	if (u->loop)
		loop_remove_source(u->loop, &u->source);
	libusb_exit(u->ctx);
	free(u);
}

/* ---- discovery ---- */

static void format_path(libusb_device *dev, char *out, size_t cap)
{
	uint8_t ports[8];
	const int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
	int at = snprintf(out, cap, "%u", libusb_get_bus_number(dev));

	for (int i = 0; i < n && at > 0 && (size_t)at < cap; i++)
		at += snprintf(out + at, cap - (size_t)at, "%c%u", i ? '.' : '-', ports[i]);
}

/* dfu.md §1.1 point 5: raw string descriptor, first LANGID, tolerate a short bLength, UTF-16LE
 * to ASCII with '?' outside Latin-1, trailing spaces kept. Returns 0, or the libusb error of a
 * request that failed (a device that went away); a malformed answer leaves out "" and is 0. */
static int read_string(libusb_device_handle *h, uint8_t index, char *out, size_t cap)
{
	unsigned char buf[255];
	uint16_t langid;
	int n;

	out[0] = '\0';
	if (!index)
		return 0;
	n = libusb_get_string_descriptor(h, 0, 0, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (n < 4 || buf[1] != LIBUSB_DT_STRING)
		return 0;
	langid = (uint16_t)(buf[2] | buf[3] << 8);
	n = libusb_get_string_descriptor(h, index, langid, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (n < 2 || buf[1] != LIBUSB_DT_STRING)
		return 0;
	if (buf[0] < n)
		n = buf[0];
	size_t o = 0;

	for (int i = 2; i + 1 < n && o + 1 < cap; i += 2) {
		const unsigned ch = buf[i] | buf[i + 1] << 8;

		out[o++] = ch < 0x80 ? (char)ch : '?';
	}
	out[o] = '\0';
	return 0;
}

static bool is_dfu_mode(const struct libusb_interface_descriptor *alt)
{
	/* dfu.md §1.1 point 2: FE/01/02; DfuSe devices may say protocol 0. */
	return alt->bInterfaceClass == 0xFE && alt->bInterfaceSubClass == 0x01 &&
	       (alt->bInterfaceProtocol == 0x02 || alt->bInterfaceProtocol == 0x00);
}

/* dfu.md §1.1 point 4: config extra first, then every alt's extra (ST: after the last alt). */
static bool find_functional(const struct libusb_config_descriptor *cfg,
			    const struct libusb_interface *intf, struct dfu_functional *fd)
{
	if (cfg->extra_length && !dfu_find_functional(cfg->extra, (size_t)cfg->extra_length, fd))
		return true;
	for (int a = 0; a < intf->num_altsetting; a++) {
		const struct libusb_interface_descriptor *alt = &intf->altsetting[a];

		if (alt->extra_length &&
		    !dfu_find_functional(alt->extra, (size_t)alt->extra_length, fd))
			return true;
	}
	return false;
}

static bool describe(libusb_device *dev, const struct libusb_device_descriptor *dd,
		     struct dfu_candidate *c)
{
	struct libusb_config_descriptor *cfg;
	libusb_device_handle *h = NULL;
	bool found = false;
	int alt0_string = 0;

	if (libusb_get_config_descriptor(dev, 0, &cfg) < 0)
		return false;
	for (int i = 0; i < cfg->bNumInterfaces && !found; i++) {
		const struct libusb_interface *intf = &cfg->interface[i];

		if (intf->num_altsetting < 1 || !is_dfu_mode(&intf->altsetting[0]))
			continue;
		found = true;
		c->interface = intf->altsetting[0].bInterfaceNumber;
		alt0_string = intf->altsetting[0].iInterface;
		c->has_functional = find_functional(cfg, intf, &c->functional);
	}
	libusb_free_config_descriptor(cfg);
	if (!found)
		return false;
	c->vid = dd->idVendor;
	c->pid = dd->idProduct;
	c->bcd_device = dd->bcdDevice;
	c->bus = libusb_get_bus_number(dev);
	c->devnum = libusb_get_device_address(dev);
	format_path(dev, c->path, sizeof(c->path));
	c->libusb_err = libusb_open(dev, &h);
	if (!c->libusb_err) {
		c->libusb_err = read_string(h, dd->iSerialNumber, c->serial, sizeof(c->serial));
		if (!c->libusb_err)
			c->libusb_err = read_string(h, dd->iProduct, c->product, sizeof(c->product));
		if (!c->libusb_err)
			c->libusb_err = read_string(h, (uint8_t)alt0_string, c->alt0_name,
						    sizeof(c->alt0_name));
		libusb_close(h);
	}
	c->open_err = dfu_usb_map_error(c->libusb_err);
	return true;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct dfu_candidate *)a)->path,
		      ((const struct dfu_candidate *)b)->path);
}

int dfu_usb_find(struct dfu_usb *u, uint16_t vid, uint16_t pid, struct dfu_candidate *out,
		 size_t max, size_t *count)
{
	libusb_device **list;
	const ssize_t n = libusb_get_device_list(u->ctx, &list);

	*count = 0;
	if (n < 0)
		return CF_ERR_IO;
	for (ssize_t i = 0; i < n && *count < max; i++) {
		struct libusb_device_descriptor dd;

		if (libusb_get_device_descriptor(list[i], &dd) < 0)
			continue;
		if ((vid || pid) && (dd.idVendor != vid || dd.idProduct != pid))
			continue;
		memset(&out[*count], 0, sizeof(out[*count]));
		if (describe(list[i], &dd, &out[*count]))
			(*count)++;
	}
	libusb_free_device_list(list, 1);
	/* Stable order for listings and "several found" messages. */
	qsort(out, *count, sizeof(*out), by_path);
	return CF_OK;
}

/* ---- open / close ---- */

static libusb_device *find_by_path(libusb_device **list, ssize_t n, const struct dfu_candidate *c)
{
	for (ssize_t i = 0; i < n; i++) {
		char p[32];

		format_path(list[i], p, sizeof(p));
		if (!strcmp(p, c->path) && libusb_get_device_address(list[i]) == c->devnum)
			return list[i];
	}
	return NULL;
}

static int open_fail(struct cf_failure *f, int lerr, const char *what,
		     const struct dfu_candidate *c)
{
	const int err = dfu_usb_map_error(lerr);

	cf_failure_set(f, err, "open", "%s failed (%s)", what, libusb_error_name(lerr));
	switch (err) {
	case CF_ERR_ACCESS:
		cf_failure_set_hint(f, "%s", dfu_usb_access_hint());
		break;
	case CF_ERR_BUSY:
		cf_failure_set_hint(f,
				    "another program holds %s (dfu-util, STM32CubeProgrammer?): "
				    "stop it and retry",
				    c->path);
		break;
	case CF_ERR_NO_DEVICE:
		cf_failure_set_hint(f,
				    "the device at %s went away: check the cable and that BOOT0 "
				    "is still bridged, then rerun recover",
				    c->path);
		break;
	default:
		cf_failure_set_hint(f, "replug the probe with BOOT0 bridged and rerun recover");
		break;
	}
	return err;
}

static void late_fire(struct loop_timer *t, uint64_t now_us)
{
	struct dfu_dev *d = (struct dfu_dev *)((char *)t - offsetof(struct dfu_dev, late));

	(void)now_us;
	if (d->done)
		d->done(d->ctx, d->late_result, NULL, 0);
}

int dfu_usb_open(struct dfu_usb *u, const struct dfu_candidate *c, struct dfu_dev **out,
		 struct cf_failure *f)
{
	libusb_device **list;
	const ssize_t n = libusb_get_device_list(u->ctx, &list);
	libusb_device *dev = n > 0 ? find_by_path(list, n, c) : NULL;
	struct dfu_dev *d;
	int rc;

	*out = NULL;
	if (!dev) {
		if (n >= 0)
			libusb_free_device_list(list, 1);
		return open_fail(f, LIBUSB_ERROR_NO_DEVICE, "finding the device", c);
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		libusb_free_device_list(list, 1);
		return cf_failure_set(f, CF_ERR_NOMEM, "open", "out of memory");
	}
	d->usb = u;
	d->interface = c->interface;
	snprintf(d->path, sizeof(d->path), "%s", c->path);
	d->late.fire = late_fire;
	rc = libusb_open(dev, &d->handle);
	libusb_free_device_list(list, 1);
	if (rc < 0)
		goto err_free;
	/* dfu.md §1.2: no kernel driver binds the ROM's DFU interface, so nothing to detach. */
	rc = libusb_claim_interface(d->handle, d->interface);
	if (rc < 0)
		goto err_close;
	d->claimed = true;
	rc = libusb_set_interface_alt_setting(d->handle, d->interface, 0);
	if (rc < 0)
		goto err_close;
	d->xfer = libusb_alloc_transfer(0);
	if (!d->xfer) {
		rc = LIBUSB_ERROR_NO_MEM;
		goto err_close;
	}
	*out = d;
	return CF_OK;

err_close:
	if (d->claimed)
		libusb_release_interface(d->handle, d->interface);
	libusb_close(d->handle);
	open_fail(f, rc, d->claimed ? "selecting alt 0" : "claiming the DFU interface", c);
	free(d);
	return f->code;
err_free:
	free(d);
	return open_fail(f, rc, "opening the device", c);
}

void dfu_usb_close(struct dfu_dev *d)
{
	struct timeval tv = {0, 100000};

	if (!d)
		return;
	if (d->usb->loop)
		loop_disarm(d->usb->loop, &d->late);
	if (d->in_flight && libusb_cancel_transfer(d->xfer) == 0) {
		/* The cancelled transfer's callback must run before the buffer is freed. */
		d->done = NULL;
		for (int i = 0; i < 20 && d->in_flight; i++)
			libusb_handle_events_timeout_completed(d->usb->ctx, &tv, NULL);
	}
	if (d->claimed)
		libusb_release_interface(d->handle, d->interface); /* may be gone: ignore */
	libusb_close(d->handle);
	if (!d->in_flight)
		libusb_free_transfer(d->xfer);
	free(d);
}

/* ---- the link ---- */

static enum dfuse_xfer_result map_status(enum libusb_transfer_status st)
{
	switch (st) {
	case LIBUSB_TRANSFER_COMPLETED:
		return DFUSE_XFER_OK;
	case LIBUSB_TRANSFER_STALL:
		return DFUSE_XFER_STALL;
	case LIBUSB_TRANSFER_NO_DEVICE:
		return DFUSE_XFER_NO_DEVICE;
	case LIBUSB_TRANSFER_TIMED_OUT:
		return DFUSE_XFER_TIMEOUT;
	case LIBUSB_TRANSFER_ERROR:
	case LIBUSB_TRANSFER_CANCELLED:
	case LIBUSB_TRANSFER_OVERFLOW:
		return DFUSE_XFER_IO;
	}
	return DFUSE_XFER_IO;
}

static void LIBUSB_CALL transfer_done(struct libusb_transfer *t)
{
	struct dfu_dev *d = t->user_data;
	const enum dfuse_xfer_result r = map_status(t->status);
	size_t actual = t->actual_length > 0 ? (size_t)t->actual_length : 0;

	d->in_flight = false;
	d->usb->in_flight--;
	if (actual > d->length)
		actual = d->length;
	if (cf_log_enabled(CF_LOG_TRACE))
		cf_log(CF_LOG_TRACE, d->path, "dfu", "%02x %02x %04x %04x -> %s, %zu bytes",
		       d->buffer[0], d->buffer[1], d->buffer[2] | d->buffer[3] << 8, d->length,
		       dfuse_xfer_name(r), actual);
	if (d->done)
		d->done(d->ctx, r, d->is_in && r == DFUSE_XFER_OK ?
					   libusb_control_transfer_get_data(t) : NULL,
			d->is_in && r == DFUSE_XFER_OK ? actual : 0);
}

void dfu_usb_submit(struct dfu_dev *d, const struct dfuse_request *req, dfu_usb_done_fn done,
		    void *ctx)
{
	int rc;

	d->done = done;
	d->ctx = ctx;
	memcpy(d->buffer, req->setup, DFU_SETUP_LEN);
	d->is_in = req->in;
	d->length = req->length;
	if (!req->in && req->length && req->out)
		memcpy(d->buffer + DFU_SETUP_LEN, req->out, req->length);
	libusb_fill_control_transfer(d->xfer, d->handle, d->buffer, transfer_done, d,
				     req->timeout_ms);
	rc = req->length > DFUSE_MAX_XFER ? LIBUSB_ERROR_INVALID_PARAM
					  : libusb_submit_transfer(d->xfer);
	if (rc < 0) {
		/* Reported like a failed transfer, from the loop (dfu_usb_done_fn contract). */
		d->late_result =
		    rc == LIBUSB_ERROR_NO_DEVICE ? DFUSE_XFER_NO_DEVICE : DFUSE_XFER_IO;
		loop_arm(d->usb->loop, &d->late, cf_now_us());
		return;
	}
	d->in_flight = true;
	d->usb->in_flight++;
}

uint16_t dfu_usb_transfer_size(const struct dfu_candidate *c)
{
	const uint16_t t = c->functional.transfer_size;

	return t >= 8 && t <= DFUSE_MAX_XFER && t % 8 == 0 ? t : 0;
}

/* ---- selection ---- */

static int parse_selector(const char *sel, uint16_t *vid, uint16_t *pid, const char **path)
{
	unsigned v, d;
	char end;

	*vid = DFU_USB_ROM_VID;
	*pid = DFU_USB_ROM_PID;
	*path = sel;
	if (!strchr(sel, ':'))
		return CF_OK;
	*path = "";
	if (sscanf(sel, "%4x:%4x%c", &v, &d, &end) != 2)
		return CF_ERR_USAGE;
	*vid = (uint16_t)v;
	*pid = (uint16_t)d;
	return CF_OK;
}

static size_t list_matches(const struct dfu_candidate *c, size_t n, const char *path, char *list,
			   size_t cap, size_t *last)
{
	size_t matches = 0, at = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (path[0] && strcmp(c[i].path, path))
			continue;
		*last = i;
		matches++;
		if (at < cap)
			at += (size_t)snprintf(list + at, cap - at, "%s%s (serial %s)",
					       matches > 1 ? ", " : "", c[i].path,
					       c[i].serial[0] ? c[i].serial : "?");
	}
	return matches;
}

int dfu_usb_select(struct dfu_usb *u, const char *selector, struct dfu_candidate *out,
		   struct cf_failure *f)
{
	struct dfu_candidate c[DFU_USB_MAX_CANDIDATES];
	uint16_t vid, pid;
	const char *path;
	char list[200];
	size_t n, last = 0, matches;

	if (parse_selector(selector, &vid, &pid, &path))
		return cf_failure_set(f, CF_ERR_USAGE, "identify",
				      "bad --device '%s' (want VID:PID in hex, e.g. 0483:df11)",
				      selector);
	if (dfu_usb_find(u, vid, pid, c, DFU_USB_MAX_CANDIDATES, &n))
		return cf_failure_set(f, CF_ERR_IO, "identify", "cannot list USB devices");
	matches = list_matches(c, n, path, list, sizeof(list), &last);
	if (matches == 0 && n > 0) {
		list_matches(c, n, "", list, sizeof(list), &last);
		cf_failure_set(f, CF_ERR_NO_DEVICE, "identify",
			       "no DFU device %04x:%04x at usb %s (there are: %s)", vid, pid, path,
			       list);
		cf_failure_set_hint(f, "pick one of those with --path");
		return CF_ERR_NO_DEVICE;
	}
	if (matches == 0) {
		cf_failure_set(f, CF_ERR_NO_DEVICE, "identify", "no DFU device %04x:%04x found%s%s",
			       vid, pid, path[0] ? " at usb " : "", path);
		cf_failure_set_hint(f, "bridge the probe's BOOT0 pads while plugging it into USB; "
				       "'lsusb' must show 0483:df11 (STM32 BOOTLOADER)");
		return CF_ERR_NO_DEVICE;
	}
	if (matches > 1) {
		cf_failure_set(f, CF_ERR_USAGE, "identify", "%zu DFU devices found: %s", matches,
			       list);
		cf_failure_set_hint(f,
				    "select one with --path (e.g. --path %s) or unplug the "
				    "others",
				    c[last].path);
		return CF_ERR_USAGE;
	}
	*out = c[last];
	if (out->open_err == CF_ERR_ACCESS) {
		cf_failure_set(f, CF_ERR_ACCESS, "open", "cannot open usb %s (LIBUSB_ERROR_ACCESS)",
			       out->path);
		cf_failure_set_hint(f, "%s", dfu_usb_access_hint());
		return CF_ERR_ACCESS;
	}
	if (out->open_err) {
		cf_failure_set(f, out->open_err, "identify",
			       "the ROM at usb %s is listed but does not answer (%s)", out->path,
			       libusb_error_name(out->libusb_err));
		cf_failure_set_hint(f, "it is re-enumerating or was unplugged: wait for it with "
				       "--timeout 5s, or replug it with BOOT0 bridged");
		return out->open_err;
	}
	return CF_OK;
}

bool dfu_usb_not_back(int err)
{
	return err == CF_ERR_NO_DEVICE || err == CF_ERR_IO || err == CF_ERR_PROTOCOL;
}
