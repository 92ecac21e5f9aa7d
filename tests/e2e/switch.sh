#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# USB<->CAN switch through a deployer with the real binary (katapult.md §4, images.md §6, R4):
# a hybrid twin (USB and CAN wired) is switched USB -> CAN and another one CAN -> USB; R4 refuses
# the deployer without --switch-to, a request that does not match the image, and an application
# of the other interface even with --switch-to.
set -u
. "$(dirname "$0")/twin_lib.bash"

export CARTOFLASH_SYSFS_ROOT=$W/sys # the twin mirrors its USB port here (test-only)
TTY=$W/dev/ttyACM0
UUID=e0ef270ca188 # katapult.md §2.3 vector: serial 16000C000F43304253373820
SERIAL=16000C000F43304253373820
mkdir -p "$W/dev" "$W/sys"
"$BIN/mkimage" deployer --iface can --bitrate 1000000 -o "$W/deployer-1m.bin" >/dev/null
"$BIN/mkimage" deployer --iface usb -o "$W/deployer-usb.bin" >/dev/null
"$BIN/mkimage" app --iface usb --version "CARTOGRAPHER 5.1.0" -o "$W/usb-app.bin" >/dev/null
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.2" \
	-o "$W/can-app.bin" >/dev/null

# cf NAME ARGS...: cartoflash with stdout+stderr in $W/NAME.txt, exit code in $W/NAME.rc.
cf() {
	local name=$1
	shift
	"$CARTOFLASH" "$@" >"$W/$name.txt" 2>&1
	echo $? >"$W/$name.rc"
}
rc() { cat "$W/$1.rc"; }
has() { grep -qF -- "$2" "$W/$1.txt"; }

bus bus 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }

# ---- USB -> CAN: a USB application under a USB Katapult ----
twin p --init katapult:usb --init "file:0x08002000:$W/usb-app.bin" --speed 0 \
	--attach "sim:$W/bus" --pty "$TTY" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }
wait_for "[ -e '$TTY' ] && [ -e '$W/sys/bus/usb/devices/1-1.3/idVendor' ]" ||
	{ echo "not ok - ${0##*/}: the twin's USB port did not appear"; exit 1; }

cp "$W/p.bin" "$W/p.before.bin"	# the twin's flash, persisted as it changes
cf refused flash --allow-unknown "$W/deployer-1m.bin" --serial auto
check "(a) no --switch-to: refused with exit 65" "[ $(rc refused) -eq 65 ]" "$W/refused.txt"
check "(a) names R4, both interfaces and the override" \
	"has refused 'refusal R4: interface: image can, device usb' && has refused '--switch-to can'" \
	"$W/refused.txt"
cf untouched verify "$W/usb-app.bin" --serial auto
check "(a) nothing written: the twin's flash is byte for byte as before (and verify agrees)" \
	"cmp -s '$W/p.before.bin' '$W/p.bin' && [ $(rc untouched) -eq 0 ]" "$W/untouched.txt"

cf mismatch flash --allow-unknown "$W/deployer-1m.bin" --serial auto --switch-to usb
check "mismatch: --switch-to usb with a CAN deployer is refused (65)" \
	"[ $(rc mismatch) -eq 65 ]" "$W/mismatch.txt"
check "mismatch: R4 names the image's and the requested interface" \
	"has mismatch 'refusal R4: interface vs --switch-to: image can, device usb' && has mismatch 'does not switch to the requested interface'" \
	"$W/mismatch.txt"

cf appswitch flash --allow-unknown "$W/can-app.bin" --serial auto --switch-to can
check "an application of the other interface stays refused with --switch-to" \
	"[ $(rc appswitch) -eq 65 ] && has appswitch 'an application cannot change the interface; flash a deployer first'" \
	"$W/appswitch.txt"

cf dry flash --allow-unknown "$W/deployer-1m.bin" --serial auto --switch-to can --dry-run
check "--dry-run --switch-to can: R4 passes, nothing written (the twin's flash unchanged)" \
	"[ $(rc dry) -eq 0 ] && cmp -s '$W/p.before.bin' '$W/p.bin' && [ -s '$W/p.err' ] &&
	 ! grep -q 'mode deployer' '$W/p.err'" "$W/dry.txt"

# --can IFACE next to --serial: the probe is followed onto that bus after the deployer.
cf switch flash --allow-unknown "$W/deployer-1m.bin" --serial auto --switch-to can --can "sim:$W/bus"
check "(b) --switch-to can: the deployer is written, exit 0" "[ $(rc switch) -eq 0 ]" \
	"$W/switch.txt"
check "(b) the report names the CAN UUID and bitrate" \
	"has switch 'back as CAN Katapult at 1000000 bit/s, UUID $UUID' && has switch 'Katapult node on CAN at 1000000 bit/s with UUID $UUID (from its USB serial $SERIAL)'" \
	"$W/switch.txt"
check "(b) the report gives the next command and the printer.cfg line" \
	"has switch 'next: cartoflash flash CAN_APP.bin --can sim:$W/bus --uuid $UUID' && has switch '[scanner] canbus_uuid: $UUID'" \
	"$W/switch.txt"
check "(b) the report warns that a power loss in the rewrite needs DFU" \
	"has switch 'a power loss during that rewrite needs ROM DFU recovery'" "$W/switch.txt"
check "(b) no wait for the USB application (finish does not time out)" \
	"! has switch 'did not appear' && ! has switch 'application running'" "$W/switch.txt"
check "(b) followed: the probe answers on the named bus as Katapult" \
	"has switch 'follow: answers on sim:$W/bus as Katapult after'" "$W/switch.txt"
