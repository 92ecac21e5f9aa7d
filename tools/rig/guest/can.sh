# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: two probe twins on vcan0 through SocketCAN (rig.md §4.1) and the real cartoflash:
# scan, flash, verify, and a fleet update of both. candump captures the whole exchange; the log
# is kept on the host as $BUILD/rig/can.candump.log.
. /host/tools/rig/guest/lib.sh

modprobe vcan && modprobe can_raw
ip link add dev vcan0 type vcan && ip link set vcan0 up
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in mkimage cartoflash twin; do
	rig_have_bin $b || { rig_fail "programs built" "$BUILDDIR/$b missing"; exit 1; }
done

# katapult.md §2.3 / the fixture vector: chip UID 16000C000F43304253373820 -> CAN UUID e0ef270ca188.
PUID1=16000C000F43304253373820 UUID1=e0ef270ca188
PUID2=4F1C2A0035001A4E32383320
W=/tmp/can
rig_in "mkdir -p $W && $BUILDDIR/mkimage full --iface can --bitrate 1000000 -o $W/p1.flash &&
	cp $W/p1.flash $W/p2.flash &&
	$BUILDDIR/mkimage app --iface can --bitrate 1000000 --version 'CARTOGRAPHER 5.2.0' -o $W/new.bin &&
	$BUILDDIR/mkimage app --iface can --bitrate 1000000 --version 'CARTOGRAPHER 5.3.0' -o $W/new2.bin &&
	$BUILDDIR/mkimage app --iface can --bitrate 1000000 --version 'CARTOGRAPHER 5.4.0' -o $W/new3.bin" \
	>/tmp/mk.out 2>&1 || { rig_fail "test images" "mkimage failed" /tmp/mk.out; exit 1; }

DUMP=$ART/can.candump.log
rig_in "timeout 80 candump -L vcan0 >$DUMP" &
rig_wait 100 rig_can_listening vcan0
for n in 1 2; do
	eval uid=\$PUID$n
	rig_in "$BUILDDIR/twin --uid $uid --flash $W/p$n.flash --attach vcan0 --speed 1 \
		>$W/twin$n.out 2>$W/twin$n.err" &
done
if rig_wait 100 test -s $HR$W/twin1.out && rig_wait 100 test -s $HR$W/twin2.out; then
	rig_pass "two probe twins attached to vcan0"
else
	rig_fail "two probe twins attached to vcan0" "no ready line" $HR$W/twin1.err
	exit 1
fi

cf() {	# cf NAME ARGS...: runs cartoflash in the chroot, output in $W/NAME.{out,err}, returns its code
	_n=$1
	shift
	rig_in "timeout 60 '$BUILDDIR/cartoflash' $* >$W/$_n.out 2>$W/$_n.err"
	_rc=$?
	cp $HR$W/$_n.out $HR$ART/can-$_n.out 2>/dev/null
	cp $HR$W/$_n.err $HR$ART/can-$_n.err 2>/dev/null
	return $_rc
}

# A twin's application answers once its boot window has passed: bounded retries.
for try in 1 2 3 4 5; do
	cf scan scan --can vcan0 --json
	rc=$?
	[ "$(grep -c '"uuid"' $HR$W/scan.out)" -ge 2 ] && break
	sleep 0.5
done
n=$(grep -o "$UUID1" $HR$W/scan.out | head -1)
count=$(grep -c '"uuid"' $HR$W/scan.out)
if [ $rc -eq 0 ] && [ -n "$n" ] && [ "$count" -ge 2 ]; then
	rig_pass "cartoflash scan --can vcan0 finds both twins ($UUID1 and one more)"
else
	rig_fail "cartoflash scan --can vcan0 finds both twins" "exit $rc, $count uuids" $HR$W/scan.out
	tail -n 5 $HR$W/scan.err | sed 's/^/# /'
fi
UUID2=$(grep -o '"uuid" *: *"[0-9a-f]*"' $HR$W/scan.out | grep -v $UUID1 | head -1 |
	sed 's/.*"\([0-9a-f]*\)"$/\1/')

