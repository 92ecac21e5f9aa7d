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

run flash "$W/500k.bin" --can "$BUS" --uuid "$APP"
check "bridge: a 500 kbit/s image is refused (R3, 65) on the probe's own word" \
	"[ $RC -eq 65 ] && has $ERR 'refusal R3: can bitrate: image 500000, device 1000000'" "$ERR"
check "... and the run said where the figure came from" \
	"has $ERR 'R3 for $APP compares with bus bitrate 1000000: the probe $APP (its dictionary) on Klipper bridge $BUS'" "$ERR"
run flash "$W/1m.bin" --can "$BUS" --uuid "$APP"
check "bridge: the 1 Mbit/s image passes on the probe's word and is written (0)" \
	"[ $RC -eq 0 ] && has $OUT 'application running'" "$OUT" "$ERR"
run flash "$W/500k.bin" --can "$BUS" --uuid "$APP" --dry-run
check "bridge dry run: R3 refused on the running application's figure, not the host's" \
	"[ $RC -eq 65 ] && has $ERR 'refusal R3' && has $ERR 'bus bitrate from node $APP (its dictionary) on Klipper bridge'" "$ERR"

# Only a Katapult on the bus: no node tells the bus bitrate; the host's 1000000 is no answer.
kill "$(cat "$W/app.pid")"
can_twin kat 000102030405060708090A0B "katapult:can:1000000" || skip_all "twin"
run flash "$W/1m.bin" --can "$BUS" --uuid 90a4ae022dfc
check "bridge, no witness: R3 is refused (65) instead of passing on the host figure" \
	"[ $RC -eq 65 ] && has $ERR 'bus unknown' && has $ERR 'whose host bitrate (1000000) does not describe the bus' && has $ERR '--allow-bitrate-mismatch'" "$ERR"
check "... nothing was sent to the probe (no Katapult node id set for it)" \
	"[ \$(frames '3F0#11000102') -eq 0 ] || ! grep -q 'mode app' '$W/kat.err'" "$W/can0.log"
run flash "$W/1m.bin" --can "$BUS" --uuid 90a4ae022dfc --allow-bitrate-mismatch
check "bridge, no witness, --allow-bitrate-mismatch: written (0)" \
	"[ $RC -eq 0 ]" "$OUT" "$ERR"
