# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: the probe is unplugged in the middle of a USB-serial flash (the twin's gadget goes
# away under cdc-acm). cartoflash must name the device, the stage and the next step; thanks to the
# safe write order (design rule 3) the re-plugged probe boots into Katapult (1d50:6177), and a
# second `cartoflash flash` completes and brings the application back (1d50:614e).
. /host/tools/rig/guest/lib.sh

if ! rig_usb_setup || ! modprobe usb_f_fs || ! modprobe cdc_acm; then
	rig_fail "dummy_hcd, usb_f_fs and cdc_acm load" "modprobe failed"
	exit 1
fi
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in rig-acm mkimage cartoflash; do
	rig_have_bin $b || { rig_fail "programs built" "$BUILDDIR/$b missing"; exit 1; }
done

UID_HEX=4F1C2A0035001A4E32383320
W=/tmp/unplug
rig_in "mkdir -p $W && $BUILDDIR/mkimage full --iface usb -o $W/probe.flash &&
	$BUILDDIR/mkimage app --iface usb --version 'CARTOGRAPHER 5.2.0' -s 16384 -o $W/new.bin" \
	>/tmp/mk.out 2>&1 || { rig_fail "test images" "mkimage failed" /tmp/mk.out; exit 1; }
twin_stop() { for p in $(pidof rig-acm); do kill "$p"; done; rig_wait 50 sh -c "! pidof rig-acm"; }
twin_start() {	# $1 = log name
	rig_in "$BUILDDIR/rig-acm --log $W/$1.log --timeout 100 twin $W/probe.flash $UID_HEX \
		2>$W/$1.err" &
}
progress() {	# bytes written so far, from the flash --json progress events
	sed -n 's/.*"stage":"write","done":\([0-9]*\).*/\1/p' $HR$W/flash1.json | tail -n 1
}

twin_start acm1
rig_wait 100 rig_usb_present 1d50 614e || { rig_fail "twin enumerates" "no 1d50:614e"; exit 1; }
rig_in "timeout 60 '$BUILDDIR/cartoflash' flash --allow-unknown $W/new.bin --serial auto --json \
	>$W/flash1.json 2>$W/flash1.err" &
flash=$!
if rig_wait 200 sh -c "[ \"\$(sed -n 's/.*\"stage\":\"write\",\"done\":\([0-9]*\).*/\1/p' \
	$HR$W/flash1.json | tail -n 1)\" -ge 2048 ] 2>/dev/null"; then
	twin_stop
	rig_pass "probe unplugged after $(progress) bytes of the write"
else
	rig_fail "probe unplugged mid-write" "the write never reached 2048 bytes" $HR$W/flash1.err
	exit 1
fi
wait $flash
rc=$?
cp $HR$W/flash1.err $HR$ART/usb-unplug-flash1.err 2>/dev/null
cp $HR$W/flash1.json $HR$ART/usb-unplug-flash1.json 2>/dev/null
grep '"event":"result"' $HR$W/flash1.json >/tmp/result 2>/dev/null
if [ $rc -ne 0 ] && grep -q '"ok":false' /tmp/result && grep -q "ttyACM" /tmp/result &&
	grep -q '"stage":"write"' /tmp/result && grep -q '"hint":"[^"]*rerun' /tmp/result; then
	rig_pass "cartoflash reports the unplug: device, stage write, hint to rerun (exit $rc)"
else
	rig_fail "cartoflash reports the unplug with the device and the stage" "exit $rc" /tmp/result
	tail -n 3 $HR$W/flash1.err | sed 's/^/# /'
fi

twin_start acm2
if rig_wait 100 rig_usb_present 1d50 6177; then
	rig_pass "re-plugged probe boots into Katapult 1d50:6177 (application kept invalid)"
else
	rig_fail "re-plugged probe boots into Katapult 1d50:6177" "not seen" $HR$W/acm2.log
	rig_usb_present 1d50 614e && echo "# it booted the half-written application"
fi
rig_in "timeout 60 '$BUILDDIR/cartoflash' flash --allow-unknown $W/new.bin --serial auto >$W/flash2.out 2>&1"
rc=$?
cp $HR$W/flash2.out $HR$ART/usb-unplug-flash2.out 2>/dev/null
rig_expect "a second cartoflash flash completes (exit 0)" "exit $rc" test $rc -eq 0
rig_expect "the probe runs the new application: 1d50:614e" "not seen" \
	rig_wait 100 rig_usb_present 1d50 614e
twin_stop
exit 0
