#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One behaviour on every channel (issue 10): each scenario of the table below runs through the
# real binary over CAN (simbus), USB (a pty twin mirrored into a sysfs fixture) and UART (the
# same pty, with cartoflash shown no USB device behind it), and must say the same thing.
set -u
. "$(dirname "$0")/twin_lib.bash"

UUID=e0ef270ca188 # katapult.md §2.3 vector: serial 16000C000F43304253373820
mkdir -p "$W/sys" "$W/dev" "$W/nosys"
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" \
	-o "$W/app-can.bin" >/dev/null
"$BIN/mkimage" app --iface usb --version "CARTOGRAPHER 5.1.0" -o "$W/app-usb.bin" >/dev/null
"$BIN/mkimage" app --iface uart --version "CARTOGRAPHER 5.1.0" -o "$W/app-uart.bin" >/dev/null
bus bus 1000000 0 || fail_start simbus "$W/bus.out" "$W/bus.err"

# probe CH STATE: a fresh twin for channel CH (can, usb, uart) in STATE (app: the channel's own
# application installed and running; katapult: Katapult alone); sets TARGET (cartoflash's target
# options), APP (the image of this channel), OTHER (an image of another interface) and the sysfs
# root it sees.
probe() {
	local ch=$1 state=$2 init
	[ -f "$W/p.pid" ] && stop p 2>/dev/null
	rm -f "$W/p.bin" "$W/p.pid" && rm -rf "${W:?}/sys" "${W:?}/dev" && mkdir -p "$W/sys" "$W/dev"
	case $ch in
	can)
		init="katapult:can:1000000"
		[ "$state" = app ] && init="app:can:1000000 --init file:0x08002000:$W/app-can.bin"
		# shellcheck disable=SC2086 # init may be two options
		CARTOFLASH_SYSFS_ROOT=$W/sys twin p --init $init \
			--speed 0 ${EXTRA:-} --attach "sim:$W/bus" || return 1
		TARGET="--can sim:$W/bus --uuid $UUID" APP=$W/app-can.bin OTHER=$W/app-usb.bin
		ROOT=$W/sys ;;
	usb)
		init="katapult:usb"
		[ "$state" = app ] && init="app:usb --init file:0x08002000:$W/app-usb.bin"
		# shellcheck disable=SC2086 # init may be two options
		CARTOFLASH_SYSFS_ROOT=$W/sys twin p --init $init \
			--speed 0 ${EXTRA:-} --pty "$W/dev/ttyACM0" || return 1
		wait_for "[ -e '$W/dev/ttyACM0' ]" || return 1
		TARGET="--serial $W/dev/ttyACM0" APP=$W/app-usb.bin OTHER=$W/app-can.bin ROOT=$W/sys ;;
	uart)
		# A UART wire (twin --uart): no USB device behind the tty, the application answers
		# Klipper's serial bootloader request string (katapult.md §3.6), which cartoflash
		# sends with --request-bootloader. (No Katapult image names a UART: the USB build
		# stands in for it, and speaks on the wire.)
		init="katapult:usb"
		[ "$state" = app ] && init="katapult:usb --init file:0x08002000:$W/app-uart.bin"
		# shellcheck disable=SC2086 # init may be two options
		CARTOFLASH_SYSFS_ROOT=$W/sys twin p --uart --init $init --speed 0.3 ${EXTRA:-} \
			--pty "$W/dev/ttyS0" || return 1
		wait_for "[ -e '$W/dev/ttyS0' ]" || return 1
		# The wire is there before the firmware: a request sent while it still boots is
		# lost, on a real probe too. Start when it runs what it was given.
		mode_is "$([ "$state" = app ] && echo app || echo katapult)" || return 1
		TARGET="--serial $W/dev/ttyS0 --baud 250000" APP=$W/app-uart.bin OTHER=$W/app-usb.bin
		[ "$state" = app ] && TARGET="$TARGET --request-bootloader"
		ROOT=$W/nosys ;;
	esac
}

