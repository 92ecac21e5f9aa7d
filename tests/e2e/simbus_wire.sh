#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# simbus on its own: candump log format, frames serialised at the bit time of the bus bitrate,
# backpressure instead of loss, twins' receive filters, a missing bus named in the error.
set -u
. "$(dirname "$0")/twin_lib.bash"

"$BIN/mkimage" app --iface can --bitrate 250000 --version "CARTOGRAPHER 5.1.2" -o "$W/new.bin"
bus slow 250000 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
check "ready line names the socket and bitrate" \
	"grep -q '^simbus: ready on $W/slow at 250000 bit/s' '$W/slow.out'"
twin p --init "app:can:250000:CARTOGRAPHER 5.1.0" --speed 0 --attach "sim:$W/slow"
"$CARTOFLASH" flash --allow-unknown "$W/new.bin" --can "sim:$W/slow" --uuid e0ef270ca188 >"$W/flash.out" 2>&1
rc=$?
check "a full flash over a 250 kbit/s simulated bus succeeds (nothing dropped)" "[ $rc -eq 0 ]" \
	"$W/flash.out"
check "every log line is candump format '(sec.usec) simbus ID#DATA'" \
	"[ -s '$W/slow.log' ] && ! grep -vE '^\([0-9]+\.[0-9]{6}\) simbus [0-9A-F]{3}#([0-9A-F]{2}){0,8}$' '$W/slow.log'"
# A standard frame with 8 data bytes is at least 47 + 64 = 111 bits: 444 us at 250 kbit/s. The
# stamps are simbus's bus time (the modelled end of each frame), so load cannot shrink a gap.
gap=$(grep -E '#([0-9A-F]{2}){8}$' "$W/slow.log" | awk -F'[()]' '
	{ t = $2 + 0; if (NR > 1) { d = (t - p) * 1e6; if (min == "" || d < min) min = d } p = t }
	END { printf "%d", min }')
# 95 % of the floor as the bound: margin for the microsecond stamps, while a hub that stopped
# serialising frames (gaps of tens of microseconds) still fails it.
check "8-byte frames are at least 111 bit times apart (min gap ${gap} us >= 422, 95 % of 444)" \
	"[ ${gap:-0} -ge 422 ]"
frames=$(wc -l <"$W/slow.log")
check "log holds the whole session ($frames frames)" "[ $frames -gt 1000 ]"
stop p

# Receive filters: an idle twin on the bus is handed only admin frames, yet every frame is on
# the wire and in the log, the flash of the other twin works, and both still answer a scan.
"$BIN/simbus" --socket "$W/filt" --bitrate 1000000 --speed 0 --log "$W/filt.log" \
	>"$W/filt.out" 2>"$W/filt.err" &
hub=$!
PIDS+=($hub)
wait_for "grep -qs '^simbus: ready' '$W/filt.out'"
twin f --init "app:can:1000000:CARTOGRAPHER 5.1.0" --speed 0 --attach "sim:$W/filt"
twin idle --uid 000102030405060708090a0b --init "app:can:1000000:CARTOGRAPHER 5.1.0" --speed 0 \
	--attach "sim:$W/filt"
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.2" -o "$W/new1m.bin"
"$CARTOFLASH" flash --allow-unknown "$W/new1m.bin" --can "sim:$W/filt" --uuid e0ef270ca188 \
	>"$W/fflash.out" 2>&1
rc=$?
check "a flash with an idle filtered twin on the bus succeeds" "[ $rc -eq 0 ]" "$W/fflash.out"
"$CARTOFLASH" scan --can "sim:$W/filt" >"$W/fscan.out" 2>&1
check "both twins answer a scan afterwards (admin frames reach them)" \
	"grep -q '^e0ef270ca188 *application' '$W/fscan.out' && grep -q '^90a4ae022dfc *application' '$W/fscan.out'" \
	"$W/fscan.out"
stop f
stop idle
kill "$hub"
wait "$hub"
node=$(grep -cE ' 20[23]#' "$W/filt.log")
filtered=$(sed -n 's/.* \([0-9]*\) deliveries filtered$/\1/p' "$W/filt.err")
frames=$(sed -n 's/^simbus: \([0-9]*\) frames.*/\1/p' "$W/filt.err")
check "the log holds every frame ($frames on the wire, $(wc -l <"$W/filt.log") logged)" \
	"[ -n '$frames' ] && [ $frames -eq $(wc -l <"$W/filt.log") ]" "$W/filt.err"
check "the idle twin was spared the node's frames (${filtered:-?} deliveries filtered, $node node frames)" \
	"[ -n '$filtered' ] && [ $((2 * ${filtered:-0})) -gt $node ] && [ $node -gt 1000 ]" "$W/filt.err"

"$CARTOFLASH" scan --can "sim:$W/nobus" >"$W/nobus.out" 2>&1
rc=$?
check "a missing bus fails with the path and how to start one" \
	"[ $rc -ne 0 ] && grep -q 'simbus --socket $W/nobus' '$W/nobus.out'" "$W/nobus.out"
