#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Several probes at once over CAN: four --uuid on one command line (one without an application,
# one in Katapult), then a fleet manifest across two buses where one probe fails and the others
# still finish; the exit code is the worst probe's.
set -u
. "$(dirname "$0")/can_lib.bash"

M=$BIN/mkimage
"$M" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 8192 -o "$work/app.bin"
"$M" app --iface can --bitrate 500000 --version "CARTOGRAPHER 5.1.0" -o "$work/app_500k.bin"
start_bus 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
old="app:can:1000000:CARTOGRAPHER 4.0.0"
start_twin a 16000C000F43304253373820 0 katapult:can:1000000 "$old"
start_twin b 000102030405060708090A0B 0 katapult:can:1000000 "$old"
start_twin c 0A0B0C0D0E0F101112131415 0 katapult:can:1000000
start_twin d 2122232425262728292A2B2C 0 katapult:can:1000000 "$old"
bus=sim:$work/bus

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "$bus" --uuid "$(uuid_of a)" --uuid "$(uuid_of b)" \
	--uuid "$(uuid_of c)" --uuid "$(uuid_of d)" --json >"$work/four.json" 2>"$work/four.err"
rc=$?
check "four probes at once: exit 0" '[ $rc -eq 0 ]'
check "four probes at once: four ok results and a summary" \
	'[ "$(py "$work/four.json" "(sum(1 for o in j if o[\"event\"]==\"result\" and o[\"ok\"]), j[-1][\"succeeded\"], j[-1][\"failed\"])")" = "4|4|0" ]'
check "four probes at once: one node id each (set-id frames name four ids)" \
	'[ "$(grep -o "3F0#11[0-9A-F]\{14\}" "$work/bus.log" | cut -c19-20 | sort -u | wc -l)" -eq 4 ]'
check "four probes at once: their frames interleave on the bus (concurrent, not one by one)" \
	'python3 - "$work/bus.log" <<PY
import re, sys
lines = open(sys.argv[1]).read().splitlines()
# the Katapult sessions only: the node ids set by 3F0#11 (identify runs on its own ids first)
nodes = {"%03X" % (0x100 + 2 * int(m.group(1), 16)) for m in (re.search(r"3F0#11[0-9A-F]{12}([0-9A-F]{2})", l) for l in lines) if m}
ids = [m.group(1) for m in (re.search(r" ([0-9A-F]{3})#", l) for l in lines) if m and m.group(1) in nodes]
first = {i: ids.index(i) for i in set(ids)}
last = {i: len(ids) - 1 - ids[::-1].index(i) for i in set(ids)}
even = [i for i in first if int(i, 16) % 2 == 0]
sys.exit(0 if len(even) >= 4 and max(first[i] for i in even) < min(last[i] for i in even) else 1)
PY'

# A second bus for the manifest: probe e on it, with a wrong-bitrate image for probe d.
"$BIN/simbus" --socket "$work/bus2" --bitrate 1000000 --speed 0 >"$work/simbus2.out" 2>&1 &
pids+=($!)
wait_line "$work/simbus2.out" ready
"$BIN/twin" --uid 3132333435363738393A3B3C --flash "$work/e.bin" --init katapult:can:1000000 \
	--init "$old" --speed 0 --attach "sim:$work/bus2" >"$work/e.out" 2>&1 &
pids+=($!)
echo $! >"$work/e.pid"
wait_line "$work/e.out" ready
ue=$(sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/e.out" | head -1)
cat >"$work/probes.ini" <<EOF2
; two buses, one bad image
[front]
interface = sim:$work/bus
uuid = $(uuid_of a)
image = app.bin

[rear]
interface = sim:$work/bus
uuid = $(uuid_of d)
image = app_500k.bin

[other-bus]
interface = sim:$work/bus2
uuid = $ue
image = $work/app.bin
EOF2
"$CARTOFLASH" fleet --allow-unknown "$work/probes.ini" --json >"$work/fleet.json" 2>"$work/fleet.err"
rc=$?
check "fleet with one refused image: exit 65 (the worst probe's code)" '[ $rc -eq 65 ]'
check "fleet: the other probes still finished" \
	'[ "$(py "$work/fleet.json" "sorted(o[\"device\"] + \":\" + o[\"code\"] for o in j if o[\"event\"]==\"result\")")" = "front:ok|other-bus:ok|rear:refused" ]'
check "fleet: the refusal carries the probe's UUID and names R3" \
	'[ "$(py "$work/fleet.json" "[(o[\"uuid\"], \"R3\" in o[\"detail\"]) for o in j if o.get(\"device\")==\"rear\" and o[\"event\"]==\"result\"][0]")" = "$(uuid_of d)|True" ]'

printf '[x]\ninterface = sim:%s\nuuid = nothex\nimage = app.bin\n' "$work/bus" >"$work/bad.ini"
"$CARTOFLASH" fleet --allow-unknown "$work/bad.ini" >/dev/null 2>"$work/bad.err"
rc=$?
check "a manifest with a bad UUID is a usage error naming the section" \
	'[ $rc -eq 64 ] && grep -q "\[x\]" "$work/bad.err"'

printf '[a]\ninterface = sim:%s\nuuid = %s\nimage = app.bin\n[b]\ninterface = sim:%s\nuuid = %s\nimage = app.bin\n' \
	"$work/bus" "$(uuid_of a)" "$work/bus" "$(uuid_of a | tr a-f A-F)" >"$work/twice.ini"
"$CARTOFLASH" fleet --allow-unknown "$work/twice.ini" >/dev/null 2>"$work/twice.err"
rc=$?
check "a probe named twice is a usage error (two sessions would fight over its node id)" \
	'[ $rc -eq 64 ] && grep -q "named twice" "$work/twice.err"'

stop_twin e
check "the probe on the second bus holds the new application" 'app_matches e "$work/app.bin"'
