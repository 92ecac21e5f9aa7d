#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Demo (first version): build Cartographer-like images with mkimage and let `cartoflash inspect`
# tell what each really is, including files whose names lie and images a flash must refuse.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
CF=$PWD/$BUILD/cartoflash
MK=$PWD/$BUILD/mkimage
for b in "$CF" "$MK"; do
	[ -x "$b" ] || { echo "demo: $b is missing; run 'make all' first" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; echo "(exit $?)"; }

step "1. Build a v3 probe's release set (F042, Katapult at 0x08000000, app at 0x08002000)"
"$MK" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" \
	-o "$work/Survey_Cartographer_CAN_1000000_8kib_offset.bin"
"$MK" app --iface usb --version "CARTOGRAPHER 5.1.0" -o "$work/Survey_Cartographer_USB_8kib_offset.bin"
"$MK" katapult --iface can --bitrate 1000000 --pad-to 8192 -o "$work/Katapult_1m.bin"
"$MK" full --iface can --bitrate 1000000 -o "$work/Full_Survey_Cartographer_CAN_1M_5_1_0.bin"
"$MK" deployer --iface usb -o "$work/katapult-deployer-usb.bin"
ls -l "$work" | sed 1d | awk '{ printf "  %7d  %s\n", $5, $9 }'

step "2. What each file is, by its bytes"
run "$CF" inspect "$work/Survey_Cartographer_CAN_1000000_8kib_offset.bin" \
	"$work/Full_Survey_Cartographer_CAN_1M_5_1_0.bin" "$work/katapult-deployer-usb.bin"

step "3. Files a flash must refuse: names that lie, an image too big, a broken Full image"
"$MK" app --iface usb -o "$work/Full_Cartographer_CAN_1M_v3.bin"
"$MK" app --iface can --bitrate 250000 -o "$work/carto_1M_5.1.3.bin"
"$MK" app --size 25000 -o "$work/Survey_Cartographer_CAN_1000000_big.bin"
"$MK" full --iface usb --no-app-vectors -o "$work/Full_Cartographer_USB_v3.bin"
"$MK" app --mcu stm32g431xx --version "Cartographer HT 5.1.0" --initial-pins PA3 \
	-o "$work/Survey_Cartographer_CAN_1000000_8kib_offset_V3.bin"
run "$CF" inspect "$work/Full_Cartographer_CAN_1M_v3.bin" "$work/carto_1M_5.1.3.bin" \
	"$work/Survey_Cartographer_CAN_1000000_big.bin" "$work/Full_Cartographer_USB_v3.bin" \
	"$work/Survey_Cartographer_CAN_1000000_8kib_offset_V3.bin"

step "4. Would a flash accept them? The refusal rules R1-R6 offline, for a v3 probe in a CAN 1M Katapult"
run "$CF" inspect --check katapult --device-mcu stm32f042x6 --device-iface can --bus-bitrate 1000000 \
	"$work/Survey_Cartographer_CAN_1000000_8kib_offset.bin" "$work/carto_1M_5.1.3.bin" \
	"$work/Full_Survey_Cartographer_CAN_1M_5_1_0.bin" "$work/katapult-deployer-usb.bin" \
	"$work/Survey_Cartographer_CAN_1000000_8kib_offset_V3.bin"
printf '\n-- the same USB deployer with the switch stated:\n'
run "$CF" inspect --check katapult --device-mcu stm32f042x6 --device-iface can --bus-bitrate 1000000 \
	--switch-to usb "$work/katapult-deployer-usb.bin"

step "5. Not firmware at all: exit 65 (malformed), 66 (unreadable)"
"$MK" app --corrupt-dict -o "$work/download_cut_short.bin"
head -c 2048 /dev/urandom >"$work/random.bin"
run "$CF" inspect "$work/download_cut_short.bin" "$work/random.bin"
run "$CF" inspect "$work/no_such_file.bin"

step "6. The same facts as JSON lines, summarised"
"$CF" inspect --json "$work"/*.bin 2>/dev/null | python3 -c '
import json, os, sys
for line in sys.stdin:
    o = json.loads(line)
    name = os.path.basename(o["file"])
    if "kind" not in o:
        print("  %-52s %s" % (name, o["error"]["code"]))
        continue
    warn = ",".join(o["warnings"] + o["name_warnings"]) or "-"
    print("  %-52s %-9s %-10s %-4s %-8s fits=%-5s %s" % (name, o["kind"], o["load_address"],
          o["interface"], o["can_bitrate"] or "-", o["fits"], warn))
'
