#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A host-side stop inside the page-0 window (block 0 written, page 0 not finished) through the
# real binary over CAN: Ctrl-C and SIGTERM, aimed at the moment the real block 0 goes out.
# cartoflash must erase page 0 again before it stops, say so, and leave a probe that stays in
# Katapult after a power cycle; a rerun finishes. And at --speed 0 the ACK of COMPLETE reaches
# the host before the probe resets (katapult.md §1.3).
set -u
. "$(dirname "$0")/can_lib.bash"

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 4096 \
	-o "$work/app.bin"
first_word=$(od -An -tx4 -N4 "$work/app.bin" | tr -d ' ')
start_bus 1000000 1 || fail_start simbus "$work/simbus.out"

# word_at NAME: the first application word in the twin's flash file (persisted on every change)
word_at() { od -An -tx4 -j 8192 -N4 "$work/$1.bin" | tr -d ' '; }

# aimed_stop NAME SIGNAL: flash with -v, send SIGNAL when the second SEND_BLOCK to 0x08002000
# (the real block 0; the first one is the 0xFF block) has gone out.
aimed_stop() {
	local name=$1 sig=$2 u cf i
	u=$(uuid_of "$name")
	"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u" -v \
		>"$work/$name.$sig.out" 2>"$work/$name.$sig.err" &
	cf=$!
	for i in $(seq 1 1000); do
		[ "$(grep -c -- '-> SEND_BLOCK 0x08002000' "$work/$name.$sig.err" 2>/dev/null)" -ge 2 ] &&
			break
		sleep 0.01
	done
	kill "-$sig" "$cf"
	wait "$cf"
	echo $? >"$work/$name.$sig.rc"
}

# slow_twin NAME UID: a twin whose 50th SEND_BLOCK -- block 0 (the 0xFF block, blocks 16..63,
# then block 0) -- takes 1.5 s, so a signal aimed at it lands in the window on a busy machine.
slow_twin() {
	"$BIN/twin" --uid "$2" --flash "$work/$1.bin" --init katapult:can:1000000 \
		--init "app:can:1000000:CARTOGRAPHER 4.0.0" --speed 0 --fault slow-block=50:1500000 \
		--attach "sim:$work/bus" >"$work/$1.out" 2>&1 &
	pids+=($!)
	echo $! >"$work/$1.pid"
	wait_line "$work/$1.out" "ready" || return 1
	sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/$1.out" | head -1 >"$work/$1.uuid"
}

for sig in INT TERM; do
	p=p$sig
	slow_twin "$p" 16000C000F433042533738$([ $sig = INT ] && echo 20 || echo 21) ||
		fail_start "twin $p" "$work/$p.out"
	aimed_stop "$p" "$sig"
	rc=$(cat "$work/$p.$sig.rc")
	check "SIG$sig in the page-0 window: exit 130" '[ "$rc" -eq 130 ]'
	check "SIG$sig: the stop was inside the window (block 0 out, page 0 unfinished)" \
		'[ "$(grep -c -- "-> SEND_BLOCK 0x08002000" "$work/$p.$sig.err")" -ge 2 ] && ! grep -q -- "-> SEND_EOF" "$work/$p.$sig.err"'
	check "SIG$sig: the last frame out is the 0xFF block over page 0 again" \
		'[ "$(grep -c -- "-> SEND_BLOCK 0x08002000" "$work/$p.$sig.err")" -ge 3 ] && [ "$(grep -- "-> " "$work/$p.$sig.err" | tail -1 | grep -c "SEND_BLOCK 0x08002000")" -eq 1 ]'
	check "SIG$sig: the message says the application is erased and the probe stays in Katapult" \
		'grep -q "stopped on request; the application is erased, so the probe stays in Katapult" "$work/$p.$sig.err"'
	check "SIG$sig: page 0 holds no valid-looking application (first word ffffffff)" \
		'[ "$(word_at "$p")" = ffffffff ]'
	check "SIG$sig: no COMPLETE went out (the trace holds the blocks, not COMPLETE)" \
		'grep -q -- "-> SEND_BLOCK 0x08002000" "$work/$p.$sig.err" && ! grep -q -- "-> COMPLETE" "$work/$p.$sig.err"'
	kill -USR1 "$(cat "$work/$p.pid")" # unplug and plug in again
	sleep 0.3
	"$CARTOFLASH" info --can "sim:$work/bus" --uuid "$(uuid_of "$p")" >"$work/$p.info" 2>&1
	rc=$?
	check "SIG$sig: after a power cycle the probe answers in Katapult" \
		'[ $rc -eq 0 ] && grep -q "Katapult" "$work/$p.info"'
	"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$(uuid_of "$p")" \
		>"$work/$p.rerun" 2>&1
	rc=$?
	check "SIG$sig: the rerun finishes (exit 0)" '[ $rc -eq 0 ]'
	check "SIG$sig: the rerun wrote the image" '[ "$(word_at "$p")" = "$first_word" ]'
	stop_twin "$p"
done

# katapult.md §1.3: Katapult sends the ACK of COMPLETE 100 ms before it resets; a twin at
# --speed 0 puts both into one step, and the ACK must still reach the host.
start_twin fast 16000C000F43304253373822 0 katapult:can:1000000 || fail_start "twin fast" "$work/fast.out"
"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$(uuid_of fast)" -v \
	>"$work/fast.out" 2>"$work/fast.err"
rc=$?
check "--speed 0: flash exits 0" '[ $rc -eq 0 ]'
# the trace names COMPLETE as "-> COMPLETE": the pattern the window checks above look for
check "--speed 0: COMPLETE goes out and its ACK reaches the host" \
	'grep -q -- "-> COMPLETE" "$work/fast.err" && grep -q -- "<- ACK COMPLETE" "$work/fast.err"'
stop_twin fast

# The twin's geometry comes from the MCU table: a v4 probe (STM32G431, 128 KiB in 2 KiB pages)
# takes a 40 KiB application, which would not fit an F042.
"$BIN/mkimage" app --mcu stm32g431xx --iface can --bitrate 1000000 \
	--version "CARTOGRAPHER v4 6.2.1" --size 40960 -o "$work/g4.bin"
"$BIN/twin" --mcu stm32g431xx --uid 16000C000F43304253373823 --flash "$work/g4.flash" \
	--init katapult:can:1000000 --init "app:can:1000000:CARTOGRAPHER v4 6.2.0" --speed 0 \
	--attach "sim:$work/bus" >"$work/g4.out" 2>&1 &
pids+=($!)
wait_line "$work/g4.out" ready || fail_start "G431 twin" "$work/g4.out"
g4=$(sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/g4.out" | head -1)
"$CARTOFLASH" flash --allow-unknown "$work/g4.bin" --can "sim:$work/bus" --uuid "$g4" >"$work/g4.run" 2>&1
rc=$?
check "G431 twin: a 40 KiB v4 application is written and verified (exit 0)" \
	'[ $rc -eq 0 ] && grep -q "640 blocks verified, application running" "$work/g4.run"'
check "G431 twin: its flash file is the 128 KiB of the table's row" \
	'[ "$(stat -c %s "$work/g4.flash")" -eq 131072 ]'