check "the probe rewrites its bootloader and restarts in Katapult" \
	"wait_for \"grep -q 'bootloader region rewritten' '$W/p.err'\" && wait_for \"tail -1 '$W/p.err' | grep -q 'mode katapult'\"" \
	"$W/p.err"
check "the USB tty is gone" "wait_for \"[ ! -e '$TTY' ]\""

cf scan scan --can "sim:$W/bus"
check "(c) scan --can shows the probe in Katapult with that UUID" \
	"has scan '$UUID  katapult'" "$W/scan.txt"
cf canapp flash --allow-unknown "$W/can-app.bin" --can "sim:$W/bus" --uuid "$UUID"
check "(c) the CAN application flashes through the new Katapult" \
	"[ $(rc canapp) -eq 0 ] && has canapp 'application running'" "$W/canapp.txt"
cf scan2 scan --can "sim:$W/bus"
check "(c) the application answers on CAN" "has scan2 '$UUID  application'" "$W/scan2.txt"
stop p

# ---- CAN -> USB: a CAN application under a CAN Katapult ----
rm -rf "$W/sys" "$W/dev" && mkdir -p "$W/sys" "$W/dev"
twin q --init katapult:can:1000000 --init "file:0x08002000:$W/can-app.bin" --speed 0 \
	--attach "sim:$W/bus" --pty "$TTY" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }

cp "$W/q.bin" "$W/q.before.bin"
cf back0 flash --allow-unknown "$W/deployer-usb.bin" --can "sim:$W/bus" --uuid "$UUID"
check "CAN: no --switch-to: refused with exit 65, R4 named" \
	"[ $(rc back0) -eq 65 ] && has back0 'refusal R4' && has back0 '--switch-to usb'" \
	"$W/back0.txt"
# fleet: the manifest key switch_to is the per-probe --switch-to.
printf '[probe]\ninterface = sim:%s\nuuid = %s\nimage = deployer-usb.bin\n' "$W/bus" "$UUID" \
	>"$W/fleet.ini"
cf fleet0 fleet --allow-unknown "$W/fleet.ini" --dry-run
check "fleet without switch_to: refused by R4 (65)" \
	"[ $(rc fleet0) -eq 65 ] && has fleet0 'refusal R4'" "$W/fleet0.txt"
cf fleet1 fleet --allow-unknown "$W/fleet.ini" --dry-run --switch-to usb
check "fleet --dry-run --switch-to usb: R4 passes, nothing written (0, flash bytes unchanged)" \
	"[ $(rc fleet1) -eq 0 ] && has fleet1 'dry run: the deployer passes every check' &&
	 cmp -s '$W/q.before.bin' '$W/q.bin'" "$W/fleet1.txt"
echo "switch_to = usb" >>"$W/fleet.ini"
cf back fleet --allow-unknown "$W/fleet.ini" --json
check "fleet switch_to = usb writes the USB deployer, exit 0" "[ $(rc back) -eq 0 ]" \
	"$W/back.txt"
check "fleet: the JSON report says the USB serial is the same chip UID and the next command" \
	"grep -q '\"event\": *\"message\"' '$W/back.txt' && has back 'same chip UID that CAN UUID $UUID is derived from' && has back 'next: cartoflash flash USB_APP.bin --serial auto'" \
	"$W/back.txt"
check "CAN: the USB Katapult appears (1d50:6177)" \
	"wait_for \"[ -e '$TTY' ] && grep -qx 6177 '$W/sys/bus/usb/devices/1-1.3/idProduct'\"" \
	"$W/q.err"
cf usbapp flash --allow-unknown "$W/usb-app.bin" --serial auto
check "CAN: the USB application flashes over --serial auto" \
	"[ $(rc usbapp) -eq 0 ] && has usbapp 'application running'" "$W/usbapp.txt"
stop q

# ---- the follow fails: the named bus is not the one the probe is on ----
rm -rf "$W/sys" "$W/dev" && mkdir -p "$W/sys" "$W/dev"
bus bus2 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
bus empty 1000000 0 || { echo "not ok - ${0##*/}: simbus did not start"; exit 1; }
twin r --init katapult:usb --init "file:0x08002000:$W/usb-app.bin" --speed 0 \
	--attach "sim:$W/bus2" --pty "$TTY" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }
wait_for "[ -e '$TTY' ] && [ -e '$W/sys/bus/usb/devices/1-1.3/idVendor' ]" ||
	{ echo "not ok - ${0##*/}: the twin's USB port did not appear"; exit 1; }
cf lost flash --allow-unknown "$W/deployer-1m.bin" --serial auto --switch-to can --can "sim:$W/empty" \
	--timeout 2s
check "follow on the wrong bus: exit 69, names the bus and what to check" \
	"[ $(rc lost) -eq 69 ] && has lost 'no Katapult answered on sim:$W/empty within 2.0 s after the deployer was written' && has lost 'check its CAN wiring'" \
	"$W/lost.txt"
stop r

# ---- no switch: a CAN deployer over CAN (a Katapult update) is confirmed on the same bus ----
twin s --init katapult:can:1000000 --init "file:0x08002000:$W/can-app.bin" --speed 0 \
	--attach "sim:$W/bus" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }
cf same flash --allow-unknown "$W/deployer-1m.bin" --can "sim:$W/bus" --uuid "$UUID"
check "CAN deployer over CAN: no --switch-to needed, the new Katapult answers (0)" \
	"[ $(rc same) -eq 0 ] && has same 'back as CAN Katapult at 1000000 bit/s, UUID $UUID; Katapult answers'" \
	"$W/same.txt"
check "CAN deployer over CAN: printer.cfg stays, nothing to re-cable" \
	"has same 'unchanged in printer.cfg: [scanner] canbus_uuid: $UUID' && ! has same 'moving it'" \
	"$W/same.txt"
stop s