t0=$(uptime_s)
cf flash flash --allow-unknown $W/new.bin --can vcan0 --uuid $UUID1
rc=$?
if [ $rc -eq 0 ] && rig_flash_holds $W/p1.flash $W/new.bin; then
	rig_pass "cartoflash flash --can vcan0 --uuid $UUID1 in $(since $t0) s (the twin's flash holds the image)"
else
	rig_fail "cartoflash flash --can vcan0 --uuid $UUID1: exit 0 and the image in the twin's flash" \
		"exit $rc" $HR$W/flash.err
fi
cf verify verify $W/new.bin --can vcan0 --uuid $UUID1
rc=$?
rig_expect "cartoflash verify --can vcan0 --uuid $UUID1 exits 0" "exit $rc" test $rc -eq 0

if [ -n "$UUID2" ]; then
	t0=$(uptime_s)
	cf fleet flash --allow-unknown $W/new2.bin --can vcan0 --uuid $UUID1 --uuid $UUID2 --json
	rc=$?
	if [ $rc -eq 0 ] && rig_flash_holds $W/p1.flash $W/new2.bin &&
		rig_flash_holds $W/p2.flash $W/new2.bin; then
		rig_pass "cartoflash flash of both twins in one run (two --uuid), $(since $t0) s, both flashes hold it"
	else
		rig_fail "cartoflash flash of both twins: exit 0 and the image in both flashes" \
			"exit $rc" $HR$W/fleet.err
	fi
	printf '[front]\ninterface = vcan0\nuuid = %s\nimage = new3.bin\n\n[rear]\ninterface = vcan0\nuuid = %s\nimage = new3.bin\n' \
		$UUID1 $UUID2 >$HR$W/probes.ini
	t0=$(uptime_s)
	cf manifest fleet --allow-unknown $W/probes.ini --json
	rc=$?
	if [ $rc -eq 0 ] && [ "$(grep -c "$UUID1\|$UUID2" $HR$W/manifest.out)" -ge 2 ] &&
		rig_flash_holds $W/p1.flash $W/new3.bin && rig_flash_holds $W/p2.flash $W/new3.bin; then
		rig_pass "cartoflash fleet MANIFEST updates both twins, $(since $t0) s"
	else
		rig_fail "cartoflash fleet MANIFEST updates both twins" "exit $rc" $HR$W/manifest.err
	fi
	cf verify2 verify $W/new3.bin --can vcan0 --uuid $UUID2
	rc=$?
	rig_expect "the second twin verifies against the fleet's image" "exit $rc" test $rc -eq 0
else
	rig_fail "fleet: cartoflash flash of both twins" "second UUID not in scan output"
fi

for p in $(pidof candump); do kill -INT "$p"; done
rig_wait 30 sh -c "! pidof candump"
# katapult.md §2.2: admin queries on 0x3f0; Katapult sessions on 0x100+2n / 0x101+2n.
frames=$(wc -l <$HR$DUMP)
if grep -q ' vcan0 3F0#' $HR$DUMP && grep -v ' vcan0 3F[01]#' $HR$DUMP | grep -q ' vcan0 '; then
	rig_pass "candump captured the exchange ($frames frames; kept as rig/can.candump.log)"
else
	rig_fail "candump captured the exchange" "no admin or session frames ($frames frames)" $HR$DUMP
fi
for p in $(pidof twin); do kill "$p"; done

# Interface errors name the interface and the next step (design rule 6).
ip link set vcan0 down
cf down scan --can vcan0
rc=$?
if [ $rc -eq 69 ] && grep -q "vcan0.*down" $HR$W/down.err &&
	grep -q "ip link set vcan0 up" $HR$W/down.err; then
	rig_pass "an interface that is down: exit 69 and the ip command that brings it up"
else
	rig_fail "an interface that is down is reported with the fix" "exit $rc" $HR$W/down.err
fi
cf missing scan --can vcan9
rc=$?
if [ $rc -eq 69 ] && grep -q "vcan9" $HR$W/missing.err; then
	rig_pass "a missing interface: exit 69, named"
else
	rig_fail "a missing interface is reported by name" "exit $rc" $HR$W/missing.err
fi
exit 0
