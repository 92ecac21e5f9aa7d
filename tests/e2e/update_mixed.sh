#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# cartoflash update --all on a mixed simulated machine: two CAN buses (1 Mbit/s and 500 kbit/s)
# with two probes each and two USB probes, one old and one current on each link; a plain
# firmware folder of synthesised builds (full and lite, 1M, 500k and 250k, USB, a K1 build, two
# versions). Each probe gets the file that fits it, proven by its flash bytes; current probes
# see no bootloader request (bus log) or 1200-baud touch (twin log); a second run changes
# nothing; --verify-current reads one back; the final table and update_result events; JSON
# validated against docs/json.md; a Klipper toolhead board never planned; two probes Klipper
# holds: refused without --stop-klipper (75), with it both written while Klipper is stopped and
# started once (the stand-in's systemctl log); a probe left in Katapult: named, written only
# with --variant.
set -u
. "$(dirname "$0")/can_lib.bash"
. "$(dirname "$0")/json_lib.bash"
json_lib_init "$work"
[ -x "$BIN/klippyd" ] || { echo "not ok - ${0##*/}: $BIN/klippyd not built (make tools)"; exit 1; }
export CARTOFLASH_SYSFS_ROOT=$work/sys CARTOFLASH_LOCK_DIR=$work/locks HOME=$work/home
mkdir -p "$work/sys" "$work/dev" "$work/locks" "$work/home"

fw=$work/fw
mkdir -p "$fw"
mk() { "$BIN/mkimage" app "$@" >/dev/null; }
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -s 20000 -o "$fw/can1m-5.1.0.bin"
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER V3 6.1.0" -s 21000 -o "$fw/can1m-6.1.0.bin"
mk --iface can --bitrate 1000000 --version "CARTOGRAPHER V3 6.1.0 lite" -s 21000 -o "$fw/can1m-6.1.0-lite.bin"
mk --iface can --bitrate 500000 --version "CARTOGRAPHER V3 6.1.0" -s 21500 -o "$fw/can500k-6.1.0.bin"
mk --iface can --bitrate 500000 --version "CARTOGRAPHER V3 6.1.0 lite" -s 21500 -o "$fw/can500k-6.1.0-lite.bin"
mk --iface can --bitrate 250000 --version "CARTOGRAPHER V3 6.1.0" -s 21500 -o "$fw/can250k-6.1.0.bin"
mk --iface usb --version "CARTOGRAPHER V3 6.1.0" -s 22000 -o "$fw/usb-6.1.0.bin"
mk --iface usb --version "CARTOGRAPHER K1 5.1.0" -s 22000 -o "$fw/usb-k1-5.1.0.bin"
# a Klipper toolhead board on bus A: not a Cartographer probe, never in an --all plan
mk --iface can --bitrate 1000000 --version "v0.12.0-456-g1a2b3c4d" -s 20000 -o "$work/toolhead.bin"
# what the old probes run (not in the source)
mk --iface can --bitrate 500000 --version "CARTOGRAPHER V3 6.0.0 lite" -s 20500 -o "$work/b1-runs.bin"
mk --iface usb --version "CARTOGRAPHER 5.1.0" -s 20000 -o "$work/u1-runs.bin"

# bus NAME BITRATE: a simulated bus at $work/NAME, its log $work/NAME.log
bus() {
	"$BIN/simbus" --socket "$work/$1" --bitrate "$2" --speed 0 --log "$work/$1.log" \
		>"$work/$1.out" 2>&1 &
	pids+=($!)
	wait_line "$work/$1.out" "ready"
}
# can_twin NAME UID BUS BITRATE IMAGE: a CAN probe running IMAGE under Katapult
can_twin() {
	"$BIN/twin" --uid "$2" --flash "$work/$1.bin" --init "katapult:can:$4" \
		--init "file:0x08002000:$5" --speed 0 --attach "sim:$work/$3" \
		>"$work/$1.out" 2>"$work/$1.err" &
	pids+=($!)
	echo $! >"$work/$1.pid"
	wait_line "$work/$1.out" "ready" || return 1
	sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/$1.out" | head -1 >"$work/$1.uuid"
}
# usb_twin NAME UID PORT TTY IMAGE: a USB probe on USB port PORT (sysfs fixture), tty TTY
usb_twin() {
	CARTOFLASH_SYSFS_PORT=$3 "$BIN/twin" --uid "$2" --flash "$work/$1.bin" --init katapult:usb \
		--init "file:0x08002000:$5" --pty "$work/dev/$4" --speed 0 \
		>"$work/$1.out" 2>"$work/$1.err" &
	pids+=($!)
	echo $! >"$work/$1.pid"
	wait_line "$work/$1.out" "ready" || return 1
	for _ in $(seq 200); do
		[ -e "$work/dev/$4" ] && [ -e "$work/sys/bus/usb/devices/$3/idVendor" ] && break
		sleep 0.05
	done
	[ -e "$work/dev/$4" ] || return 1
	sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/$1.out" | head -1 >"$work/$1.uuid"
}

