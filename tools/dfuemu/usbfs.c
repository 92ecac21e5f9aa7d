// SPDX-License-Identifier: GPL-3.0-or-later
// dfuemu: the usbdevfs ioctl handler (dfu.md §5.3) and the device lifecycle it drives.
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu.h"
#include "protocol/dfu.h"

/* ---- usbdevfs ioctl handler (dfu.md §5.3) ---- */

/* After the leave the probe re-enumerates on the same port as Katapult (1d50:6177) or the
 * application (1d50:614e), as the twin's USB personalities do; sysfs only, no /dev node. */
static void add_comeback(struct emu_device *d)
{
	const bool katapult = !strcmp(emu.reappear, "katapult");
	const int devnum = d->index + 20;
	char *record;
	GError *err = NULL;

	record = g_strdup_printf(
	    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%d\n"
	    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: BUSNUM=001\nE: DEVNUM=%03d\n"
	    "A: busnum=1\nA: devnum=%d\nA: speed=12\nA: bConfigurationValue=1\n"
	    "A: idVendor=1d50\nA: idProduct=%s\nA: manufacturer=%s\nA: product=%s\n"
	    "A: serial=%s\n"
	    "H: descriptors=1201000202000040501d%s000101020301090209000001010080fa\n",
	    d->index, devnum, devnum, katapult ? "6177" : "614e",
	    katapult ? "katapult" : "Cartographer", katapult ? "stm32f042x6" : "Cartographer",
	    emu.uid, katapult ? "7761" : "4e61");
	if (!umockdev_testbed_add_from_string(emu.testbed, record, &err)) {
		fprintf(stderr, "dfuemu: cannot re-enumerate 1-%d: %s\n", d->index, err->message);
		g_clear_error(&err);
	}
	g_free(record);
}


/* A reset that is not a leave (read unprotect, option bytes): BOOT0 is still bridged, so the
 * chip comes back in the ROM on the same port. */
static gboolean replug_rom(gpointer data)
{
	struct emu_device *d = data;

	g_mutex_lock(&emu.lock);
	rom_dfu_reset(&d->model);
	g_mutex_unlock(&emu.lock);
	d->generation++;
	d->disconnected = false;
	d->removal_scheduled = false;
	umockdev_testbed_detach_ioctl(emu.testbed, d->devnode, NULL);
	d->handler = NULL;
	add_device(d);
	return G_SOURCE_REMOVE;
}

/*
 * --then-twin ARGS: the chip leaves the ROM and runs what was written, as the probe twin
 * (tools/twin) with the same UID, started on a copy of the flash with ARGS ("--attach
 * sim:PATH --speed 0"), outside umockdev's preload. Stopped with SIGTERM when CMD ends.
 */
static void start_twin(struct emu_device *d)
{
	char self[4096], **extra = NULL, **env;
	const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	GError *err = NULL;
	FILE *f;

	if (n <= 0 || !g_shell_parse_argv(emu.then_twin, NULL, &extra, &err)) {
		fprintf(stderr, "dfuemu: bad --then-twin '%s'\n", emu.then_twin);
		g_clear_error(&err);
		g_ptr_array_free(argv, TRUE);
		return;
	}
	self[n] = '\0';
	emu.twin_flash = g_strdup_printf("%s.twin-%d.bin",
					 emu.flash_out ? emu.flash_out : "/tmp/dfuemu", getpid());
	f = fopen(emu.twin_flash, "wb");
	if (f) {
		fwrite(d->flash, 1, sizeof(d->flash), f);
		fclose(f);
	}
	char *dir = g_path_get_dirname(self);

	g_ptr_array_add(argv, g_build_filename(dir, "twin", NULL));
	g_free(dir);
	g_ptr_array_add(argv, g_strdup("--uid"));
	g_ptr_array_add(argv, g_strdup(emu.uid));
	g_ptr_array_add(argv, g_strdup("--flash"));
	g_ptr_array_add(argv, g_strdup(emu.twin_flash));
	for (char **a = extra; *a; a++)
		g_ptr_array_add(argv, g_strdup(*a));
	g_ptr_array_add(argv, NULL);
	env = g_environ_unsetenv(g_environ_unsetenv(g_get_environ(), "LD_PRELOAD"), "UMOCKDEV_DIR");
	if (!g_spawn_async(NULL, (char **)argv->pdata, env,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
			   &emu.twin_pid, &err)) {
		fprintf(stderr, "dfuemu: cannot start the twin: %s\n", err->message);
		g_clear_error(&err);
	}
	g_strfreev(env);
	g_strfreev(extra);
	g_ptr_array_free(argv, TRUE);
}

