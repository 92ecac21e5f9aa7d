#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# B5: ROM DFU recovery of a 30 KiB full image on the emulated STM32F042 ROM (dfuemu, speed 1:
# F042 datasheet erase/program times reported as bwPollTimeout, dfuemu's default). cartoflash
# recover (bootloader region erased, written and read back first, then the application, every
# byte read back, leave) against dfu-util 0.11 -a 0 -s 0x08000000:leave -D
# (erase all, write, leave; no verify) on the same emulator. One run each. Prints one row:
#   | B5 | ROM DFU recovery, 30 KiB full, dfuemu speed 1 | cartoflash s | dfu-util s | ratio |
# Target: ratio <= 1.0. Self-contained: reads $BUILD (default build), needs dfu-util+umockdev.
# The chip starts as the emulator starts it: blank. cartoflash reads the planned pages first
# and does not erase pages that are blank already (F0: no flash ECC); dfu-util erases all 30.
# B5_FLASH_IN=FILE starts both tools from FILE instead (a chip full of garbage costs cartoflash
# the same erases as dfu-util: the ratio is then about 1.0, the read-back being nearly free).
set -u
BUILD=${BUILD:-build}
BIN=$(cd "$(dirname "${CARTOFLASH:-$BUILD/cartoflash}")" && pwd)
CF=$BIN/cartoflash
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
NAME="ROM DFU recovery, 30 KiB full image, blank F042, dfuemu speed 1"

for b in "$CF" "$BIN/dfuemu" "$BIN/mkimage"; do
	if [ ! -x "$b" ]; then
		echo "| B5 | $NAME | skipped: $b not built | | |"
		exit 0
	fi
done
for c in dfu-util umockdev-wrapper; do
	if ! command -v "$c" >/dev/null; then
		echo "| B5 | $NAME | skipped: $c not installed | | |"
		exit 0
	fi
done

"$BIN/mkimage" full --iface usb -s 22528 -o "$WORK/full.bin" >/dev/null || exit 1

now() { date +%s.%N; }
# --timeout 1ms: do not wait for a probe to come back (the emulator has none to offer);
# dfu-util exits right after its leave request too.
init=()
if [ -n "${B5_FLASH_IN:-}" ]; then
	init=(--flash-in "$B5_FLASH_IN")
	NAME="ROM DFU recovery, 30 KiB full image, F042 from $(basename "$B5_FLASH_IN"), dfuemu speed 1"
fi
t0=$(now)
"$BIN/dfuemu" --speed 1 "${init[@]}" --flash-out "$WORK/cf.bin" -- \
	"$CF" recover --allow-unknown --full "$WORK/full.bin" --timeout 1ms -q >"$WORK/cf.out" 2>&1
rc_cf=$?
t1=$(now)
"$BIN/dfuemu" --speed 1 "${init[@]}" --flash-out "$WORK/du.bin" -- \
	dfu-util -a 0 -s 0x08000000:leave -D "$WORK/full.bin" >"$WORK/du.out" 2>&1
rc_du=$?
t2=$(now)

if [ "$rc_cf" -ne 0 ] || [ "$rc_du" -ne 0 ]; then
	echo "| B5 | $NAME | failed: cartoflash exit $rc_cf, dfu-util exit $rc_du | | |"
	exit 1
fi
if ! cmp -s "$WORK/cf.bin" "$WORK/du.bin"; then
	echo "| B5 | $NAME | failed: the two flashes differ | | |"
	exit 1
fi
awk -v a="$t0" -v b="$t1" -v c="$t2" -v name="$NAME" 'BEGIN {
	cf = b - a; du = c - b
	printf "| B5 | %s | cartoflash %.2f s (verified) | dfu-util %.2f s (no verify) | %.2f |\n",
		name, cf, du, cf / du
}'
