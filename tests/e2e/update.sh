#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# cartoflash update on a simulated machine: a synthesised firmware tree in Cartographer's
# layout (two versions, full and lite, a K1 and an HT build, a mislabelled file, a truncated
# release, a firmware_list.csv with a row that disagrees and sha256 for the known builds),
# three CAN probes (one old, one current full, one current lite): the right file per probe,
# up-to-date probes untouched (no bootloader request on the bus), the plan, R7, JSON valid.
set -u
. "$(dirname "$0")/can_lib.bash"
. "$(dirname "$0")/json_lib.bash"
json_lib_init "$work"

fw=$work/tree
S=$fw/firmware/v2-v3/survey
mkdir -p "$S/5.1.0/HT" "$S/6.1.0"
mk() { "$BIN/mkimage" app "$@" >/dev/null; }
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -s 20000 \
	-o "$S/5.1.0/Survey_Cartographer_CAN_1000000_8kib_offset.bin"
mk --iface usb --version "CARTOGRAPHER K1 5.1.0" -o "$S/5.1.0/Survey_Cartographer_K1_USB_8kib_offset.bin"
mk --iface usb --mcu stm32g431xx --clock 150000000 --version "Cartographer HT 5.1.0" \
	-o "$S/5.1.0/HT/Survey_Cartographer_USB_8kib_offset.bin"
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER V3 6.1.0" -s 21000 \
	-o "$S/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin"
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER V3 6.1.0 lite" -s 21000 \
	-o "$S/6.1.0/CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin"
# Mislabelled: a USB build under a CAN name; a 500k build listed as 1M in the CSV.
mk --iface usb --version "CARTOGRAPHER V3 6.1.0" -o "$S/6.1.0/CartographerV3_6.1.0_CAN_250K_full_8kib_offset.bin"
mk --iface can --bitrate 500000 --version "CARTOGRAPHER V3 6.1.0" -o "$S/6.1.0/CartographerV3_6.1.0_CAN_500K_full_8kib_offset.bin"
# A newer release truncated after its dictionary: an app by content, refused by its hash.
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER V3 6.2.0" -s 21000 -o "$work/620.bin"
mkdir -p "$S/6.2.0"
head -c 20900 "$work/620.bin" >"$S/6.2.0/CartographerV3_6.2.0_CAN_1M_full_8kib_offset.bin"

sha() { sha256sum "$1" | cut -c1-64; }
{
	echo "filepath,filename,firmware_type,protocol,process,probe_version,firmware_version,can_speed,is_lite,min_plugin_version,sha256"
	for f in 5.1.0/Survey_Cartographer_CAN_1000000_8kib_offset.bin:CAN:5.1.0:1000000:No: \
		6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin:CAN:6.1.0:1000000:No:1.6.0 \
		6.1.0/CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin:CAN:6.1.0:1000000:Yes:1.6.0 \
		6.1.0/CartographerV3_6.1.0_CAN_500K_full_8kib_offset.bin:CAN:6.1.0:1000000:No:; do
		IFS=: read -r p proto ver bps lite plugin <<<"$f"
		echo "v2-v3/survey/$p,${p##*/},Cartographer,$proto,Update,v3,$ver,$bps,$lite,$plugin,$(sha "$S/$p")"
	done
	# the 6.2.0 row carries the hash of the whole release; the file on disk is cut
	p=6.2.0/CartographerV3_6.2.0_CAN_1M_full_8kib_offset.bin
	echo "v2-v3/survey/$p,${p##*/},Cartographer,CAN,Update,v3,6.2.0,1000000,No,,$(sha "$work/620.bin")"
} >"$fw/firmware_list.csv"

"$CARTOFLASH" update --firmware "$fw" --list >"$work/list.txt" 2>&1
rc=$?
check "--list exits 0 without asking any probe" '[ $rc -eq 0 ]'
check "--list: the mislabelled file is rejected by its name" \
	'grep "CAN_250K_full" "$work/list.txt" | grep -q "REJECTED: name,name_interface"'
check "--list: the row that says 1M for a 500k build is rejected" \
	'grep "CAN_500K_full" "$work/list.txt" | grep -q "row can_speed"'
check "--list: the cut release disagrees with its row's hash" \
	'grep "6.2.0_CAN_1M" "$work/list.txt" | grep -q "row sha256"'
check "--list: known by the manifest's sha256, the K1 and HT builds by content" \
	'grep "6.1.0_CAN_1M_full" "$work/list.txt" | grep -q manifest && grep "K1_USB" "$work/list.txt" | grep -q " k1 " && grep "HT/" "$work/list.txt" | grep -q " ht "'
"$CARTOFLASH" update --firmware "$fw" --list --json >"$work/list.json" 2>/dev/null
validate "--list --json" "$work/list.json" summary

