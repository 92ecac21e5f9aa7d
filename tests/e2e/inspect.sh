#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `cartoflash inspect` end to end: mkimage outputs and the real corpus through the real binary;
# table output, --json parsed by python3, stderr lines and the documented exit codes.
set -u
BUILD=${BUILD:-build}
CARTOFLASH=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
MKIMAGE=$PWD/$BUILD/mkimage
FW=${CARTOFLASH_FIRMWARE_DIR:-$PWD/../shared/firmware}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
skip_all() { echo "ok 1 - inspect # SKIP $1"; exit 0; }

[ -x "$CARTOFLASH" ] || { echo "not ok - ${0##*/}: $CARTOFLASH not built"; exit 1; }
[ -x "$MKIMAGE" ] || { echo "not ok - ${0##*/}: $MKIMAGE not built (make tools)"; exit 1; }
command -v python3 >/dev/null || skip_all "python3 not installed"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# jq-like field access: py FILE EXPR, with j = the list of objects (one per line).
py() {
	python3 -c "import json,sys; j=[json.loads(l) for l in open(sys.argv[1])]; print($2)" "$1"
}

"$MKIMAGE" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -o "$work/app_can_1m.bin"
"$MKIMAGE" app --iface usb -o "$work/app_usb.bin"
"$MKIMAGE" katapult --iface can --bitrate 500000 --pad-to 8192 -o "$work/Katapult_500k.bin"
"$MKIMAGE" full --iface can --bitrate 250000 -o "$work/Full_CAN_250k.bin"
"$MKIMAGE" deployer --iface usb -o "$work/katapult-deployer-usb.bin"
"$MKIMAGE" app --size 25000 -o "$work/too_big.bin"
"$MKIMAGE" app -o "$work/Cartographer_CAN_1000000_12kib_offset.bin"
"$MKIMAGE" app --iface usb -o "$work/Cartographer_CAN_1M.bin"
"$MKIMAGE" full --no-app-vectors --iface usb -o "$work/Full_Cartographer_USB_v3.bin"
"$MKIMAGE" app --corrupt-dict -o "$work/corrupt.bin"
: >"$work/empty.bin"
head -c 4096 /dev/urandom >"$work/garbage.bin"
head -c 1100000 /dev/zero >"$work/huge.bin"

# ---- table ----
"$CARTOFLASH" inspect "$work/app_can_1m.bin" >"$work/t.out" 2>"$work/t.err"
rc=$?
check "app: exit 0 (rc=$rc)" "[ $rc -eq 0 ] && [ ! -s $work/t.err ]"
check "app: table names kind, load address, MCU, interface, bitrate, version" \
	"grep -Eq '^  kind +app$' $work/t.out && grep -Eq '^  load address +0x08002000$' $work/t.out &&
	 grep -Eq '^  mcu +stm32f042x6 \(v2/v3 probe\)$' $work/t.out && grep -Eq '^  interface +can$' $work/t.out &&
	 grep -Eq '^  can bitrate +1000000 \(dictionary\)$' $work/t.out &&
	 grep -Eq '^  version +CARTOGRAPHER 5.1.0$' $work/t.out"
check "app: sha256 in the table equals sha256sum" \
	"grep -q \"sha256 *$(sha256sum "$work/app_can_1m.bin" | cut -c1-64)\" $work/t.out"
check "app: flash budget shows the fit" "grep -Eq '^  flash budget +fits: ends at offset' $work/t.out"

"$CARTOFLASH" inspect "$work/Full_CAN_250k.bin" "$work/katapult-deployer-usb.bin" >"$work/f.out" 2>&1
rc=$?
check "full + deployer: exit 0 (rc=$rc)" "[ $rc -eq 0 ]"
check "full: embedded Katapult shown with interface and heuristic bitrate" \
	"grep -Eq '^  katapult part +offset 0, 4644 bytes, stm32f042x6, can 250000 \(katapult-code-heuristic\)' $work/f.out"
