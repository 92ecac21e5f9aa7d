#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The real cartoflash binary under dfuemu against the emulated STM32F042 ROM: recover, dfu read.
set -u
BUILD=${BUILD:-build}
EMU=$PWD/$BUILD/dfuemu
MK=$PWD/$BUILD/mkimage
CF=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; sed 's/^/#   /' out.txt | tail -8; fi; }
jcheck() {	# a check that needs jq (not in tools/deps.sh): skipped, visibly, without it
	if command -v jq >/dev/null; then check "$@"; else n=$((n + 1)); echo "ok $n - $1 # SKIP jq not installed"; fi
}
skip_all() { echo "ok 1 - dfu recover # SKIP $1"; exit 0; }

command -v umockdev-wrapper >/dev/null || skip_all "umockdev not installed"
for b in "$EMU" "$MK" "$CF"; do [ -x "$b" ] || { echo "not ok - ${0##*/}: $b not built (make tools)"; exit 1; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

"$MK" full --iface usb -s 22528 -o full.bin || exit 1	# 8 KiB Katapult + 22 KiB app
"$MK" katapult --iface usb -o kat.bin || exit 1
"$MK" app --iface usb -o app.bin || exit 1
flen=$(stat -c %s full.bin)
klen=$(stat -c %s kat.bin)
alen=$(stat -c %s app.bin)
same() {	# same FLASH OFFSET FILE: the flash holds FILE at OFFSET
	cmp -s <(tail -c +$(($2 + 1)) "$1" | head -c "$(stat -c %s "$3")") "$3"
}
blank() { cmp -s "$1" <(head -c 32768 /dev/zero | tr '\0' '\377'); }
emu() { timeout 60 "$EMU" "$@"; }

# Blank chip, full image.
emu --flash-out f1.bin --stats s1.txt -- "$CF" recover --allow-unknown --full full.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "blank chip: recover --full exits 0 (rc=$rc)" "[ $rc -eq 0 ]"
check "blank chip: flash holds the full image" "same f1.bin 0 full.bin"
check "blank chip: blank pages are not erased again, leave jumped to 0x08000000" \
	"grep -q 'left=1 jump=0x08000000 pages_erased=0 ' s1.txt"
check "blank chip: summary says read back identical" \
	"grep -q 'read back identical (0/30 pages erased)' out.txt"
# dfuemu announces the F042 datasheet times as bwPollTimeout (dfu.md §1.3, §2.7): every one
# is honoured, no GETSTATUS comes early.
check "blank chip: bwPollTimeout honoured (55 ms per block, no early GETSTATUS)" \
	"grep -q 'early_polls=0 max_poll_ms=55 ' s1.txt"

# A chip full of garbage: every page erased exactly once (design rule 5).
head -c 32768 /dev/urandom >garbage.bin
emu --flash-in garbage.bin --flash-out g1.bin --stats sg.txt -- "$CF" recover --allow-unknown --full full.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "garbage chip: recovered, each of the 30 pages erased once (rc=$rc)" \
	"[ $rc -eq 0 ] && same g1.bin 0 full.bin && grep -q 'pages_erased=30 max_erases_per_page=1' sg.txt"
check "garbage chip: the bootloader region was read back before any application block (rule 5)" \
	"grep -q 'app_writes_before_boot_read=0' sg.txt"
check "garbage chip: 30 erases of 25 ms each waited out, no early GETSTATUS" \
	"grep -q 'early_polls=0 ' sg.txt"
# Issue #15: the bootloader pages are erased, written and read back before any application
# page is erased; the run ends in dfuIDLE (state 2) before the leave.
check "garbage chip: no application page erased before the bootloader was read back" \
	"grep -q 'app_erases_before_boot_read=0 ' sg.txt"

# The ROM vanishes during the erase of the application pages: Katapult is already whole.
emu --fault vanish-erase=12 --flash-in garbage.bin --flash-out fve.bin -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "vanish while erasing: exit 69, the bootloader region already written and verified (rc=$rc)" \
	"[ $rc -eq 69 ] && cmp -s <(head -c 8192 fve.bin) <(head -c 8192 full.bin) && grep -q 'erase page 0x08003000' out.txt && grep -q 'starts Katapult' out.txt"

# Rerun on a recovered probe: pages that already hold the image are neither erased nor written.
emu --flash-in f1.bin --flash-out f1b.bin --stats s1b.txt -- "$CF" recover --allow-unknown --full full.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "rerun: nothing erased, nothing written, still verified (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'pages_erased=0 .*blocks_written=0 ' s1b.txt && grep -q 'read back identical' out.txt && cmp -s f1b.bin f1.bin"
check "rerun: the summary says nothing was written (issue #15: no '30720 bytes written')" \
	"grep -q 'nothing written (the flash held the image), read back identical (0/30 pages erased)' out.txt"

# Corrupt bootloader: garbage in the first 8 KiB, then the full image over it.
{ head -c 8192 /dev/urandom; tail -c +8193 f1.bin; } >corrupt_boot.bin
emu --flash-in corrupt_boot.bin --flash-out f2.bin -- "$CF" recover --allow-unknown --full full.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "corrupt bootloader: recovered (rc=$rc)" "[ $rc -eq 0 ] && same f2.bin 0 full.bin"

# Garbage application behind a good bootloader: bootloader + application.
{ head -c 8192 f1.bin; head -c 24576 /dev/urandom; } >garbage_app.bin
emu --flash-in garbage_app.bin --flash-out f3.bin --stats s3.txt -- \
	"$CF" recover --allow-unknown --bootloader kat.bin --app app.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "garbage application: --bootloader + --app exits 0 (rc=$rc)" "[ $rc -eq 0 ]"
check "garbage application: bootloader at 0, application at 0x2000" \
	"same f3.bin 0 kat.bin && same f3.bin 8192 app.bin"
check "bootloader + application: bootloader read back before the application (rule 5)" \
	"grep -q 'app_writes_before_boot_read=0' s3.txt"
pages=$(( (alen + 1023) / 1024 ))
check "bootloader + application: the bootloader pages already match, $pages application pages erased once" \
	"grep -q 'pages_erased=$pages max_erases_per_page=1' s3.txt"
# Issue #15: the same chip state as --full: 0xFF between the bootloader and the application.
emu --flash-in garbage.bin --flash-out fpair.bin -- \
	"$CF" recover --allow-unknown --bootloader kat.bin --app app.bin --timeout 100ms >out.txt 2>&1
rc=$?
check "--bootloader + --app on garbage: the gap between them is erased, as --full leaves it (rc=$rc)" \
	"[ $rc -eq 0 ] && same fpair.bin 0 kat.bin && same fpair.bin 8192 app.bin && cmp -s <(tail -c +$((klen + 1)) fpair.bin | head -c $((8192 - klen))) <(head -c $((8192 - klen)) /dev/zero | tr '\\0' '\\377')"

# One DfuSe .dfu with both images (dfu.md §1.9: the most robust input), made by dfuse-pack.
if command -v dfuse-pack >/dev/null; then
	dfuse-pack -b 0x08000000:kat.bin -b 0x08002000:app.bin -D 0x0483:0xdf11 both.dfu >/dev/null
	emu --speed 0 --flash-in garbage.bin --flash-out fd.bin --stats sd.txt -- "$CF" recover --allow-unknown --full both.dfu --timeout 100ms >out.txt 2>&1
	rc=$?
	check ".dfu with two elements: both written, one erase plan (rc=$rc)" \
		"[ $rc -eq 0 ] && same fd.bin 0 kat.bin && same fd.bin 8192 app.bin && grep -q 'max_erases_per_page=1' sd.txt"
	dfuse-pack -b 0x08004000:app.bin odd.dfu >/dev/null
	"$CF" recover --allow-unknown --full odd.dfu >out.txt 2>&1
	rc=$?
	check ".dfu element at 0x08004000 refused, exit 65 (rc=$rc)" \
		"[ $rc -eq 65 ] && grep -q 'element at 0x08004000' out.txt"
else
	echo "ok $((n + 1)) - .dfu input # SKIP dfuse-pack not installed"
	n=$((n + 1))
fi

# Two devices: refuse to guess, then select by path.
emu --devices 2 --flash-out two.bin -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "two devices: refuses to guess with 64 (rc=$rc)" "[ $rc -eq 64 ]"
check "two devices: lists both paths and says --path" \
	"grep -q '2 DFU devices found: 1-1 (serial FFFFFFFEFFFF), 1-2' out.txt && grep -q -- '--path' out.txt"
check "two devices: nothing written" "blank two.bin && blank two.bin.2"
emu --speed 0 --devices 2 --flash-out two.bin -- "$CF" recover --allow-unknown --path 1-2 --full full.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "two devices: --path 1-2 writes device 1-2 only (rc=$rc)" \
	"[ $rc -eq 0 ] && same two.bin.2 0 full.bin && blank two.bin"

# Both at once: one command, one loop, two ROMs (each --path a job of the fleet).
emu --speed 0 --devices 2 --flash-in garbage.bin --flash-out both.bin -- \
	"$CF" recover --allow-unknown --path 1-1 --path 1-2 --full full.bin --timeout 100ms >out.txt 2>&1
rc=$?
check "two devices at once: --path 1-1 --path 1-2 recovers both (rc=$rc)" \
	"[ $rc -eq 0 ] && same both.bin 0 full.bin && same both.bin.2 0 full.bin && grep -q '2 of 2 devices succeeded' out.txt"

emu --devices 2 -- "$CF" recover --allow-unknown --path 1-3 --full full.bin >out.txt 2>&1
rc=$?
check "--path with no ROM there: exit 69 listing the paths that have one (rc=$rc)" \
	"[ $rc -eq 69 ] && grep -q 'no DFU device 0483:df11 at usb 1-3 (there are: 1-1 (serial FFFFFFFEFFFF), 1-2' out.txt"

# Device resets before the leave GETSTATUS completes: success, unconfirmed (dfu.md §2.5).
emu --fault leave-reset --flash-out f4.bin -- "$CF" recover --allow-unknown --full full.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "leave without status counts as success (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'status unconfirmed' out.txt && same f4.bin 0 full.bin"
# A summary longer than 160 characters is printed whole (issue #15).
emu --fault leave-reset --stale-ms 2000 -- "$CF" recover --allow-unknown --full full.bin --timeout 200ms >out.txt 2>/dev/null
rc=$?
check "a long summary is not cut: the table line ends with what to check (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'ROM still attached; not seen on USB yet (remove the BOOT0 bridge and power-cycle)\$' out.txt && [ \$(grep '^usb 1-1 ' out.txt | wc -c) -gt 200 ]"
# -q: errors only (style.md §2.8): nothing on stderr when all goes well.
emu --speed 0 --flash-out fq.bin -- "$CF" recover --allow-unknown --full full.bin --timeout 100ms -q >out.txt 2>err.txt
rc=$?
check "-q: recover prints no stage or progress lines, the result table stays on stdout (rc=$rc)" \
	"[ $rc -eq 0 ] && [ ! -s err.txt ] && grep -q '1 of 1 device succeeded' out.txt && same fq.bin 0 full.bin"

# Read protection: reported with the way out, nothing erased.
{ head -c 32768 /dev/urandom; } >rdp_in.bin
emu --speed 0 --fault rdp --flash-in rdp_in.bin --flash-out f5.bin -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "read protection: exit 76 with errVENDOR (rc=$rc)" \
	"[ $rc -eq 76 ] && grep -q 'errVENDOR (read protection is active)' out.txt"
check "read protection: says --unprotect wipes the chip" "grep -q 'unprotect.*wipes' out.txt"
check "read protection: flash untouched" "cmp -s f5.bin rdp_in.bin"
emu --fault rdp --flash-in rdp_in.bin --flash-out f6.bin --stats s6.txt -- \
	"$CF" recover --allow-unknown --full full.bin --unprotect --timeout 200ms >out.txt 2>&1
rc=$?
check "--unprotect: warns it wipes the chip, waits for the ROM to come back, recovers (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'erases ALL' out.txt && grep -q 'waiting for it to come back' out.txt && same f6.bin 0 full.bin && grep -q 'rdp=0' s6.txt"
# Issue #15: after 0x92 the old instance stays listed while the chip erases and resets; a
# listed but gone ROM is "not back yet", not an unreadable layout.
emu --fault rdp --unprotect-ms 1500 --stale-ms 600 --flash-in rdp_in.bin --flash-out f6s.bin --stats s6s.txt -- \
	"$CF" recover --allow-unknown --full full.bin --unprotect --timeout 200ms >out.txt 2>&1
rc=$?
check "--unprotect with a slow reset (1.5 s erase, listed 0.6 s after): waits it out, recovers (rc=$rc)" \
	"[ $rc -eq 0 ] && same f6s.bin 0 full.bin && grep -q 'rdp=0 .*early_polls=0 ' s6s.txt && ! grep -q 'unreadable memory layout' out.txt"
emu --fault reenumerating --flash-out fre.bin -- "$CF" recover --allow-unknown --full full.bin --timeout 3s >out.txt 2>&1
rc=$?
check "rerun while the ROM re-enumerates (listed but gone): --timeout waits for it (rc=$rc)" \
	"[ $rc -eq 0 ] && same fre.bin 0 full.bin"
emu --fault reenumerating -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "listed but gone, no --timeout: exit 69 saying so and naming --timeout (rc=$rc)" \
	"[ $rc -eq 69 ] && grep -q 'ROM at usb 1-1 is listed but does not answer (LIBUSB_ERROR_NO_DEVICE)' out.txt && grep -q -- '--timeout' out.txt"

# Dry run: the plan, nothing written.
emu --flash-in garbage_app.bin --flash-out f7.bin -- "$CF" recover --allow-unknown --full full.bin --dry-run >out.txt 2>&1
rc=$?
check "dry run: exit 0, prints the plan (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'erase: 30 pages, each at most once' out.txt && grep -q 'write 1: full image, $flen bytes at 0x08000000' out.txt"
check "dry run: flash untouched" "cmp -s f7.bin garbage_app.bin"
emu -- "$CF" recover --allow-unknown --full full.bin --dry-run --json >out.txt 2>/dev/null
jcheck "dry run --json: a plan event and a summary, valid JSON" \
	"jq -s -e 'map(select(.event == \"plan\"))[0].erase | length == 30' out.txt >/dev/null && jq -s -e '.[-1].event == \"summary\"' out.txt >/dev/null"

# Refusal before any write: an application is not for 0x08000000 (R1).
emu --flash-in f1.bin --flash-out f8.bin -- "$CF" recover --allow-unknown --full app.bin >out.txt 2>&1
rc=$?
check "application given as --full: refused R1, exit 65, nothing written (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'R1' out.txt && cmp -s f8.bin f1.bin"

# R6 for a pair: a USB Katapult with a CAN application, or two CAN bitrates.
"$MK" app --iface can -o app_can.bin && "$MK" katapult --iface can --bitrate 500000 -o kat500.bin
emu --flash-in f1.bin --flash-out f8b.bin -- "$CF" recover --allow-unknown --bootloader kat.bin --app app_can.bin >out.txt 2>&1
rc=$?
check "USB bootloader + CAN application: refused R6, exit 65, nothing written (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'refusal R6: .*interface' out.txt && cmp -s f8b.bin f1.bin"
emu -- "$CF" recover --allow-unknown --bootloader kat500.bin --app app_can.bin >out.txt 2>&1
rc=$?
check "500k bootloader + 1M application: refused R6 on the CAN bitrate (rc=$rc)" \
	"[ $rc -eq 65 ] && grep -q 'refusal R6: .*can bitrate' out.txt"

# A write-protected page 0 "erases" and "programs" without error: the read-back of the
# bootloader region catches it before any application byte is written (dfu.md §2.8, rule 5).
emu --fault wrp=0 --flash-in garbage.bin --flash-out fp.bin -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "write-protected page: exit 76 at 'verify bootloader', the application pages neither erased nor written (rc=$rc)" \
	"[ $rc -eq 76 ] && grep -q 'verify bootloader: byte 0x0800' out.txt && cmp -s <(tail -c +8193 fp.bin) <(tail -c +8193 garbage.bin)"

# Faults the host must ride out.
emu --fault stall-busy --flash-out f9.bin -- "$CF" recover --allow-unknown --full full.bin --timeout 200ms >out.txt 2>&1
rc=$?
check "GETSTATUS stalls while busy (L4): tolerated (rc=$rc)" "[ $rc -eq 0 ] && same f9.bin 0 full.bin"
emu --fault slow-erase --flash-out f10.bin -- "$CF" recover --allow-unknown --full full.bin --mass-erase --timeout 200ms >out.txt 2>&1
rc=$?
check "slow erase with a short bwPollTimeout, mass erase: tolerated (rc=$rc)" \
	"[ $rc -eq 0 ] && same f10.bin 0 full.bin"
emu --fault vanish=3 --flash-out f11.bin -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "device vanishes mid-write: exit 69 naming device, stage and next step (rc=$rc)" \
	"[ $rc -eq 69 ] && grep -q 'STM32 ROM DFU at usb 1-1: write' out.txt && grep -q 'replug and rerun recover' out.txt"
check "device vanishes mid-write: the error names the address, not a DfuSe block number" \
	"grep -q 'write at 0x0800[0-9a-f]*: ' out.txt && ! grep -q 'block [0-9]' out.txt"

# A cell in the application programs wrong without any error status: only the final read-back
# sees it (today's dfu-util would exit 0); the ROM is left in dfuIDLE, not dfuUPLOAD-IDLE.
flip=$(od -A d -v -t x1 -j 21845 -w1 full.bin | awk '$2 != "ff" { printf "0x%08x", 134217728 + $1; exit }')
emu --fault flip=$flip --flash-in garbage.bin --flash-out ffl.bin --stats sfl.txt -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "a weak cell at $flip: the final verify fails with 76 naming that byte (rc=$rc)" \
	"[ $rc -eq 76 ] && grep -q \"verify: full image: byte $flip differs\" out.txt"
check "after the failed verify the ROM was sent back to dfuIDLE (ABORT), and did not leave" \
	"grep -q 'left=0 .*state=2\$' sfl.txt"

# Following the probe back (dfuemu re-enumerates the port as Katapult or the application with
# serial 16000C000F43304253373820, whose CAN UUID is e0ef270ca188 by katapult.md §2.3).
emu --speed 0 --reappear katapult -- "$CF" recover --allow-unknown --full full.bin --timeout 3s >out.txt 2>&1
rc=$?
check "follow: back as Katapult on usb 1-1 with serial and CAN UUID (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'back as Katapult on usb 1-1, serial 16000C000F43304253373820, CAN UUID e0ef270ca188' out.txt"
emu --speed 0 --reappear app -- "$CF" recover --allow-unknown --full full.bin --timeout 3s --json >out.txt 2>/dev/null
rc=$?
jcheck "follow --json: mode application, serial and CAN UUID in the result (rc=$rc)" \
	"[ $rc -eq 0 ] && jq -s -e 'map(select(.event == \"result\"))[0] | .mode == \"application\" and .serial == \"16000C000F43304253373820\" and (.summary | contains(\"CAN UUID e0ef270ca188\"))' out.txt >/dev/null"
emu --speed 0 -- "$CF" recover --allow-unknown --full full.bin --timeout 300ms >out.txt 2>&1
rc=$?
check "follow: nothing comes back: success, and says what to check (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q 'remove the BOOT0 bridge' out.txt"
"$MK" full --iface can -o full_can.bin
emu --speed 0 -- "$CF" recover --allow-unknown --full full_can.bin --timeout 300ms >out.txt 2>&1
rc=$?
check "follow: a CAN build is not looked for on USB, the summary says how to find it (rc=$rc)" \
	"[ $rc -eq 0 ] && grep -q \"the image talks CAN: find the probe with 'cartoflash scan --can IFACE'\" out.txt"

# dfu read: upload into a file, identical to the flash.
emu --speed 0 --flash-in f1.bin -- "$CF" dfu read 0x08000000 32768 up.bin >out.txt 2>&1
rc=$?
check "dfu read 0x08000000 32768: exit 0, identical (rc=$rc)" "[ $rc -eq 0 ] && cmp -s up.bin f1.bin"
emu --fault rdp -- "$CF" dfu read 0x08000000 64 up2.bin >out.txt 2>&1
rc=$?
check "dfu read under read protection: exit 76 with the way out (rc=$rc)" \
	"[ $rc -eq 76 ] && grep -q 'recover --unprotect' out.txt"

# --no-reboot stays in the ROM; --mass-erase is one "41" instead of the page list.
emu --flash-in garbage.bin --flash-out fn.bin --stats sn.txt -- "$CF" recover --allow-unknown --full full.bin --no-reboot --mass-erase >out.txt 2>&1
rc=$?
check "--no-reboot --mass-erase: one mass erase, verified, still in DFU mode (rc=$rc)" \
	"[ $rc -eq 0 ] && same fn.bin 0 full.bin && grep -q 'left=0 .*pages_erased=0 .*mass_erases=1 ' sn.txt && grep -q 'left in ROM DFU mode' out.txt"

# Waiting for the ROM: plugged in 0.7 s after the command started.
emu --speed 0 --appear-after 700 --flash-out fw.bin -- "$CF" recover --allow-unknown --full full.bin --timeout 3s >out.txt 2>&1
rc=$?
check "--timeout waits for a ROM plugged in later (rc=$rc)" "[ $rc -eq 0 ] && same fw.bin 0 full.bin"
emu --appear-after 700 -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "without --timeout no ROM is no ROM: exit 69 (rc=$rc)" "[ $rc -eq 69 ]"

# Selection by id, and dfu read on the second of two devices.
emu --speed 0 --flash-out byid.bin -- "$CF" recover --allow-unknown --device 0483:df11 --full full.bin --timeout 100ms >out.txt 2>&1
rc=$?
check "--device 0483:df11 selects the ROM (rc=$rc)" "[ $rc -eq 0 ] && same byid.bin 0 full.bin"
emu --flash-out none.bin -- "$CF" recover --allow-unknown --device 1d50:6177 --full full.bin >out.txt 2>&1
rc=$?
check "--device with no such DFU device: exit 69, says how to enter the ROM (rc=$rc)" \
	"[ $rc -eq 69 ] && grep -q 'no DFU device 1d50:6177 found' out.txt && grep -q 'BOOT0' out.txt"
emu --speed 0 --devices 2 --flash-in f1.bin -- "$CF" dfu read 0x08002000 4096 part.bin --path 1-2 >out.txt 2>&1
rc=$?
check "dfu read --path 1-2 of two devices (rc=$rc)" \
	"[ $rc -eq 0 ] && cmp -s part.bin <(tail -c +8193 f1.bin | head -c 4096) && grep -q 'from usb 1-2' out.txt"

# scan --dfu lists every ROM with its USB path and layout.
emu --devices 2 -- "$CF" scan --dfu --json >out.txt 2>&1
rc=$?
check "scan --dfu --json lists both ROMs with their layout (rc=$rc)" \
	"[ $rc -eq 0 ] && [ \$(grep -c '\"usb_path\":\"1-[12]\"' out.txt) -eq 2 ] && grep -q '032\*001Kg' out.txt"

# Permission: the device node cannot be opened, as without the udev rule (dfuemu runs the
# tool as nobody when we are root, so the work directory must be readable).
chmod 755 "$work" && chmod 644 full.bin
emu --fault access -- "$CF" recover --allow-unknown --full full.bin >out.txt 2>&1
rc=$?
check "permission error: exit 77 naming LIBUSB_ERROR_ACCESS and the udev rule (rc=$rc)" \
	"[ $rc -eq 77 ] && grep -q 'LIBUSB_ERROR_ACCESS' out.txt && grep -q '70-cartoflash.rules' out.txt"
