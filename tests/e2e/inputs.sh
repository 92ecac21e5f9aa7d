#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Bad input at the edges through the real binary (issue 16): durations, paths that are no tty,
# FIFOs and devices as input files, manifest lines, getopt's messages; and the one documented
# stdin, `flash -`, proven by the twin's flash bytes.
set -u
. "$(dirname "$0")/can_lib.bash"

# cf NAME ARGS...: cartoflash with stdout/stderr in $work/NAME.{out,err}, bounded by timeout so
# a blocking read fails the check instead of hanging the suite; returns its exit code.
cf() {
	local name=$1
	shift
	timeout 10 "$CARTOFLASH" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null
}
# has FILE TEXT: TEXT is in FILE, which exists (a missing log never passes a check).
has() { [ -s "$1" ] && grep -qF -- "$2" "$1"; }
lines() { wc -l <"$1" | tr -d ' '; }

"$BIN/mkimage" app --iface can --bitrate 1000000 --size 22528 -o "$work/app.bin" || exit 1
mkfifo "$work/fifo"
U=e0ef270ca188

# --- durations ------------------------------------------------------------------------------
for t in nans infs 1e300s -5s 5 0s 25h 1441m; do
	cf "t$t" flash --allow-unknown "$work/app.bin" --can vcan9 --uuid $U --timeout "$t"
	rc=$?
	check "--timeout $t refused as usage (64), naming the value" \
		"[ $rc -eq 64 ] && has '$work/t$t.err' \"not '$t'\""
done
cf tmiss flash --allow-unknown "$work/app.bin" --can vcan9 --uuid $U --timeout
rc=$?
check "--timeout without a value: 'needs a value', not 'unknown option' (64)" \
	"[ $rc -eq 64 ] && has '$work/tmiss.err' \"option '--timeout' needs a value\""
cf scant scan --can vcan9 --timeout infs
check "scan --timeout infs refused (64)" "[ $? -eq 64 ] && has '$work/scant.err' \"'infs'\""

# --- getopt: one message -------------------------------------------------------------------
cf bogus flash --allow-unknown "$work/app.bin" --bogus
rc=$?
check "an unknown option: exit 64, our one line only (no glibc line)" \
	"[ $rc -eq 64 ] && has '$work/bogus.err' \"unknown option '--bogus'\" && [ \$(lines '$work/bogus.err') -eq 1 ]"
cf flagval flash --allow-unknown "$work/app.bin" --dry-run=yes
check "a value given to a flag: 'takes no value' (64)" \
	"[ $? -eq 64 ] && has '$work/flagval.err' \"option '--dry-run' takes no value\" && [ \$(lines '$work/flagval.err') -eq 1 ]"
cf dfuneg dfu read 0x08000000 -5 "$work/out.bin"
check "dfu read with a negative LENGTH: says negative, not 'unknown option' (64)" \
	"[ $? -eq 64 ] && has '$work/dfuneg.err' \"'-5': negative values are not accepted\""
cf scanx scan -x
check "an unknown short option named once (64)" \
	"[ $? -eq 64 ] && has '$work/scanx.err' \"unknown option '-x'\" && [ \$(lines '$work/scanx.err') -eq 1 ]"

# --- target lists ---------------------------------------------------------------------------
cf trailcan flash --allow-unknown "$work/app.bin" --can vcan9 --uuid $U --can vcan8
check "a trailing --can with no --uuid is refused, not ignored (64)" \
	"[ $? -eq 64 ] && has '$work/trailcan.err' '--can vcan8 names no probe: add --uuid UUID after it'"
cf serbaud flash --allow-unknown "$work/app.bin" --serial /dev/ttyACM0@250000
check "--serial PATH@N is refused with --baud N as the way to give a rate (64)" \
	"[ $? -eq 64 ] && has '$work/serbaud.err' 'give the rate as --baud N'"

# --- --serial that is no tty ----------------------------------------------------------------
echo text >"$work/regular"
for s in /dev/null /dev/zero "$work/regular" "$work"; do
	cf serial flash --allow-unknown "$work/app.bin" --serial "$s"
	rc=$?
	check "--serial $s: 'not a serial port', scan --usb next, exit 69 (not 'in use by pid')" \
		"[ $rc -eq 69 ] && has '$work/serial.err' '$s is not a serial port' &&
		 has '$work/serial.err' 'cartoflash scan --usb' && ! grep -q 'in use' '$work/serial.err'"
done

# --- FIFOs, devices and directories as input files ------------------------------------------
for f in "$work/fifo" /dev/zero "$work"; do
	cf img flash --allow-unknown "$f" --can vcan9 --uuid $U
	rc=$?
	check "image $f refused at once as not a regular file (66)" \
		"[ $rc -eq 66 ] && has '$work/img.err' 'not a regular file'"
	cf ins inspect "$f"
	check "inspect $f refused at once (66)" "[ $? -eq 66 ] && has '$work/ins.err' 'not a regular file'"
	cf kc scan --can vcan9 --klipper-config "$f"
	check "--klipper-config $f refused at once (66)" \
		"[ $? -eq 66 ] && has '$work/kc.err' 'not a regular file'"
	cf man fleet --allow-unknown "$f"
	check "manifest $f refused at once (66)" "[ $? -eq 66 ] && has '$work/man.err' 'not a regular file'"
