# SPDX-License-Identifier: GPL-3.0-or-later
# Rig smoke test: dummy_hcd gadgets. A configfs f_acm gadget enumerates (rig.md §5.2); the rig's
# userspace CDC-ACM over FunctionFS (rig-acm echo, §5.3) is seen by cdc-acm and by libusb, echoes
# bytes, sees the 1200-baud touch and re-enumerates 1d50:614e -> 1d50:6177 with the same serial.
. /host/tools/rig/guest/lib.sh

if ! rig_usb_setup || ! modprobe usb_f_fs || ! modprobe usb_f_acm || ! modprobe cdc_acm; then
	rig_fail "dummy_hcd and gadget modules load" "modprobe failed"
	exit 1
fi
rig_pass "dummy_hcd and gadget modules load (udc $(ls /sys/class/udc))"

# Kernel f_acm through configfs: enumerates, cdc-acm binds it.
rig_gadget kacm 0x1d6b 0x0104 KACM0001 "kernel acm" && mkdir $GADGETS/kacm/functions/acm.usb0 &&
	ln -s $GADGETS/kacm/functions/acm.usb0 $GADGETS/kacm/configs/c.1/ && rig_gadget_bind kacm
if rig_wait 50 rig_usb_present 1d6b 0104 && rig_wait 30 test -c /dev/ttyACM0; then
	rig_pass "configfs f_acm gadget enumerates as 1d6b:0104 with /dev/ttyACM0"
else
	rig_fail "configfs f_acm gadget enumerates as 1d6b:0104 with /dev/ttyACM0" "not seen" \
		/proc/bus/input/devices
	dmesg | tail -n 10 | sed 's/^/# /'
fi
rig_gadget_unbind kacm
rig_wait 30 rig_usb_absent 1d6b 0104
rm $GADGETS/kacm/configs/c.1/acm.usb0
rmdir $GADGETS/kacm/configs/c.1/strings/0x409 $GADGETS/kacm/configs/c.1 \
	$GADGETS/kacm/functions/acm.usb0 $GADGETS/kacm/strings/0x409 $GADGETS/kacm
rig_wait 30 sh -c '! test -e /dev/ttyACM0'

rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
for b in rig-acm rig-usb; do
	rig_have_bin $b || { rig_fail "rig programs built" "$BUILDDIR/$b missing"; exit 1; }
done

SERIAL=0123456789ABCDEF01234567
rig_in "$BUILDDIR/rig-acm --log /tmp/acm.log --timeout 60 echo $SERIAL 2>/tmp/acm.err" &
if rig_wait 100 rig_usb_present 1d50 614e && rig_wait 30 test -c /dev/ttyACM0; then
	rig_pass "FunctionFS CDC-ACM gadget enumerates as 1d50:614e, cdc-acm gives /dev/ttyACM0"
else
	rig_fail "FunctionFS CDC-ACM gadget enumerates" "no 1d50:614e / ttyACM0" $HR/tmp/acm.err
	dmesg | tail -n 10 | sed 's/^/# /'
	exit 1
fi

rig_in "$BUILDDIR/rig-usb 1d50:614e" >/tmp/usb.out 2>&1
rig_expect "libusb sees 1d50:614e with serial $SERIAL" "rig-usb output differs" \
	grep -q "1d50:614e serial=$SERIAL product=echo" /tmp/usb.out

rig_in "stty -F /dev/ttyACM0 raw -echo 115200 && exec 3<>/dev/ttyACM0 && printf 'hello rig' >&3 && \
	timeout 5 head -c 9 <&3" >/tmp/echo.out 2>&1
rig_expect "bytes written to /dev/ttyACM0 come back through the gadget" "echo differs" \
	grep -qx "hello rig" /tmp/echo.out
# 64 KiB both ways at once (rig.md §3.4 measured this size intact): flow control, no loss.
rig_in "head -c 65536 /dev/urandom >/tmp/big && stty -F /dev/ttyACM0 raw -echo && exec 3<>/dev/ttyACM0 && (cat /tmp/big >&3 &) &&
	timeout 20 head -c 65536 <&3 >/tmp/big.back" >/tmp/big.out 2>&1
rig_expect "64 KiB through the gadget and back arrive intact" "data differs" \
	rig_in "cmp /tmp/big /tmp/big.back"
rig_expect "gadget saw the host's line coding 115200" "not in rig-acm log" \
	grep -q "line coding 115200" $HR/tmp/acm.log

# The 1200-baud touch: open, set 1200, close (DTR drops), rig.md §5.3.
t0=$(uptime_s)
rig_in "stty -F /dev/ttyACM0 1200"
if rig_wait 100 rig_usb_present 1d50 6177; then
	rig_pass "1200-baud touch re-enumerates as 1d50:6177 in $(since $t0) s"
else
	rig_fail "1200-baud touch re-enumerates as 1d50:6177" "not seen" $HR/tmp/acm.log
fi
rig_wait 30 test -c /dev/ttyACM0
rig_in "$BUILDDIR/rig-usb 1d50:6177" >/tmp/usb.out 2>&1
rig_expect "re-enumerated device keeps serial $SERIAL" "rig-usb output differs" \
	grep -q "1d50:6177 serial=$SERIAL" /tmp/usb.out
rig_expect "the application identity 1d50:614e is gone, Katapult 1d50:6177 in its place" \
	"1d50:614e still present or 1d50:6177 not seen" \
	sh -c "grep -q '1d50:6177 serial=$SERIAL' /tmp/usb.out && ! chroot $HR $BUILDDIR/rig-usb 1d50:614e"
exit 0
