#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `cartoflash status` through the real binary: a mixed set of probes (CAN application, CAN
# Katapult, USB application, ROM DFU, configured but silent UUID), with and without Klipper,
# and nothing rebooted: no bootloader request on the bus, every twin still in its mode.
set -u
. "$(dirname "$0")/live_lib.bash"

bus 1000000 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
can_twin app E0EF270CA188000000000000 "app:can:1000000:CARTOGRAPHER 5.1.0" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }
APP=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/app.out")
can_twin kat 000102030405060708090A0B "katapult:can:1000000:v0.0.1-110-g902f335"
# a 6.x build (dictionary "app": Cartographer): its USB product string is the MCU
"$BIN/mkimage" app --iface usb --version "CARTOGRAPHER V3 6.1.0 lite" --app-name Cartographer \
	-o "$W/app6.bin" >/dev/null
usb_twin usb 0E0028000851363131363530 katapult:usb --init "file:0x08002000:$W/app6.bin" ||
	{ echo "not ok - ${0##*/}: USB twin did not come up"; exit 1; }
TTY=$(readlink "$W/dev/ttyACM0")

# ---- no Klipper: every free probe is asked directly ----
run status --can "$BUS"
check "status exits 0" "[ $RC -eq 0 ]" "$ERR"
check "no Klipper: says there is no socket at the invoking user's default path" \
	"has $OUT 'Klipper: no Klipper API socket at $SOCK'" "$OUT"
check "CAN application identified: version, MCU, interface, bitrate, variant" \
	"grep -qE '^-  +can $BUS $APP +application +CARTOGRAPHER 5.1.0 \(stm32f042x6, can 1000000, full\)' $OUT" "$OUT"
check "CAN Katapult answered CONNECT: version and protocol" \
	"grep -qE 'can $BUS 90a4ae022dfc +katapult +Katapult v0.0.1-110-g902f335 \(stm32f042x6, protocol 1.1.0\)' $OUT" "$OUT"
check "USB application identified over its tty: 6.x lite" \
	"grep -qE 'usb 1-1.3 $TTY +application +CARTOGRAPHER V3 6.1.0 lite \(stm32f042x6, usb, lite\)' $OUT" "$OUT"
check "USB row shows the by-id link udev made (6.x: product string)" \
	"[ '$BYID' = '$W/byid/usb-Cartographer_stm32f042x6_0E0028000851363131363530-if00' ] && has $OUT 'by-id     $BYID'" "$OUT"
check "facts come from the identify dictionary, with the build" \
	"has $OUT 'from      its identify dictionary; build gcc: (15:12.2.rel1-1)'" "$OUT"
check "the bus bitrate and its source" \
	"has $OUT 'CAN $BUS: 2 nodes answered the query; bus bitrate 1000000 (interface $BUS)'" "$OUT"
check "the identified CAN application got node id 224 (SET_KLIPPER_NODEID on the wire)" \
	"[ \$(frames '3F0#01${APP^^}E0\$') -eq 1 ]" "$W/can0.log"
check "nothing rebooted: no bootloader request on the bus" "[ \$(frames '3F0#02') -eq 0 ]"
check "nothing rebooted: the twins never left their mode" \
	"! grep -q 'mode katapult' '$W/app.err' && ! grep -q 'mode katapult' '$W/usb.err' && ! grep -q 'mode app' '$W/kat.err'"

run scan --usb
check "scan --usb shows the same by-id link under the row" \
	"has $OUT '          by-id $BYID'" "$OUT"
run scan --usb --json
check "scan --usb --json carries by_id" "jrow '.event==\"usb_device\"' '.by_id==\"$BYID\"'" "$OUT"

# ---- the same again: the parked application is found by the sweep, not assigned again ----
run status --can "$BUS" --json
check "second run: the application on node 224 is found again (sweep), same facts" \
	"jrow '.event==\"probe\" and .uuid==\"$APP\"' '.mode==\"application\" and .node_id==224 and .firmware.version==\"CARTOGRAPHER 5.1.0\" and .firmware.source==\"identify\"'" "$OUT"
check "second run: no new node id assignment, still no bootloader request" \
	"[ \$(frames '3F0#01') -eq 1 ] && [ \$(frames '3F0#02') -eq 0 ]" "$W/can0.log"
