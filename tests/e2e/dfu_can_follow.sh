#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# recover --can: a CAN build leaves the ROM, boots as the probe twin on the simulated bus, and
# cartoflash finds it there by the node that was not on the bus before the leave.
set -u
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD
CF=${CARTOFLASH:-$BIN/cartoflash}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; sed 's/^/#   /' "$W/out.txt" | tail -6; fi; }
skip_all() { echo "ok 1 - dfu CAN follow # SKIP $1"; exit 0; }

command -v umockdev-wrapper >/dev/null || skip_all "umockdev not installed"
for b in dfuemu mkimage simbus twin; do [ -x "$BIN/$b" ] || { echo "not ok - ${0##*/}: $BIN/$b not built (make tools)"; exit 1; }; done
[ -x "$CF" ] || { echo "not ok - ${0##*/}: $CF not built"; exit 1; }
W=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
wait_for() { for _ in $(seq 100); do eval "$1" && return 0; sleep 0.05; done; return 1; }

"$BIN/simbus" --socket "$W/bus" --bitrate 1000000 --speed 0 --log "$W/bus.log" >"$W/bus.out" 2>&1 &
PIDS+=($!)
wait_for "grep -qs '^simbus: ready' '$W/bus.out'" || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
# Another probe is on the bus already: it must not be taken for the recovered one.
"$BIN/twin" --uid 000102030405060708090a0b --flash "$W/other.bin" --init app:can:1000000 \
	--attach "sim:$W/bus" --speed 0 >"$W/other.out" 2>&1 &
PIDS+=($!)
wait_for "grep -qs '^twin: ready' '$W/other.out'" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }
"$BIN/mkimage" full --iface can -o "$W/full_can.bin" || exit 1
head -c 32768 /dev/urandom >"$W/garbage.bin"

# The recovered chip (UID 16000C000F43304253373820) boots as a twin after the leave.
timeout 60 "$BIN/dfuemu" --flash-in "$W/garbage.bin" --flash-out "$W/flash.bin" \
	--then-twin "--attach sim:$W/bus --speed 0" -- \
	"$CF" recover --allow-unknown --full "$W/full_can.bin" --can "sim:$W/bus" --timeout 3s >"$W/out.txt" 2>&1
rc=$?
# katapult.md §2.3 vectors: 16000C000F43304253373820 -> e0ef270ca188,
# 000102030405060708090a0b -> 90a4ae022dfc.
check "recover --can: back as the application with CAN UUID e0ef270ca188 (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'back as the application on sim:$W/bus, CAN UUID e0ef270ca188' '$W/out.txt'"
check "the probe already on the bus (90a4ae022dfc) is not taken for it" \
	"grep -q 'CAN UUID e0ef270ca188' '$W/out.txt' && ! grep -q '90a4ae022dfc' '$W/out.txt'"
# The bus log proves the order: the census (CLEAR_KATAPULT_NODEID, then QUERY_UNASSIGNED) before
# the leave, the follow's queries after it until the recovered probe answers, then nothing more.
cp "$W/bus.log" "$W/bus1.log"
first_new=$(grep -n '3F1#20E0EF270CA188' "$W/bus1.log" | head -1 | cut -d: -f1)
check "the census came first: CLEAR_KATAPULT_NODEID, then the query, answered by the other probe" \
	"sed -n 1,3p '$W/bus1.log' | tr '\n' ' ' | grep -q '3F0#12 .*3F0#00 .*3F1#2090A4AE022DFC01'"
check "the follow queried after the census until the new node answered (line ${first_new:-none})" \
	"[ -n '$first_new' ] && [ \$(head -n '${first_new:-0}' '$W/bus1.log' | grep -c '3F0#00\$') -ge 3 ]"
check "the follow stopped at that answer: no query after it" \
	"[ -n '$first_new' ] && [ \$(tail -n +$((${first_new:-0} + 1)) '$W/bus1.log' | grep -c '3F0#00\$') -le 1 ]"

timeout 60 "$BIN/dfuemu" --flash-in "$W/garbage.bin" -- \
	"$CF" recover --allow-unknown --full "$W/full_can.bin" --can "sim:$W/bus" --timeout 1s >"$W/out.txt" 2>&1
rc=$?
check "recover --can, nothing new on the bus: success, says what to check (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'no new node answered on sim:$W/bus' '$W/out.txt'"
