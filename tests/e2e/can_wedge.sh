#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# katapult.md §1.7: a corrupted host frame wedges Katapult's parser (one NACK, then silence).
# cartoflash must say so and ask for a power cycle, never send COMPLETE, and exit 76.
set -u
. "$(dirname "$0")/can_lib.bash"

"$BIN/mkimage" app --iface can --bitrate 1000000 -o "$work/app.bin"
start_bus 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
"$BIN/twin" --uid 16000C000F43304253373820 --flash "$work/w.bin" --init katapult:can:1000000 \
	--speed 0 --fault corrupt-rx=5 --attach "sim:$work/bus" >"$work/w.out" 2>&1 &
pids+=($!)
wait_line "$work/w.out" ready || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid e0ef270ca188 >"$work/out" \
	2>"$work/err"
rc=$?
check "a wedged bootloader: exit 76 (device protocol)" '[ $rc -eq 76 ]'
check "the message says wedged and asks for a power cycle" \
	'grep -q "wedged" "$work/err" && grep -q "power-cycle the probe" "$work/err"'
check "exactly one NACK came back, then silence" '[ "$(grep -ci "#0188F100" "$work/bus.log")" -eq 1 ]'
read -r tx rx <<<"$(node_ids e0ef270ca188)"
check "no COMPLETE was sent to the wedged probe (its session on ${tx:-?} logged)" \
	'[ -n "$tx" ] && bus_has "$tx#0188" && ! bus_has "$tx#01881500"'
