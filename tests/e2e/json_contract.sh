#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The --json contract: every line the real binary prints for every verb (successes, refusals,
# errors before any device) validates against the JSON Schema in docs/json.md, carries
# "schema": 1 first, and a run ends with its summary.
set -u
. "$(dirname "$0")/can_lib.bash"

. "$(dirname "$0")/json_lib.bash"
json_lib_init "$work"

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 22528 \
	-o "$work/app.bin"
"$BIN/mkimage" app --iface can --bitrate 500000 -o "$work/app500k.bin"
"$BIN/mkimage" full --version "CARTOGRAPHER 5.1.0" -o "$work/full.bin"
"$BIN/mkimage" katapult -o "$work/katapult.bin"
"$BIN/mkimage" deployer -o "$work/deployer.bin"
head -c 100 "$work/app.bin" >"$work/garbage.bin"

"$CARTOFLASH" --version --json >"$work/version.json"
validate "--version --json" "$work/version.json"
check "--version --json names the schema" '[ "$(py "$work/version.json" "j[0][\"json_schema\"]")" = 1 ]'

"$CARTOFLASH" inspect --json "$work/app.bin" "$work/full.bin" "$work/katapult.bin" \
	"$work/deployer.bin" "$work/garbage.bin" --check katapult --device-mcu stm32f042x6 --bus-bitrate 1000000 \
	>"$work/inspect.json" 2>/dev/null
validate "inspect: app, full, katapult, deployer, garbage, with a check" "$work/inspect.json"

start_bus 1000000 0 || fail_start simbus "$work/simbus.out"
start_twin p1 16000C000F43304253373820 0 katapult:can:1000000 "app:can:1000000:CARTOGRAPHER 4.0.0" ||
	fail_start "twin p1" "$work/p1.out"
start_twin p2 000102030405060708090A0B 0 "katapult:can:1000000:v0.0.1-110-g902f335" ||
	fail_start "twin p2" "$work/p2.out"
u1=$(uuid_of p1)
u2=$(uuid_of p2)
bus=sim:$work/bus

printf '[scanner]\ncanbus_uuid: %s\n[mcu ghost]\ncanbus_uuid: aabbccddeeff\n' "$u1" >"$work/printer.cfg"
"$CARTOFLASH" scan --can "$bus" --klipper-config "$work/printer.cfg" --json >"$work/scan.json" 2>/dev/null
validate "scan --can (nodes, a silent config entry)" "$work/scan.json" summary

"$CARTOFLASH" flash --allow-unknown "$work/app.bin" --can "$bus" --uuid "$u1" --uuid "$u2" --json \
	>"$work/flash.json" 2>/dev/null
validate "flash of two probes" "$work/flash.json" summary
check "flash result carries image, sha256, version and known_release" \
	'[ "$(py "$work/flash.json" "[(o[\"image\"],len(o[\"sha256\"]),o[\"version\"],o[\"known_release\"]) for o in j if o[\"event\"]==\"result\"][0]")" = "$work/app.bin|64|CARTOGRAPHER 5.1.0|False" ]'

"$CARTOFLASH" verify "$work/app.bin" --can "$bus" --uuid "$u1" --json >"$work/verify.json" 2>/dev/null
validate "verify" "$work/verify.json" summary
"$CARTOFLASH" info --can "$bus" --uuid "$u2" --json >"$work/info.json" 2>/dev/null
validate "info" "$work/info.json" summary
"$CARTOFLASH" bootloader --can "$bus" --uuid "$u1" --json >"$work/boot.json" 2>/dev/null
validate "bootloader" "$work/boot.json" summary
"$CARTOFLASH" reboot --can "$bus" --uuid "$u1" --json >"$work/reboot.json" 2>/dev/null
validate "reboot" "$work/reboot.json" summary

"$CARTOFLASH" flash --allow-unknown "$work/app500k.bin" --can "$bus" --uuid "$u1" --json >"$work/r3.json" 2>/dev/null
validate "flash refused by R3 (a device result)" "$work/r3.json" summary

"$CARTOFLASH" status --can "$bus" --klippy-socket "" --no-usb --klipper-config "$work/printer.cfg" \
	--json >"$work/status.json" 2>/dev/null
validate "status (no Klipper, a CAN bus, a config)" "$work/status.json" summary

printf '[p1]\ninterface = %s\nuuid = %s\nimage = app.bin\n' "$bus" "$u1" >"$work/probes.ini"
"$CARTOFLASH" fleet --allow-unknown "$work/probes.ini" --dry-run --json >"$work/fleet.json" 2>/dev/null
validate "fleet --dry-run" "$work/fleet.json" summary

# Errors before any device: one error line, then the summary; --json anywhere on the line.
n_err=0
err_case() {	# err_case NAME WANT_EXIT ARGS...
	local name=$1 want=$2 rc
	shift 2
	n_err=$((n_err + 1))
	"$CARTOFLASH" "$@" >"$work/err$n_err.json" 2>/dev/null
	rc=$?
	validate "error before any device: $name" "$work/err$n_err.json" summary
	check "$name: exit $want, events 'error summary', exit_code $want in both" \
		"[ $rc -eq $want ] && [ \"\$(json_events $work/err$n_err.json)\" = 'error summary' ] && [ \"\$(py $work/err$n_err.json '[o[\"exit_code\"] for o in j]')\" = '$want|$want' ]"
}
err_case "unknown verb" 64 frobnicate --json
err_case "unknown option before --json" 64 flash --bogus "$work/app.bin" --json
err_case "flash without a probe" 64 flash "$work/app.bin" --json
err_case "bad UUID" 64 flash "$work/app.bin" --can "$bus" --uuid nothex --json
err_case "image missing" 66 flash "$work/nothere.bin" --can "$bus" --uuid "$u1" --json
err_case "image no firmware" 65 flash "$work/garbage.bin" --can "$bus" --uuid "$u1" --json
err_case "R7 refused before any probe" 65 flash "$work/app.bin" --can "$bus" --uuid "$u1" --json
err_case "fleet: manifest missing" 66 fleet "$work/none.ini" --json
printf '[p1]\ninterface = %s\n' "$bus" >"$work/bad.ini"
err_case "fleet: manifest without uuid" 64 fleet "$work/bad.ini" --json
err_case "recover: R7" 65 recover --full "$work/full.bin" --json
err_case "verify: no image named" 64 verify --can "$bus" --uuid "$u1" --json
err_case "scan: bad option" 64 scan --frob --json
err_case "inspect: no file" 64 inspect --json
echo "1..$n"
