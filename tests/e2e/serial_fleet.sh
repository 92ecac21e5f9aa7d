#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Two USB probes at once on two ports: one in its application, one in Katapult. Each is followed
# by port path and serial across its re-enumerations (their ttys trade places on the way), and
# `--serial auto` refuses to guess between them.
. "$(dirname "$0")/serial_lib.bash"
require_binaries serial_fleet

"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.1.0" -s 22528 -o "$WORK/new.bin" >/dev/null
mkdir -p "$WORK/sys" "$WORK/dev"
PIDS=()
stop_all() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap stop_all EXIT

# katapult.md §2.3 vectors: 000102030405060708090a0b -> 90a4ae022dfc, 16000C...20 -> e0ef270ca188
CARTOFLASH_SYSFS_PORT=1-1.2 "$TWIN" --uid 000102030405060708090A0B --flash "$WORK/a.bin" \
	--init katapult:usb --init app:usb --pty "$WORK/dev/ttyACM0" --speed 0 \
	>"$WORK/a.out" 2>"$WORK/a.err" &
PIDS+=($!)
CARTOFLASH_SYSFS_PORT=1-1.3 "$TWIN" --flash "$WORK/b.bin" --init katapult:usb \
	--pty "$WORK/dev/ttyACM1" --speed 0 >"$WORK/b.out" 2>"$WORK/b.err" &
PIDS+=($!)
for _ in $(seq 200); do
	[ -e "$WORK/dev/ttyACM0" ] && [ -e "$WORK/dev/ttyACM1" ] && break
	sleep 0.05
done

run flash --allow-unknown "$WORK/new.bin" --serial auto
check "two probes: --serial auto refuses to choose (exit 64)" test "$RC" -eq 64
check "two probes: the refusal lists both" has "$ERR" "needs exactly one probe"

run flash --allow-unknown "$WORK/new.bin" --serial "$WORK/dev/ttyACM0" --serial "$WORK/dev/ttyACM1" --json
check "two probes flashed at once: exit 0" test "$RC" -eq 0
check "two probes: summary counts both" has "$OUT" '"devices":2,"succeeded":2,"failed":0'
check "probe 90a4ae022dfc came back on its own port 1-1.2" \
	has "$OUT" '"uuid":"90a4ae022dfc","serial":"000102030405060708090A0B","usb_path":"1-1.2"'
check "probe e0ef270ca188 came back on its own port 1-1.3" \
	has "$OUT" '"uuid":"e0ef270ca188","serial":"16000C000F43304253373820","usb_path":"1-1.3"'

run scan --usb
check "both run the application afterwards" \
	test "$(grep -cE '^1-1\.[23] +1d50:614e +cartographer +application' "$OUT")" -eq 2