check "deployer: embedded Katapult shown as usb" \
	"grep -Eq '^  embeds katapult +offset 1336, 4644 bytes, stm32f042x6, usb' $work/f.out"

"$CARTOFLASH" inspect "$work/too_big.bin" >"$work/big.out" 2>&1
rc=$?
check "oversize app: classified (rc=$rc) and OVERFLOWS by 424 bytes" \
	"[ $rc -eq 0 ] && grep -q 'OVERFLOWS by 424 bytes' $work/big.out"

"$CARTOFLASH" inspect "$work/Cartographer_CAN_1000000_12kib_offset.bin" "$work/Cartographer_CAN_1M.bin" \
	"$work/Full_Cartographer_USB_v3.bin" >"$work/n.out" 2>&1
check "name warnings: 12kib, CAN name on USB image, Full without app vectors" \
	"grep -q 'name says 12 KiB offset' $work/n.out && grep -q 'name says one interface' $work/n.out &&
	 grep -q 'name says full image but there is no application vector table' $work/n.out"

"$CARTOFLASH" inspect - <"$work/app_usb.bin" >"$work/stdin.out" 2>&1
rc=$?
check "- reads stdin (rc=$rc)" "[ $rc -eq 0 ] && grep -Eq '^  interface +usb$' $work/stdin.out"

# ---- JSON ----
"$CARTOFLASH" inspect --json "$work/app_can_1m.bin" "$work/app_usb.bin" "$work/Katapult_500k.bin" \
	"$work/Full_CAN_250k.bin" "$work/katapult-deployer-usb.bin" >"$work/j.out" 2>"$work/j.err"
rc=$?
check "--json: exit 0 (rc=$rc)" "[ $rc -eq 0 ]"
check "--json: one object per file per line" "[ \"\$(py $work/j.out 'len(j)')\" = 5 ]"
check "--json: kinds app app katapult full deployer" \
	"[ \"\$(py $work/j.out '\" \".join(o[\"kind\"] for o in j)')\" = 'app app katapult full deployer' ]"
check "--json: load addresses" \
	"[ \"\$(py $work/j.out '\" \".join(o[\"load_address\"] for o in j)')\" = '0x08002000 0x08002000 0x08000000 0x08000000 0x08002000' ]"
check "--json: interfaces and bitrates" \
	"[ \"\$(py $work/j.out '\" \".join(\"%s/%s\" % (o[\"interface\"], o[\"can_bitrate\"]) for o in j)')\" = 'can/1000000 usb/None can/500000 can/250000 usb/None' ]"
check "--json: USB app id 1d50:614e, full katapult_part bitrate 250000" \
	"[ \"\$(py $work/j.out 'j[1][\"usb_id\"], j[3][\"katapult_part\"][\"can_bitrate\"]')\" = '1d50:614e 250000' ]"
check "--json: sha256 equals sha256sum" \
	"[ \"\$(py $work/j.out 'j[0][\"sha256\"]')\" = \"$(sha256sum "$work/app_can_1m.bin" | cut -c1-64)\" ]"

