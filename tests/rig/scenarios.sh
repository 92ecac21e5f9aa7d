#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rig layer, cartoflash scenarios: the real binary inside the VM against the probe twin through
# real kernel drivers (USB serial via cdc-acm and a FunctionFS gadget; CAN via vcan and slcan;
# ROM DFU via usbfs/libusb). One fresh VM per guest script, two at a time.
cd "$(dirname "$0")/../.." || exit 1
. tools/rig/rig.sh
rig_flavour "${CARTOFLASH_RIG_KERNEL:-backports}" || exit 0
echo "# kernel $RIG_KVER ($RIG_FLAVOUR)"
rig_run_all tools/rig/guest/can.sh tools/rig/guest/can-slcan.sh tools/rig/guest/can-powerloss.sh \
	tools/rig/guest/usb-serial.sh \
	tools/rig/guest/usb-unplug.sh tools/rig/guest/dfu-recover.sh
