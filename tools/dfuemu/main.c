// SPDX-License-Identifier: GPL-3.0-or-later
// dfuemu: serve emulated STM32 ROM DFU devices to a libusb program through umockdev (dfu.md §5).
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <linux/usbdevice_fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <umockdev.h>

#include "protocol/dfu.h"
#include "tools/twin/rom_dfu.h"

#define MAX_DEVICES	4
#define F042_FLASH_SIZE 32768
#define F042_PAGE_SIZE	1024
#define REPLUG_MS	300 /* USB re-enumeration after a chip reset, once the old one is gone */
#define STALE_MS	300 /* a device gone from the bus stays listed this long (sysfs, libusb) */
#define URB_SIZE	sizeof(struct usbdevfs_urb) /* 56 on x86-64 (dfu.md §5.2) */

struct emu_device {
	int index; /* 1-based; USB path "1-<index>", devnum index + 1 */
	char devnode[64];
	char syspath[128];
	uint8_t flash[F042_FLASH_SIZE];
	struct rom_dfu model;
	UMockdevIoctlBase *handler;
	bool disconnected; /* every ioctl after the pending reaps answers ENODEV */
	bool removal_scheduled;
	guint reset_timer; /* the model resets by itself (read unprotect) */
	unsigned generation; /* re-enumerations: each gets a new device number, as on a bus */
};

struct emu {
	UMockdevTestbed *testbed;
	GMainLoop *main_loop;
	struct emu_device dev[MAX_DEVICES];
	int count;
	int child_status;
	const char *flash_in;
	const char *flash_out;
	const char *stats_file;
	double speed;
	unsigned faults;
	unsigned vanish_after;
	unsigned vanish_after_erases;
	unsigned wrp_page;
	uint32_t flip_address;
	unsigned stale_ms;     /* gone devices stay listed this long */
	unsigned replug_ms;    /* a reset ROM comes back this long after it left the list */
	unsigned unprotect_ms; /* 0x92: mass erase until the reset (0: the datasheet's) */
	bool reenumerating;    /* --fault reenumerating: listed but gone at the start */
	GMutex lock;	       /* the models: the ioctl handler and the main loop's timers */
	bool deny_access;	    /* --fault access: the device node cannot be opened */
	const char *reappear;	    /* "katapult" or "app": what comes back after the leave */
	const char *uid;	    /* its USB serial (chip UID hex) */
	unsigned appear_after_ms;   /* plug the devices in only after this long */
	UMockdevIoctlBase *handler; /* one for all devices */
	const char *then_twin;	    /* after the leave: run the twin on the written flash */
	GPid twin_pid;
	char *twin_flash;
};

static struct emu emu;

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

static bool add_device(struct emu_device *d);

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

static void stop_twin(void)
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

static void disconnect(struct emu_device *d)
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

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
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

/* ---- testbed ---- */

