#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The real binary over a pty against a twin process: application -> 1200-baud touch -> Katapult
# -> flash -> verify -> back as the application with the same serial; already in Katapult;
# scan --usb, info, verify and bootloader/reboot on the same transport.
. "$(dirname "$0")/serial_lib.bash"
require_binaries serial_flash

SERIAL=16000C000F43304253373820
"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.0.0" -o "$WORK/old.bin" >/dev/null
"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.1.0" -s 22528 -o "$WORK/new.bin" >/dev/null

twin_start --init katapult:usb --init "file:0x08002000:$WORK/old.bin" || exit 1
run scan --usb --json
check "scan --usb: the application with its serial and the CAN UUID from it (katapult.md §2.3)" \
	has "$OUT" "\"kind\":\"cartographer\",\"mode\":\"application\",\"manufacturer\":\"Cartographer\",\"product\":\"\",\"serial\":\"$SERIAL\""
check "scan --usb: CAN UUID e0ef270ca188" has "$OUT" '"can_uuid":"e0ef270ca188"'

run flash --allow-unknown "$WORK/new.bin" --serial "$TTY" --json
check "flash from the application exits 0" test "$RC" -eq 0
check "flash went through Katapult 1d50:6177" has "$WORK/twin.err" 'USB 1d50:6177 "katapult"'
check "flash result: back in the application with the same serial on port 1-1.3" \
	has "$OUT" "\"serial\":\"$SERIAL\",\"usb_path\":\"1-1.3\""
check "flash result mode is application" has "$OUT" '"mode":"application"'
check "flash result: every block verified" has "$OUT" 'CARTOGRAPHER 5.1.0 written, 352 blocks verified, application running'

run scan --usb
check "after flash: scan --usb shows the application again" \
	grep -qE "^1-1.3 +1d50:614e +cartographer +application +$SERIAL +e0ef270ca188" "$OUT"

run verify "$WORK/new.bin" --serial auto
check "verify --serial auto: the written image reads back" test "$RC" -eq 0
run info --serial auto
check "info on a running probe leaves it alone" has "$OUT" "left alone"

run verify "$WORK/old.bin" --serial auto
check "verify against another image: exit 76" test "$RC" -eq 76
check "verify mismatch names the stage" has "$ERR" "verify"
run scan --usb
check "after a failed verify the probe stays in Katapult (no COMPLETE)" \
	grep -qE "^1-1.3 +1d50:6177 +katapult +katapult +$SERIAL" "$OUT"

run bootloader --serial auto --json
check "bootloader: now in Katapult" has "$OUT" '"mode":"katapult"'
run info --serial auto --json
check "info in Katapult: CONNECT facts" has "$OUT" '"mcu":"stm32f042x6"'
run reboot --serial auto
check "reboot: the application is confirmed" has "$OUT" "application running"

# A /dev/serial/by-id style link (longer than the identity's tty field) names the same probe.
BYID=$WORK/dev/serial/by-id/usb-Cartographer_614e_${SERIAL}-if00
mkdir -p "$(dirname "$BYID")"
ln -s "$TTY" "$BYID"
run flash --allow-unknown "$WORK/new.bin" --serial "$BYID"
check "flash through a by-id link: exit 0" test "$RC" -eq 0
check "flash through a by-id link: the same probe" has "$OUT" "e0ef270ca188"

# R8 in every write: the probe runs a plain 5.1.0; a K1 build is refused before the 1200-baud
# touch (its identify dictionary over the tty says what it runs)
"$MKIMAGE" app --iface usb --version "CARTOGRAPHER K1 5.1.0" -o "$WORK/k1.bin" >/dev/null
touches=$(grep -c 'USB 1d50:6177' "$WORK/twin.err")
run flash --allow-unknown "$WORK/k1.bin" --serial "$TTY"
check "R8 over USB: a K1 build on a plain probe is refused (65), naming both builds" \
	grep -q "refusal R8: variant: image CARTOGRAPHER K1 5.1.0, device CARTOGRAPHER 5.1.0" "$ERR"
check "R8 over USB: exit 65, decided before the touch (the twin never went to Katapult)" \
	test "$RC" -eq 65 -a "$(grep -c 'USB 1d50:6177' "$WORK/twin.err")" -eq "$touches" -a "$touches" -ge 1

twin_start --init katapult:usb || exit 1
run scan --usb
check "Katapult only: scan --usb says katapult" \
	grep -qE "^1-1.3 +1d50:6177 +katapult +katapult +$SERIAL" "$OUT"
run flash --allow-unknown "$WORK/new.bin" --serial auto
check "already in Katapult: flash --serial auto exits 0" test "$RC" -eq 0
check "already in Katapult: no bootloader request was needed" \
	test "$(grep -c 'USB 1d50:6177' "$WORK/twin.err")" -eq 1
run scan --usb
check "already in Katapult: the new application runs" \
	grep -qE "^1-1.3 +1d50:614e +cartographer +application +$SERIAL" "$OUT"
