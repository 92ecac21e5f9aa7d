# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: cartoflash on a can-dev interface whose bitrate and state libsocketcan can read
# (slcan on a pty, rig.md §4.2; vcan has neither, pitfall 5). rig-slcan plays the adapter and
# bridges it to vcan1, where a probe twin running 500 kbit/s firmware sits. Checked: scan and a
# flash through the slcan driver (the twin's flash bytes compared with the image); a 1 Mbit/s
# image refused on the 500 kbit/s bus (images.md R3) with nothing written; ENOBUFS from the real
# kernel (txqueuelen 1, an adapter that stalls: rig.md §4.3) survived with every Katapult frame
# whole on the wire and the image in the twin's flash; a bus-off interface reported as such.
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
		-o $W/app500k.bin &&
	$BUILDDIR/mkimage app --iface can --bitrate 500000 --version 'CARTOGRAPHER 5.3.0' \
		--size 22528 -o $W/enobufs.bin" >/tmp/mk.out 2>&1 ||
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

cf r3 flash --allow-unknown $W/app1m.bin --can $IF --uuid $UUID
rc=$?
if [ $rc -eq 65 ] && grep -q 500000 $HR$W/r3.err && grep -q 1000000 $HR$W/r3.err; then
	rig_pass "1 Mbit/s image refused on the 500 kbit/s interface (exit 65, both bitrates named)"
else
	rig_fail "1 Mbit/s image refused on the 500 kbit/s interface" "exit $rc" $HR$W/r3.err
fi
rig_expect "the refused image wrote nothing" "twin flash changed" \
	rig_in "cmp $W/p.flash $W/before.flash"

t0=$(uptime_s)
cf flash flash --allow-unknown $W/app500k.bin --can $IF --uuid $UUID
rc=$?
if [ $rc -eq 0 ] && rig_flash_holds $W/p.flash $W/app500k.bin; then
	rig_pass "cartoflash flash through the slcan driver at 500 kbit/s in $(since $t0) s (image in the twin's flash)"
else
	rig_fail "cartoflash flash through the slcan driver: exit 0 and the image in the twin's flash" \
		"exit $rc" $HR$W/flash.err
fi

# rig.md §4.3, design rule 1: the real kernel's ENOBUFS. slcan stops its queue for each frame
# until the adapter reads it; this adapter stops reading for 20 ms after every 32 frames, and
# txqueuelen 1 leaves the qdisc room for one frame, so sends fail with ENOBUFS. cartoflash must
# resend the same CAN frame: the wire then carries only whole Katapult frames (checked on the
# adapter's log of everything the kernel sent) and the image lands whole.
rig_in "ip link set $IF txqueuelen 1"
first=$(($(wc -l <$HR$SL.log) + 1))
echo "!stall 20 32" >$HR$SL.in
rig_wait 20 grep -q "stall 20 ms every 32" $HR$SL.log
t0=$(uptime_s)
cf enobufs flash --allow-unknown $W/enobufs.bin --can $IF --uuid $UUID -v
rc=$?
echo "!stall 0 0" >$HR$SL.in
rig_in "ip link set $IF txqueuelen 10"
# one warning per bus the run opened (the identify before the reboot has its own): their sum
full=$(grep -o 'was full [0-9]* times' $HR$W/enobufs.err | grep -o '[0-9][0-9]*' | awk '{ s += $1 } END { print s + 0 }')
if [ $rc -eq 0 ] && [ "${full:-0}" -gt 0 ]; then
	rig_pass "flash with txqueuelen 1 and a stalling adapter: exit 0 after $full ENOBUFS, $(since $t0) s"
else
	rig_fail "flash through ENOBUFS: exit 0 and ENOBUFS reported" "exit $rc, ENOBUFS '${full:-none}'" \
		$HR$W/enobufs.err
fi
rig_in "python3 tools/rig/katapult-frames.py $SL.log $first" >/tmp/frames.out 2>&1
frc=$?
cp /tmp/frames.out $HR$ART/can-slcan-enobufs-frames.out 2>/dev/null
if [ $frc -eq 0 ] && [ "$(grep -o '[0-9]* frames' /tmp/frames.out | sort -n | tail -1 | cut -d' ' -f1)" -gt 300 ]; then
	rig_pass "every Katapult frame on the wire during ENOBUFS is whole ($(tr '\n' ' ' </tmp/frames.out))"
else
	rig_fail "every Katapult frame on the wire during ENOBUFS is whole" "checker status $frc" /tmp/frames.out
fi
rig_expect "after ENOBUFS the twin's flash holds the image byte for byte" "flash differs" \
	rig_flash_holds $W/p.flash $W/enobufs.bin

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
