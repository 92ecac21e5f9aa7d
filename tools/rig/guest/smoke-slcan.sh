# SPDX-License-Identifier: GPL-3.0-or-later
# Rig smoke test: slcan on a pty (rig.md §4.2) — a can-dev interface whose bitrate and state the
# kernel reports, frames both ways through the Lawicel ASCII the pty master sees, bus-off injected.
. /host/tools/rig/guest/lib.sh

# Modules are loaded here, outside the chroot: the host root has no modules for this kernel.
modprobe slcan && modprobe can_raw
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
if ! rig_have_bin rig-slcan; then
	rig_fail "slcan helper" "$BUILDDIR/rig-slcan not built (make BUILD=... all)"
	exit 1
fi

SL=/tmp/slcan	# chroot path; the guest sees it as $HR/tmp/slcan
rig_in "$BUILDDIR/rig-slcan --log $SL.log --fifo $SL.in --timeout 60 >$SL.name 2>$SL.err" &
helper=$!
if ! rig_wait 50 test -s $HR$SL.name; then
	rig_fail "slcan netdev on a pty" "rig-slcan printed no interface name" $HR$SL.err
	exit 1
fi
IF=$(cat $HR$SL.name)
rig_expect "slcan netdev on a pty ($IF)" "no /sys/class/net/$IF" test -d /sys/class/net/$IF

# slc_open: bitrate 500k is sent as S6 between close and open (rig.md §4.2).
rig_in "ip link set $IF type can bitrate 500000 && ip link set $IF up" >/tmp/up.out 2>&1 ||
	rig_fail "ip link set $IF up at 500 kbit/s" "ip failed" /tmp/up.out
rig_wait 20 grep -q '^O$' $HR$SL.log
printf 'C\nS6\nO\n' >/tmp/want
if head -n 3 $HR$SL.log | cmp -s - /tmp/want; then
	rig_pass "ifup writes C, S6, O to the adapter"
else
	rig_fail "ifup writes C, S6, O to the adapter" "pty log differs" $HR$SL.log
fi

rig_in "ip -details link show $IF" >/tmp/ipd 2>&1
if grep -q "bitrate 500000" /tmp/ipd && grep -q "state ERROR-ACTIVE" /tmp/ipd; then
	rig_pass "kernel reports bitrate 500000 and ERROR-ACTIVE"
else
	rig_fail "kernel reports bitrate 500000 and ERROR-ACTIVE" "ip -details differs" /tmp/ipd
fi

rig_in "cansend $IF 123#BEEF"
rig_wait 20 grep -q '^t1232BEEF$' $HR$SL.log
rig_expect "socket frame 123#BEEF reaches the adapter as t1232BEEF" "not in pty log" \
	grep -q '^t1232BEEF$' $HR$SL.log

rig_in "timeout 10 candump -L -n 1 $IF >$SL.dump" &
dump=$!
rig_wait 100 rig_can_listening $IF
echo "t4563AABBCC" >$HR$SL.in
wait $dump
rig_expect "adapter line t4563AABBCC reaches sockets as 456#AABBCC" "candump saw nothing" \
	grep -q "$IF 456#AABBCC" $HR$SL.dump

# slcan_bump_state: "sb256256" = bus-off with rx/tx error counters 256.
echo "sb256256" >$HR$SL.in
rig_wait 20 sh -c "chroot $HR ip -details link show $IF | grep -q BUS-OFF"
rig_in "ip -details link show $IF" >/tmp/ipd 2>&1
rig_expect "adapter state sb256256 turns the interface BUS-OFF" "ip -details differs" \
	grep -q "state BUS-OFF" /tmp/ipd

kill $helper 2>/dev/null
exit 0
