#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# B4: USB-serial update of a 22 KiB application through the real binary and a twin process at
# speed 1 (datasheet flash timing), from the running application (1200-baud touch, Katapult,
# write, verify, COMPLETE, application confirmed). Prints one table row:
#   | B4 | usb-serial, 22 KiB app, twin speed 1 | wall | floor | wall/floor |
# floor = flash time of the twin's timing model (bench floor: page erases + half-word
# programming, safer order) + USB full-speed wire time of every byte the run moved (12 Mbit/s,
# worst-case bit stuffing, 89 bits of token/handshake/packet framing per bulk packet of <= 64
# bytes). Fixed device delays (re-enumeration, COMPLETE -> application) are not in the floor.
set -u
BUILD=${BUILD:-build}
BIN=$(cd "$(dirname "${CARTOFLASH:-$BUILD/cartoflash}")" && pwd)
CF=$BIN/cartoflash
WORK=$(mktemp -d)
TTY=$WORK/dev/ttyACM0
IMAGE_BYTES=22528
TWIN_PID=
export CARTOFLASH_SYSFS_ROOT=$WORK/sys

cleanup() {
	[ -n "$TWIN_PID" ] && kill "$TWIN_PID" 2>/dev/null && wait "$TWIN_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${B4_KEEP_LOG:-}" ] && trap 'cp "$WORK/log" "$B4_KEEP_LOG"; cleanup' EXIT

for b in "$CF" "$BIN/twin" "$BIN/mkimage" "$BIN/bench"; do
	if [ ! -x "$b" ]; then
		echo "| B4 | usb-serial | skipped: $b not built | | |"
		exit 0
	fi
done

mkdir -p "$WORK/sys" "$WORK/dev"
"$BIN/mkimage" app --iface usb --version "CARTOGRAPHER 5.1.0" -s "$IMAGE_BYTES" \
	-o "$WORK/new.bin" >/dev/null
# the old application is as large as the new one: every page the floor counts is erased
"$BIN/mkimage" app --iface usb --version "CARTOGRAPHER 4.0.0" -s "$IMAGE_BYTES" \
	-o "$WORK/old.bin" >/dev/null
"$BIN/twin" --flash "$WORK/flash.bin" --init katapult:usb --init "file:0x08002000:$WORK/old.bin" --pty "$TTY" \
	--speed 1 >"$WORK/twin.out" 2>"$WORK/twin.err" &
TWIN_PID=$!
for _ in $(seq 200); do
	[ -e "$TTY" ] && grep -q '^twin: ready' "$WORK/twin.out" && break
	sleep 0.05
done

t0=$(date +%s.%N)
"$CF" flash --allow-unknown -vv "$WORK/new.bin" --serial "$TTY" >"$WORK/out" 2>"$WORK/log"
rc=$?
t1=$(date +%s.%N)
if [ "$rc" -ne 0 ]; then
	echo "| B4 | usb-serial, 22 KiB app, twin speed 1 | failed (exit $rc): $(grep cartoflash: "$WORK/log" | tail -1) | | |"
	exit 1
fi

: >"$WORK/empty.log"
flash_s=$("$BIN/bench" floor --log "$WORK/empty.log" --bitrate 1000000 \
	--image-bytes "$IMAGE_BYTES" | sed -n 's/^flash_s=//p')
# Bytes the tty transport moved, both ways, over every open of the run (-vv debug lines).
bytes=$(sed -n 's/.*tty: close: \([0-9]*\) bytes out, \([0-9]*\) in.*/\1 \2/p' "$WORK/log" |
	awk '{ s += $1 + $2 } END { print s + 0 }')
blocks=$(( (IMAGE_BYTES + 63) / 64 ))
awk -v t0="$t0" -v t1="$t1" -v flash="$flash_s" -v bytes="$bytes" -v blocks="$blocks" 'BEGIN {
	# per block: SEND_BLOCK 76 B (2 packets) + ACK 16 B (1), REQUEST_BLOCK 12 B (1) + ACK 80 B (2)
	packets = 6 * blocks + 12
	wire = (bytes * 8 * 7 / 6 + packets * 89) / 12e6
	wall = t1 - t0
	floor = flash + wire
	printf "| B4 | usb-serial, 22 KiB app, twin speed 1 | %.3f s | %.3f s (flash %.3f + usb %.3f) | %.2f |\n",
		wall, floor, flash, wire, wall / floor
}'