# cf NAME ARGS...: cartoflash; stdout+stderr in $W/NAME.txt, exit code in $W/NAME.rc.
cf() {
	local name=$1
	shift
	# shellcheck disable=SC2086 # TARGET is a list of options
	CARTOFLASH_SYSFS_ROOT=$ROOT "$CARTOFLASH" "$@" $TARGET >"$W/$name.txt" 2>&1
	echo $? >"$W/$name.rc"
}
rc() { cat "$W/$1.rc"; }
has() { grep -qF -- "$2" "$W/$1.txt"; }
# The mode the twin is in now (its log's last "mode" line).
mode_is() { wait_for "grep 'mode ' '$W/p.err' | tail -1 | grep -q 'mode $1'"; }

for ch in can usb uart; do
	start=app

	# --dry-run: every check, nothing written, nothing rebooted. On a UART a dry run sends no
	# bootloader request, and asks only what is safe for a Katapult behind it (CONNECT: Klipper's
	# identify would wedge its parser, katapult.md §1.7), which an application does not answer;
	# so R1-R5 are checked against a probe found in Katapult (below), and one running its
	# application is left running it, untouched, its mode unknown, and the message says so.
	probe "$ch" "$start" || { not_ok "$ch: the twin did not start"; continue; }
	if [ "$ch" = uart ]; then
		cf dryapp-uart flash --allow-unknown "$APP" --dry-run --timeout 2s --json
		check "uart: --dry-run leaves a probe running its application untouched, and says so" \
			"[ $(rc dryapp-uart) -ne 0 ] && has dryapp-uart 'a probe running one was left running it' && has dryapp-uart 'within 2.0 s' && has dryapp-uart '\"mode\":\"unknown\"' && ! grep -q 'mode katapult' '$W/p.err' && mode_is app" \
			"$W/dryapp-uart.txt"
		probe uart katapult || continue
	fi
	katapult_before=$(grep -c 'mode katapult' "$W/p.err")
	cf dry-$ch flash --allow-unknown "$APP" --dry-run
	check "$ch: --dry-run passes R1-R5 and writes nothing (exit 0)" \
		"[ $(rc dry-$ch) -eq 0 ] && has dry-$ch 'dry run: R1-R5' && has dry-$ch 'nothing written' && ! has dry-$ch 'blocks verified'" \
		"$W/dry-$ch.txt"
	if [ "$ch" != uart ]; then
		# a dry run reboots nothing: the twin never entered Katapult during it
		check "$ch: after --dry-run the probe runs its application, never in Katapult meanwhile" \
			"mode_is app && [ \$(grep -c 'mode katapult' '$W/p.err') -eq $katapult_before ]" \
			"$W/dry-$ch.txt" "$W/p.err"
	else
		check "uart: a probe found in Katapult stays there after --dry-run" \
			"mode_is katapult && has dry-uart 'left in Katapult'" "$W/dry-uart.txt"
		probe uart app || continue
	fi

	# R4: an application of another interface is refused before a byte, in the same words,
	# the same stage in text and JSON, and the probe is put back where it was.
	cf r4-$ch flash --allow-unknown "$OTHER"
	check "$ch: R4 refuses an application of another interface (exit 65)" \
		"[ $(rc r4-$ch) -eq 65 ] && has r4-$ch ': check: refusal R4: interface: image ' && has r4-$ch 'an application cannot change the interface'" \
		"$W/r4-$ch.txt"
	if [ "$start" = app ]; then
		check "$ch: after the refusal the probe runs its application again" \
			"mode_is app && has r4-$ch 'nothing was written, the probe runs its application again'" \
			"$W/r4-$ch.txt"
	fi
	cf r4j-$ch flash --allow-unknown "$OTHER" --json
	check "$ch: the JSON result of the refusal says \"stage\":\"check\"" \
		"[ $(rc r4j-$ch) -eq 65 ] && grep -q '\"stage\": *\"check\"' '$W/r4j-$ch.txt' && ! grep -q 'refusal R4\"' '$W/r4j-$ch.txt'" \
		"$W/r4j-$ch.txt"

	# flash and verify: the same result text on every channel.
	cf flash-$ch flash --allow-unknown "$APP"
	check "$ch: flash says 'CARTOGRAPHER 5.1.0 written, N blocks verified' (exit 0)" \
		"[ $(rc flash-$ch) -eq 0 ] && grep -Eq 'CARTOGRAPHER 5\.1\.0 written, [0-9]+ blocks verified, application running' '$W/flash-$ch.txt'" \
		"$W/flash-$ch.txt"
	if [ "$ch" = uart ]; then
		check "uart: the summary says the application cannot be confirmed" \
			"has flash-uart '(UART: the application cannot be confirmed)'" "$W/flash-uart.txt"
	fi
	check "$ch: the new application runs after COMPLETE" "mode_is app" "$W/flash-$ch.txt"
	# verify: into Katapult (a UART by the request string) and back into the application.
	probe "$ch" "$start" || continue
	cf verify-$ch verify "$APP"
	check "$ch: verify says 'N blocks match'" \
		"[ $(rc verify-$ch) -eq 0 ] && grep -Eq 'CARTOGRAPHER 5\.1\.0 on the probe: [0-9]+ blocks match' '$W/verify-$ch.txt'" \
		"$W/verify-$ch.txt"

	# --timeout bounds the whole wait: Katapult that never answers is given up on at the
	# deadline named, whatever step the wait is in (the bootloader request, CONNECT).
	EXTRA="--fault silent" probe "$ch" "$start" || continue
	cf silent-$ch flash --allow-unknown "$APP" --timeout 1s
	check "$ch: --timeout 1s bounds the wait for Katapult; nothing written" \
		"[ $(rc silent-$ch) -ne 0 ] && [ $(rc silent-$ch) -ne 70 ] && has silent-$ch 'within 1.0 s' && ! has silent-$ch 'blocks verified'" \
		"$W/silent-$ch.txt"

	# The probe stops answering in the middle of the write: the message says what the channel
	# sees of it now - CAN asks the admin query, USB looks at the port, a UART cannot see
	# anything. CAN, USB: its RESET pads shorted while block 3 takes 3 s. A UART: its power
	# lost at block 3 (the wire outlives a reset, and the new Katapult would take the resent
	# block and go on).
	if [ "$ch" = uart ]; then
		EXTRA="--fault power-loss-block=3 --power-on-after -1" probe uart "$start" || continue
		cf reset-uart flash --allow-unknown "$APP" --json
	else
		EXTRA="--fault slow-block=3:3000000" probe "$ch" "$start" || continue
		cf reset-$ch flash --allow-unknown "$APP" --json &
		cfpid=$!
		wait_for "grep -q 'SEND_BLOCK 3 takes' '$W/p.err'" && kill -USR2 "$(cat "$W/p.pid")"
		wait "$cfpid"
	fi
	case $ch in
	can) seen="on sim:$W/bus it answers the admin query as" ;;
	usb) seen="USB port 1-1.3 shows" ;;
	uart) seen="a UART shows nothing of the probe" ;;
	esac
	check "$ch: a probe lost mid-write: the failure says what the channel sees now" \
		"[ $(rc reset-$ch) -ne 0 ] && grep '\"event\":\"result\"' '$W/reset-$ch.txt' | grep -qF '$seen'" \
		"$W/reset-$ch.txt"

	# A bootloader whose parser wedged (katapult.md §1.7) in an earlier run: the rerun says
	# the power cycle is what it needs, not DFU recovery.
	EXTRA="--fault wedge" probe "$ch" katapult || continue
	cf wedged-$ch flash --allow-unknown "$APP" --timeout 3s
	check "$ch: a rerun against a wedged bootloader asks for a power cycle" \
		"[ $(rc wedged-$ch) -ne 0 ] && has wedged-$ch 'power-cycle the probe' && ! has wedged-$ch 'needs DFU recovery'" \
		"$W/wedged-$ch.txt"
done
