# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: cartoflash on a can-dev interface whose bitrate and state libsocketcan can read
# (slcan on a pty, rig.md §4.2; vcan has neither, pitfall 5). rig-slcan plays the adapter and
# bridges it to vcan1, where a probe twin running 500 kbit/s firmware sits. Checked: scan and a
# flash through the slcan driver; a 1 Mbit/s image refused on the 500 kbit/s bus (images.md R3)
# with nothing written; a bus-off interface reported as such.
. /host/tools/rig/guest/lib.sh

modprobe vcan && modprobe slcan && modprobe can_raw
ip link add dev vcan1 type vcan && ip link set vcan1 up
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in rig-slcan mkimage cartoflash twin; do
	rig_have_bin $b || { rig_fail "programs built" "$BUILDDIR/$b missing"; exit 1; }
done

SL=/tmp/slcan W=/tmp/cs UUID=e0ef270ca188 PUID=16000C000F43304253373820
rig_in "mkdir -p $W && $BUILDDIR/mkimage full --iface can --bitrate 500000 -o $W/p.flash &&
	cp $W/p.flash $W/before.flash &&
	$BUILDDIR/mkimage app --iface can --bitrate 1000000 -o $W/app1m.bin &&
	$BUILDDIR/mkimage app --iface can --bitrate 500000 --version 'CARTOGRAPHER 5.2.0' \
		-o $W/app500k.bin" >/tmp/mk.out 2>&1 ||
	{ rig_fail "test images" "mkimage failed" /tmp/mk.out; exit 1; }
rig_in "$BUILDDIR/rig-slcan --log $SL.log --fifo $SL.in --bridge vcan1 --timeout 100 \
	>$SL.name 2>$SL.err" &
rig_wait 50 test -s $HR$SL.name || { rig_fail "slcan netdev" "no interface" $HR$SL.err; exit 1; }
IF=$(cat $HR$SL.name)
rig_in "ip link set $IF type can bitrate 500000 && ip link set $IF up"
rig_in "$BUILDDIR/twin --uid $PUID --flash $W/p.flash --attach vcan1 --bitrate 500000 --speed 1 \
	>$W/twin.out 2>$W/twin.err" &
rig_wait 100 test -s $HR$W/twin.out || { rig_fail "twin on vcan1" "no ready line" $HR$W/twin.err; exit 1; }

cf() {	# cf NAME ARGS...: cartoflash in the chroot, output kept as artifacts, returns its code
	_n=$1
	shift
	rig_in "timeout 60 '$BUILDDIR/cartoflash' $* >$W/$_n.out 2>$W/$_n.err"
	_rc=$?
	cp $HR$W/$_n.out $HR$ART/can-slcan-$_n.out 2>/dev/null
	cp $HR$W/$_n.err $HR$ART/can-slcan-$_n.err 2>/dev/null
	return $_rc
}

# The twin's application needs a moment after power-on (boot window): bounded retries.
for try in 1 2 3 4 5; do
	cf scan scan --can $IF --json && grep -q "$UUID" $HR$W/scan.out && break
	sleep 0.5
done
rig_expect "cartoflash scan through slcan ($IF, 500 kbit/s) finds $UUID" "not found" \
	grep -q "$UUID" $HR$W/scan.out

cf r3 flash $W/app1m.bin --can $IF --uuid $UUID
rc=$?
if [ $rc -eq 65 ] && grep -q 500000 $HR$W/r3.err && grep -q 1000000 $HR$W/r3.err; then
	rig_pass "1 Mbit/s image refused on the 500 kbit/s interface (exit 65, both bitrates named)"
else
	rig_fail "1 Mbit/s image refused on the 500 kbit/s interface" "exit $rc" $HR$W/r3.err
fi
rig_expect "the refused image wrote nothing" "twin flash changed" \
	rig_in "cmp $W/p.flash $W/before.flash"

t0=$(uptime_s)
cf flash flash $W/app500k.bin --can $IF --uuid $UUID
rc=$?
if [ $rc -eq 0 ]; then
	rig_pass "cartoflash flash through the slcan driver at 500 kbit/s in $(since $t0) s"
else
	rig_fail "cartoflash flash through the slcan driver exits 0" "exit $rc" $HR$W/flash.err
fi

# Bus-off: the adapter reports error counters 256/256 (slcan_bump_state).
echo "sb256256" >$HR$SL.in
rig_wait 20 sh -c "chroot $HR ip -details link show $IF | grep -q BUS-OFF"
cf busoff scan --can $IF
rc=$?
if [ $rc -ne 0 ] && grep -qi "bus-off\|bus off" $HR$W/busoff.err; then
	rig_pass "a bus-off interface is reported as bus-off (exit $rc)"
else
	rig_fail "a bus-off interface is reported as bus-off" "exit $rc" $HR$W/busoff.err
fi
for p in $(pidof twin); do kill "$p"; done
exit 0