# ---- errors and exit codes ----
"$CARTOFLASH" inspect "$work/empty.bin" >/dev/null 2>"$work/e.err"
rc=$?
check "empty file: exit 65 and a line naming file, stage and next step (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'empty.bin: inspect: empty file; download' $work/e.err"
"$CARTOFLASH" inspect "$work/garbage.bin" >"$work/g.out" 2>"$work/g.err"
rc=$?
check "garbage: exit 65, kind unknown (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -Eq '^  kind +unknown$' $work/g.out && grep -q 'not a firmware image' $work/g.err"
"$CARTOFLASH" inspect "$work/corrupt.bin" >/dev/null 2>"$work/c.err"
rc=$?
check "corrupt dictionary: exit 65 with its own message (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'data dictionary is damaged' $work/c.err"
head -c 5500 "$work/app_can_1m.bin" >"$work/truncated.bin"
"$CARTOFLASH" inspect "$work/truncated.bin" >/dev/null 2>"$work/tr.err"
rc=$?
check "truncated download (cut inside the dictionary): exit 65, says damaged (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'truncated.bin: inspect: the data dictionary is damaged' $work/tr.err"
"$CARTOFLASH" inspect "$work/huge.bin" >/dev/null 2>"$work/h.err"
rc=$?
check "file over 1 MiB: exit 65 (rc=$rc)" "[ $rc -eq 65 ] && grep -q 'larger than 1 MiB' $work/h.err"
"$CARTOFLASH" inspect "$work/missing.bin" >/dev/null 2>"$work/m.err"
rc=$?
check "missing file: exit 66 (rc=$rc)" "[ $rc -eq 66 ] && grep -q 'missing.bin: read: cannot open the firmware image: No such file' $work/m.err"
"$CARTOFLASH" inspect "$work/garbage.bin" "$work/missing.bin" "$work/app_usb.bin" >/dev/null 2>&1
rc=$?
check "unreadable wins over malformed: exit 66 (rc=$rc)" "[ $rc -eq 66 ]"
"$CARTOFLASH" inspect --json "$work/missing.bin" "$work/garbage.bin" >"$work/je.out" 2>/dev/null
check "--json reports errors per file" \
	"[ \"\$(py $work/je.out '\" \".join(o[\"error\"][\"code\"] for o in j)')\" = 'noinput image' ]"
"$CARTOFLASH" inspect >/dev/null 2>"$work/u.err"
rc=$?
check "no FILE: exit 64 with 'try' hint (rc=$rc)" "[ $rc -eq 64 ] && grep -q \"try 'cartoflash inspect --help'\" $work/u.err"
"$CARTOFLASH" inspect --bogus x >/dev/null 2>&1
rc=$?
check "unknown option: exit 64 (rc=$rc)" "[ $rc -eq 64 ]"
"$CARTOFLASH" inspect --help >"$work/help.out" 2>&1
rc=$?
check "--help: exit 0, stdout ends with Examples (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q '^Examples:' $work/help.out && grep -q 'cartoflash inspect --json' $work/help.out"

# ---- --check: the refusal rules offline ----
"$MKIMAGE" app --iface can --bitrate 250000 -o "$work/app_can_250k.bin"
K="--check katapult --device-mcu stm32f042x6 --device-iface can --bus-bitrate 1000000"
"$CARTOFLASH" inspect $K "$work/app_can_1m.bin" >"$work/k1.out" 2>"$work/k1.err"
rc=$?
check "--check katapult: matching app accepted, exit 0 (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -Eq '^  check +accepted via katapult$' $work/k1.out"
"$CARTOFLASH" inspect $K "$work/app_can_250k.bin" >"$work/k2.out" 2>"$work/k2.err"
rc=$?
check "--check katapult: 250k app on a 1M bus refused by R3, exit 65 (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'REFUSED via katapult: R3 can bitrate: image 250000, device 1000000' $work/k2.out &&
	 grep -q 'app_can_250k.bin: refusal R3: can bitrate: image 250000, device 1000000' $work/k2.err &&
	 grep -q 'allow-bitrate-mismatch lifts this rule' $work/k2.err"
"$CARTOFLASH" inspect $K --allow-bitrate-mismatch "$work/app_can_250k.bin" >/dev/null 2>&1
rc=$?
check "--allow-bitrate-mismatch lifts R3 (rc=$rc)" "[ $rc -eq 0 ]"
"$CARTOFLASH" inspect --json $K "$work/Full_CAN_250k.bin" "$work/katapult-deployer-usb.bin" \
	"$work/app_usb.bin" >"$work/k3.out" 2>/dev/null
