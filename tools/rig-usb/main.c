// SPDX-License-Identifier: GPL-3.0-or-later
/* rig-usb: lists USB devices through libusb, so rig tests see what a libusb client sees. */

/*
 * usage: rig-usb [VID:PID]   prints "BUS-PORT VID:PID serial=S product=P" per device (only the
 * matching ones with an argument); exit 0 when something was printed, 1 when nothing matched.
 * libusb is initialised per run: Debian's udev-backend libusb without udevd sees only the
 * devices present at libusb_init (rig.md pitfall 15), which is what one run needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libusb.h>

static void print_device(libusb_device *dev, const struct libusb_device_descriptor *d)
{
	unsigned char serial[128] = "", product[128] = "";
	uint8_t ports[8];
	int n = libusb_get_port_numbers(dev, ports, 8);
	libusb_device_handle *h;

	if (libusb_open(dev, &h) == 0) {
		if (d->iSerialNumber)
			libusb_get_string_descriptor_ascii(h, d->iSerialNumber, serial,
							   sizeof(serial));
		if (d->iProduct)
			libusb_get_string_descriptor_ascii(h, d->iProduct, product,
							   sizeof(product));
		libusb_close(h);
	}
	printf("%u-", libusb_get_bus_number(dev));
	for (int i = 0; i < n; i++)
		printf(i ? ".%u" : "%u", ports[i]);
	printf(" %04x:%04x serial=%s product=%s\n", d->idVendor, d->idProduct, serial, product);
}

int main(int argc, char **argv)
{
	unsigned vid = 0, pid = 0;
	libusb_context *ctx;
	libusb_device **list;
	ssize_t count;
	int found = 0;

	if (argc > 2 || (argc == 2 && sscanf(argv[1], "%4x:%4x", &vid, &pid) != 2)) {
		fprintf(stderr, "usage: rig-usb [VID:PID]\nExample: rig-usb 1d50:614e\n");
		return 64;
	}
	if (libusb_init(&ctx)) {
		fprintf(stderr, "rig-usb: libusb_init failed\n");
		return 69;
	}
	count = libusb_get_device_list(ctx, &list);
	for (ssize_t i = 0; i < count; i++) {
		struct libusb_device_descriptor d;

		if (libusb_get_device_descriptor(list[i], &d))
			continue;
		if (argc == 2 && (d.idVendor != vid || d.idProduct != pid))
			continue;
		print_device(list[i], &d);
		found++;
	}
	if (count >= 0)
		libusb_free_device_list(list, 1);
	libusb_exit(ctx);
	return found ? 0 : 1;
}
