#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The print guard through the real binary: no probe is rebooted while Klipper prints (or is
# paused) or while Klipper holds it; --stop-klipper stops and starts the service stand-in, also
# after a failure; a dry run reboots nothing (no bootloader request on the bus).
set -u
. "$(dirname "$0")/live_lib.bash"

bus 1000000 || fail_start simbus "$W/simbus.out"
can_twin app E0EF270CA188000000000000 "app:can:1000000:CARTOGRAPHER 5.1.0" ||
	fail_start "twin app" "$W/app.out" "$W/app.err"
APP=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/app.out")
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.2" -o "$W/new.bin" >/dev/null
"$BIN/mkimage" app --iface can --bitrate 500000 --version "CARTOGRAPHER 5.1.2" -o "$W/500k.bin" >/dev/null
fake_systemctl klipper.service

# scenario FILE PRINT_STATE [TIMELINE]: Klipper ready, connected to the scanner on the bus.
scenario() {
	cat >"$1" <<EOF
{"info": {"state": "ready", "hostname": "voron", "software_version": "v0.13.0-91-g1a2b3c4"},
 "objects": {"configfile": {"settings": {
    "mcu scanner": {"canbus_uuid": "$APP", "canbus_interface": "can0"}}},
  "print_stats": {"state": "$2", "filename": "benchy.gcode"},
  "mcu scanner": {"mcu_version": "CARTOGRAPHER 5.1.0", "mcu_build_versions": "gcc: 12.2.1",
    "mcu_constants": {"MCU": "stm32f042x6", "CANBUS_FREQUENCY": 1000000,
                      "RESERVE_PINS_CAN": "PA11,PA12"}}}${3:-}}
EOF
}
requests() { frames '3F0#02'; }
# in_app: the twin's log says it runs its application and never entered Katapult
in_app() { grep -q 'mode app' "$W/app.err" && ! grep -q 'mode katapult' "$W/app.err"; }

# ---- printing, paused: refused, whatever is asked ----
scenario "$W/printing.json" printing
klipper "$W/printing.json" --can "$BUS" || fail_start klippyd "$W/klippyd.out"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP"
check "printing: flash refused with exit 75" "[ $RC -eq 75 ]" "$ERR"
check "printing: the message names the printer, the file and the state" \
	"has $ERR 'printer voron: benchy.gcode is printing (print_stats.state)'" "$ERR"
check "printing: says no option lifts it" "has $ERR 'no option lifts this'" "$ERR"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP" --stop-klipper --klipper-service klipper.service
check "printing: --stop-klipper does not override it; systemctl never called" \
	"[ $RC -eq 75 ] && [ ! -e '$W/systemctl.log' ]" "$ERR"
for verb in info bootloader reboot verify; do
	if [ $verb = verify ]; then run verify "$W/new.bin" --can "$BUS" --uuid "$APP"
	else run $verb --can "$BUS" --uuid "$APP"; fi
	check "printing: $verb refused too (75)" "[ $RC -eq 75 ] && has $ERR 'is printing'" "$ERR"
done
printf '[scanner]\ninterface = %s\nuuid = %s\nimage = %s\n' "$BUS" "$APP" "$W/new.bin" >"$W/fleet.ini"
run fleet --allow-unknown "$W/fleet.ini"
check "printing: fleet refused too (75)" "[ $RC -eq 75 ] && has $ERR 'is printing'" "$ERR"
check "printing: no bootloader request went on the bus, the application still runs" \
	"[ \$(requests) -eq 0 ] && in_app" "$W/can0.log"

scenario "$W/printing.json" paused
kill -HUP "$(cat "$W/klippyd.pid")"
wait_for "grep -q paused '$W/printing.json'"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP"
check "paused: refused (75), naming the state" \
	"[ $RC -eq 75 ] && has $ERR 'benchy.gcode is paused'" "$ERR"

# ---- a dry run reboots nothing, printing or not ----
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP" --dry-run
check "dry run while printing: exit 0, checked against Klipper's word for the probe" \
	"[ $RC -eq 0 ] && has $OUT \"passed against Klipper's API\"" "$OUT" "$ERR"
run flash --allow-unknown "$W/500k.bin" --can "$BUS" --uuid "$APP" --dry-run
check "dry run: R3 refuses a 500 kbit/s image (65), from the running application's facts" \
	"[ $RC -eq 65 ] && has $ERR 'refusal R3' && has $ERR 'dry run, not rebooted'" "$ERR"
