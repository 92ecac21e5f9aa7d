#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Demo: a simulated CAN bus with three probe twins (an old application, one stuck in Katapult,
# one without an application) updated at once by the real cartoflash; stops all it started.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD
CF=$BIN/cartoflash
for b in "$CF" "$BIN/mkimage" "$BIN/twin" "$BIN/simbus"; do
	[ -x "$b" ] || { echo "demo: $b is missing; run 'make all tools' first" >&2; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; echo "(exit $?)"; }
wait_line() {
	for _ in $(seq 1 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "demo: no '$2' from $1" >&2
	cat "$1" >&2
	exit 1
}
twin() {	# NAME UID INIT...
	local name=$1 uid=$2 args=() s
	shift 2
	for s in "$@"; do args+=(--init "$s"); done
	"$BIN/twin" --uid "$uid" --flash "$work/$name.flash" "${args[@]}" --speed 1 \
		--attach "sim:$work/can0" >"$work/$name.log" 2>&1 &
	pids+=($!)
	wait_line "$work/$name.log" ready
	# Booting includes Katapult's 0.5 s double-reset window: wait until it runs something.
	wait_line "$work/$name.log" "mode \(app\|katapult\)"
	sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/$name.log" | head -1
}

step "1. Images, synthesised: the new CAN 1 Mbit/s application and what the probes hold now"
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 22528 \
	-o "$work/Survey_Cartographer_CAN_1000000_8kib_offset.bin"
"$BIN/mkimage" app --iface can --bitrate 500000 --version "CARTOGRAPHER 5.1.0" \
	-o "$work/Survey_Cartographer_CAN_500000_8kib_offset.bin"
head -c 64 /dev/zero | tr '\0' '\377' >"$work/erased_block.bin"
run "$CF" inspect "$work/Survey_Cartographer_CAN_1000000_8kib_offset.bin"

step "2. A simulated CAN bus at 1 Mbit/s (real bit timing) and three Cartographer twins"
"$BIN/simbus" --socket "$work/can0" --bitrate 1000000 --log "$work/can0.log" \
	>"$work/simbus.log" 2>&1 &
pids+=($!)
wait_line "$work/simbus.log" ready
old="app:can:1000000:CARTOGRAPHER 4.0.0"
front=$(twin front 16000C000F43304253373820 katapult:can:1000000 "$old")
# An interrupted update: the application's first block erased, so Katapult keeps it (§5).
rear=$(twin rear 000102030405060708090A0B katapult:can:1000000 "$old" \
	"file:0x08002000:$work/erased_block.bin")
spare=$(twin spare 0A0B0C0D0E0F101112131415 "katapult:can:1000000:v0.0.1-110-g902f335")
printf '  front %s: CARTOGRAPHER 4.0.0 running\n' "$front"
printf '  rear  %s: stuck in Katapult after an interrupted update\n' "$rear"
printf '  spare %s: Katapult only, no application\n' "$spare"
cat >"$work/printer.cfg" <<EOF
[scanner]
canbus_uuid: $front
[mcu rear]
canbus_uuid: $rear   # rear probe
EOF

step "3. Who is on the bus (admin query until the bus is quiet), checked against printer.cfg"
run "$CF" scan --can "sim:$work/can0" --klipper-config "$work/printer.cfg"

step "4. A wrong-bitrate image is refused before a byte is written; the probe goes back to work"
run "$CF" flash --allow-unknown "$work/Survey_Cartographer_CAN_500000_8kib_offset.bin" --can "sim:$work/can0" \
	--uuid "$front"

step "5. All three at once: bootloader entry, safe-order write, verify, reboot, confirm"
run "$CF" flash --allow-unknown "$work/Survey_Cartographer_CAN_1000000_8kib_offset.bin" --can "sim:$work/can0" \
	--uuid "$front" --uuid "$rear" --uuid "$spare"

step "6. Every probe runs the new application"
run "$CF" scan --can "sim:$work/can0" --json
printf '\n%s frames crossed the simulated bus; candump log: %s\n' \
	"$(wc -l <"$work/can0.log")" "(removed with the rest on exit)"
