# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: the probe twin as a USB CDC-ACM device (rig-acm twin over FunctionFS on
# dummy_hcd, rig.md §5.3) and the real cartoflash through cdc-acm and sysfs: the 1200-baud touch,
# re-enumeration as Katapult 1d50:6177 with the same serial, flash, verify, and the twin seen
# again as the application 1d50:614e.
. /host/tools/rig/guest/lib.sh

if ! rig_usb_setup || ! modprobe usb_f_fs || ! modprobe cdc_acm; then
	rig_fail "dummy_hcd, usb_f_fs and cdc_acm load" "modprobe failed"
	exit 1
fi
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in rig-acm rig-usb mkimage cartoflash; do
	rig_have_bin $b || { rig_fail "programs built" "$BUILDDIR/$b missing"; exit 1; }
done

UID_HEX=4F1C2A0035001A4E32383320
W=/tmp/usb	# chroot path
rig_in "mkdir -p $W && $BUILDDIR/mkimage full --iface usb -o $W/probe.flash &&
	$BUILDDIR/mkimage app --iface usb --version 'CARTOGRAPHER 5.2.0' -o $W/new.bin" \
	>/tmp/mk.out 2>&1 || { rig_fail "test images" "mkimage failed" /tmp/mk.out; exit 1; }

start_twin() {	# $1 = log name
	rig_in "$BUILDDIR/rig-acm --log $W/$1.log --timeout 100 twin $W/probe.flash $UID_HEX \
		2>$W/$1.err" &
	TWIN=$!
}

start_twin acm
if rig_wait 100 rig_usb_present 1d50 614e && rig_wait 30 test -c /dev/ttyACM0; then
	rig_pass "twin application enumerates as 1d50:614e, cdc-acm gives /dev/ttyACM0"
else
	rig_fail "twin application enumerates as 1d50:614e" "not seen" $HR$W/acm.err
	tail -n 5 $HR$W/acm.log 2>/dev/null | sed 's/^/# /'
	exit 1
fi
rig_in "$BUILDDIR/rig-usb 1d50:614e" >/tmp/usb.out 2>&1
SERIAL=$(sed -n 's/.*serial=\([^ ]*\).*/\1/p' /tmp/usb.out)
rig_expect "libusb reads the twin's serial ($SERIAL) from its chip UID" "serial differs" \
	test "$SERIAL" = "$UID_HEX"

rig_in "timeout 20 '$BUILDDIR/cartoflash' scan --usb --json" >/tmp/scan.out 2>&1
cp /tmp/scan.out $HR$ART/usb-serial-scan.json 2>/dev/null
rig_expect "cartoflash scan --usb finds the twin in sysfs with its serial and tty" "not listed" \
	sh -c "grep '$UID_HEX' /tmp/scan.out | grep -q ttyACM0"

# The 1200-baud touch by hand first: the kernel path alone (rig.md §5.3).
t0=$(uptime_s)
rig_in "stty -F /dev/ttyACM0 1200"
if rig_wait 100 rig_usb_present 1d50 6177; then
	rig_pass "1200-baud touch: twin re-enumerates as Katapult 1d50:6177 in $(since $t0) s"
else
	rig_fail "1200-baud touch: twin re-enumerates as Katapult 1d50:6177" "not seen" $HR$W/acm.log
fi
rig_in "$BUILDDIR/rig-usb 1d50:6177" >/tmp/usb.out 2>&1
rig_expect "Katapult keeps the serial $UID_HEX" "serial differs" \
	grep -q "serial=$UID_HEX" /tmp/usb.out

# Back to the application: power-cycle the twin (a new process on the same flash file).
kill $TWIN 2>/dev/null
pkill_twin() { for p in $(pidof rig-acm); do kill "$p"; done; }
pkill_twin
rig_wait 50 rig_usb_absent 1d50 6177
start_twin acm2
rig_wait 100 rig_usb_present 1d50 614e || rig_wait 100 rig_usb_present 1d50 6177

# cartoflash: flash over USB serial. The verb finds the probe by serial in sysfs, touches it,
# follows the re-enumeration, writes, verifies and completes.
if ! rig_in "'$BUILDDIR/cartoflash' flash --allow-unknown --help" 2>&1 | grep -q -- "--serial"; then
	rig_skip "cartoflash flash over USB serial" "this cartoflash has no 'flash --serial' yet"
	exit 0
fi
t0=$(uptime_s)
rig_in "timeout 90 '$BUILDDIR/cartoflash' flash --allow-unknown $W/new.bin --serial /dev/ttyACM0 --json \
	>$W/flash.json 2>$W/flash.err"
rc=$?
cp $HR$W/flash.json $HR$ART/usb-serial-flash.json 2>/dev/null
cp $HR$W/flash.err $HR$ART/usb-serial-flash.err 2>/dev/null
if [ $rc -eq 0 ]; then
	rig_pass "cartoflash flash --serial /dev/ttyACM0: touch, follow, write, verify, complete in $(since $t0) s"
else
	rig_fail "cartoflash flash --serial /dev/ttyACM0 exits 0" "exit $rc" $HR$W/flash.err
	tail -n 8 $HR$W/acm2.log | sed 's/^/# /'
fi
grep '"event":"result"' $HR$W/flash.json >/tmp/result 2>/dev/null
if grep -q '"ok":true' /tmp/result && grep -q "\"serial\":\"$UID_HEX\"" /tmp/result &&
	grep -q '"usb_path":"1-1"' /tmp/result && grep -q "CARTOGRAPHER 5.2.0" /tmp/result; then
	rig_pass "flash --json result: ok, serial $UID_HEX, USB path 1-1, CARTOGRAPHER 5.2.0"
else
	rig_fail "flash --json result names serial, USB path and the new version" "differs" /tmp/result
fi
if rig_wait 100 rig_usb_present 1d50 614e; then
	rig_pass "the twin reboots into the new application: 1d50:614e again"
else
	rig_fail "the twin reboots into the new application" "no 1d50:614e" $HR$W/acm2.log
fi
rig_in "timeout 60 '$BUILDDIR/cartoflash' verify $W/new.bin --serial auto \
	>$W/verify.out 2>&1"
rc=$?
cp $HR$W/verify.out $HR$ART/usb-serial-verify.out 2>/dev/null
rig_expect "cartoflash verify --serial auto against the new image exits 0" "exit $rc" test $rc -eq 0
rig_in "$BUILDDIR/mkimage app --iface usb --version 'CARTOGRAPHER 9.9.9' -o $W/other.bin"
rig_in "timeout 60 '$BUILDDIR/cartoflash' verify $W/other.bin --serial auto >$W/verify2.out 2>&1"
rc=$?
cp $HR$W/verify2.out $HR$ART/usb-serial-verify-other.out 2>/dev/null
if [ $rc -eq 76 ] && grep -q "verify.*0x0800[0-9a-fA-F]\{4\}" $HR$W/verify2.out; then
	rig_pass "verify against another image fails with exit 76 and names the differing block"
else
	rig_fail "verify against another image fails with exit 76" "exit $rc" $HR$W/verify2.out
fi
pkill_twin
rig_wait 50 sh -c "! pidof rig-acm"
rig_expect "the twin's flash holds the new application at 0x08002000" "flash differs" \
	rig_in "cmp -n $(wc -c <$HR$W/new.bin) -i 0:8192 $W/new.bin $W/probe.flash"
exit 0