check "dry runs: no bootloader request, the application still runs" \
	"[ \$(requests) -eq 0 ] && in_app" "$W/can0.log"

# ---- finished print, Klipper holds the probe ----
scenario "$W/printing.json" complete
kill -HUP "$(cat "$W/klippyd.pid")"
wait_for "grep -q complete '$W/printing.json'"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP"
check "Klipper holds the probe: refused (75), naming it and both ways out" \
	"[ $RC -eq 75 ] && has $ERR 'is connected to mcu scanner ($APP)' && has $ERR '--stop-klipper' && has $ERR 'systemctl stop'" "$ERR"
check "... nothing sent" "[ \$(requests) -eq 0 ] && in_app"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP" --stop-klipper
check "--stop-klipper without a unit to stop (the stand-in runs in no .service): refused" \
	"[ $RC -eq 75 ] && has $ERR 'cannot tell which systemd unit runs Klipper' && has $ERR '--klipper-service'" "$ERR"

run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP" --stop-klipper --klipper-service klipper.service
check "--stop-klipper: flash succeeds" "[ $RC -eq 0 ] && has $OUT 'application running'" "$OUT" "$ERR"
check "--stop-klipper: systemctl stop, then start, once each" \
	"[ \"\$(cat '$W/systemctl.log')\" = \"\$(printf 'stop klipper.service\nstart klipper.service')\" ]" "$W/systemctl.log"
check "--stop-klipper: says so, and that Klipper answers again" \
	"has $ERR 'stopped Klipper (klipper.service)' && has $ERR 'started Klipper (klipper.service) again: ready'" "$ERR"
check "--stop-klipper: the socket is back" "[ -S '$SOCK' ]"

rm -f "$W/systemctl.log"
run flash --allow-unknown "$W/500k.bin" --can "$BUS" --uuid "$APP" --stop-klipper --klipper-service klipper.service
check "--stop-klipper and a failing flash (R3, 65): Klipper is started again all the same" \
	"[ $RC -eq 65 ] && grep -q '^start klipper.service' '$W/systemctl.log' && has $ERR 'started Klipper (klipper.service) again'" "$ERR" "$W/systemctl.log"

# ---- Ctrl-C after Klipper was stopped: started again all the same ----
"$BIN/twin" --uid 0F0E0D0C0B0A090807060504 --flash "$W/slow.bin" --speed 0 --attach "$BUS" \
	--init "app:can:1000000:CARTOGRAPHER 5.1.0" --fault slow-block=2:3000000 \
	>"$W/slow.out" 2>"$W/slow.err" &
PIDS+=($!)
slow=$!
wait_for "grep -qs '^twin: ready' '$W/slow.out'" || not_ok "the slow twin did not start"
SLOW=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/slow.out")
(APP=$SLOW scenario "$W/slow.json" standby)
kill "$(cat "$W/klippyd.pid")"
wait_for "[ ! -S '$SOCK' ]" && klipper "$W/slow.json" --can "$BUS" || not_ok "klippyd did not start again"
rm -f "$W/systemctl.log"
"$CF" flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$SLOW" --stop-klipper --klipper-service klipper.service \
	>"$OUT" 2>"$ERR" &
cf=$!
wait_for "grep -q ': write' '$ERR'"
kill -INT "$cf"
wait "$cf"
RC=$?
check "--stop-klipper and Ctrl-C during the write (130): Klipper is started again, and it says so" \
	"[ $RC -eq 130 ] && grep -q '^stop klipper.service' '$W/systemctl.log' && grep -q '^start klipper.service' '$W/systemctl.log' && has $ERR 'started Klipper (klipper.service) again' && [ -S '$SOCK' ]" "$ERR" "$W/systemctl.log"
kill "$slow"

# ---- Klipper that does not answer; no Klipper at all ----
kill "$(cat "$W/klippyd.pid")"
"$BIN/klippyd" --socket "$SOCK" --scenario "$W/printing.json" --mute >"$W/mute.out" 2>&1 &
PIDS+=($!)
mute=$!
wait_for "grep -qs '^klippyd: ready' '$W/mute.out'"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP"
check "a Klipper that never answers may be printing: refused (75) after its deadline" \
	"[ $RC -eq 75 ] && has $ERR 'no answer to info' && has $ERR 'Klipper may be printing'" "$ERR"
