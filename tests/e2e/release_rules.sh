#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# R7 in every write (images.md §7): flash, fleet and recover refuse a build that is no known
# release before any probe is reached (the bus log stays empty); --allow-unknown writes it with
# a warning. A release cut after its dictionary still classifies as an app: only R7 tells.
set -u
. "$(dirname "$0")/can_lib.bash"

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 22528 \
	-o "$work/app.bin"
head -c 22428 "$work/app.bin" >"$work/cut.bin" # the dictionary ends at 22400
"$BIN/mkimage" full --version "CARTOGRAPHER 5.1.0" -o "$work/full.bin"
start_bus 1000000 0 || fail_start simbus "$work/simbus.out"
start_twin p1 16000C000F43304253373820 0 katapult:can:1000000 "app:can:1000000:CARTOGRAPHER 4.0.0" ||
	fail_start "twin p1" "$work/p1.out"
u1=$(uuid_of p1)

"$CARTOFLASH" inspect "$work/cut.bin" >"$work/cut.txt" 2>&1
check "a cut release still classifies as an app (only R7 can tell)" 'grep -q "kind.*app" "$work/cut.txt"'

"$CARTOFLASH" flash "$work/cut.bin" --can "sim:$work/bus" --uuid "$u1" >"$work/r7.out" 2>"$work/r7.err"
rc=$?
check "flash of a cut release: exit 65" '[ $rc -eq 65 ]'
check "flash names R7, the file, its hash and the override" \
	'grep -q "refusal R7: $work/cut.bin: sha256 [0-9a-f]\{16\}\.\.\.: the image is no known release build" "$work/r7.err" && grep -q -- "--allow-unknown lifts it" "$work/r7.err"'
check "R7 is refused before any probe is reached (no frame on the bus)" '[ ! -s "$work/bus.log" ]'

"$CARTOFLASH" flash "$work/app.bin" --can "sim:$work/bus" --uuid "$u1" --dry-run >/dev/null 2>"$work/dry.err"
rc=$?
check "a dry run refuses R7 too (exit 65)" '[ $rc -eq 65 ] && grep -q "refusal R7" "$work/dry.err"'

printf '[p1]\ninterface = sim:%s\nuuid = %s\nimage = app.bin\n' "$work/bus" "$u1" >"$work/probes.ini"
"$CARTOFLASH" fleet "$work/probes.ini" >/dev/null 2>"$work/fleet.err"
rc=$?
check "fleet refuses R7 before any probe (exit 65)" '[ $rc -eq 65 ] && grep -q "refusal R7" "$work/fleet.err" && [ ! -s "$work/bus.log" ]'

"$CARTOFLASH" recover --full "$work/full.bin" >/dev/null 2>"$work/recover.err"
rc=$?
check "recover refuses R7 before looking for a ROM (exit 65)" '[ $rc -eq 65 ] && grep -q "refusal R7" "$work/recover.err"'

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u1" >"$work/ok.out" 2>"$work/ok.err"
rc=$?
check "--allow-unknown writes it (exit 0)" '[ $rc -eq 0 ]'
check "--allow-unknown is never silent: a warning names R7 and the hash" \
	'grep -q "R7 lifted by --allow-unknown: sha256 [0-9a-f]\{16\}\.\.\. is no known release build" "$work/ok.err"'
stop_twin p1
check "the twin holds the image" 'app_matches p1 "$work/app.bin"'
echo "1..$n"
