#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# cartoflash over the simulated CAN bus against twin processes: a probe running its application,
# a probe already in Katapult, scan (with a Klipper config), info, verify, bootloader, reboot.
set -u
. "$(dirname "$0")/can_lib.bash"

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 22528 \
	-o "$work/app.bin"
start_bus 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
start_twin p1 16000C000F43304253373820 0 katapult:can:1000000 "app:can:1000000:CARTOGRAPHER 4.0.0"
start_twin p2 000102030405060708090A0B 0 "katapult:can:1000000:v0.0.1-110-g902f335"
u1=$(uuid_of p1)
u2=$(uuid_of p2)

# katapult.md §2.3 vectors: the twins' UUIDs come from their chip UIDs.
check "twin UUIDs follow the spec vectors" '[ "$u1" = e0ef270ca188 ] && [ "$u2" = 90a4ae022dfc ]'

cat >"$work/printer.cfg" <<EOF
[mcu]
serial: /dev/serial/by-id/usb-Klipper_stm32h723xx-if00

[include probes/*.cfg]

[gcode_macro LONG]
gcode:
  RESPOND MSG="$(head -c 400 /dev/zero | tr '\0' x)"
EOF
mkdir -p "$work/probes"
printf '[scanner]\ncanbus_uuid: %s   # front probe\ncanbus_uuid = %s\n[mcu ghost]\ncanbus_uuid: aabbccddeeff\n' \
	"$(echo "$u1" | tr a-f A-F)" "$u1" >"$work/probes/scanner.cfg"

"$CARTOFLASH" scan --can "sim:$work/bus" --klipper-config "$work/printer.cfg" --json \
	>"$work/scan.json" 2>"$work/scan.err"
rc=$?
check "scan exits 0" '[ $rc -eq 0 ]'
check "scan lists the application node with its config entry" \
	'[ "$(py "$work/scan.json" "[(o.get(\"application\"),o.get(\"config_section\")) for o in j if o.get(\"uuid\")==\"$u1\"][0]")" = "application|scanner" ]'
check "scan lists the Katapult node with its CONNECT facts" \
	'[ "$(py "$work/scan.json" "[(o[\"application\"],o[\"mcu\"],o[\"protocol_version\"],o[\"app_start\"]) for o in j if o.get(\"uuid\")==\"$u2\"][0]")" = "katapult|stm32f042x6|1.1.0|134225920" ]'
check "scan marks the silent config entry" \
	'[ "$(py "$work/scan.json" "[o[\"answered\"] for o in j if o.get(\"uuid\")==\"aabbccddeeff\"]")" = "False" ]'

"$CARTOFLASH" info --can "sim:$work/bus" --uuid "$u2" --json >"$work/info.json" 2>"$work/info.err"
rc=$?
check "info on a Katapult probe exits 0" '[ $rc -eq 0 ]'
check "info reports mcu and bootloader version" \
	'[ "$(py "$work/info.json" "[(o[\"mcu\"],o[\"bootloader_version\"]) for o in j if o[\"event\"]==\"result\"][0]")" = "stm32f042x6|v0.0.1-110-g902f335" ]'

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u1" --json \
	>"$work/flash1.json" 2>"$work/flash1.err"
rc=$?
check "flash of a probe running its application exits 0" '[ $rc -eq 0 ]'
check "flash JSON: result ok, back in its application" \
	'[ "$(py "$work/flash1.json" "[(o[\"ok\"],o[\"mode\"]) for o in j if o[\"event\"]==\"result\"][0]")" = "True|application" ]'
check "flash JSON: progress events for write and verify" \
	'[ "$(py "$work/flash1.json" "sorted(set(o[\"stage\"] for o in j if o[\"event\"]==\"progress\"))")" = "verify|write" ]'
check "flash JSON: summary last, exit code 0" \
	'[ "$(py "$work/flash1.json" "(j[-1][\"event\"],j[-1][\"exit_code\"])")" = "summary|0" ]'

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u2" >"$work/flash2.out" \
	2>"$work/flash2.err"
rc=$?
check "flash of a probe already in Katapult exits 0" '[ $rc -eq 0 ]'
check "the table names the image version" 'grep -q "CARTOGRAPHER 5.1.0 written" "$work/flash2.out"'

from=$(($(wc -l <"$work/bus.log") + 1))
"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$u1" --no-reboot --json \
	>"$work/noreboot.json" 2>/dev/null
rc=$?
check "--no-reboot: exit 0, the probe is left in Katapult" \
	'[ $rc -eq 0 ] && [ "$(py "$work/noreboot.json" "[o[\"mode\"] for o in j if o[\"event\"]==\"result\"][0]")" = katapult ]'
check "--no-reboot: no COMPLETE went on the bus" '! tail -n "+$from" "$work/bus.log" | grep -qi "#01881500"'

"$CARTOFLASH" verify "$work/app.bin" --can "sim:$work/bus" --uuid "$u1" >/dev/null 2>"$work/verify.err"
rc=$?
check "verify of the flashed probe exits 0" '[ $rc -eq 0 ]'
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.1" --size 22528 \
	-o "$work/other.bin"
"$CARTOFLASH" verify "$work/other.bin" --can "sim:$work/bus" --uuid "$u1" >/dev/null \
	2>"$work/verify2.err"
rc=$?
check "verify against another image exits 76 (device protocol)" '[ $rc -eq 76 ]'
check "the verify mismatch names the block and stays in Katapult" \
	'grep -q "verify.*0x0800" "$work/verify2.err" && grep -qi "katapult" "$work/verify2.err"'

"$CARTOFLASH" reboot --can "sim:$work/bus" --uuid "$u1" >/dev/null 2>"$work/reboot.err"
rc=$?
check "reboot after the failed verify brings the application back" '[ $rc -eq 0 ]'

"$CARTOFLASH" bootloader --can "sim:$work/bus" --uuid "$u1" >/dev/null 2>"$work/bl.err"
rc=$?
check "bootloader enters Katapult and exits 0" '[ $rc -eq 0 ]'
"$CARTOFLASH" info --can "sim:$work/bus" --uuid "$u1" >"$work/info2.out" 2>&1
check "after bootloader, info finds Katapult" 'grep -q "stm32f042x6" "$work/info2.out"'
"$CARTOFLASH" reboot --can "sim:$work/bus" --uuid "$u1" >/dev/null 2>&1

stop_twin p1
stop_twin p2
check "p1 holds the new application at 0x08002000" 'app_matches p1 "$work/app.bin"'
check "p2 holds the new application at 0x08002000" 'app_matches p2 "$work/app.bin"'