check "JSON: USB row with serial, CAN UUID from it, port, by-id, variant" \
	"jrow '.event==\"probe\" and .link==\"usb\"' '.serial==\"0E0028000851363131363530\" and .uuid==\"54f5e30ca4d6\" and .usb_path==\"1-1.3\" and (.by_id|endswith(\"-if00\")) and .firmware.variant==\"lite\" and .firmware.interface==\"usb\"'" "$OUT"
check "JSON: Katapult row carries its CONNECT facts" \
	"jrow '.event==\"probe\" and .mode==\"katapult\"' '.katapult.version==\"v0.0.1-110-g902f335\" and .katapult.protocol==\"1.1.0\" and .firmware==null'" "$OUT"
check "JSON: bus and summary lines" \
	"jrow '.event==\"bus\"' '.bus_bitrate==1000000 and .klipper_bridge==false' && jrow '.event==\"summary\"' '.probes==3'" "$OUT"

# ---- the same bus behind a Klipper USB-to-CAN bridge: the host figure means nothing ----
cp -a "$SRC/tests/fixtures/sysfs/bridge/." "$W/sys/"	# class/net/can0 -> gs_usb 1d50:606f "Klipper"
run status --can "$BUS" --no-usb
check "bridge: the bus bitrate comes from the nodes' dictionaries, and says so" \
	"has $OUT 'bus bitrate 1000000 (node $APP (its dictionary) on Klipper bridge $BUS)'" "$OUT"
run status --can "$BUS" --no-usb --json
check "bridge: JSON marks the bus a Klipper bridge" \
	"jrow '.event==\"bus\"' '.klipper_bridge and .bus_bitrate==1000000 and (.bus_bitrate_source|test(\"Klipper bridge\"))'" "$OUT"
rm -rf "$W/sys/class/net"

# ---- a config file names one more UUID that nothing answers for ----
printf '[mcu scanner]\ncanbus_uuid: %s\n\n[mcu tool]\ncanbus_uuid = aabbccddeeff\n' "$APP" \
	>"$HOME/printer_data/config/printer.cfg"
run status --can "$BUS"
check "no Klipper: the user's printer.cfg names the rows; a silent UUID gets a row" \
	"grep -qE '^mcu scanner +can $BUS $APP +application' $OUT && grep -qE '^mcu tool +can \? aabbccddeeff +silent' $OUT" "$OUT"
check "silent row says why it may be silent" \
	"has $OUT 'silent: assigned by a running Klipper, powered off, or on another bus'" "$OUT"

# ---- Klipper runs and holds the CAN scanner (node 4) and the USB probe (its tty) ----
cat >"$W/ready.json" <<EOF
{"info": {"state": "ready", "software_version": "v0.13.0-91-g1a2b3c4"},
 "objects": {"configfile": {"settings": {
    "mcu": {"serial": "$BYID"},
    "mcu scanner": {"canbus_uuid": "$APP", "canbus_interface": "can0"},
    "mcu tool": {"canbus_uuid": "aabbccddeeff", "canbus_interface": "can0"}}},
  "print_stats": {"state": "printing", "filename": "benchy.gcode"},
  "mcu": {"mcu_version": "CARTOGRAPHER V3 6.1.0 lite", "mcu_build_versions": "gcc: 12.2.1",
          "mcu_constants": {"MCU": "stm32f042x6", "RESERVE_PINS_USB": "PA11,PA12"}},
  "mcu scanner": {"mcu_version": "CARTOGRAPHER 5.1.0", "mcu_build_versions": "gcc: 12.2.1",
          "mcu_constants": {"MCU": "stm32f042x6", "CANBUS_FREQUENCY": 1000000,
                            "RESERVE_PINS_CAN": "PA11,PA12"}},
  "mcu tool": {}}}
EOF
klipper "$W/ready.json" --hold "$W/dev/ttyACM0" --can "$BUS" || { echo "not ok - ${0##*/}: klippyd did not start"; exit 1; }
wait_for "[ \$(frames '3F0#01${APP^^}04\$') -eq 1 ]"
set_id_before=$(frames '3F0#01')
run status --can "$BUS"
check "Klipper answers: version, state, the print" \
	"has $OUT 'Klipper v0.13.0-91-g1a2b3c4 at $SOCK: ready; printing benchy.gcode'" "$OUT"
