#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A Klipper USB-to-CAN bridge (gs_usb 1d50:606f, "Klipper") runs the bus at its own bitrate and
# ignores the host's: R3 compares with the nodes' own figure and says where it came from, and
# never passes or refuses on the host figure.
set -u
. "$(dirname "$0")/live_lib.bash"

bus 1000000 || skip_all "simbus did not start"
# the fixture tree makes the simulated bus "can0" a Klipper bridge (src/can/canbridge.h)
cp -a "$SRC/tests/fixtures/sysfs/bridge/." "$W/sys/"
can_twin app E0EF270CA188000000000000 "app:can:1000000:CARTOGRAPHER 5.1.0" || skip_all "twin"
APP=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/app.out")
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.2" -o "$W/1m.bin" >/dev/null
"$BIN/mkimage" app --iface can --bitrate 500000 --version "CARTOGRAPHER 5.1.2" -o "$W/500k.bin" >/dev/null

UP=$(echo "$APP" | tr a-f A-F)
# mark / since REGEX: candump lines of the bus log after the mark (one run's frames)
mark() { MARK=$(wc -l <"$W/can0.log"); }
since() { tail -n +"$((MARK + 1))" "$W/can0.log" | grep -cE "$1"; }
mark
run flash --allow-unknown "$W/500k.bin" --can "$BUS" --uuid "$APP"
check "bridge: a 500 kbit/s image is refused (R3, 65) on the probe's own word" \
	"[ $RC -eq 65 ] && has $ERR 'refusal R3: can bitrate: image 500000, device 1000000' && has $ERR 'never rebooted'" "$ERR"
check "... and the run said where the figure came from" \
	"has $ERR 'R3 for $APP compares with bus bitrate 1000000: the probe $APP (its dictionary) on Klipper bridge $BUS'" "$ERR"
# decided before the bootloader request: the bus log holds the identify (the probe answered
# the admin query) and no request (3F0#02 UUID), no Katapult node id set; the twin stayed up
check "... decided before anything rebooted the probe: no bootloader request on the bus" \
	"[ \$(since '3F1#20$UP') -ge 1 ] && [ \$(since '3F0#02$UP') -eq 0 ] && [ \$(since '3F0#11$UP') -eq 0 ] && has $W/app.err 'mode app' && ! has $W/app.err 'mode katapult'" \
	"$W/can0.log" "$W/app.err"
mark
run flash --allow-unknown "$W/500k.bin" --can "$BUS" --uuid "$APP" --json
# the probe keeps the node id identify gave it (a Klipper node has no release): found again
check "... again with --json (65, the probe's result line): no bootloader request, the application still runs" \
	"[ $RC -eq 65 ] && jrow '.event == \"result\"' '.code == \"refused\" and (.detail | contains(\"refusal R3\"))' && [ \$(since '3F0#02$UP') -eq 0 ] && ! has $W/app.err 'mode katapult'" "$ERR" "$W/can0.log"
mark
run flash --allow-unknown "$W/1m.bin" --can "$BUS" --uuid "$APP"
check "bridge: the 1 Mbit/s image passes on the probe's word and is written (0)" \
	"[ $RC -eq 0 ] && has $OUT 'application running' && [ \$(since '3F0#02$UP') -eq 1 ] && has $W/app.err 'mode katapult'" "$OUT" "$ERR"
run flash --allow-unknown "$W/500k.bin" --can "$BUS" --uuid "$APP" --dry-run
check "bridge dry run: R3 refused on the running application's figure, not the host's" \
	"[ $RC -eq 65 ] && has $ERR 'refusal R3' && has $ERR 'bus bitrate from node $APP (its dictionary) on Klipper bridge'" "$ERR"

# A fleet on the bridge with one wrong image: R3 refuses that probe alone, before its bootloader
# request, and the other probe on the same bus is written.
can_twin two E0EF270CA188000000000002 "app:can:1000000:CARTOGRAPHER 5.1.0" || skip_all "twin"
TWO=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/two.out")
printf '[wrong]\ninterface = %s\nuuid = %s\nimage = %s\n\n[right]\ninterface = %s\nuuid = %s\nimage = %s\n' \
	"$BUS" "$APP" "$W/500k.bin" "$BUS" "$TWO" "$W/1m.bin" >"$W/fleet.ini"
mark
run fleet --allow-unknown "$W/fleet.ini" --json
check "bridge fleet, one 500 kbit/s image: that probe refused (R3), the other written; exit 65" \
	"[ $RC -eq 65 ] && jrow '.event == \"result\" and .device == \"wrong\"' '.code == \"refused\" and (.detail | contains(\"refusal R3\"))' && jrow '.event == \"result\" and .device == \"right\"' '.code == \"ok\"'" "$OUT" "$ERR"
check "... the refused probe got no bootloader request, the other one did" \
	"[ \$(since '3F0#02$UP') -eq 0 ] && [ \$(since \"3F0#02$(echo "$TWO" | tr a-f A-F)\") -eq 1 ]" "$W/can0.log"
kill "$(cat "$W/two.pid")"

# The bridge MCU itself (its CAN UUID from the bridge's USB serial, 39002D000E5053424E363620):
# its bootloader is not on the bus and the interface goes with it - refused before any frame.
mark
run flash --allow-unknown "$W/1m.bin" --can "$BUS" --uuid 4d6df49ffb1a
check "the bridge MCU itself: refused (65) before anything is sent, naming the bridge and the way" \
	"[ $RC -eq 65 ] && has $ERR 'is the Klipper USB-to-CAN bridge MCU of $BUS itself (USB 1-1.4' && has $ERR 'cartoflash bootloader --can $BUS --uuid 4d6df49ffb1a' && [ \$(since '.') -eq 0 ]" "$ERR" "$W/can0.log"

# Only a Katapult on the bus: no node tells the bus bitrate; the host's 1000000 is no answer.
kill "$(cat "$W/app.pid")"
mark
can_twin kat 000102030405060708090A0B "katapult:can:1000000" || skip_all "twin"
KAT_SUM=$(sha256sum <"$W/kat.bin")
run flash --allow-unknown "$W/1m.bin" --can "$BUS" --uuid 90a4ae022dfc
check "bridge, no witness: R3 is refused (65) instead of passing on the host figure" \
	"[ $RC -eq 65 ] && has $ERR 'bus unknown' && has $ERR 'whose host bitrate (1000000) does not describe the bus' && has $ERR '--allow-bitrate-mismatch'" "$ERR"
check "... nothing written, nothing rebooted: the Katapult answered, no request, its flash unchanged" \
	"[ \$(since '3F1#2090A4AE022DFC11') -ge 1 ] && [ \$(since '3F0#02') -eq 0 ] && [ \"\$(sha256sum <'$W/kat.bin')\" = \"\$KAT_SUM\" ] && has $ERR 'nothing was written, nothing rebooted'" "$W/can0.log" "$ERR"
run flash --allow-unknown "$W/1m.bin" --can "$BUS" --uuid 90a4ae022dfc --allow-bitrate-mismatch
check "bridge, no witness, --allow-bitrate-mismatch: written (0)" \
	"[ $RC -eq 0 ]" "$OUT" "$ERR"