void stop_twin(void)
{
	int status;

	if (!emu.twin_pid)
		return;
	kill(emu.twin_pid, SIGTERM);
	waitpid(emu.twin_pid, &status, 0);
	g_spawn_close_pid(emu.twin_pid);
	unlink(emu.twin_flash);
	g_free(emu.twin_flash);
}

static gboolean remove_device_cb(gpointer data)
{
	struct emu_device *d = data;

	/* "device vanished": re-probes must not find it any more. */
	umockdev_testbed_uevent(emu.testbed, d->syspath, "remove");
	umockdev_testbed_remove_device(emu.testbed, d->syspath);
	if (d->model.reset)
		g_timeout_add(emu.replug_ms, replug_rom, d);
	else if (emu.reappear && d->model.left && d->model.jump_address == 0x08000000)
		add_comeback(d);
	else if (emu.then_twin && !emu.twin_pid && d->model.left &&
		 d->model.jump_address == 0x08000000)
		start_twin(d);
	return G_SOURCE_REMOVE;
}

/* The chip left the bus (reset, leave, unplug). Its listing stays --stale-ms longer, as the
 * kernel's and libusb's lists lag a disconnect: opening it or reading its strings fails with
 * ENODEV meanwhile (issue #15: "listed but gone" is not "back"). */
static gboolean schedule_removal(gpointer data)
{
	g_timeout_add(emu.stale_ms, remove_device_cb, data);
	return G_SOURCE_REMOVE;
}

void disconnect(struct emu_device *d)
{
	d->disconnected = true;
	if (!d->removal_scheduled) {
		d->removal_scheduled = true;
		g_main_context_invoke(NULL, schedule_removal, d);
	}
}

/* Read unprotect: the chip resets once its mass erase is over, polled or not. */
static gboolean reset_due(gpointer data)
{
	struct emu_device *d = data;

	d->reset_timer = 0;
	g_mutex_lock(&emu.lock);
	rom_dfu_tick(&d->model, (uint64_t)g_get_monotonic_time());
	g_mutex_unlock(&emu.lock);
	if (d->model.gone && !d->disconnected)
		disconnect(d);
	return G_SOURCE_REMOVE;
}

static gboolean arm_reset(gpointer data)
{
	struct emu_device *d = data;
	const uint64_t at = rom_dfu_next_event_us(&d->model);
	const uint64_t now = (uint64_t)g_get_monotonic_time();

	if (at == UINT64_MAX || d->reset_timer)
		return G_SOURCE_REMOVE;
	d->reset_timer = g_timeout_add((guint)(at > now ? (at - now + 999) / 1000 : 0), reset_due, d);
	return G_SOURCE_REMOVE;
}

static int xfer_status(struct emu_device *d, enum rom_dfu_xfer x)
{
	switch (x) {
	case ROM_DFU_XFER_OK:
		return 0;
	case ROM_DFU_XFER_STALL:
		return -EPIPE;
	case ROM_DFU_XFER_GONE:
		/* The transfer dies with a protocol error, as when the chip resets (dfu.md §2.5).
		 */
		disconnect(d);
		return -EPROTO;
	}
	return -EPROTO;
}

static void free_queue(gpointer q)
{
	g_queue_free_full(q, g_object_unref);
}

/*
 * URBs wait for their reap per open file, as usbfs keeps them: a second open of the same
 * device (another libusb context reading its strings) must never reap the first one's URBs.
 * The queue lives on the client object (one per open file) and holds our references.
 */
static GQueue *done_queue(UMockdevIoctlClient *client)
{
	GQueue *q = g_object_get_data(G_OBJECT(client), "dfuemu-done");

	if (!q) {
		q = g_queue_new();
		g_object_set_data_full(G_OBJECT(client), "dfuemu-done", q, free_queue);
	}
	return q;
}

