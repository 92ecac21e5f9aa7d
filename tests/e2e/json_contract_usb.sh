#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The --json contract over USB: scan --usb, flash/verify --serial against a twin on a pty with
# its sysfs tree, and recover --dry-run / recover / scan --dfu against the emulated ROM
# (dfuemu): every line valid against docs/json.md, a summary last.
set -u
. "$(dirname "$0")/serial_lib.bash"
require_binaries "json contract over USB"
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; }
skip_all() { echo "ok - json contract over USB # SKIP $1"; exit 0; }
. "$(dirname "$0")/json_lib.bash"
json_lib_init "$WORK"

"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.0.0" -o "$WORK/old.bin" >/dev/null
"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.1.0" -s 22528 -o "$WORK/new.bin" >/dev/null
"$MKIMAGE" full --iface usb -s 22528 -o "$WORK/full.bin" >/dev/null
twin_start --init katapult:usb --init "file:0x08002000:$WORK/old.bin" || exit 1

run scan --usb --json
cp "$OUT" "$WORK/scan.json"
validate "scan --usb" "$WORK/scan.json" summary
run flash --allow-unknown "$WORK/new.bin" --serial "$TTY" --json
cp "$OUT" "$WORK/flash.json"
validate "flash --serial (exit $RC)" "$WORK/flash.json" summary
run verify "$WORK/new.bin" --serial auto --json
cp "$OUT" "$WORK/verify.json"
validate "verify --serial auto (exit $RC)" "$WORK/verify.json" summary
twin_stop

EMU=$BIN/dfuemu
if ! command -v umockdev-wrapper >/dev/null; then
	echo "ok - recover and scan --dfu JSON # SKIP umockdev not installed"
elif [ ! -x "$EMU" ]; then
	not_ok "recover and scan --dfu JSON: $EMU not built (make tools)"
else
	(cd "$WORK" && timeout 60 "$EMU" -- "$CF" recover --allow-unknown --full full.bin --dry-run \
		--json >"$WORK/dry.json" 2>/dev/null)
	validate "recover --dry-run (plan)" "$WORK/dry.json" summary
	(cd "$WORK" && timeout 60 "$EMU" -- "$CF" recover --allow-unknown --full full.bin \
		--timeout 200ms --json >"$WORK/recover.json" 2>/dev/null)
	validate "recover" "$WORK/recover.json" summary
	(cd "$WORK" && timeout 60 "$EMU" -- "$CF" scan --dfu --json >"$WORK/dfu.json" 2>/dev/null)
	validate "scan --dfu" "$WORK/dfu.json" summary
fi