start_bus 1000000 0 || fail_start simbus "$work/simbus.out"
# the twins take the same bytes from short paths
cp "$S/5.1.0/Survey_Cartographer_CAN_1000000_8kib_offset.bin" "$work/i510.bin"
cp "$S/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin" "$work/i610.bin"
cp "$S/6.1.0/CartographerV3_6.1.0_CAN_1M_lite_8kib_offset.bin" "$work/i610l.bin"
start_twin old 16000C000F43304253373820 0 katapult:can:1000000 "file:0x08002000:$work/i510.bin" ||
	fail_start "twin old" "$work/old.out"
start_twin full 000102030405060708090A0B 0 katapult:can:1000000 "file:0x08002000:$work/i610.bin" ||
	fail_start "twin full" "$work/full.out"
start_twin lite 0A0B0C0D0E0F101112131415 0 katapult:can:1000000 "file:0x08002000:$work/i610l.bin" ||
	fail_start "twin lite" "$work/lite.out"
old=$(uuid_of old) full=$(uuid_of full) lite=$(uuid_of lite)
U=(update --firmware "$fw" --can "sim:$work/bus" --klippy-socket "" --no-usb)

"$CARTOFLASH" "${U[@]}" --all --dry-run >"$work/plan.txt" 2>"$work/plan.err"
rc=$?
check "dry run exits 0" '[ $rc -eq 0 ]'
check "plan: the old probe gets the 6.1.0 full build, newest that fits" \
	'grep "^$old" "$work/plan.txt" | grep -q "CARTOGRAPHER 5.1.0  *-> flash .*6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin  newest matching build: 6.1.0"'
check "plan: min_plugin_version is warned before writing" \
	'grep -A1 "^$old" "$work/plan.txt" | grep -q "needs the host plugin 1.6.0"'
check "plan: the full and the lite probe are up to date (same dictionary)" \
	'grep "^$full" "$work/plan.txt" | grep -q "current .*same dictionary" && grep "^$lite" "$work/plan.txt" | grep -q "current .*CAN_1M_lite"'
# the bus log recorded the dry run (its admin query, 3F0#00) and holds no bootloader request
check "a dry run sends no bootloader request" 'bus_has "3F0#00" && ! grep -q "3F0#02" "$work/bus.log"'

"$CARTOFLASH" "${U[@]}" --all --json >"$work/update.json" 2>"$work/update.err"
rc=$?
check "update --all exits 0" '[ $rc -eq 0 ]'
validate "update --all --json" "$work/update.json" summary
check "only the old probe got a bootloader request" \
	'grep -qi "3F0#02$old" "$work/bus.log" && ! grep -qi "3F0#02$full" "$work/bus.log" && ! grep -qi "3F0#02$lite" "$work/bus.log"'
check "JSON plan: one line per probe with its verdict, the file and its sha256" \
	'[ "$(py "$work/update.json" "[o[\"verdict\"]+(\"+\" if len(o.get(\"sha256\",\"\"))==64 else \"\") for o in j if o[\"event\"]==\"update_plan\" and o[\"probe\"]==\"$old\"]")" = "flash+" ] && [ "$(py "$work/update.json" "len([o for o in j if o[\"event\"]==\"update_plan\" and o[\"verdict\"]==\"current\"])")" = 2 ]'
check "the result of the old probe is 6.1.0" \
	'[ "$(py "$work/update.json" "[o[\"version\"] for o in j if o[\"event\"]==\"result\"][0]")" = "CARTOGRAPHER V3 6.1.0" ]'
stop_twin old
check "the old probe's flash holds the 6.1.0 full build" \
	'app_matches old "$S/6.1.0/CartographerV3_6.1.0_CAN_1M_full_8kib_offset.bin"'

"$CARTOFLASH" "${U[@]}" --uuid "$lite" --version 5.1.0 --dry-run >"$work/v.txt" 2>&1
rc=$?
check "--version 5.1.0 on the lite probe: no lite 5.1.0 build, exit 65" \
	'[ $rc -eq 65 ] && grep -q "no build of version 5.1.0 for stm32f042x6 can 1000000 lite" "$work/v.txt"'
"$CARTOFLASH" "${U[@]}" --uuid "$lite" --variant full --dry-run >"$work/var.txt" 2>&1
check "--variant full moves the lite probe to the full build" \
	'grep "^$lite" "$work/var.txt" | grep -q "flash .*CAN_1M_full.*asked variant"'
rm "$fw/firmware_list.csv"
"$CARTOFLASH" "${U[@]}" --uuid "$full" --dry-run >"$work/r7.txt" 2>&1
rc=$?
check "without the manifest's hashes no build is known: R7 leaves none, exit 65" \
	'[ $rc -eq 65 ] && grep -q "only builds that are no known release fit .*--allow-unknown" "$work/r7.txt"'
echo "1..$n"