static void submit_urb(struct emu_device *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	UMockdevIoctlData *urb_data = umockdev_ioctl_data_resolve(arg, 0, URB_SIZE, NULL);
	struct usbdevfs_urb *urb;
	UMockdevIoctlData *buf;
	size_t len = 0;
	enum rom_dfu_xfer x;

	if (!urb_data) {
		umockdev_ioctl_client_complete(client, -1, EFAULT);
		return;
	}
	urb = (struct usbdevfs_urb *)urb_data->data;
	if (d->disconnected) {
		g_object_unref(urb_data);
		umockdev_ioctl_client_complete(client, -1, ENODEV);
		return;
	}
	if (urb->type != USBDEVFS_URB_TYPE_CONTROL || urb->buffer_length < DFU_SETUP_LEN) {
		g_object_unref(urb_data);
		umockdev_ioctl_client_complete(client, -1, EINVAL);
		return;
	}
	buf = umockdev_ioctl_data_resolve(urb_data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
					  (gsize)urb->buffer_length, NULL);
	if (!buf) {
		g_object_unref(urb_data);
		umockdev_ioctl_client_complete(client, -1, EFAULT);
		return;
	}
	g_mutex_lock(&emu.lock);
	x = rom_dfu_control(&d->model, buf->data, buf->data + DFU_SETUP_LEN, &len,
			    (uint64_t)g_get_monotonic_time());
	g_mutex_unlock(&emu.lock);
	urb->status = xfer_status(d, x);
	urb->actual_length = urb->status ? 0 : (int)len;
	if (d->model.gone && !d->disconnected)
		disconnect(d); /* answered dfuMANIFEST, then stopped USB (dfu.md §2.5) */
	if (rom_dfu_next_event_us(&d->model) != UINT64_MAX)
		g_main_context_invoke(NULL, arm_reset, d);
	g_object_unref(buf);
	g_queue_push_tail(done_queue(client), urb_data);
	umockdev_ioctl_client_complete(client, 0, 0);
}

static void reap_urb(struct emu_device *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	UMockdevIoctlData *urb_data = g_queue_pop_head(done_queue(client));
	UMockdevIoctlData *ptr;

	if (!urb_data) {
		umockdev_ioctl_client_complete(client, -1, d->disconnected ? ENODEV : EAGAIN);
		return;
	}
	/* dfu.md §5.3: set_ptr on a resolved pointer-sized block, never on the raw arg. */
	ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL);
	if (ptr) {
		umockdev_ioctl_data_set_ptr(ptr, 0, urb_data);
		g_object_unref(ptr);
	}
	g_object_unref(urb_data);
	umockdev_ioctl_client_complete(client, ptr ? 0 : -1, ptr ? 0 : EFAULT);
}

static void set_interface(struct emu_device *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	UMockdevIoctlData *si = umockdev_ioctl_data_resolve(arg, 0, 8, NULL);
	bool ok = false;

	if (si) {
		const struct usbdevfs_setinterface *s = (const void *)si->data;

		ok = s->interface == 0 && rom_dfu_set_alt(&d->model, s->altsetting);
		g_object_unref(si);
	}
	umockdev_ioctl_client_complete(client, ok ? 0 : -1, ok ? 0 : EINVAL);
}

static void get_capabilities(UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	UMockdevIoctlData *caps = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);

	if (caps) {
		*(guint32 *)caps->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
					 USBDEVFS_CAP_NO_PACKET_SIZE_LIM;
		g_object_unref(caps);
	}
	umockdev_ioctl_client_complete(client, 0, 0);
}

static struct emu_device *device_of(UMockdevIoctlClient *client)
{
	const char *node = umockdev_ioctl_client_get_devnode(client);

	for (int i = 0; node && i < emu.count; i++)
		if (!strcmp(node, emu.dev[i].devnode))
			return &emu.dev[i];
	return NULL;
}

gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
			     gpointer user_data)
{
	struct emu_device *d = device_of(client);
	const unsigned long request = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);

	(void)handler;
	(void)user_data;
	if (!d) {
		umockdev_ioctl_client_complete(client, -1, ENODEV);
		return TRUE;
	}
	if (d->disconnected && request != USBDEVFS_REAPURB && request != USBDEVFS_REAPURBNDELAY) {
		umockdev_ioctl_client_complete(client, -1, ENODEV);
		return TRUE;
	}
	switch (request) {
	case USBDEVFS_SUBMITURB:
		submit_urb(d, client, arg);
		break;
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY:
		reap_urb(d, client, arg);
		break;
	case USBDEVFS_DISCARDURB:
		/* Every URB completes at submit time, so nothing is in flight to discard. */
		umockdev_ioctl_client_complete(client, -1, EINVAL);
		break;
	case USBDEVFS_SETINTERFACE:
		set_interface(d, client, arg);
		break;
	case USBDEVFS_GET_CAPABILITIES:
		get_capabilities(client, arg);
		break;
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_RELEASEINTERFACE:
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESET:
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_GETDRIVER:
		umockdev_ioctl_client_complete(client, -1, ENODATA); /* no kernel driver bound */
		break;
	default:
		umockdev_ioctl_client_complete(client, -1, ENOTTY);
		break;
	}
	return TRUE;
}
