#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A hybrid probe (USB and CAN wired) runs a deployer (katapult.md §4): the USB Katapult is
# rewritten with the embedded CAN Katapult, the USB device goes away and a Katapult node
# answers on the bus; flashing a CAN application then brings the application up on CAN.
set -u
. "$(dirname "$0")/twin_lib.bash"

TTY=$W/dev/ttyACM0
mkdir -p "$W/dev"
"$BIN/mkimage" deployer --iface can --bitrate 1000000 -o "$W/deployer-1m.bin"
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.2" -o "$W/app.bin"
bus bus 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
twin p --init katapult:usb --init "file:0x08002000:$W/deployer-1m.bin" --speed 1 \
	--attach "sim:$W/bus" --pty "$TTY" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }
check "the deployer rewrites the bootloader and requests the new Katapult" \
	"wait_for \"grep -q 'deployer: bootloader region rewritten' '$W/p.err'\" && wait_for \"tail -1 '$W/p.err' | grep -q 'mode katapult'\"" \
	"$W/p.err"
check "the USB device is gone (CAN firmware now)" "wait_for \"[ ! -e '$TTY' ]\""
"$CARTOFLASH" scan --can "sim:$W/bus" >"$W/scan.out" 2>&1
check "a Katapult node with the same UUID answers on the bus" \
	"grep -q 'e0ef270ca188  katapult' '$W/scan.out'" "$W/scan.out"
"$CARTOFLASH" flash --allow-unknown "$W/app.bin" --can "sim:$W/bus" --uuid e0ef270ca188 >"$W/flash.out" 2>&1
rc=$?
check "a CAN application flashed through the new Katapult" "[ $rc -eq 0 ]" "$W/flash.out"
"$CARTOFLASH" scan --can "sim:$W/bus" >"$W/scan2.out" 2>&1
check "the application answers on CAN" "grep -q 'e0ef270ca188  application' '$W/scan2.out'" \
	"$W/scan2.out"
stop p
check "exactly one rewrite, the bootloader region holds the embedded Katapult" \
	"[ \$(grep -c 'bootloader region rewritten' '$W/p.err') -eq 1 ] && cmp -s -n 4096 '$W/p.bin' <(tail -c +\$((0x538 + 1)) '$W/deployer-1m.bin')"