bus busa 1000000 || fail_start "simbus a"
bus busb 500000 || fail_start "simbus b"
can_twin a1 0A000000000000000000A001 busa 1000000 "$fw/can1m-5.1.0.bin" || fail_start "twin a1"
can_twin a2 0A000000000000000000A002 busa 1000000 "$fw/can1m-6.1.0.bin" || fail_start "twin a2"
can_twin x1 0A000000000000000000A0FF busa 1000000 "$work/toolhead.bin" || fail_start "twin x1"
can_twin b1 0B000000000000000000B001 busb 500000 "$work/b1-runs.bin" || fail_start "twin b1"
can_twin b2 0B000000000000000000B002 busb 500000 "$fw/can500k-6.1.0.bin" || fail_start "twin b2"
usb_twin u1 0C000000000000000000C001 1-1.2 ttyACM0 "$work/u1-runs.bin" || fail_start "twin u1"
usb_twin u2 0C000000000000000000C002 1-1.3 ttyACM1 "$fw/usb-k1-5.1.0.bin" || fail_start "twin u2"
for t in a1 a2 x1 b1 b2 u1 u2; do eval "$t=\$(uuid_of $t)"; done
U=(update --firmware "$fw" --can "sim:$work/busa" --can "sim:$work/busb" --klippy-socket ""
	--allow-unknown)
boot() { grep -ci "3F0#02$2" "$work/$1.log"; }	# bootloader requests to a UUID on a bus
touched() { grep -c 'mode katapult' "$work/$1.err"; }	# the twin entered Katapult
sha() { sha256sum "$1" | cut -c1-64; }

# ---- the plan alone ----
"$CARTOFLASH" "${U[@]}" --all --dry-run --json >"$work/plan.json" 2>"$work/plan.err"
rc=$?
check "dry run: exit 0" '[ $rc -eq 0 ]'
validate "dry run --json" "$work/plan.json" summary
plan() { py "$work/plan.json" "[(o['verdict'], o.get('sha256','')) for o in j if o['event']=='update_plan' and o['probe']=='$1'][0]"; }
check "plan: a1 (5.1.0, bus 1M) -> 6.1.0 full for 1M, the newest that fits" \
	'[ "$(plan "$a1")" = "flash|$(sha "$fw/can1m-6.1.0.bin")" ]'
check "plan: b1 (6.0.0 lite, bus 500k) -> 6.1.0 lite for 500k" \
	'[ "$(plan "$b1")" = "flash|$(sha "$fw/can500k-6.1.0-lite.bin")" ]'
check "plan: u1 (USB 5.1.0) -> 6.1.0 USB" '[ "$(plan "$u1")" = "flash|$(sha "$fw/usb-6.1.0.bin")" ]'
check "plan: a2, b2 current on their bus's build; u2 (K1) current on the K1 build, never the full one" \
	'[ "$(plan "$a2")" = "current|$(sha "$fw/can1m-6.1.0.bin")" ] && [ "$(plan "$b2")" = "current|$(sha "$fw/can500k-6.1.0.bin")" ] && [ "$(plan "$u2")" = "current|$(sha "$fw/usb-k1-5.1.0.bin")" ]'
check "plan: the 6.x recalibration warning for a1 and u1 (5.x -> 6.x), not for b1 (6.0 -> 6.1)" \
	'[ "$(py "$work/plan.json" "sorted(o[\"probe\"] for o in j if o[\"event\"]==\"update_plan\" and \"recalibrate\" in o) == sorted([\"$a1\", \"$u1\"])")" = True ] && grep -q "$a1.*recalibrate it before the next print" "$work/plan.err"'
