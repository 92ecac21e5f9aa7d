# SPDX-License-Identifier: GPL-3.0-or-later
# Rig smoke test: the twin's ROM DfuSe model as a FunctionFS gadget (rig-dfu, rig.md §5.5) and
# dfu-util, a libusb client, as the reference host: list, upload, download, leave.
. /host/tools/rig/guest/lib.sh

if ! rig_usb_setup || ! modprobe usb_f_fs; then
	rig_fail "dummy_hcd and usb_f_fs load" "modprobe failed"
	exit 1
fi
rig_hostroot || { rig_fail "host-root chroot" "9p/overlay mount failed"; exit 1; }
rig_have_bin rig-dfu || { rig_fail "rig programs built" "$BUILDDIR/rig-dfu missing"; exit 1; }

# A chip whose 32 KiB flash holds random bytes, so an upload proves it reads the right addresses.
rig_in "head -c 32768 /dev/urandom >/tmp/probe.flash && cp /tmp/probe.flash /tmp/before.flash"
rig_in "$BUILDDIR/rig-dfu --log /tmp/dfu.log --timeout 60 /tmp/probe.flash 2>/tmp/dfu.err" &
dfu=$!
if rig_wait 100 rig_usb_present 0483 df11; then
	rig_pass "ROM DFU gadget enumerates as 0483:df11"
else
	rig_fail "ROM DFU gadget enumerates as 0483:df11" "not seen" $HR/tmp/dfu.err
	exit 1
fi
if grep -q "refuses the DFU functional" $HR/tmp/dfu.err; then
	# rig.md pitfall 9: without it dfu-util sees a plain DFU 1.0 device without transfer size.
	rig_skip "DfuSe through dfu-util" "kernel $(uname -r) FunctionFS refuses the DFU functional descriptor (rig.md pitfall 9); the backports kernel carries it"
	exit 0
fi

rig_in "dfu-util -l" >/tmp/list.out 2>&1
if grep -q '\[0483:df11\].*alt=0, name="@Internal Flash  /0x08000000/032\*001Kg", serial="FFFFFFFEFFFF"' /tmp/list.out &&
	grep -q 'alt=1, name="@Option Bytes  /0x1FFFF800/01\*016 e"' /tmp/list.out; then
	rig_pass "dfu-util lists alt 0 Internal Flash and alt 1 Option Bytes, serial FFFFFFFEFFFF"
else
	rig_fail "dfu-util lists both alt settings" "dfu-util -l differs" /tmp/list.out
fi

rig_in "dfu-util -a 0 -s 0x08000000:4096 -U /tmp/up.bin" >/tmp/up.out 2>&1
rig_in "head -c 4096 /tmp/before.flash >/tmp/want.bin"
rig_expect "DfuSe upload of 0x08000000+4096 returns the flash bytes" "upload differs" \
	rig_in "cmp /tmp/up.bin /tmp/want.bin"

# Download 2 KiB at the application base, read it back; then leave (the device disconnects).
rig_in "head -c 2048 /dev/urandom >/tmp/img.bin"
rig_in "dfu-util -a 0 -s 0x08002000 -D /tmp/img.bin" >/tmp/dn.out 2>&1
rig_in "dfu-util -a 0 -s 0x08002000:2048 -U /tmp/back.bin" >/tmp/back.out 2>&1
if rig_in "cmp /tmp/img.bin /tmp/back.bin"; then
	rig_pass "DfuSe download at 0x08002000 (erase + write) reads back equal"
else
	rig_fail "DfuSe download at 0x08002000 reads back equal" "read-back differs" /tmp/dn.out
	tail -n 5 /tmp/back.out | sed 's/^/# /'
fi

# A download with the ":leave" modifier ends with DfuSe SET_ADDRESS + zero-length DNLOAD.
rig_in "dfu-util -a 0 -s 0x08002000:leave -D /tmp/img.bin" >/tmp/leave.out 2>&1
if grep -qi "leave request" /tmp/leave.out && rig_wait 50 rig_usb_absent 0483 df11; then
	rig_pass "DfuSe leave: dfu-util submits the leave request and the device disconnects"
else
	rig_fail "DfuSe leave: the device disconnects" "0483:df11 still present" /tmp/leave.out
fi
rig_wait 50 sh -c "! kill -0 $dfu 2>/dev/null"
# The flash file now holds the download (rig-dfu saves through the twin on exit).
rig_in "dd if=/tmp/probe.flash bs=1024 skip=8 count=2 2>/dev/null >/tmp/file.bin"
rig_expect "the twin's flash file holds the downloaded bytes at 0x08002000" "file differs" \
	rig_in "cmp /tmp/img.bin /tmp/file.bin"
exit 0