static char *descriptors_hex(void)
{
	uint8_t desc[64];
	const size_t n = rom_dfu_descriptors(desc, sizeof(desc));
	char *hex = g_malloc(2 * n + 1);

	for (size_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", desc[i]);
	return hex;
}

static bool add_device(struct emu_device *d)
{
	const int devnum = d->index + 1 + MAX_DEVICES * (int)(d->generation % 4);
	char *hex = descriptors_hex();
	char *record;
	GError *err = NULL;
	bool ok;

	snprintf(d->devnode, sizeof(d->devnode), "/dev/bus/usb/001/%03d", devnum);
	snprintf(d->syspath, sizeof(d->syspath), "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%d",
		 d->index);
	/* dfu.md §5.1: the udev-dump record libusb needs; the N: line creates the /dev node. */
	record = g_strdup_printf("P: /devices/pci0000:00/0000:00:14.0/usb1/1-%d\n"
				 "N: bus/usb/001/%03d\n"
				 "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
				 "E: DEVNAME=/dev/bus/usb/001/%03d\n"
				 "E: BUSNUM=001\nE: DEVNUM=%03d\n"
				 "E: ID_VENDOR_ID=0483\nE: ID_MODEL_ID=df11\n"
				 "A: busnum=1\nA: devnum=%d\nA: speed=12\nA: devpath=%d\n"
				 "A: bConfigurationValue=1\nA: bNumConfigurations=1\n"
				 "A: idVendor=0483\nA: idProduct=df11\nA: serial=%s\n"
				 "A: dev=189:%d\n"
				 "H: descriptors=%s\n",
				 d->index, devnum, devnum, devnum, devnum, d->index, ROM_DFU_SERIAL,
				 devnum - 1, hex);
	/* One handler serves every device node; it finds the device by the client's node. */
	if (!emu.handler) {
		emu.handler = umockdev_ioctl_base_new();
		g_signal_connect(emu.handler, "handle-ioctl", G_CALLBACK(handle_ioctl), NULL);
	}
	d->handler = emu.handler;
	ok = umockdev_testbed_attach_ioctl(emu.testbed, d->devnode, d->handler, &err) &&
	     umockdev_testbed_add_from_string(emu.testbed, record, &err);
	if (!ok) {
		fprintf(stderr, "dfuemu: cannot add device 1-%d: %s\n", d->index,
			err ? err->message : "unknown error");
		g_clear_error(&err);
	}
	g_free(record);
	g_free(hex);
	return ok;
}

static void load_flash(struct emu_device *d)
{
	FILE *f;

	memset(d->flash, 0xFF, sizeof(d->flash));
	if (!emu.flash_in)
		return;
	f = fopen(emu.flash_in, "rb");
	if (!f)
		return; /* no file yet: a blank chip */
	if (fread(d->flash, 1, sizeof(d->flash), f) == 0 && ferror(f))
		fprintf(stderr, "dfuemu: %s: read error, starting blank\n", emu.flash_in);
	fclose(f);
}

static void init_device(struct emu_device *d, int index)
{
	struct rom_dfu_config cfg = {
	    .flash = d->flash,
	    .flash_size = sizeof(d->flash),
	    .flash_base = 0x08000000,
	    .page_size = F042_PAGE_SIZE,
	    .speed = emu.speed,
	    .faults = emu.faults,
	    .vanish_after_blocks = emu.vanish_after,
	    .vanish_after_erases = emu.vanish_after_erases,
	    .wrp_page = emu.wrp_page,
	    .flip_address = emu.flip_address,
	    .unprotect_us = (uint64_t)emu.unprotect_ms * 1000,
	};

	d->index = index;
	load_flash(d);
	rom_dfu_init(&d->model, &cfg);
}

/* ---- results ---- */

static int save_flash(const struct emu_device *d)
{
	char *path;
	FILE *f;
	int rc = 0;

	if (!emu.flash_out)
		return 0;
	path = d->index == 1 ? g_strdup(emu.flash_out)
			     : g_strdup_printf("%s.%d", emu.flash_out, d->index);
	f = fopen(path, "wb");
	if (!f || fwrite(d->flash, 1, sizeof(d->flash), f) != sizeof(d->flash)) {
		fprintf(stderr, "dfuemu: cannot write %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	if (f && fclose(f))
		rc = -1;
	g_free(path);
	return rc;
}

static void write_stats(FILE *out, const struct emu_device *d)
{
	const struct rom_dfu_stats *s = &d->model.stats;
	uint32_t max_erase = 0, pages = 0;

	for (size_t p = 0; p < ROM_DFU_MAX_PAGES; p++) {
		max_erase = s->page_erases[p] > max_erase ? s->page_erases[p] : max_erase;
		pages += s->page_erases[p] ? 1 : 0;
	}
	fprintf(out,
		"path=1-%d left=%d jump=0x%08x pages_erased=%u max_erases_per_page=%u "
		"mass_erases=%u blocks_written=%u prog_errors=%u clrstatus_outside_error=%u "
		"rdp=%d app_writes_before_boot_read=%u app_erases_before_boot_read=%u "
		"early_polls=%u max_poll_ms=%u getstatus=%u state=%u\n",
		d->index, d->model.left, d->model.jump_address, pages, max_erase, s->mass_erases,
		s->blocks_written, s->prog_errors, s->clrstatus_outside_error, d->model.rdp,
		s->app_writes_before_boot_read, s->app_erases_before_boot_read, s->early_polls,
		s->max_poll_ms, s->getstatus, d->model.state);
}

/* ---- main ---- */

static void child_exited(GPid pid, gint status, gpointer data)
{
	(void)data;
	g_spawn_close_pid(pid);
	emu.child_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	g_main_loop_quit(emu.main_loop);
}

static int parse_faults(const char *list)
{
	char **words = g_strsplit(list, ",", -1);
	int rc = 0;

	for (char **w = words; *w; w++) {
		if (!strcmp(*w, "leave-reset"))
			emu.faults |= ROM_DFU_FAULT_RESET_BEFORE_LEAVE_STATUS;
		else if (!strcmp(*w, "rdp"))
			emu.faults |= ROM_DFU_FAULT_RDP;
		else if (!strcmp(*w, "stall-busy"))
			emu.faults |= ROM_DFU_FAULT_STALL_WHILE_BUSY;
		else if (!strncmp(*w, "wrp", 3)) {
			emu.faults |= ROM_DFU_FAULT_WRP;
			emu.wrp_page = (*w)[3] == '=' ? (unsigned)atoi(*w + 4) : 0;
		} else if (!strcmp(*w, "access"))
			emu.deny_access = true;
		else if (!strcmp(*w, "slow-erase"))
			emu.faults |= ROM_DFU_FAULT_SLOW_ERASE;
		else if (!strcmp(*w, "reenumerating"))
			emu.reenumerating = true;
		else if (!strncmp(*w, "flip", 4)) {
			emu.faults |= ROM_DFU_FAULT_FLIP;
			emu.flip_address =
			    (*w)[4] == '=' ? (uint32_t)strtoul(*w + 5, NULL, 0) : 0x08005555u;
		} else if (!strncmp(*w, "vanish-erase", 12)) {
			emu.faults |= ROM_DFU_FAULT_VANISH_MID_ERASE;
			emu.vanish_after_erases = (*w)[12] == '=' ? (unsigned)atoi(*w + 13) : 10;
		} else if (!strncmp(*w, "vanish", 6)) {
			emu.faults |= ROM_DFU_FAULT_VANISH_MID_WRITE;
			emu.vanish_after = (*w)[6] == '=' ? (unsigned)atoi(*w + 7) : 4;
		} else {
			fprintf(stderr, "dfuemu: unknown fault '%s'\n", *w);
			rc = -1;
		}
	}
	g_strfreev(words);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: dfuemu [--devices N] [--fault LIST] [--flash-in FILE] [--flash-out FILE]\n"
	    "              [--speed S] [--stats FILE] [--reappear katapult|app [--uid HEX]]\n"
	    "              [--appear-after MS] [--stale-ms MS] [--replug-ms MS]\n"
	    "              [--unprotect-ms MS] [--then-twin 'TWIN ARGS'] -- CMD ARGS...\n"
	    "Serves N emulated STM32F042 ROM DFU devices (0483:df11, USB paths 1-1, 1-2, ...)\n"
	    "to CMD through umockdev, then writes each flash (device k > 1 to FILE.k) and\n"
	    "exits with CMD's status. --speed scales the F042 datasheet times (erase 25 ms a\n"
	    "page, 53.5 us a half-word, mass erase 40 ms), busy time and bwPollTimeout alike:\n"
	    "1 (default) the datasheet, 0 instant with bwPollTimeout 0.\n"
	    "Faults: leave-reset, rdp, stall-busy, slow-erase, vanish[=BLOCKS] (gone after\n"
	    "that many block writes), vanish-erase[=PAGES] (gone at the erase after that many),\n"
	    "wrp[=PAGE] (write-protected: erase and program silently do nothing), flip[=ADDR]\n"
	    "(the cell at ADDR programs its lowest 0 bit as 1, with no error), reenumerating\n"
	    "(the ROM is re-enumerating when CMD starts: listed but gone, then back), access\n"
	    "(the node cannot be opened: run as root, CMD then runs as nobody).\n"
	    "A device that leaves the bus (leave, reset, vanish) stays listed --stale-ms\n"
	    "(default 300) with every request failing ENODEV; after a reset (read unprotect,\n"
	    "which takes --unprotect-ms, default 40) the ROM is back --replug-ms (default 300)\n"
	    "after that. --reappear: after a leave to 0x08000000 the port shows Katapult\n"
	    "(1d50:6177) or the application (1d50:614e) with serial --uid (sysfs only).\n"
	    "--appear-after: the devices are plugged in MS after CMD started. --then-twin: after\n"
	    "a leave the probe twin runs the written flash with --uid and TWIN ARGS.\n"
	    "\nExamples:\n"
	    "  dfuemu --flash-out flash.bin -- dfu-util -a 0 -s 0x08000000:leave -D full.bin\n"
	    "  dfuemu --devices 2 -- cartoflash recover --path 1-2 --full full.bin\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"devices", required_argument, NULL, 'n'},
	    {"fault", required_argument, NULL, 'f'},
	    {"flash-in", required_argument, NULL, 'i'},
	    {"flash-out", required_argument, NULL, 'o'},
	    {"appear-after", required_argument, NULL, 'a'},
	    {"replug-ms", required_argument, NULL, 'R'},
	    {"stale-ms", required_argument, NULL, 'S'},
	    {"unprotect-ms", required_argument, NULL, 'U'},
	    {"help", no_argument, NULL, 'h'},
	    {"then-twin", required_argument, NULL, 'T'},
	    {"reappear", required_argument, NULL, 'r'},
	    {"speed", required_argument, NULL, 's'},
	    {"stats", required_argument, NULL, 't'},
	    {"uid", required_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	emu.count = 1;
	emu.speed = 1.0;
	emu.stale_ms = STALE_MS;
	emu.replug_ms = REPLUG_MS;
	emu.uid = "16000C000F43304253373820"; /* katapult.md §2.3 vector: UUID e0ef270ca188 */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			emu.count = atoi(optarg);
			break;
		case 'f':
			if (parse_faults(optarg))
				return -1;
			break;
		case 'i':
			emu.flash_in = optarg;
			break;
		case 'o':
			emu.flash_out = optarg;
			break;
		case 's':
			emu.speed = atof(optarg);
			break;
		case 't':
			emu.stats_file = optarg;
			break;
		case 'r':
			if (strcmp(optarg, "katapult") && strcmp(optarg, "app"))
				return -1;
			emu.reappear = optarg;
			break;
		case 'u':
			emu.uid = optarg;
			break;
		case 'a':
			emu.appear_after_ms = (unsigned)atoi(optarg);
			break;
		case 'R':
			emu.replug_ms = (unsigned)atoi(optarg);
			break;
		case 'S':
			emu.stale_ms = (unsigned)atoi(optarg);
			break;
		case 'U':
			emu.unprotect_ms = (unsigned)atoi(optarg);
			break;
		case 'T':
			emu.then_twin = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (emu.count < 1 || emu.count > MAX_DEVICES || emu.speed < 0 || emu.speed > 1 ||
	    optind >= argc)
		return -1;
	return optind;
}

/* umockdev works by LD_PRELOAD: without it, start again under umockdev-wrapper. */
static void reexec_under_wrapper(int argc, char **argv)
{
	char self[4096];
	const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char **args = g_new0(char *, (gsize)argc + 2);

	if (n <= 0) {
		fprintf(stderr, "dfuemu: cannot find my own binary\n");
		exit(70);
	}
	self[n] = '\0';
	args[0] = "umockdev-wrapper";
	args[1] = self;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execvp(args[0], args);
	fprintf(stderr, "dfuemu: cannot run umockdev-wrapper: %s (install umockdev)\n",
		strerror(errno));
	exit(69);
}

/*
 * --fault access: a device node the tool may not open, as without the udev rule. Root opens
 * any file, so then the testbed is made readable to all, the node left to root and the child
 * started as nobody (LD_PRELOAD survives: no setuid binary is involved).
 */
static void deny_access(void)
{
	char *root = umockdev_testbed_get_root_dir(emu.testbed);
	char *path;

	chmod(root, 01777); /* libudev emulation binds its event socket there */
	path = g_build_filename(root, "ioctl", "_default", NULL);
	chmod(path, 0666);
	g_free(path);
	for (int i = 0; i < emu.count; i++) {
		path = g_build_filename(root, "ioctl", emu.dev[i].devnode, NULL);
		chmod(path, 0666); /* the handler's socket: connecting needs write permission */
		g_free(path);
		path = g_build_filename(root, emu.dev[i].devnode, NULL);
		chmod(path, getuid() == 0 ? 0600 : 0);
		g_free(path);
	}
	g_free(root);
}

static void drop_to_nobody(gpointer data)
{
	(void)data;
	if (getuid() != 0)
		return;
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		_exit(70);
}

/* --fault reenumerating: the chip has just reset; its old instance is still listed. */
static void start_reenumerating(struct emu_device *d)
{
	d->model.gone = true;
	d->model.reset = true;
	disconnect(d);
}

static gboolean plug_in(gpointer data)
{
	(void)data;
	for (int i = 0; i < emu.count; i++) {
		if (!add_device(&emu.dev[i]))
			g_main_loop_quit(emu.main_loop);
		else if (emu.reenumerating)
			start_reenumerating(&emu.dev[i]);
	}
	return G_SOURCE_REMOVE;
}

static int run_child(char **cmd)
{
	GError *err = NULL;
	GPid pid;

	if (emu.deny_access)
		deny_access();
	if (!g_spawn_async(NULL, cmd, NULL,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
			       G_SPAWN_CHILD_INHERITS_STDIN,
			   emu.deny_access ? drop_to_nobody : NULL, NULL, &pid, &err)) {
		fprintf(stderr, "dfuemu: cannot start %s: %s\n", cmd[0], err->message);
		g_clear_error(&err);
		return 127;
	}
	g_child_watch_add(pid, child_exited, NULL);
	g_main_loop_run(emu.main_loop);
	return emu.child_status;
}

int main(int argc, char **argv)
{
	const int cmd_at = parse_args(argc, argv);
	int rc;

	if (cmd_at < 0) {
		usage(stderr);
		return 64;
	}
	/* umockdev_in_mock_environment() only turns true once a testbed exists: look at the
	 * preload list instead. */
	if (!getenv("LD_PRELOAD") || !strstr(getenv("LD_PRELOAD"), "umockdev-preload"))
		reexec_under_wrapper(argc, argv);
	emu.testbed = umockdev_testbed_new();
	emu.main_loop = g_main_loop_new(NULL, FALSE);
	g_mutex_init(&emu.lock);
	for (int i = 0; i < emu.count; i++)
		init_device(&emu.dev[i], i + 1);
	for (int i = 0; i < emu.count && !emu.appear_after_ms; i++) {
		if (!add_device(&emu.dev[i]))
			return 70;
		if (emu.reenumerating)
			start_reenumerating(&emu.dev[i]);
	}
	if (emu.appear_after_ms)
		g_timeout_add(emu.appear_after_ms, plug_in, NULL);
	rc = run_child(argv + cmd_at);
	stop_twin();
	for (int i = 0; i < emu.count; i++) {
		struct emu_device *d = &emu.dev[i];

		if (save_flash(d) && rc == 0)
			rc = 73;
		if (emu.stats_file) {
			FILE *f = fopen(emu.stats_file, i ? "a" : "w");

			if (f) {
				write_stats(f, d);
				fclose(f);
			}
		}
		if (!d->handler)
			continue; /* never plugged in (--appear-after) */
		umockdev_testbed_detach_ioctl(emu.testbed, d->devnode, NULL);
	}
	g_clear_object(&emu.handler);
	g_main_loop_unref(emu.main_loop);
	g_object_unref(emu.testbed);
	return rc;
}
