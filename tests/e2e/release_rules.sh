#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# R7 in every write (images.md §7): flash, fleet and recover refuse a build that is no known
# release before any probe is reached (the bus log stays empty); --allow-unknown writes it with
# a warning. A known release cut after its dictionary still classifies as an app: only R7
# tells - the cut copy is refused, the whole release is written. The known release comes from
# the corpus (CARTOFLASH_FIRMWARE_DIR, default ../shared/firmware); without it those checks
# are visible skips.
set -u
. "$(dirname "$0")/can_lib.bash"
FW=${CARTOFLASH_FIRMWARE_DIR:-$PWD/../shared/firmware}
REL=$FW/Survey_Cartographer_CAN_1000000_8kib_offset_5.1.0.bin
# bus_silent: the bus log exists (simbus records the session) and holds no frame
bus_silent() { [ -f "$work/bus.log" ] && [ ! -s "$work/bus.log" ]; }

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 22528 \
	-o "$work/app.bin"
head -c 22428 "$work/app.bin" >"$work/cut.bin" # the dictionary ends at 22400
"$BIN/mkimage" full --version "CARTOGRAPHER 5.1.0" -o "$work/full.bin"
start_bus 1000000 0 || fail_start simbus "$work/simbus.out"
start_twin p1 16000C000F43304253373820 0 katapult:can:1000000 "app:can:1000000:CARTOGRAPHER 4.0.0" ||
	fail_start "twin p1" "$work/p1.out"
u1=$(uuid_of p1)

"$CARTOFLASH" inspect "$work/cut.bin" >"$work/cut.txt" 2>&1
check "a build cut after its dictionary still classifies as an app (only R7 can tell)" 'grep -q "kind.*app" "$work/cut.txt"'

"$CARTOFLASH" flash "$work/cut.bin" --can "sim:$work/bus" --uuid "$u1" >"$work/r7.out" 2>"$work/r7.err"
rc=$?
check "flash of an unknown build: exit 65" '[ $rc -eq 65 ]'
check "flash names R7, the file, its hash and the override" \
	'grep -q "refusal R7: $work/cut.bin: sha256 [0-9a-f]\{16\}\.\.\.: the image is no known release build" "$work/r7.err" && grep -q -- "--allow-unknown lifts it" "$work/r7.err"'
check "R7 is refused before any probe is reached (no frame on the bus)" bus_silent

# A known release (its sha256 in images.md Appendix A) cut after its dictionary: R7 alone
# refuses the cut copy; the whole file passes R7 (and is written below).
if [ -f "$REL" ]; then
	"$CARTOFLASH" inspect "$REL" >"$work/rel.txt" 2>&1
	dict_end=$(sed -n 's/^ *dictionary *offset \([0-9]*\), \([0-9]*\) bytes.*/\1 + \2/p' "$work/rel.txt")
	head -c $((dict_end + 28)) "$REL" >"$work/relcut.bin"
	"$CARTOFLASH" inspect "$work/relcut.bin" >"$work/relcut.txt" 2>&1
	check "the corpus release is known; cut after its dictionary it still is an app, unknown" \
		'grep -q "^ *release *known: " "$work/rel.txt" && grep -q "^ *kind *app" "$work/relcut.txt" && grep -q "^ *version *CARTOGRAPHER 5.1.0" "$work/relcut.txt" && ! grep -q "^ *release *known" "$work/relcut.txt"'
	"$CARTOFLASH" flash "$work/relcut.bin" --can "sim:$work/bus" --uuid "$u1" >/dev/null 2>"$work/relcut.err"
	rc=$?
	check "flash of a known release cut after its dictionary: refused by R7 (exit 65), no frame" \
		'[ $rc -eq 65 ] && grep -q "refusal R7: $work/relcut.bin: sha256" "$work/relcut.err" && bus_silent'
else
	ok "a known release cut after its dictionary is refused by R7 # SKIP no $REL (set CARTOFLASH_FIRMWARE_DIR)"
fi

"$CARTOFLASH" flash "$work/app.bin" --can "sim:$work/bus" --uuid "$u1" --dry-run >/dev/null 2>"$work/dry.err"
rc=$?
check "a dry run refuses R7 too (exit 65)" '[ $rc -eq 65 ] && grep -q "refusal R7" "$work/dry.err"'

printf '[p1]\ninterface = sim:%s\nuuid = %s\nimage = app.bin\n' "$work/bus" "$u1" >"$work/probes.ini"
"$CARTOFLASH" fleet "$work/probes.ini" >/dev/null 2>"$work/fleet.err"
rc=$?
check "fleet refuses R7 before any probe (exit 65)" '[ $rc -eq 65 ] && grep -q "refusal R7" "$work/fleet.err" && bus_silent'

"$CARTOFLASH" recover --full "$work/full.bin" >/dev/null 2>"$work/recover.err"
rc=$?
check "recover refuses R7 before looking for a ROM (exit 65)" '[ $rc -eq 65 ] && grep -q "refusal R7" "$work/recover.err"'

if [ -f "$REL" ]; then
	"$CARTOFLASH" flash "$REL" --can "sim:$work/bus" --uuid "$u1" >"$work/rel.out" 2>"$work/rel.err"
	rc=$?
	check "the whole known release is written without --allow-unknown (exit 0, no R7)" \
		'[ $rc -eq 0 ] && grep -q "blocks verified" "$work/rel.out" "$work/rel.err" && ! grep -q "R7" "$work/rel.err"'
else
	ok "the whole known release is written # SKIP no $REL (set CARTOFLASH_FIRMWARE_DIR)"
fi
"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u1" >"$work/ok.out" 2>"$work/ok.err"
rc=$?
check "--allow-unknown writes it (exit 0)" '[ $rc -eq 0 ]'
check "--allow-unknown is never silent: a warning names R7 and the hash" \
	'grep -q "R7 lifted by --allow-unknown: sha256 [0-9a-f]\{16\}\.\.\. is no known release build" "$work/ok.err"'
stop_twin p1
check "the twin holds the image" 'app_matches p1 "$work/app.bin"'
echo "1..$n"
