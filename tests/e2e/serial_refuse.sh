#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# What the serial path refuses, and how it says so: ROM DFU (points to recover), a port held by
# another process (named), a wrong image (nothing written), the device gone mid-write (left in
# Katapult, and the rerun that resumes), a non-probe tty.
. "$(dirname "$0")/serial_lib.bash"
require_binaries serial_refuse

"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.0.0" -o "$WORK/old.bin" >/dev/null
"$MKIMAGE" app --iface usb --version "CARTOGRAPHER 5.1.0" -s 22528 -o "$WORK/new.bin" >/dev/null
"$MKIMAGE" app --iface can --version "CARTOGRAPHER 5.1.0" -o "$WORK/can.bin" >/dev/null

# ROM DFU: BOOT0 high, the ROM bootloader answers on the port instead of Katapult.
twin_start --boot0 --init katapult:usb --init "file:0x08002000:$WORK/old.bin" || exit 1
run flash --allow-unknown "$WORK/new.bin" --serial auto
check "ROM DFU: refused with exit 69" test "$RC" -eq 69
check "ROM DFU: says the probe is in DFU mode" has "$ERR" "is in ROM DFU mode (0483:df11)"
check "ROM DFU: points to the recover command with its port" \
	has "$ERR" "cartoflash recover --path 1-1.3 --full"

# The tty the user names is gone because the probe fell into its ROM bootloader (no Katapult,
# empty bootloader region): the hint points at the DFU device instead of a cable.
twin_start --init app-only:usb || exit 1
run flash --allow-unknown "$WORK/new.bin" --serial "$TTY"
check "missing tty with a ROM DFU probe around: exit 69" test "$RC" -eq 69
check "missing tty: the hint points to the probe in ROM DFU mode" \
	has "$ERR" "a probe in ROM DFU mode is on USB port 1-1.3: recover it with cartoflash recover"

# Another program holds the application's tty (as Klipper does).
twin_start --init katapult:usb --init "file:0x08002000:$WORK/old.bin" || exit 1
sleep 30 3<>"$TTY" &
HOLDER=$!
sleep 0.1
run flash --allow-unknown "$WORK/new.bin" --serial "$TTY"
check "port in use: refused with exit 75" test "$RC" -eq 75
check "port in use: names the process" has "$ERR" "in use by pid $HOLDER (sleep 30)"
check "port in use: says how to go on" has "$ERR" "kill $HOLDER"
check "port in use: no bootloader request was made" \
	test "$(grep -c 'USB 1d50:6177' "$WORK/twin.err")" -eq 0
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

# A CAN build offered to a USB probe: images.md R4, before the first byte.
run flash --allow-unknown "$WORK/can.bin" --serial "$TTY"
check "wrong image: refused with exit 65" test "$RC" -eq 65
check "wrong image: names rule R4 and both interfaces" has "$ERR" "refusal R4: interface: image can, device usb"
run verify "$WORK/old.bin" --serial auto
check "wrong image: the old application is untouched" test "$RC" -eq 0

# The cable is pulled half way through the write; the probe is powered again later.
twin_start --init katapult:usb --init "file:0x08002000:$WORK/old.bin" \
	--fault power-loss-block=60 --power-on-after 300 || exit 1
run flash --allow-unknown "$WORK/new.bin" --serial "$TTY"
check "gone mid-write: exit 69" test "$RC" -eq 69
check "gone mid-write: says it disconnected during the write" \
	has "$ERR" "disconnected from"
check "gone mid-write: says it stays in Katapult and how to resume" \
	has "$ERR" "the application is erased, so the probe stays in Katapult, also after a reset or power cycle; reconnect it and rerun the same command"
for i in $(seq 100); do usb_present && break; sleep 0.05; done
run scan --usb
check "gone mid-write: back on power it boots Katapult (safe order kept the app invalid)" \
	grep -qE "^1-1.3 +1d50:6177 +katapult" "$OUT"
run flash --allow-unknown "$WORK/new.bin" --serial auto
check "gone mid-write: the rerun completes" test "$RC" -eq 0

# A tty that is not a probe: in a copy of the bench tree the twin's pty stands for the FTDI
# adapter on port 1-1.6 (its device number is what sysfs is asked about).
twin_start --init katapult:usb --init "file:0x08002000:$WORK/old.bin" || exit 1
BENCH=$WORK/bench
cp -a "$(dirname "$0")/../fixtures/sysfs/bench" "$BENCH"
DEVNO=$(printf '%d:%d' "0x$(stat -L -c %t "$TTY")" "0x$(stat -L -c %T "$TTY")")
ln -s "$BENCH/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.6/1-1.6:1.0/tty/ttyUSB0" \
	"$BENCH/dev/char/$DEVNO"
CARTOFLASH_SYSFS_ROOT=$BENCH run flash --allow-unknown "$WORK/new.bin" --serial "$TTY"
check "not a probe: refused with exit 69" test "$RC" -eq 69
check "not a probe: names what was found" \
	has "$ERR" 'found 0403:6001 "FTDI" "FT232R USB UART" serial A10KZP3Q'
