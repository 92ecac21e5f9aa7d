#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Refusals over CAN before the first byte is written (images.md §7): wrong bitrate (R3), a full
# image (R1), an oversized image (R5); an unknown UUID; --dry-run writes nothing.
set -u
. "$(dirname "$0")/can_lib.bash"

M=$BIN/mkimage
"$M" app --iface can --bitrate 500000 -o "$work/app_500k.bin"
"$M" full --iface can --bitrate 1000000 -o "$work/full.bin"
"$M" app --iface usb -o "$work/app_usb.bin"
"$M" app --mcu stm32g431xx --iface can --bitrate 1000000 -o "$work/app_g431.bin"
"$M" app --iface can --bitrate 1000000 --size 26000 -o "$work/big.bin"
"$M" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -o "$work/good.bin"
start_bus 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
start_twin p1 16000C000F43304253373820 0 katapult:can:1000000 "app:can:1000000:CARTOGRAPHER 4.0.0"
u=$(uuid_of p1)
bus=sim:$work/bus

# flash_rc NAME IMAGE [OPTIONS]: run a flash, keep stdout/stderr, return its exit code.
flash_rc() {
	local name=$1 image=$2
	shift 2
	"$CARTOFLASH" flash --allow-unknown "$image" --can "$bus" --uuid "$u" "$@" >"$work/$name.out" \
		2>"$work/$name.err"
}

mark=$(wc -l <"$work/bus.log")
twin_mark=$(wc -l <"$work/p1.out")
flash_rc r3 "$work/app_500k.bin"
rc=$?
r3_frames=$(tail -n +"$((mark + 1))" "$work/bus.log")
r3_twin=$(tail -n +"$((twin_mark + 1))" "$work/p1.out")
check "wrong bitrate: exit 65 (image refused)" '[ $rc -eq 65 ]'
check "wrong bitrate: names R3, both bitrates and the override" \
	'grep -q "R3" "$work/r3.err" && grep -q "500000" "$work/r3.err" && grep -q "1000000" "$work/r3.err" && grep -q -- "--allow-bitrate-mismatch" "$work/r3.err"'
check "wrong bitrate: names the probe and the stage" \
	'grep -q "probe $u (sim:.* node [0-9]*): check" "$work/r3.err"'

flash_rc forced "$work/app_500k.bin" --force --dry-run
rc=$?
check "--force lifts R3 (dry run: exit 0)" '[ $rc -eq 0 ]'
check "--force names the rule it lifted" 'grep -q "R3 lifted by --allow-bitrate-mismatch" "$work/forced.err"'

flash_rc full "$work/full.bin"
rc=$?
check "full image: exit 65" '[ $rc -eq 65 ]'
check "full image: names R1" 'grep -q "R1" "$work/full.err"'

flash_rc usb "$work/app_usb.bin"
rc=$?
check "a USB build over CAN: exit 65, names R4 (interface)" '[ $rc -eq 65 ] && grep -q "R4" "$work/usb.err"'
# the negative checks above hold the pattern this run's bootloader request matches
check "a refusal after CONNECT (R4): the probe was asked into Katapult, and put back into its application" \
	'bus_has "3F0#02$u" && grep -q "nothing was written, the probe runs its application again" "$work/usb.err"'

flash_rc g431 "$work/app_g431.bin"
rc=$?
check "an image for another MCU: exit 65, names R2 and both MCUs" \
	'[ $rc -eq 65 ] && grep -q "R2" "$work/g431.err" && grep -q "stm32g431" "$work/g431.err" && grep -q "stm32f042x6" "$work/g431.err"'

flash_rc big "$work/big.bin"
rc=$?
check "oversized image: exit 65" '[ $rc -eq 65 ]'
check "oversized image: names R5" 'grep -q "R5" "$work/big.err"'

