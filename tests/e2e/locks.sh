#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Two runs on one bus never meet: while a flash runs, a second flash of the same probe, a scan
# and a status of that bus are refused or wait (src/buslock.h); the probe is never wedged.
set -u
. "$(dirname "$0")/live_lib.bash"

bus 1000000 || fail_start simbus "$W/simbus.out"
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.2" -s 22528 \
	-o "$W/new.bin" >/dev/null
# real-time flash timing: a flash takes seconds, long enough to meet it
"$BIN/twin" --uid E0EF270CA188000000000000 --flash "$W/p.bin" \
	--init "app:can:1000000:CARTOGRAPHER 5.1.0" --speed 1 --attach "$BUS" \
	>"$W/p.out" 2>"$W/p.err" &
PIDS+=($!)
wait_for "grep -qs '^twin: ready' '$W/p.out'" || fail_start twin "$W/p.out" "$W/p.err"
UUID=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/p.out")

"$CF" flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$UUID" >"$W/first.out" 2>"$W/first.err" &
first=$!
PIDS+=($first)
wait_for "[ \$(frames '3F0#02') -ge 1 ]" || not_ok "the first flash did not start"
t0=$(date +%s%N)
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$UUID" -vvv --lock-wait 0s
t1=$(date +%s%N)
check "a second flash of the same probe (--lock-wait 0s) is refused with exit 75" \
	"[ $RC -eq 75 ]" "$ERR"
check "... naming the bus, the run holding it and how to wait" \
	"has $ERR 'can:$BUS is in use by cartoflash flash, pid $first' && has $ERR '--lock-wait'" "$ERR"
check "... before sending anything (its -vvv trace holds no frame)" \
	"! grep -q ' TX [0-9A-F]*#' $ERR" "$ERR"
check "... at once, not after a hang" "[ \$(( (t1 - t0) / 1000000 )) -lt 3000 ]"
run scan --can "$BUS"
check "a scan of that bus is refused too (it would clear the Katapult node ids)" \
	"[ $RC -eq 75 ] && has $ERR 'is in use by cartoflash flash' && [ \$(frames '3F0#12') -eq 0 ]" "$ERR"
run status --can "$BUS" --no-usb --klippy-socket '' --lock-wait 0s
check "status reports the bus as in use and goes on (exit 0)" \
	"[ $RC -eq 0 ] && has $OUT 'is in use by cartoflash flash'" "$OUT" "$ERR"
# the default: a second run waits for the bus (up to --lock-wait, 10 s), then goes on
"$CF" flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$UUID" -v >"$W/third.out" 2>"$W/third.err" &
third=$!
PIDS+=($third)
wait "$first"
rc_first=$?
wait "$third"
rc_third=$?
check "a second flash that may wait (default) waits for the first, then succeeds" \
	"[ $rc_third -eq 0 ] && has $W/third.err 'in use by cartoflash flash, pid $first' && has $W/third.err 'waiting' && has $W/third.out 'application running'" "$W/third.out" "$W/third.err"
check "the first flash finished undisturbed (exit 0, application running)" \
	"[ $rc_first -eq 0 ] && has $W/first.out 'application running'" "$W/first.out" "$W/first.err"
run status --can "$BUS" --no-usb --klippy-socket ''
check "the probe runs the new application afterwards (never wedged)" \
	"grep -qE 'can $BUS $UUID +application +CARTOGRAPHER 5.1.2' $OUT" "$OUT"
check "the bus is free again once the run ended (status exit 0, no busy note)" \
	"[ $RC -eq 0 ] && ! has $OUT 'in use by'" "$OUT"

# A run killed mid-way leaves no lock behind: the kernel drops it with the process.
"$CF" flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$UUID" >/dev/null 2>&1 &
victim=$!
wait_for "[ \$(frames '3F0#02') -ge 2 ]"
kill -9 "$victim"
wait "$victim" 2>/dev/null
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$UUID"
check "after a run is killed (-9) the bus is free: the next flash resumes and succeeds" \
	"[ $RC -eq 0 ]" "$ERR"