kill "$mute"
wait_for "[ ! -S '$SOCK' ]"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP"
check "no Klipper socket: proceeds as before (exit 0)" "[ $RC -eq 0 ]" "$ERR"

# ---- dry runs without Klipper: the application is asked directly, not rebooted ----
before=$(requests)
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP" --dry-run
check "dry run, no Klipper: exit 0, checked against the running application's dictionary" \
	"[ $RC -eq 0 ] && has $OUT \"passed against the running application's dictionary\"" "$OUT" "$ERR"
check "dry run, no Klipper: no bootloader request on the bus (bus log)" \
	"[ \$(requests) -eq $before ]" "$W/can0.log"
run flash --allow-unknown "$W/new.bin" --can "$BUS" --uuid "$APP" --dry-run --json
check "dry run --json: a result with ok and the dry-run summary" \
	"jrow '.event==\"result\"' '.ok and (.summary|test(\"nothing written, never rebooted\"))'" "$OUT"

# ---- USB: Klipper holds the probe's tty ----
"$BIN/mkimage" app --iface usb --version "CARTOGRAPHER 5.1.2" -o "$W/usb-new.bin" >/dev/null
usb_twin usb 0E0028000851363131363530 "app:usb::CARTOGRAPHER 5.1.0" ||
	fail_start "USB twin" "$W/usb.out" "$W/usb.err"
cat >"$W/usb.json" <<EOF2
{"info": {"state": "ready", "hostname": "voron"},
 "objects": {"configfile": {"settings": {"mcu cartographer": {"serial": "$BYID"}}},
  "print_stats": {"state": "standby"},
  "mcu cartographer": {"mcu_version": "CARTOGRAPHER 5.1.0", "mcu_constants":
    {"MCU": "stm32f042x6", "RESERVE_PINS_USB": "PA11,PA12"}}}}
EOF2
klipper "$W/usb.json" --hold "$W/dev/ttyACM0" || fail_start klippyd "$W/klippyd.out"
run flash --allow-unknown "$W/usb-new.bin" --serial auto
check "USB probe Klipper holds: refused (75) with the Klipper message" \
	"[ $RC -eq 75 ] && has $ERR 'is connected to mcu cartographer' && has $ERR '--stop-klipper'" "$ERR"
run flash --allow-unknown "$W/usb-new.bin" --serial "$BYID" --dry-run
check "USB dry run while Klipper holds it: Klipper's word, exit 0, still the application" \
	"[ $RC -eq 0 ] && has $OUT \"passed against Klipper's API\" && ! grep -q 'mode katapult' '$W/usb.err'" "$OUT" "$ERR"
rm -f "$W/systemctl.log"
run flash --allow-unknown "$W/usb-new.bin" --serial auto --stop-klipper --klipper-service klipper.service
check "USB --stop-klipper: the held tty is freed, flash succeeds, Klipper started again" \
	"[ $RC -eq 0 ] && has $OUT 'application running' && grep -q '^start klipper.service' '$W/systemctl.log' && [ -S '$SOCK' ]" "$OUT" "$ERR"

# ---- USB while printing: every verb that may reboot the probe is refused over its tty too ----
# a new stand-in that prints (a reload by SIGHUP gives no sign when it is done)
sed -i 's/"standby"/"printing", "filename": "benchy.gcode"/' "$W/usb.json"
kill "$(cat "$W/klippyd.pid")"
wait_for "[ ! -S '$SOCK' ]" && klipper "$W/usb.json" --hold "$W/dev/ttyACM0" ||
	not_ok "USB printing: the stand-in did not start again"
MODES=$(grep -c 'mode ' "$W/usb.err")
for args in "info --serial $BYID" "bootloader --serial $BYID" "reboot --serial $BYID" \
	"verify $W/usb-new.bin --serial $BYID" "flash --allow-unknown $W/usb-new.bin --serial auto --stop-klipper"; do
	# shellcheck disable=SC2086 # the words of one command line
	run $args
	check "USB printing: ${args%% *} refused (75), no option lifts it" \
		"[ $RC -eq 75 ] && has $ERR 'benchy.gcode is printing' && has $ERR 'no option lifts this'" "$ERR"
done
check "USB printing: the probe was never rebooted (the twin's modes did not change)" \
	"[ \$(grep -c 'mode ' '$W/usb.err') -eq $MODES ] && grep 'mode ' '$W/usb.err' | tail -1 | grep -q 'mode app'" "$W/usb.err"
