#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# B6: `update --all` on eight CAN probes that already run the chosen build, divided by a full
# update of the same eight (they run an older build), both in one run on one simulated 1 Mbit/s
# bus with twins at speed 1 (datasheet flash timing). Target <= 0.05: a machine that is current
# costs a discovery, not a rewrite. Prints one table row:
#   | B6 | update --all, 8 CAN probes | current s | full s | current/full |
set -u
BUILD=${BUILD:-build}
BIN=$(cd "$(dirname "${CARTOFLASH:-$BUILD/cartoflash}")" && pwd)
CF=$BIN/cartoflash
WORK=$(mktemp -d)
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

for b in "$CF" "$BIN/twin" "$BIN/mkimage" "$BIN/simbus"; do
	[ -x "$b" ] || { echo "| B6 | update --all | skipped: $b not built | | |"; exit 0; }
done

S=$WORK/fw/firmware/v2-v3/survey
mkdir -p "$S/5.1.0" "$S/6.1.0"
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -s 21000 \
	-o "$S/5.1.0/Survey_Cartographer_CAN_1000000_8kib_offset.bin" >/dev/null
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER V3 6.1.0" -s 21000 \
	-o "$S/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin" >/dev/null
cp "$S/5.1.0/Survey_Cartographer_CAN_1000000_8kib_offset.bin" "$WORK/old.bin"
cp "$S/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin" "$WORK/new.bin"

wait_line() {
	local i
	for i in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# machine NAME IMAGE: a bus and eight twins running IMAGE; prints nothing.
machine() {
	local i uid
	"$BIN/simbus" --socket "$WORK/$1" --bitrate 1000000 --speed 1 >"$WORK/$1.simbus" 2>&1 &
	PIDS+=($!)
	wait_line "$WORK/$1.simbus" ready || return 1
	for i in 0 1 2 3 4 5 6 7; do
		uid=$(printf '16000C000F433042533738%02X' "$i")
		"$BIN/twin" --uid "$uid" --flash "$WORK/$1-$i.flash" --init katapult:can:1000000 \
			--init "file:0x08002000:$2" --speed 1 --attach "sim:$WORK/$1" \
			>"$WORK/$1-$i.out" 2>&1 &
		PIDS+=($!)
		wait_line "$WORK/$1-$i.out" ready || return 1
	done
	# past Katapult's double-reset window: every application answers the query
	for i in 0 1 2 3 4 5 6 7; do wait_line "$WORK/$1-$i.out" "mode app" || return 1; done
}

run() {	# run NAME: seconds of `update --all` on that machine
	local t0 t1 rc
	t0=$(date +%s.%N)
	"$CF" update --firmware "$WORK/fw" --all --can "sim:$WORK/$1" --klippy-socket "" --no-usb \
		--allow-unknown -q >"$WORK/$1.txt" 2>"$WORK/$1.err"
	rc=$?
	t1=$(date +%s.%N)
	[ $rc -eq 0 ] || { echo "| B6 | update --all | failed on $1 (exit $rc): $(tail -1 "$WORK/$1.err") | | |"; exit 1; }
	echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }'
}

machine current "$WORK/new.bin" && machine old "$WORK/old.bin" || {
	echo "| B6 | update --all | failed: twins did not start | | |"; exit 1; }
cur=$(run current)
full=$(run old)
[ "$(grep -c ' -> flash ' "$WORK/old.txt")" -eq 8 ] && [ "$(grep -c ' -> current ' "$WORK/current.txt")" -eq 8 ] ||
	{ echo "| B6 | update --all | failed: the plans are not what B6 measures | | |"; exit 1; }
awk -v c="$cur" -v f="$full" 'BEGIN { printf "| B6 | update --all, 8 CAN probes at 1 Mbit/s, twins speed 1 | current %.2f s | full update %.2f s | %.3f (target <= 0.05) |\n", c, f, c / f }'