check "plan: six probes; the toolhead board (Klipper v0.12.0) on bus A is no Cartographer probe: not planned" \
	'[ "$(py "$work/plan.json" "len([o for o in j if o[\"event\"]==\"update_plan\"])")" = 6 ] && ! grep -q "$x1" "$work/plan.json"'
check "the dry run rebooted nothing: no bootloader request on either bus, no USB touch" \
	'[ -s "$work/busa.log" ] && ! grep -qi "3F0#02" "$work/busa.log" "$work/busb.log" && [ $(touched u1) -eq 0 ]'

# ---- the update ----
"$CARTOFLASH" "${U[@]}" --all --json >"$work/up.json" 2>"$work/up.err"
rc=$?
check "update --all: exit 0" '[ $rc -eq 0 ]' "$work/up.err"
validate "update --all --json" "$work/up.json" summary
res() { py "$work/up.json" "[(o['result'], o.get('previous_version',''), o.get('version',''), o['written']) for o in j if o['event']=='update_result' and o['probe']=='$1'][0]"; }
check "update_result: a1 5.1.0 -> V3 6.1.0 updated, written" \
	'[ "$(res "$a1")" = "updated|CARTOGRAPHER 5.1.0|CARTOGRAPHER V3 6.1.0|True" ]'
check "update_result: u1 updated, a2 and u2 current, not written" \
	'[ "$(res "$u1")" = "updated|CARTOGRAPHER 5.1.0|CARTOGRAPHER V3 6.1.0|True" ] && [ "$(res "$a2")" = "current|CARTOGRAPHER V3 6.1.0|CARTOGRAPHER V3 6.1.0|False" ] && [ "$(res "$u2")" = "current|CARTOGRAPHER K1 5.1.0|CARTOGRAPHER K1 5.1.0|False" ]'
check "update_result lines come before the summary, one per probe" \
	'[ "$(json_events "$work/up.json" | grep -o "update_result.*summary$" | grep -o update_result | wc -l)" -eq 6 ]'
check "the old probes got their bootloader request, on their own bus only" \
	'[ $(boot busa "$a1") -ge 1 ] && [ $(boot busb "$b1") -ge 1 ] && [ $(boot busb "$a1") -eq 0 ] && [ $(boot busa "$b1") -eq 0 ]'
check "the current probes were untouched: no bootloader request for a2, b2, the toolhead; u2 never in Katapult" \
	'[ $(boot busa "$x1") -eq 0 ] && [ $(boot busa "$a2") -eq 0 ] && [ $(boot busb "$b2") -eq 0 ] && [ $(touched u2) -eq 0 ] && [ $(touched u1) -ge 1 ]'
A1BOOT=$(boot busa "$a1")

# ---- the same again, human output: nothing to write ----
BOOTB=$(grep -ci "3F0#02" "$work/busb.log")
"$CARTOFLASH" "${U[@]}" --all >"$work/again.txt" 2>"$work/again.err"
rc=$?
check "second run: exit 0, every probe current" \
	'[ $rc -eq 0 ] && [ $(grep -c " -> current " "$work/again.txt") -eq 6 ]' "$work/again.txt"
check "second run: no new bootloader request on either bus, no USB touch" \
	'[ $(boot busa "$a1") -eq "$A1BOOT" ] && [ $(grep -ci "3F0#02" "$work/busb.log") -eq "$BOOTB" ] && [ $(touched u2) -eq 0 ]'

# ---- --verify-current: the current probe a2 is read back, not skipped ----
"$CARTOFLASH" "${U[@]}" --uuid "$a2" --verify-current >"$work/vc.txt" 2>"$work/vc.err"
rc=$?
check "--verify-current: exit 0, a2 read back (bootloader request), the final table says verified" \
	'[ $rc -eq 0 ] && [ $(boot busa "$a2") -ge 1 ] && grep -q "^$a2 .*CARTOGRAPHER V3 6.1.0 *-> CARTOGRAPHER V3 6.1.0 *verified" "$work/vc.txt"' \
	"$work/vc.txt"
check "--verify-current: the verify read every block, nothing written" \
	'grep -q "blocks match" "$work/vc.txt" && ! grep -q "written" "$work/vc.txt"' "$work/vc.txt"

