#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Ctrl-C during a CAN write: the frame in flight is finished, the probe stays in Katapult, the
# message says how to resume, and a second run resumes cleanly (design.md rules 1 and 2).
set -u
. "$(dirname "$0")/can_lib.bash"

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 22528 \
	-o "$work/app.bin"
# Real-time bus and flash timing, so the write lasts long enough to be interrupted.
start_bus 1000000 1 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
start_twin p1 16000C000F43304253373820 1 katapult:can:1000000 "app:can:1000000:CARTOGRAPHER 4.0.0"
u=$(uuid_of p1)

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u" --json \
	>"$work/run1.json" 2>"$work/run1.err" &
cf=$!
for i in $(seq 1 200); do
	grep -q '"stage":"write","done":[1-9]' "$work/run1.json" 2>/dev/null && break
	sleep 0.05
done
kill -INT "$cf"
wait "$cf"
rc=$?
check "Ctrl-C during the write: exit 130" '[ $rc -eq 130 ]'
check "the message says the probe stays in Katapult and how to resume" \
	'py "$work/run1.json" "[o[\"hint\"] for o in j if o[\"event\"]==\"result\"][0]" >"$work/hint.txt"; grep -qi "katapult" "$work/hint.txt" && grep -qi "rerun" "$work/hint.txt"'
check "the JSON result carries the interrupted code" \
	'[ "$(py "$work/run1.json" "[o[\"code\"] for o in j if o[\"event\"]==\"result\"][0]")" = interrupted ]'
# katapult.md §1.7: a partial command would have drawn a NACK (01 88 f1) and wedged the parser.
read -r tx rx <<<"$(node_ids "$u")"
check "no partial frame reached the probe (replies on ${rx:-?}, none a NACK)" \
	'[ -n "$rx" ] && bus_has "$rx#0188" && ! bus_has "#0188F100"'
check "no COMPLETE was sent after the interruption (SEND_BLOCKs on ${tx:-?}, no COMPLETE)" \
	'[ -n "$tx" ] && bus_has "$tx#01881211" && ! bus_has "$tx#01881500"'

"$CARTOFLASH" info --can "sim:$work/bus" --uuid "$u" >"$work/info.out" 2>&1
rc=$?
check "the probe answers in Katapult after the interruption" '[ $rc -eq 0 ]'

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u" >"$work/run2.out" \
	2>"$work/run2.err"
rc=$?
check "the second run resumes and finishes: exit 0" '[ $rc -eq 0 ]'
stop_twin p1
check "the probe holds the whole new application" 'app_matches p1 "$work/app.bin"'