rc=$?
check "--check katapult --json: full R1, USB deployer R4 with --switch-to usb, USB app R4 (rc=$rc)" \
	"[ $rc -eq 65 ] && [ \"\$(py $work/k3.out '\" \".join(\"%s:%s\" % (o[\"check\"][\"rule\"], o[\"check\"][\"override\"]) for o in j)')\" = 'R1:None R4:--switch-to usb R4:None' ]"
"$CARTOFLASH" inspect $K --switch-to usb "$work/katapult-deployer-usb.bin" >/dev/null 2>&1
rc=$?
check "--switch-to usb accepts the USB deployer (rc=$rc)" "[ $rc -eq 0 ]"
"$CARTOFLASH" inspect --check dfu --flash-size 32768 "$work/Full_CAN_250k.bin" "$work/Katapult_500k.bin" >/dev/null 2>&1
rc=$?
check "--check dfu: full and Katapult images accepted (rc=$rc)" "[ $rc -eq 0 ]"
"$CARTOFLASH" inspect --check dfu --flash-size 32768 "$work/app_can_1m.bin" >/dev/null 2>"$work/k4.err"
rc=$?
check "--check dfu: an app is refused by R1 (rc=$rc)" "[ $rc -eq 65 ] && grep -q 'refusal R1: image kind' $work/k4.err"
"$CARTOFLASH" inspect $K --require-known "$work/app_can_1m.bin" >/dev/null 2>"$work/k5.err"
rc=$?
check "--require-known: a synthetic build is refused by R7 (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'refusal R7: sha256' $work/k5.err && grep -q 'allow-unknown lifts' $work/k5.err"
"$CARTOFLASH" inspect $K --require-known --allow-unknown "$work/app_can_1m.bin" >/dev/null 2>&1
rc=$?
check "--allow-unknown lifts R7 (rc=$rc)" "[ $rc -eq 0 ]"
"$MKIMAGE" app --iface usb --version "CARTOGRAPHER K1 5.1.0" -o "$work/k1.bin"
U="--check katapult --device-mcu stm32f042x6 --device-iface usb"
"$CARTOFLASH" inspect $U --running-version "CARTOGRAPHER 5.1.0" "$work/k1.bin" >/dev/null 2>"$work/k6.err"
rc=$?
check "--running-version: a K1 build for a non-K1 probe is refused by R8 (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'refusal R8: variant: image CARTOGRAPHER K1 5.1.0, device CARTOGRAPHER 5.1.0' $work/k6.err"
"$CARTOFLASH" inspect $U --running-version "CARTOGRAPHER 5.1.0" --allow-variant-change "$work/k1.bin" >/dev/null 2>&1
rc=$?
check "--allow-variant-change lifts R8 (rc=$rc)" "[ $rc -eq 0 ]"
"$CARTOFLASH" inspect --bus-bitrate 1000000 "$work/app_can_1m.bin" >/dev/null 2>&1
rc=$?
check "device options without --check: exit 64 (rc=$rc)" "[ $rc -eq 64 ]"

