// SPDX-License-Identifier: GPL-3.0-or-later
// dfuemu: devices in umockdev's testbed (descriptors, flash), and the results at the end.
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

bool add_device(struct emu_device *d)
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

void init_device(struct emu_device *d, int index)
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

int save_flash(const struct emu_device *d)
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

void write_stats(FILE *out, const struct emu_device *d)
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