# ---- the toolhead board named: found, but no Cartographer firmware runs on it ----
"$CARTOFLASH" "${U[@]}" --uuid "$x1" --json >"$work/x1.json" 2>/dev/null
rc=$?
check "--uuid of the toolhead board: planned as none (not_cartographer), exit 65, no bootloader request" \
	'[ $rc -eq 65 ] && [ "$(py "$work/x1.json" "[(o[\"verdict\"], o[\"reason\"], o[\"runs\"]) for o in j if o[\"event\"]==\"update_plan\"][0]")" = "none|not_cartographer|v0.12.0-456-g1a2b3c4d" ] && [ $(boot busa "$x1") -eq 0 ]'

# ---- a non-answering --uuid: an error object, exit 69 ----
"$CARTOFLASH" "${U[@]}" --uuid 0123456789ab --json >"$work/none.json" 2>/dev/null
rc=$?
check "--uuid nobody answers as: exit 69, an error object (no_device) and the summary" \
	'[ $rc -eq 69 ] && [ "$(py "$work/none.json" "[(o[\"code\"], o[\"exit_code\"]) for o in j if o[\"event\"]==\"error\"][0]")" = "no_device|69" ]'
validate "non-answering --uuid --json" "$work/none.json" summary

# ---- Klipper holds a1 and a2 (it reports 5.1.0 for both) ----
cat >"$work/klipper.json" <<EOF
{"info": {"state": "ready", "software_version": "v0.13.0"},
 "objects": {"configfile": {"settings": {"mcu scanner": {"canbus_uuid": "$a1", "canbus_interface": "sim:$work/busa"},
                                         "mcu second": {"canbus_uuid": "$a2", "canbus_interface": "sim:$work/busa"}}},
  "print_stats": {"state": "standby"},
  "mcu scanner": {"mcu_version": "CARTOGRAPHER 5.1.0", "mcu_build_versions": "gcc: 12.2.1",
                  "mcu_constants": {"MCU": "stm32f042x6", "CANBUS_FREQUENCY": 1000000}},
  "mcu second": {"mcu_version": "CARTOGRAPHER 5.1.0", "mcu_build_versions": "gcc: 12.2.1",
                 "mcu_constants": {"MCU": "stm32f042x6", "CANBUS_FREQUENCY": 1000000}}}}
EOF
"$BIN/klippyd" --socket "$work/klippy.sock" --scenario "$work/klipper.json" --can "sim:$work/busa" \
	--pidfile "$work/klippyd.pid" >"$work/klippyd.out" 2>&1 &
pids+=($!)
wait_line "$work/klippyd.out" "ready" || fail_start klippyd
A1BOOT=$(boot busa "$a1")
K=(update --firmware "$fw" --can "sim:$work/busa" --klippy-socket "$work/klippy.sock" --allow-unknown)
"$CARTOFLASH" "${K[@]}" --uuid "$a1" --json >"$work/held.json" 2>"$work/held.err"
rc=$?
check "Klipper holds a1 (it reports 5.1.0): planned, refused without --stop-klipper, exit 75" \
	'[ $rc -eq 75 ] && [ "$(py "$work/held.json" "[o[\"verdict\"] for o in j if o[\"event\"]==\"update_plan\"][0]")" = flash ] && [ "$(py "$work/held.json" "[(o[\"code\"], o[\"exit_code\"]) for o in j if o[\"event\"]==\"error\"][0]")" = "busy|75" ]' \
	"$work/held.err"
check "... the error names --stop-klipper; no bootloader request was sent" \
	'grep -q -- "--stop-klipper" "$work/held.err" && [ $(boot busa "$a1") -eq "$A1BOOT" ]'
validate "Klipper-held refusal --json" "$work/held.json" summary

# --stop-klipper: a systemctl on PATH that stops (SIGUSR1) and starts (SIGUSR2) the stand-in as
# systemd would klipper.service, logging its calls; both probes are written in one run
mkdir -p "$work/bin"
cat >"$work/bin/systemctl" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$work/systemctl.log"
pid=\$(cat "$work/klippyd.pid")
case \$1 in
stop) kill -USR1 "\$pid"; for i in \$(seq 250); do [ -S "$work/klippy.sock" ] || exit 0; sleep 0.02; done; exit 1 ;;
start) kill -USR2 "\$pid"; for i in \$(seq 250); do [ -S "$work/klippy.sock" ] && exit 0; sleep 0.02; done; exit 1 ;;
esac
EOF
chmod +x "$work/bin/systemctl"
A2BOOT=$(boot busa "$a2")
PATH=$work/bin:$PATH "$CARTOFLASH" "${K[@]}" --all --no-usb --stop-klipper --klipper-service klipper.service \
	>"$work/stop.txt" 2>"$work/stop.err"