# ---- DfuSe .dfu containers (dfu.md §1.9) ----
if command -v dfuse-pack >/dev/null; then
	dfuse-pack -b "0x08000000:$work/Katapult_500k.bin" -b "0x08002000:$work/app_can_1m.bin" \
		"$work/recovery.dfu" >/dev/null
	dfuse-pack -b "0x08000000:$work/app_can_1m.bin" "$work/wrong.dfu" >/dev/null
	"$CARTOFLASH" inspect --json "$work/recovery.dfu" >"$work/d1.out" 2>&1
	rc=$?
	check "DfuSe: two elements classified as katapult at F and app at A (rc=$rc)" \
		"[ $rc -eq 0 ] && [ \"\$(py $work/d1.out '\" \".join(\"%s:%s\" % (o[\"kind\"], o[\"load_address\"]) for o in j)')\" = 'katapult:0x08000000 app:0x08002000' ]"
	check "DfuSe: JSON names the file and each element's alt and address" \
		"[ \"\$(py $work/d1.out '\" \".join(\"%s@%s\" % (o[\"file\"].split(\"/\")[-1], o[\"dfuse_element\"][\"address\"]) for o in j)')\" = 'recovery.dfu@0x08000000 recovery.dfu@0x08002000' ]"
	"$CARTOFLASH" inspect --check dfu --flash-size 32768 "$work/recovery.dfu" >/dev/null 2>&1
	rc=$?
	check "DfuSe: --check dfu accepts both elements (rc=$rc)" "[ $rc -eq 0 ]"
	"$CARTOFLASH" inspect "$work/wrong.dfu" >/dev/null 2>"$work/d2.err"
	rc=$?
	check "DfuSe: an app element at 0x08000000 is an error, exit 65 (rc=$rc)" \
		"[ $rc -eq 65 ] && grep -q 'DfuSe element at 0x08000000 holds an image (app) that belongs at 0x08002000' $work/d2.err"
	head -c 200 "$work/recovery.dfu" >"$work/cut.dfu"
	"$CARTOFLASH" inspect "$work/cut.dfu" >/dev/null 2>"$work/d3.err"
	rc=$?
	check "DfuSe: a truncated .dfu is damaged, exit 65 (rc=$rc)" \
		"[ $rc -eq 65 ] && grep -q 'damaged DfuSe file' $work/d3.err"
else
	skip "DfuSe containers" "dfuse-pack not installed"
fi

# ---- the real corpus (optional) ----
if [ -f "$FW/expected.json" ]; then
	"$CARTOFLASH" inspect --json "$FW"/*.bin >"$work/corpus.out" 2>"$work/corpus.err"
	rc=$?
	check "corpus: every file classified, exit 0 (rc=$rc)" "[ $rc -eq 0 ] && [ ! -s $work/corpus.err ]"
	check "corpus: kind, load, mcu, interface, bitrate, version, fits as expected.json" \
		"python3 - '$work/corpus.out' '$FW/expected.json' <<'EOF'
import json, os, sys
got = {os.path.basename(o['file']): o for o in map(json.loads, open(sys.argv[1]))}
exp = json.load(open(sys.argv[2]))['images']
keys = ['sha256', 'size', 'kind', 'load_address', 'mcu', 'interface', 'can_bitrate',
        'can_bitrate_source', 'version', 'fits', 'flash_size', 'flash_end_offset', 'vectors',
        'katapult_transfer', 'padding_to_0x2000_all_0xff', 'usb_id']
bad = [(e['file'], k, got[e['file']].get(k), e[k]) for e in exp for k in keys
       if k in e and got[e['file']].get(k) != e[k]]
if bad:
    print(bad, file=sys.stderr)
sys.exit(1 if bad or len(got) != len(exp) else 0)
EOF"
	"$CARTOFLASH" inspect --check katapult --require-known --device-mcu stm32f042x6 \
		--device-iface can --bus-bitrate 1000000 \
		"$FW/Survey_Cartographer_CAN_1000000_8kib_offset_5.1.0.bin" >"$work/ck.out" 2>&1
	rc=$?
	check "corpus: the 1M release app passes R1-R7 for a CAN 1M F042 probe (rc=$rc)" \
		"[ $rc -eq 0 ] && grep -q 'known: Cartographer3D/cartographer-klipper firmware/v2-v3/survey/5.1.0/' $work/ck.out"
	"$CARTOFLASH" inspect "$FW/Full_Survey_Cartographer_CAN_1M_5_1_0.bin" >"$work/cf.out" 2>&1
	check "corpus: Full 1M table shows the Katapult part and the application part" \
		"grep -Eq '^  katapult part +offset 0, 4644 bytes, stm32f042x6, can 1000000' $work/cf.out &&
		 grep -Eq '^  application +offset 8192, 21788 bytes, linked at 0x08002000' $work/cf.out"
else
	skip "corpus" "$FW/expected.json absent (set CARTOFLASH_FIRMWARE_DIR)"
fi
