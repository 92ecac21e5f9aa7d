#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dfu-util 0.11 as a reference client against the emulated STM32F042 ROM (dfuemu): proves the
# emulator before cartoflash is judged by it (dfu.md §5.1, §2.3-§2.5).
set -u
BUILD=${BUILD:-build}
EMU=$PWD/$BUILD/dfuemu
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
skip_all() { echo "ok 1 - dfu-util reference # SKIP $1"; exit 0; }

command -v dfu-util >/dev/null || skip_all "dfu-util not installed"
command -v umockdev-wrapper >/dev/null || skip_all "umockdev not installed"
[ -x "$EMU" ] || { echo "not ok - ${0##*/}: $EMU not built (make tools)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
head -c 30720 /dev/urandom >full.bin

# -l: both devices, their USB paths and the F0 ROM's shared serial (dfu.md §1.1, §3.2).
timeout 30 "$EMU" --devices 2 -- dfu-util -l >list.txt 2>&1
check "dfu-util -l lists alt 0 of device 1-1" \
	"grep -q 'path=\"1-1\", alt=0, name=\"@Internal Flash  /0x08000000/032\*001Kg\", serial=\"FFFFFFFEFFFF\"' list.txt"
check "dfu-util -l lists device 1-2" "grep -q 'path=\"1-2\", alt=1' list.txt"

# Download + leave: exit 0, flash identical, every page erased once, jump to 0x08000000.
timeout 60 "$EMU" --flash-out flash.bin --stats stats.txt -- \
	dfu-util -a 0 -s 0x08000000:leave -D full.bin >dl.txt 2>&1
rc=$?
check "dfu-util download + leave exits 0 (rc=$rc)" "[ $rc -eq 0 ] && grep -q 'Transitioning to dfuMANIFEST state' dl.txt"
check "flash identical after dfu-util download" "cmp -s <(head -c 30720 flash.bin) full.bin"
check "each page erased once, leave jumped to 0x08000000" \
	"grep -q 'left=1 jump=0x08000000 pages_erased=30 max_erases_per_page=1' stats.txt"
# dfu-util never reads back (dfu.md §3.4): the rule-5 counter can see that.
check "dfu-util writes the application before reading the bootloader back" \
	"grep -q 'app_writes_before_boot_read=1[0-9]' stats.txt"
# ... and erases every page, the application's included, before writing anything (issue #15).
check "dfu-util erases the 22 application pages before the bootloader is back" \
	"grep -q 'app_erases_before_boot_read=22 ' stats.txt"
# dfuemu announces datasheet bwPollTimeouts (25 ms per erase, 55 ms per block): the
# reference client waits each out, so an early GETSTATUS is the host's fault.
check "dfu-util honours the datasheet bwPollTimeout: no early GETSTATUS" \
	"grep -q 'early_polls=0 max_poll_ms=55 ' stats.txt"

# Upload: read-back identical.
timeout 60 "$EMU" --flash-in flash.bin -- dfu-util -a 0 -s 0x08000000:30720 -U up.bin >ul.txt 2>&1
rc=$?
check "dfu-util upload exits 0 (rc=$rc)" "[ $rc -eq 0 ]"
check "read-back identical" "cmp -s up.bin full.bin"

# The device resets before the leave GETSTATUS completes: dfu-util calls that an error (§2.5).
timeout 60 "$EMU" --fault leave-reset --flash-out flash2.bin -- \
	dfu-util -a 0 -s 0x08000000:leave -D full.bin >lr.txt 2>&1
rc=$?
check "leave-reset: dfu-util exits 74 'Error during download get_status' (rc=$rc)" \
	"[ $rc -eq 74 ] && grep -q 'Error during download get_status' lr.txt"
check "leave-reset: flash is complete all the same" "cmp -s <(head -c 30720 flash2.bin) full.bin"

# Write protection: dfu-util reports success over a page that did not change (it never
# reads back), which is why cartoflash verifies.
head -c 32768 /dev/urandom >garbage.bin
timeout 60 "$EMU" --fault wrp=0 --flash-in garbage.bin --flash-out wrp.bin -- \
	dfu-util -a 0 -s 0x08000000:leave -D full.bin >wrp.txt 2>&1
rc=$?
check "write-protected page: dfu-util exits 0 (rc=$rc) while page 0 kept its old bytes" \
	"[ $rc -eq 0 ] && cmp -s <(head -c 1024 wrp.bin) <(head -c 1024 garbage.bin)"

# Read protection: errVENDOR on the first erase (§2.8).
timeout 60 "$EMU" --fault rdp -- dfu-util -a 0 -s 0x08000000:leave -D full.bin >rdp.txt 2>&1
rc=$?
check "rdp: dfu-util exits 74 'ERASE_PAGE not correctly executed' (rc=$rc)" \
	"[ $rc -eq 74 ] && grep -q 'ERASE_PAGE not correctly executed' rdp.txt"