check "CAN probe Klipper holds: facts from Klipper's API, held by Klipper" \
	"grep -qE '^mcu scanner +can can0 $APP +application +CARTOGRAPHER 5.1.0 \(stm32f042x6, can 1000000, full\) +Klipper \(pid' $OUT && has $OUT \"from      Klipper's API; build gcc: 12.2.1\"" "$OUT"
check "USB probe Klipper holds: named by its config section, facts from the API" \
	"grep -qE '^mcu +usb 1-1.3 $TTY +application +CARTOGRAPHER V3 6.1.0 lite .* Klipper \(pid' $OUT" "$OUT"
check "configured, not connected: silent with the reason" \
	"grep -qE '^mcu tool +can can0 aabbccddeeff +silent' $OUT && has $OUT 'configured in Klipper, which is not connected to it'" "$OUT"
check "a probe Klipper holds is never spoken to: no node id assignment, no bootloader request" \
	"[ \$(frames '3F0#01') -eq $set_id_before ] && [ \$(frames '3F0#02') -eq 0 ]" "$W/can0.log"
check "Klipper was asked info, objects/list, objects/query (print_stats, configfile, mcus)" \
	"grep -q '^objects/query print_stats,idle_timeout,webhooks,configfile,mcu,mcu scanner,mcu tool$' '$W/klippyd.log'" "$W/klippyd.log"
run status --no-usb --can "$BUS" --json
check "JSON: Klipper event with the print state; held_by klipper on the CAN probe" \
	"jrow '.event==\"klipper\"' '.printing and .print_state==\"printing\"' && jrow '.event==\"probe\" and .uuid==\"$APP\"' '.held_by==\"klipper\" and .klipper_connected and .firmware.source==\"klipper\"'" "$OUT"

# ---- the socket vanishes (Klipper stopped) and a Klipper that never answers ----
kill -USR1 "$(cat "$W/klippyd.pid")"
wait_for "[ ! -S '$SOCK' ]"
run status --no-usb --can "$BUS"
check "socket gone: no Klipper, the configured rows come from printer.cfg" \
	"[ $RC -eq 0 ] && has $OUT 'Klipper: no Klipper API socket at $SOCK' && grep -qE '^mcu tool +can \? aabbccddeeff +silent' $OUT" "$OUT" "$ERR"
kill "$(cat "$W/klippyd.pid")"
"$BIN/klippyd" --socket "$SOCK" --scenario "$W/ready.json" --mute >"$W/mute.out" 2>&1 &
PIDS+=($!)
wait_for "grep -qs '^klippyd: ready' '$W/mute.out'"
t0=$(date +%s%N)
run status --no-usb --can "$BUS"
t1=$(date +%s%N)
check "Klipper accepts but never answers: status says so and goes on (deadline, exit 0)" \
	"[ $RC -eq 0 ] && has $OUT 'no answer to info within the deadline'" "$OUT" "$ERR"
check "... within its deadline (3 s for Klipper, not a hang)" "[ \$(( (t1 - t0) / 1000000 )) -lt 8000 ]"

# ---- ROM DFU under the emulated ROM (umockdev), beside the rest ----
if ! command -v umockdev-wrapper >/dev/null; then
	ok "ROM DFU under umockdev # SKIP umockdev not installed"
elif [ ! -x "$BIN/dfuemu" ]; then
	not_ok "ROM DFU under umockdev: $BIN/dfuemu not built (make tools)"
else
	timeout 60 "$BIN/dfuemu" -- "$CF" status --klippy-socket '' --json >"$OUT" 2>"$ERR"
	check "ROM DFU device listed with its USB path (emulated F042 ROM)" \
		"jrow '.event==\"probe\" and .mode==\"rom_dfu\"' '.link==\"dfu\" and (.usb_path|length>0)'" "$OUT" "$ERR"
	check "... next to the USB application" \
		"jrow '.event==\"probe\" and .link==\"usb\"' '.mode==\"application\"'" "$OUT"
fi