rc=$?
check "--stop-klipper: both probes Klipper holds are written in one run (exit 0), the toolhead left out" \
	'[ $rc -eq 0 ] && [ $(grep -cE "^($a1|$a2) .* -> CARTOGRAPHER V3 6.1.0 +updated" "$work/stop.txt") -eq 2 ] && ! grep -q "$x1" "$work/stop.txt"'
check "--stop-klipper: Klipper stopped once and started once for both (systemctl log), each probe rebooted" \
	'[ "$(tr "\n" , <"$work/systemctl.log")" = "stop klipper.service,start klipper.service," ] && [ $(boot busa "$a1") -gt "$A1BOOT" ] && [ $(boot busa "$a2") -gt "$A2BOOT" ]'

# ---- a probe an interrupted update left in Katapult (bus B): it tells no variant ----
"$BIN/twin" --uid 0B000000000000000000B0CC --flash "$work/k1.bin" --init katapult:can:500000 \
	--speed 0 --attach "sim:$work/busb" >"$work/k1.out" 2>"$work/k1.err" &
pids+=($!)
echo $! >"$work/k1.pid"
wait_line "$work/k1.out" "ready" || fail_start "twin k1"
k1=$(sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/k1.out" | head -1)
B=(update --firmware "$fw" --can "sim:$work/busb" --klippy-socket "" --allow-unknown --no-usb)
"$CARTOFLASH" "${B[@]}" --all --dry-run --json >"$work/kall.json" 2>/dev/null
check "--all leaves a node in Katapult out (it names no Cartographer firmware)" \
	'[ -s "$work/kall.json" ] && ! grep -q "$k1" "$work/kall.json"'
"$CARTOFLASH" "${B[@]}" --uuid "$k1" --json >"$work/k.json" 2>"$work/k.err"
rc=$?
check "--uuid of a probe in Katapult, no --variant: planned as none (variant_unknown), exit 65, nothing written" \
	'[ $rc -eq 65 ] && [ "$(py "$work/k.json" "[(o[\"verdict\"], o[\"reason\"], o[\"runs\"]) for o in j if o[\"event\"]==\"update_plan\"][0]")" = "none|variant_unknown|-" ] && ! grep -q "mode app" "$work/k1.err"' \
	"$work/k.json"
check "... and says how to go on (--variant)" \
	'grep -q -- "--variant full, lite, k1 or ht" "$work/k.json"'
validate "Katapult-only probe --json" "$work/k.json" summary
"$CARTOFLASH" "${B[@]}" --uuid "$k1" --variant lite >"$work/kv.txt" 2>"$work/kv.err"
rc=$?
check "--variant lite: the newest lite build for its bus (500k) written, the probe runs it (exit 0)" \
	'[ $rc -eq 0 ] && grep -q "^$k1 .* -> CARTOGRAPHER V3 6.1.0 lite *updated" "$work/kv.txt" && grep -q "mode app" "$work/k1.err"' \
	"$work/kv.txt" "$work/kv.err"

for t in a1 a2 x1 b1 b2 u1 u2 k1; do stop_twin $t; done
check "flash bytes: a1 holds can1m-6.1.0, b1 can500k-6.1.0-lite, u1 usb-6.1.0" \
	'app_matches a1 "$fw/can1m-6.1.0.bin" && app_matches b1 "$fw/can500k-6.1.0-lite.bin" && app_matches u1 "$fw/usb-6.1.0.bin"'
check "flash bytes: k1 (was Katapult only) holds can500k-6.1.0-lite" 'app_matches k1 "$fw/can500k-6.1.0-lite.bin"'
check "flash bytes: a2, b2, u2 and the toolhead still hold what they ran" \
	'app_matches x1 "$work/toolhead.bin" && app_matches a2 "$fw/can1m-6.1.0.bin" && app_matches b2 "$fw/can500k-6.1.0.bin" && app_matches u2 "$fw/usb-k1-5.1.0.bin"'
echo "1..$n"
