#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The page-0 window over USB-CDC through the real binary: Ctrl-C and SIGTERM aimed at the real
# block 0 make cartoflash erase page 0 again and say so; after a power cycle the probe is in
# Katapult; a rerun finishes. At --speed 0 the ACK of COMPLETE still reaches the host before
# the probe re-enumerates as its application (katapult.md §1.3).
. "$(dirname "$0")/serial_lib.bash"
require_binaries serial_window

"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.0.0" -o "$WORK/old.bin" >/dev/null
"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.1.0" -s 4096 -o "$WORK/new.bin" >/dev/null
FIRST=$(od -An -tx4 -N4 "$WORK/new.bin" | tr -d ' ')

word0() { od -An -tx4 -j 8192 -N4 "$WORK/flash.bin" | tr -d ' '; }
sends0() { grep -c -- '-> SEND_BLOCK 0x08002000' "$ERR" 2>/dev/null; }
last_sent() { grep -- '-> ' "$ERR" | tail -1; }

for sig in INT TERM; do
	# The 50th SEND_BLOCK is block 0 (the 0xFF block, blocks 16..63, then block 0): the twin
	# takes 1.5 s over it, so the signal lands in the window on a busy machine too.
	twin_start --init katapult:usb --init "file:0x08002000:$WORK/old.bin" \
		--fault slow-block=50:1500000 || exit 1
	"$CF" flash --allow-unknown "$WORK/new.bin" --serial "$TTY" -v >"$OUT" 2>"$ERR" &
	cf=$!
	for i in $(seq 1 2000); do
		[ "$(sends0)" -ge 2 ] && break
		sleep 0.01
	done
	kill "-$sig" "$cf"
	wait "$cf"
	RC=$?
	check "SIG$sig in the page-0 window: exit 130" test "$RC" -eq 130
	check "SIG$sig: the stop came after block 0, before the end of page 0" \
		bash -c "[ $(sends0) -ge 2 ] && ! grep -q -- '-> SEND_EOF' '$ERR'"
	check "SIG$sig: the last frame out is the 0xFF block over page 0 again" \
		bash -c "[ $(sends0) -ge 3 ] && grep -q 'SEND_BLOCK 0x08002000' <<<'$(last_sent)'"
	check "SIG$sig: the message says the application is erased, the probe stays in Katapult" \
		has "$ERR" "stopped on request; the application is erased, so the probe stays in Katapult"
	check "SIG$sig: page 0 holds no valid-looking application" test "$(word0)" = ffffffff
	kill -USR1 "$TWIN_PID" # unplug and plug in again
	sleep 0.5
	for i in $(seq 100); do usb_present && break; sleep 0.05; done
	check "SIG$sig: after a power cycle the probe is in Katapult (1d50:6177)" \
		test "$(cat "$WORK/sys/bus/usb/devices/1-1.3/idProduct" 2>/dev/null)" = 6177
	run flash --allow-unknown "$WORK/new.bin" --serial auto
	check "SIG$sig: the rerun finishes (exit 0)" test "$RC" -eq 0
	check "SIG$sig: the rerun wrote the image" test "$(word0)" = "$FIRST"
done

# Power lost while programming block 5 of page 0 (programmed blocks: the 0xFF block, blocks
# 16..63, block 0, then 1..15): nothing can be sent any more, so the message says what the
# probe holds -- a half page 0 that a power cycle starts -- and how to get back.
twin_start --init katapult:usb --init "file:0x08002000:$WORK/old.bin" \
	--fault power-loss-block=55 --power-on-after -1 || exit 1
run flash --allow-unknown "$WORK/new.bin" --serial "$TTY"
check "power lost in the window: exit 69 (the device went away)" test "$RC" -eq 69
check "power lost in the window: the message says page 0 is half written" \
	has "$ERR" "page 0 is half written: the application looks valid but is not"
check "power lost in the window: and how to get back into Katapult" \
	has "$ERR" "short its RESET pads twice within 0.5 s (or cartoflash recover)"
check "power lost in the window: the flash does hold a valid-looking first word" \
	test "$(word0)" = "$FIRST"

# katapult.md §1.3: the ACK of COMPLETE leaves 100 ms before the reset; at --speed 0 the twin
# does both in one step and must still deliver the ACK on the old port first.
twin_start --init app:usb || exit 1
run flash --allow-unknown "$WORK/new.bin" --serial "$TTY" -v
check "--speed 0: flash exits 0" test "$RC" -eq 0
check "--speed 0: the ACK of COMPLETE reaches the host" has "$ERR" "<- ACK COMPLETE"
check "--speed 0: the application comes back" has "$ERR" "application running"
