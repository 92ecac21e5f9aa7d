#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The twin's USB personality on a pty: identity, the 1200-baud touch and re-enumeration, the
# prime quirk and the parser wedge byte for byte (katapult.md §1.7, §3.3, §3.4), and the
# issue's session over USB: old USB application -> new one.
set -u
. "$(dirname "$0")/twin_lib.bash"

TTY=$W/dev/ttyACM0
SYS=$W/sys/bus/usb/devices/1-1.3
export CARTOFLASH_SYSFS_ROOT=$W/sys
attrs() { local f; for f; do printf '%s ' "$(cat "$SYS/$f" 2>/dev/null)"; done; }
mkdir -p "$W/dev" "$W/sys"
"$BIN/mkimage" app --iface usb --version "CARTOGRAPHER 5.1.2" -o "$W/new.bin"
twin p --init "app:usb::CARTOGRAPHER 5.1.0" --speed 0 --pty "$TTY" || { echo "not ok - ${0##*/}: twin did not start"; exit 1; }
wait_for "[ -e '$TTY' ] && [ \"\$(cat '$SYS/idProduct' 2>/dev/null)\" = 614e ]"
check "application presents 1d50:614e \"Cartographer\", serial = chip UID" \
	"[ \"\$(attrs idVendor manufacturer serial)\" = '1d50 Cartographer 16000C000F43304253373820 ' ]"

old=$(ls "$SYS/1-1.3:1.0/tty" 2>/dev/null)
stty -F "$TTY" 1200 2>/dev/null # open, SET_LINE_CODING 1200, close (DTR drops): §3.3
wait_for "[ \"\$(cat '$SYS/idProduct' 2>/dev/null)\" = 6177 ] && [ -e '$TTY' ]"
check "1200 baud + close re-enumerates as Katapult 1d50:6177 \"katapult\"" \
	"[ \"\$(attrs idProduct manufacturer)\" = '6177 katapult ' ]"
check "the new device has a new tty ($old -> $(ls "$SYS/1-1.3:1.0/tty" 2>/dev/null))" \
	"[ -n '$old' ] && [ \"\$(ls '$SYS/1-1.3:1.0/tty')\" != '$old' ]"

connect='\x01\x88\x11\x00\xf1\x7c\x99\x03'
# katapult.md §1.4, protocol 1.0.0: echo, 00 00 01 00, 0x08002000, 64, "stm32f042x6\0"
ack_head=0188a0071100000000000100002000084000000073746d333266303432783600
exec 3<>"$TTY"
stty -F "$TTY" raw -echo 115200
printf "$connect" >&3
got=$(timeout 1 head -c 36 <&3 | xxd -p | tr -d '\n')
check "prime quirk: the first reply is held back (got '${got}')" "[ -z '$got' ]"
printf "$connect" >&3
got=$(timeout 2 head -c 72 <&3 | xxd -p | tr -d '\n')
check "a second command releases both replies, CONNECT ACK 1.0.0 twice (got $got)" \
	"[ \${#got} -eq 144 ] && [ \"\${got:0:64}\" = $ack_head ] && [ \"\${got:72:64}\" = $ack_head ] && [ \"\${got:68:4}\" = 9903 ]"

# §1.7: 68 of the 76 bytes of SEND_BLOCK @0x08002000 (data 00..3f), then the whole frame again.
# §1.5: USB reads a 64-byte packet only when 64 bytes are free; if the 68 bytes arrive alone the
# parser waits for 8 bytes that can never come in (no NACK), else it sees the bad frame and
# NACKs once. Either way it is stuck.
blk='\x01\x88\x12\x11\x00\x20\x00\x08'
for i in $(seq 0 63); do blk+=$(printf '\\x%02x' "$i"); done
full="$blk"'\xd2\xf3\x99\x03'
printf "$full" | head -c 68 >&3
printf "$full" >&3
got=$(timeout 1 head -c 8 <&3 | xxd -p)
check "partial frame + retransmit: one NACK 01 88 f1 00 68 95 99 03 or none (got '$got')" \
	"[ -z '$got' ] || [ '$got' = 0188f10068959903 ]"
printf "$connect" >&3
got=$(timeout 1 head -c 1 <&3 | xxd -p)
check "then the wedged parser answers nothing, not even CONNECT" "[ -z '$got' ]"
exec 3>&-
stop p

# The issue's "done" over USB: old USB application -> new one, through cartoflash.
rm -f "$W/p.bin"
twin p --init "app:usb::CARTOGRAPHER 5.1.0" --speed 0 --pty "$TTY"
wait_for "[ -e '$TTY' ] && [ \"\$(cat '$SYS/idProduct' 2>/dev/null)\" = 614e ]"
"$CARTOFLASH" flash --allow-unknown "$W/new.bin" --serial "$TTY" >"$W/flash.out" 2>&1
rc=$?
check "cartoflash flashes the USB twin over its pty" "[ $rc -eq 0 ]" "$W/flash.out"
wait_for "[ \"\$(cat '$SYS/idProduct' 2>/dev/null)\" = 614e ] && [ -e '$TTY' ]"
check "the new application is back as 1d50:614e" "[ \"\$(cat '$SYS/idProduct')\" = 614e ]"
# §8.3 vector: identify offset 0 count 40, seq 0 -> 48-byte response, then ACK 05 11 8f 08 7e
exec 3<>"$TTY"
stty -F "$TTY" raw -echo 115200
printf '\x08\x10\x01\x00\x28\x5e\x9f\x7e' >&3
got=$(timeout 2 head -c 53 <&3 | xxd -p | tr -d '\n')
exec 3>&-
check "the new application answers identify (response + ACK 05 11 8f 08 7e)" \
	"[ \"\${got:0:10}\" = 3011000028 ] && [ \"\${got:96:10}\" = 05118f087e ]"
stop p
check "flash file holds the new image at 0x08002000" \
	"cmp -s -n $(stat -c %s "$W/new.bin") -i 8192:0 '$W/p.bin' '$W/new.bin'"
