# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: cartoflash's libsocketcan bitrate and state checks against a can-dev interface
# (slcan on a pty, rig.md §4.2; vcan has neither, pitfall 5): an image built for 1 Mbit/s is
# refused on a 500 kbit/s bus before anything is sent (images.md R3), and a bus-off interface is
# reported as such.
. /host/tools/rig/guest/lib.sh

modprobe slcan && modprobe can_raw
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in rig-slcan mkimage cartoflash; do
	rig_have_bin $b || { rig_fail "programs built" "$BUILDDIR/$b missing"; exit 1; }
done
if ! rig_in "'$BUILDDIR/cartoflash' flash --help" 2>&1 | grep -q -- "--can"; then
	rig_skip "cartoflash bitrate and state checks on slcan" "this cartoflash has no 'flash --can' yet"
	exit 0
fi

SL=/tmp/slcan W=/tmp/cs
rig_in "mkdir -p $W && $BUILDDIR/mkimage app --iface can --bitrate 1000000 -o $W/app1m.bin" \
	>/tmp/mk.out 2>&1 || { rig_fail "test images" "mkimage failed" /tmp/mk.out; exit 1; }
rig_in "$BUILDDIR/rig-slcan --log $SL.log --fifo $SL.in --timeout 80 >$SL.name 2>$SL.err" &
rig_wait 50 test -s $HR$SL.name || { rig_fail "slcan netdev" "no interface" $HR$SL.err; exit 1; }
IF=$(cat $HR$SL.name)
rig_in "ip link set $IF type can bitrate 500000 && ip link set $IF up"
rig_wait 20 grep -q '^O$' $HR$SL.log
lines_before=$(wc -l <$HR$SL.log)

# R3: the interface runs 500000, the image wants 1000000.
rig_in "timeout 30 '$BUILDDIR/cartoflash' flash $W/app1m.bin --can $IF --uuid e0ef270ca188 \
	>$W/r3.out 2>$W/r3.err"
rc=$?
cp $HR$W/r3.err $HR$ART/can-slcan-r3.err 2>/dev/null
if [ $rc -eq 65 ] && grep -q 500000 $HR$W/r3.err && grep -q 1000000 $HR$W/r3.err; then
	rig_pass "1 Mbit/s image refused on a 500 kbit/s interface (exit 65, both bitrates named)"
else
	rig_fail "1 Mbit/s image refused on a 500 kbit/s interface" "exit $rc" $HR$W/r3.err
fi
sent=$(tail -n +$((lines_before + 1)) $HR$SL.log | grep -c '^[tT]')
rig_expect "nothing was sent on the bus before the refusal" "$sent frames reached the adapter" \
	test "$sent" -eq 0

# Bus-off: the adapter reports error counters 256/256 (slcan_bump_state).
echo "sb256256" >$HR$SL.in
rig_wait 20 sh -c "chroot $HR ip -details link show $IF | grep -q BUS-OFF"
rig_in "timeout 30 '$BUILDDIR/cartoflash' scan --can $IF >$W/busoff.out 2>$W/busoff.err"
rc=$?
cp $HR$W/busoff.err $HR$ART/can-slcan-busoff.err 2>/dev/null
if [ $rc -ne 0 ] && grep -qi "bus-off\|bus off" $HR$W/busoff.err; then
	rig_pass "a bus-off interface is reported as bus-off (exit $rc)"
else
	rig_fail "a bus-off interface is reported as bus-off" "exit $rc" $HR$W/busoff.err
fi
exit 0
