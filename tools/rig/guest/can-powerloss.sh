# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: a CAN probe loses power in the middle of a flash (its twin process ends while
# cartoflash writes over vcan0). cartoflash must name the device, the stage and the next step; the
# safe write order (design rule 3) makes the probe come back in Katapult, and a second flash
# completes and brings the application back.
. /host/tools/rig/guest/lib.sh

modprobe vcan && modprobe can_raw
ip link add dev vcan0 type vcan && ip link set vcan0 up
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in mkimage cartoflash twin; do
	rig_have_bin $b || { rig_fail "programs built" "$BUILDDIR/$b missing"; exit 1; }
done

PUID=16000C000F43304253373820 UUID=e0ef270ca188
W=/tmp/pl
rig_in "mkdir -p $W && $BUILDDIR/mkimage full --iface can --bitrate 1000000 -o $W/p.flash &&
	$BUILDDIR/mkimage app --iface can --bitrate 1000000 --version 'CARTOGRAPHER 5.2.0' \
		-s 16384 -o $W/new.bin" >/tmp/mk.out 2>&1 ||
	{ rig_fail "test images" "mkimage failed" /tmp/mk.out; exit 1; }
twin_start() {	# $1 = run name
	rm -f $HR$W/$1.out
	rig_in "$BUILDDIR/twin --uid $PUID --flash $W/p.flash --attach vcan0 --speed 1 \
		>$W/$1.out 2>$W/$1.err" &
	rig_wait 100 test -s $HR$W/$1.out
}
twin_stop() { for p in $(pidof twin); do kill "$p"; done; rig_wait 50 sh -c "! pidof twin"; }
written() {	# bytes written so far, from the flash --json progress events
	sed -n 's/.*"stage":"write","done":\([0-9]*\).*/\1/p' $HR$W/flash1.json | tail -n 1
}
scan_mode() {	# the mode scan reports for $UUID (bounded retries while the twin boots)
	for _t in 1 2 3 4 5; do
		rig_in "timeout 20 '$BUILDDIR/cartoflash' scan --can vcan0 --json" >/tmp/scan.out 2>&1
		# The node's mode: "running" (or "application" in older scan output).
		_m=$(grep "\"uuid\":\"$UUID\"" /tmp/scan.out |
			sed -nE 's/.*"(running|application)":"([^"]*)".*/\2/p')
		[ -n "$_m" ] && { echo "$_m"; return 0; }
		sleep 0.5
	done
	return 1
}

twin_start twin1 || { rig_fail "twin on vcan0" "no ready line" $HR$W/twin1.err; exit 1; }
scan_mode >/dev/null
rig_in "timeout 60 '$BUILDDIR/cartoflash' flash --allow-unknown $W/new.bin --can vcan0 --uuid $UUID --json \
	>$W/flash1.json 2>$W/flash1.err" &
flash=$!
if rig_wait 200 sh -c "[ \"\$(sed -n 's/.*\"stage\":\"write\",\"done\":\([0-9]*\).*/\1/p' \
	$HR$W/flash1.json | tail -n 1)\" -ge 2048 ] 2>/dev/null"; then
	twin_stop
	rig_pass "probe lost power after $(written) bytes of the write"
else
	rig_fail "probe lost power mid-write" "the write never reached 2048 bytes" $HR$W/flash1.err
	exit 1
fi
wait $flash
rc=$?
cp $HR$W/flash1.json $HR$ART/can-powerloss-flash1.json 2>/dev/null
grep '"event":"result"' $HR$W/flash1.json >/tmp/result 2>/dev/null
if [ $rc -ne 0 ] && grep -q '"ok":false' /tmp/result && grep -q "$UUID" /tmp/result &&
	grep -q '"stage":"write"' /tmp/result && grep -q '"hint":"[^"]' /tmp/result; then
	rig_pass "cartoflash reports the lost probe: device, stage write, a hint (exit $rc)"
else
	rig_fail "cartoflash reports the lost probe with device, stage and hint" "exit $rc" /tmp/result
fi

twin_start twin2 || { rig_fail "twin on vcan0 again" "no ready line" $HR$W/twin2.err; exit 1; }
mode=$(scan_mode)
if echo "$mode" | grep -qi katapult; then
	rig_pass "powered again, the probe answers in Katapult (scan: $mode)"
else
	rig_fail "powered again, the probe answers in Katapult" "scan: ${mode:-nothing}" /tmp/scan.out
fi
rig_in "timeout 60 '$BUILDDIR/cartoflash' flash --allow-unknown $W/new.bin --can vcan0 --uuid $UUID \
	>$W/flash2.out 2>&1"
rc=$?
cp $HR$W/flash2.out $HR$ART/can-powerloss-flash2.out 2>/dev/null
if [ $rc -eq 0 ] && rig_flash_holds $W/p.flash $W/new.bin; then
	rig_pass "a second cartoflash flash completes (exit 0) and the twin's flash holds the image"
else
	rig_fail "a second flash: exit 0 and the image in the twin's flash" "exit $rc" $HR$W/flash2.out
fi
mode=$(scan_mode)
if [ "$mode" = application ]; then
	rig_pass "the probe runs the application again (scan: $mode)"
else
	rig_fail "the probe runs the application again" "scan: ${mode:-nothing}" /tmp/scan.out
fi
twin_stop
exit 0