flash_rc dry "$work/good.bin" --dry-run --json
rc=$?
check "--dry-run of a good image: exit 0" '[ $rc -eq 0 ]'
check "--dry-run: says nothing was written and the probe never left its application" \
	'[ "$(py "$work/dry.out" "[o[\"summary\"].startswith(\"dry run: R1-R5, R8 passed\") and o[\"summary\"].endswith(\"nothing written, never rebooted\") and o[\"mode\"] for o in j if o[\"event\"]==\"result\"][0]")" = "application" ]'
# R3 needs only the interface's bitrate: decided before the bootloader request, so the probe
# is never rebooted for it (the other rules need Katapult's CONNECT; see the next check)
check "R3 is decided before the bootloader request: the run sent nothing to the probe" \
	'grep -q "before the bootloader request: nothing was written, the probe was never rebooted" "$work/r3.err" &&
	 ! printf "%s\n" "$r3_frames" | grep -qi "3F0#02$u"'
check "... and the probe never left its application (no Katapult node id was set)" \
	'! printf "%s\n" "$r3_frames" | grep -qi "3F0#11$u" && ! printf "%s\n" "$r3_twin" | grep -q "mode katapult" &&
	 grep -q "mode katapult" "$work/p1.out"'

"$CARTOFLASH" flash --allow-unknown "$work/good.bin" --can "$bus" --uuid 0123456789ab --timeout 1s \
	>"$work/unknown.out" 2>"$work/unknown.err"
rc=$?
check "unknown UUID: exit 69 (no device)" '[ $rc -eq 69 ]'
check "unknown UUID: names the UUID and suggests scan" \
	'grep -q "0123456789ab" "$work/unknown.err" && grep -q "cartoflash scan" "$work/unknown.err"'

"$CARTOFLASH" flash --allow-unknown "$work/good.bin" --can "$bus" --uuid nothex >/dev/null 2>"$work/usage.err"
rc=$?
check "a malformed UUID is a usage error (64)" '[ $rc -eq 64 ] && grep -q "try" "$work/usage.err"'

"$CARTOFLASH" flash --allow-unknown "$work/good.bin" --can no-such-can9 --uuid "$u" >/dev/null 2>"$work/noif.err"
rc=$?
check "a missing interface: exit 69 and a hint" \
	'[ $rc -eq 69 ] && grep -q "no-such-can9" "$work/noif.err" && grep -q "ip -details link" "$work/noif.err"'

# katapult.md §1.1: a SEND_BLOCK starts 01 88 12 11; none may be on the bus.
check "no SEND_BLOCK ever went on the bus (its sessions did CONNECT)" \
	'bus_has "#01881100" && ! bus_has "#01881211"'
check "the probe was never wedged or NACKed (it ACKed CONNECT)" \
	'bus_has "#0188A0[0-9A-F][0-9A-F]11" && ! bus_has "#0188F100"'

# R8 in every write: a K1 build on a probe that runs a plain one is refused before its
# bootloader request (its identify dictionary says what it runs); --allow-variant-change writes it
"$M" app --iface can --bitrate 1000000 --version "CARTOGRAPHER K1 5.1.0" -o "$work/k1.bin"
mark=$(wc -l <"$work/bus.log")
flash_rc r8 "$work/k1.bin"
rc=$?
r8_frames=$(tail -n +"$((mark + 1))" "$work/bus.log")
check "R8: a K1 build on a plain probe is refused (65), named with both builds and the override" \
	'[ $rc -eq 65 ] && grep -q "refusal R8: variant: image CARTOGRAPHER K1 5.1.0, device CARTOGRAPHER 4.0.0" "$work/r8.err" && grep -q -- "--allow-variant-change" "$work/r8.err"'
check "R8: decided before the bootloader request (the run identified the probe, sent no 3F0#02)" \
	'printf "%s\n" "$r8_frames" | grep -q "3F0#00$" && ! printf "%s\n" "$r8_frames" | grep -qi "3F0#02$u"'
flash_rc r8forced "$work/k1.bin" --allow-variant-change
rc=$?
check "R8: --allow-variant-change writes it (the last write of this script: the checks above saw no SEND_BLOCK)" \
	'[ $rc -eq 0 ] && grep -q "CARTOGRAPHER K1 5.1.0 written" "$work/r8forced.out"'

