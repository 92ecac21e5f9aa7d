# SPDX-License-Identifier: GPL-3.0-or-later
# Rig smoke test: boot, vcan frame I/O with the host's can-utils through the host-root chroot.
# rig.md §4.1: two sockets on vcan0 see each other's frames; CAN FD passes with mtu 72.
. /host/tools/rig/guest/lib.sh

# The kernel the host meant (rig.kver), with the repository shared in: not a pass by reaching here.
kver=$(sed -n 's/.*rig\.kver=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$kver" ] && [ "$(uname -r)" = "$kver" ] && [ -f /host/tools/rig/init ]; then
	rig_pass "boot reaches /init on kernel $kver with the repository at /host (uptime $(uptime_s) s)"
else
	rig_fail "boot reaches /init on the host's kernel" "uname -r $(uname -r), rig.kver '$kver'"
fi

modprobe vcan && modprobe can_raw
ip link add dev vcan0 type vcan && ip link set vcan0 mtu 72 && ip link set vcan0 up
rig_expect "vcan0 is up" "vcan0 missing or down after ip link add" sh -c "ip link show vcan0 | grep -q \",UP\""

if ! rig_hostroot; then
	rig_fail "host-root chroot" "9p/overlay mount failed"
	exit 1
fi
rig_expect "host-root chroot runs host binaries" "chroot failed" rig_in "test -x /usr/bin/candump"

# candump in the background, three frames (classic, extended, FD) from cansend, exact log lines.
LOG=$ART/smoke-can.candump.log
rig_in "timeout 10 candump -L -n 3 vcan0 >$LOG" &
dump=$!
rig_wait 100 rig_can_listening vcan0
rig_in "cansend vcan0 123#DEADBEEF && cansend vcan0 1F334455#1122 && \
	cansend vcan0 456##100112233445566778899AABBCCDDEEFF" >/tmp/send.out 2>&1
wait $dump
printf '%s\n' "vcan0 123#DEADBEEF" "vcan0 1F334455#1122" \
	"vcan0 456##100112233445566778899AABBCCDDEEFF" >/tmp/want
# candump -L: "(sec.usec) vcan0 frame"; can-utils >= 2023 also prints the FDF flag (0x04) next
# to BRS (0x01), older ones only BRS.
cut -d' ' -f2- "/host/${RIG_BUILD:-build}/rig/smoke-can.candump.log" 2>/dev/null |
	sed 's/##5/##1/' >/tmp/got
if cmp -s /tmp/want /tmp/got; then
	rig_pass "candump sees cansend frames on vcan0 (classic, extended, FD)"
else
	rig_fail "candump sees cansend frames on vcan0" "log differs" /tmp/got
	cat /tmp/send.out
fi

# iproute2 from the host (busybox ip has no -details, rig.md pitfall 1).
rig_in "ip -details link show vcan0" >/tmp/ipd 2>&1
if grep -q "mtu 72" /tmp/ipd && grep -qw "vcan" /tmp/ipd; then
	rig_pass "host iproute2 reports vcan0 as vcan with mtu 72"
else
	rig_fail "host iproute2 reports vcan0 as vcan with mtu 72" "ip -details differs" /tmp/ipd
fi
exit 0
