# SPDX-License-Identifier: GPL-3.0-or-later
# Rig scenario: a probe with garbage in its flash, BOOT0 bridged, in the STM32 ROM DfuSe bootloader
# (rig-dfu, FunctionFS on dummy_hcd, rig.md §5.5): the real cartoflash lists it (scan --usb), reads
# it (dfu read) and recovers it (recover --full) through usbfs/libusb; after the leave the chip runs
# what was written and comes back as the Cartographer application 1d50:614e.
. /host/tools/rig/guest/lib.sh

if ! rig_usb_setup || ! modprobe usb_f_fs || ! modprobe cdc_acm; then
	rig_fail "dummy_hcd, usb_f_fs and cdc_acm load" "modprobe failed"
	exit 1
fi
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in rig-dfu rig-acm mkimage cartoflash; do
	rig_have_bin $b || { rig_fail "programs built" "$BUILDDIR/$b missing"; exit 1; }
done
if ! rig_in "'$BUILDDIR/cartoflash' recover --allow-unknown --allow-unknown --help" >/tmp/help.out 2>&1; then
	rig_skip "cartoflash recover through libusb" "this cartoflash has no 'recover' verb yet"
	exit 0
fi

UID_HEX=16000C000F43304253373820
W=/tmp/dfu
# Garbage in flash (a failed update); BOOT0 keeps it in the ROM bootloader (dfu.md §1.5).
rig_in "mkdir -p $W && head -c 32768 /dev/urandom >$W/probe.flash && cp $W/probe.flash $W/before.flash &&
	$BUILDDIR/mkimage full --iface usb -o $W/full.bin" >/tmp/mk.out 2>&1 ||
	{ rig_fail "test images" "mkimage failed" /tmp/mk.out; exit 1; }
rig_in "$BUILDDIR/rig-dfu --log $W/dfu.log --timeout 100 --speed 1 --then-twin $UID_HEX \
	$W/probe.flash 2>$W/dfu.err" &
if ! rig_wait 100 rig_usb_present 0483 df11; then
	rig_fail "probe enumerates as ROM DFU 0483:df11" "not seen" $HR$W/dfu.err
	exit 1
fi
rig_pass "probe enumerates as ROM DFU 0483:df11"
if grep -q "refuses the DFU functional" $HR$W/dfu.err; then
	rig_skip "cartoflash recover" "kernel $(uname -r) FunctionFS refuses the DFU functional descriptor (rig.md pitfall 9); the backports kernel carries it"
	exit 0
fi

rig_in "timeout 20 '$BUILDDIR/cartoflash' scan --usb" >/tmp/scan.out 2>&1
cp /tmp/scan.out $HR$ART/dfu-recover-scan.out 2>/dev/null
rig_expect "cartoflash scan --usb lists the ROM DFU device" "not listed" grep -q "0483:df11" /tmp/scan.out
rig_in "timeout 60 '$BUILDDIR/cartoflash' dfu read 0x08000000 32768 $W/read.bin" >/tmp/read.out 2>&1
rc=$?
if [ $rc -eq 0 ] && rig_in "cmp $W/read.bin $W/before.flash"; then
	rig_pass "cartoflash dfu read returns the chip's 32 KiB exactly"
else
	rig_fail "cartoflash dfu read returns the chip's 32 KiB exactly" "exit $rc or bytes differ" /tmp/read.out
fi

t0=$(uptime_s)
rig_in "timeout 90 '$BUILDDIR/cartoflash' recover --allow-unknown --allow-unknown --full $W/full.bin >$W/recover.out 2>$W/recover.err"
rc=$?
for f in recover.out recover.err dfu.log; do cp $HR$W/$f $HR$ART/dfu-recover-$f 2>/dev/null; done
if [ $rc -eq 0 ]; then
	rig_pass "cartoflash recover --full writes, verifies and leaves in $(since $t0) s"
else
	rig_fail "cartoflash recover --full exits 0" "exit $rc" $HR$W/recover.err
	tail -n 5 $HR$W/dfu.log | sed 's/^/# /'
fi
if rig_wait 50 rig_usb_absent 0483 df11 && rig_wait 100 rig_usb_present 1d50 614e; then
	rig_pass "the device left DFU and the recovered probe boots its application: 1d50:614e"
else
	rig_fail "the device left DFU and the recovered probe boots its application: 1d50:614e" \
		"0483:df11 still present or 1d50:614e not seen" $HR$W/dfu.err
fi
# cartoflash follows the probe back (sysfs, or libusb: the netlink build sees arrivals, pitfall 15).
if cat $HR$W/recover.out $HR$W/recover.err | grep "application" | grep -q "$UID_HEX"; then
	rig_pass "cartoflash followed the probe back as the application with serial $UID_HEX"
else
	rig_fail "cartoflash followed the probe back as the application" "not reported" $HR$W/recover.err
fi
rig_expect "the chip's flash holds the full image" "flash differs" \
	rig_in "cmp -n \$(wc -c <$W/full.bin) $W/full.bin $W/probe.flash"
exit 0