done
head -c 1100000 /dev/zero | timeout 10 "$CARTOFLASH" flash --allow-unknown - --can vcan9 --uuid $U \
	>/dev/null 2>"$work/big.err"
check "flash - with more than 1 MiB on stdin: refused after the bound (65)" \
	"[ $? -eq 65 ] && has '$work/big.err' 'standard input: read: larger than 1 MiB'"

# --- manifest lines -------------------------------------------------------------------------
long=$(printf 'n%.0s' $(seq 1 64))
printf '[a]\ninterface = can0\nuuid = %s\nimage = app.bin\n\n[b]\nimage = b.bin\n[a]\n' $U \
	>"$work/rep.ini"
printf '[%s]\ninterface = can0\n' "$long" >"$work/longsec.ini"
printf '[a]\ninterface = sim:/tmp/%s\n' "$long" >"$work/longif.ini"
cf rep fleet --allow-unknown "$work/rep.ini"
check "a repeated [section] is refused naming both lines (64)" \
	"[ $? -eq 64 ] && has '$work/rep.err' 'line 8: [a] repeats the section of line 1'"
cf longsec fleet --allow-unknown "$work/longsec.ini"
check "a section name over 63 characters is refused naming the line (64)" \
	"[ $? -eq 64 ] && has '$work/longsec.err' 'line 1: section name longer than 63 characters'"
cf longif fleet --allow-unknown "$work/longif.ini"
check "an interface over 63 characters is refused naming the line (64)" \
	"[ $? -eq 64 ] && has '$work/longif.err' 'line 2: interface in [a] longer than 63 characters'"

# --- flash - reads the image from stdin, like inspect - -------------------------------------
start_bus 1000000 0 || { not_ok "simbus starts"; exit 1; }
start_twin p 16000C000F43304253373820 0 katapult:can:1000000 \
	"app:can:1000000:CARTOGRAPHER 4.0.0" || { not_ok "twin starts"; exit 1; }
timeout 60 "$CARTOFLASH" flash --allow-unknown - --can "sim:$work/bus" --uuid "$(uuid_of p)" <"$work/app.bin" \
	>"$work/stdin.out" 2>"$work/stdin.err"
rc=$?
check "flash - (image on stdin) exits 0" "[ $rc -eq 0 ]"
stop_twin p
check "flash -: the twin's flash at 0x08002000 holds the piped image, byte for byte" \
	"app_matches p '$work/app.bin'"

# --- a manifest line past upstream inih's 200-byte buffer reaches the parser whole -----------
# The image path (about 240 characters with the manifest's folder) and a long comment: a fleet
# that cut either would load no image or the wrong one; the twin's bytes prove the right one.
dir=$(printf 'd%.0s' $(seq 1 120))
img=$(printf 'i%.0s' $(seq 1 90)).bin
mkdir -p "$work/$dir"
"$BIN/mkimage" app --iface can --bitrate 1000000 --size 24576 -o "$work/$dir/$img" || exit 1
start_twin q 16000C000F43304253373821 0 katapult:can:1000000 \
	"app:can:1000000:CARTOGRAPHER 4.0.0" || { not_ok "twin starts"; exit 1; }
printf '[long]\ninterface = sim:%s\nuuid = %s ; %s\nimage = %s/%s\n' "$work/bus" "$(uuid_of q)" \
	"$(printf 'c%.0s' $(seq 1 900))" "$dir" "$img" >"$work/long.ini"
ilen=$(awk '/^image/ { print length }' "$work/long.ini")
ulen=$(awk '/^uuid/ { print length }' "$work/long.ini")
check "the manifest's image line is $ilen characters, its uuid line $ulen (both over 200)" \
	"[ '${ilen:-0}' -gt 200 ] && [ '${ulen:-0}' -gt 200 ]"
timeout 60 "$CARTOFLASH" fleet --allow-unknown "$work/long.ini" >"$work/long.out" 2>"$work/long.err"
rc=$?
check "fleet with those lines exits 0" "[ $rc -eq 0 ]"
stop_twin q
check "fleet: the twin's flash holds the image the long line names, byte for byte" \
	"app_matches q '$work/$dir/$img' && ! cmp -s '$work/app.bin' '$work/$dir/$img'"
"$CARTOFLASH" inspect - <"$work/app.bin" >"$work/insp.out" 2>&1
check "inspect - reads the same stdin" "[ $? -eq 0 ] && has '$work/insp.out' 'app'"
echo "1..$n"
