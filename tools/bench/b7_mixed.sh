#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# B7: `update --all` on a mixed machine - four CAN probes on two simulated 1 Mbit/s buses (two
# old on bus A; one old, one current on bus B) and two USB probes (one old, one current), twins
# and buses at speed 1 - divided by its floor, in one run: the slowest link's write + verify
# (bench floor over that bus's own log of the run: every frame's wire time, the flash work of
# the timing model, COMPLETE -> application) plus the entry into Katapult (bootloader request ->
# reset, 1 ms in katapult.md §2.7). Everything else the run does - discovery, the plan, the
# identify of the current probes, following them back - is what the ratio measures. Target
# <= 1.2. Prints one table row:
#   | B7 | update --all, mixed machine | wall s | floor s | wall/floor |
set -u
BUILD=${BUILD:-build}
BIN=$(cd "$(dirname "${CARTOFLASH:-$BUILD/cartoflash}")" && pwd)
CF=$BIN/cartoflash
WORK=$(mktemp -d)
PIDS=()
BYTES=22528
ENTRY_S=0.001

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
row() { echo "| B7 | update --all, mixed machine | $1 | | |"; }

for b in "$CF" "$BIN/twin" "$BIN/mkimage" "$BIN/simbus" "$BIN/bench"; do
	[ -x "$b" ] || { row "skipped: $b not built"; exit 0; }
done
export CARTOFLASH_SYSFS_ROOT=$WORK/sys CARTOFLASH_LOCK_DIR=$WORK/locks HOME=$WORK/home
mkdir -p "$WORK/fw" "$WORK/sys" "$WORK/dev" "$WORK/locks" "$WORK/home"
mk() { "$BIN/mkimage" app --size $BYTES "$@" >/dev/null; }
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -o "$WORK/can-old.bin"
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER V3 6.1.0" -o "$WORK/fw/can-6.1.0.bin"
mk --iface usb --version "CARTOGRAPHER 5.1.0" -o "$WORK/usb-old.bin"
mk --iface usb --version "CARTOGRAPHER V3 6.1.0" -o "$WORK/fw/usb-6.1.0.bin"

wait_line() {
	local i
	for i in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
bus() {
	"$BIN/simbus" --socket "$WORK/$1" --bitrate 1000000 --speed 1 --log "$WORK/$1.log" \
		>"$WORK/$1.out" 2>&1 &
	PIDS+=($!)
	wait_line "$WORK/$1.out" ready
}
# twin NAME UID IMAGE (--attach sim:BUS | --pty TTY): at speed 1, running IMAGE under Katapult
twin() {
	local name=$1 uid=$2 img=$3 init=katapult:can:1000000
	shift 3
	[ "$1" = --pty ] && init=katapult:usb
	"$BIN/twin" --uid "$uid" --flash "$WORK/$name.flash" --init "$init" \
		--init "file:0x08002000:$img" --speed 1 "$@" >"$WORK/$name.out" 2>&1 &
	PIDS+=($!)
	wait_line "$WORK/$name.out" "mode app"
}

bus busa && bus busb || { row "failed: simbus did not start"; exit 1; }
twin a1 0A000000000000000000B701 "$WORK/can-old.bin" --attach "sim:$WORK/busa" &&
	twin a2 0A000000000000000000B702 "$WORK/can-old.bin" --attach "sim:$WORK/busa" &&
	twin b1 0B000000000000000000B701 "$WORK/can-old.bin" --attach "sim:$WORK/busb" &&
	twin b2 0B000000000000000000B702 "$WORK/fw/can-6.1.0.bin" --attach "sim:$WORK/busb" &&
	CARTOFLASH_SYSFS_PORT=1-1.2 twin u1 0C000000000000000000B701 "$WORK/usb-old.bin" \
		--pty "$WORK/dev/ttyACM0" &&
	CARTOFLASH_SYSFS_PORT=1-1.3 twin u2 0C000000000000000000B702 "$WORK/fw/usb-6.1.0.bin" \
		--pty "$WORK/dev/ttyACM1" || { row "failed: twins did not start"; exit 1; }
for _ in $(seq 200); do
	[ -e "$WORK/dev/ttyACM0" ] && [ -e "$WORK/dev/ttyACM1" ] && break
	sleep 0.05
done
from_a=$(($(wc -l <"$WORK/busa.log") + 1))
from_b=$(($(wc -l <"$WORK/busb.log") + 1))

t0=$(date +%s.%N)
"$CF" update --firmware "$WORK/fw" --all --can "sim:$WORK/busa" --can "sim:$WORK/busb" \
	--klippy-socket "" --allow-unknown --json >"$WORK/run.json" 2>"$WORK/run.err"
rc=$?
t1=$(date +%s.%N)
[ $rc -eq 0 ] || { row "failed (exit $rc): $(grep cartoflash: "$WORK/run.err" | tail -1)"; exit 1; }
results=$(python3 -c "
import json, sys
j = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(' '.join(sorted(o['result'] for o in j if o['event'] == 'update_result')))" "$WORK/run.json")
[ "$results" = "current current updated updated updated updated" ] ||
	{ row "failed: the run is not what B7 measures ($results)"; exit 1; }

# bus_floor BUS FROM: floor_bus_s of that bus's frames of the run
bus_floor() {
	sed -n "$2,\$p" "$WORK/$1.log" >"$WORK/$1.slice"
	"$BIN/bench" floor --log "$WORK/$1.slice" --bitrate 1000000 --image-bytes $BYTES |
		sed -n 's/^floor_bus_s=//p'
}
fa=$(bus_floor busa "$from_a")
fb=$(bus_floor busb "$from_b")
: >"$WORK/empty.log"
# USB: the flash work and COMPLETE -> application (USB full-speed wire time is ~1 % of it)
fu=$("$BIN/bench" floor --log "$WORK/empty.log" --bitrate 1000000 --image-bytes $BYTES |
	sed -n 's/^floor_single_s=//p')
awk -v t0="$t0" -v t1="$t1" -v fa="$fa" -v fb="$fb" -v fu="$fu" -v e="$ENTRY_S" 'BEGIN {
	slow = fa; name = "bus A"
	if (fb > slow) { slow = fb; name = "bus B" }
	if (fu > slow) { slow = fu; name = "USB" }
	wall = t1 - t0; floor = slow + e
	printf "| B7 | update --all, mixed machine: 4 CAN probes on 2 buses + 2 USB, 2 current, twins speed 1 | %.2f s | %.2f s (slowest %s %.2f s, bus B %.2f, USB %.2f, + entry %.3f) | %.2f (target <= 1.2) |\n",
		wall, floor, name, slow, fb, fu, e, wall / floor
}'
