#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The static binaries for small hosts (`make static ARCH=…`, tools/static/static.sh), each run
# under qemu-user: really static, --version, `inspect` of synthesised images and of the real
# release images in ${CARTOFLASH_FIRMWARE_DIR:-../shared/firmware} byte-identical to the host
# binary's, libusb's DFU scan starting without udev, and a flash through the simulated bus
# against a host twin. Sizes go to $BUILD/static/sizes.txt (README quotes them).
# STATIC_ARCHES picks the architectures (default: arm64 armhf mipsel). A build is skipped only
# when static.sh names a missing prerequisite ("static: PREREQ ..."); any other build failure,
# and a host tool that is not built or does not start, is a failure.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD
CARTOFLASH=${CARTOFLASH:-$BIN/cartoflash}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
for b in "$CARTOFLASH" "$BIN/twin" "$BIN/simbus" "$BIN/mkimage"; do
	[ -x "$b" ] || { echo "not ok 1 - static builds: $b not built (make all tools)"; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
wait_line() {
	for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -o "$work/app.bin"
"$BIN/mkimage" full --iface usb -o "$work/Full_USB.bin"
"$BIN/mkimage" deployer --iface can -o "$work/deployer.bin"
"$BIN/simbus" --socket "$work/bus" --bitrate 1000000 >"$work/simbus.out" 2>&1 &
pids+=($!)
wait_line "$work/simbus.out" ready ||
	{ not_ok "simbus did not start"; sed 's/^/# /' "$work/simbus.out"; exit 1; }
"$BIN/twin" --uid 16000C000F43304253373820 --flash "$work/p.bin" --init katapult:can:1000000 \
	--init "app:can:1000000:CARTOGRAPHER 4.0.0" --speed 0 --attach "sim:$work/bus" >"$work/twin.out" 2>&1 &
pids+=($!)
wait_line "$work/twin.out" ready ||
	{ not_ok "twin did not start"; sed 's/^/# /' "$work/twin.out"; exit 1; }
uuid=$(sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/twin.out" | head -1)
"$CARTOFLASH" inspect --json "$work/app.bin" "$work/Full_USB.bin" "$work/deployer.bin" >"$work/host.json"
# the real release images, when the corpus is here: inspect them on the host once
FW=${CARTOFLASH_FIRMWARE_DIR:-../shared/firmware}
real=()
for f in "$FW"/*.bin; do [ -f "$f" ] && real+=("$f"); done
if [ ${#real[@]} -gt 0 ]; then
	"$CARTOFLASH" inspect --json "${real[@]}" >"$work/host-real.json" 2>/dev/null
	echo $? >"$work/host-real.rc"
fi
mkdir -p "$BIN/static"
: >"$BIN/static/sizes.txt"

for arch in ${STATIC_ARCHES:-arm64 armhf mipsel}; do
	bin=$(BUILD=$BUILD bash tools/static/static.sh build "$arch" 2>"$work/$arch.log")
	if [ -z "$bin" ] || [ ! -x "$bin" ]; then
		if grep -q '^static: PREREQ ' "$work/$arch.log"; then
			skip "$arch: static build" "$(sed -n 's/^static: PREREQ //p' "$work/$arch.log" | head -1)"
		else
			not_ok "$arch: static build"
			tail -15 "$work/$arch.log" | sed 's/^/# /'
		fi
		continue
	fi
	ok "$arch: static build ($(stat -c %s "$bin") bytes)"
	printf '%s %s\n' "$arch" "$(stat -c %s "$bin")" >>"$BIN/static/sizes.txt"
	check "$arch: statically linked (no interpreter, no NEEDED)" \
		'! readelf -lW "$bin" | grep -q INTERP && ! readelf -dW "$bin" 2>/dev/null | grep -q NEEDED'
	check "$arch: ELF for the right machine ($(file -b "$bin" | cut -d, -f2))" \
		'case $arch in arm64) file -b "$bin" | grep -q aarch64 ;; armhf) file -b "$bin" | grep -q "ARM, EABI5" ;; mipsel) file -b "$bin" | grep -q "LSB.*MIPS" ;; *) true ;; esac'
	q=$(bash tools/static/static.sh qemu "$arch")
	if ! command -v "$q" >/dev/null; then
		skip "$arch: runs under qemu-user" "$q not installed (make deps-ci)"
		continue
	fi
	check "$arch: --version under $q" '[ "$("$q" "$bin" --version)" = "$("$CARTOFLASH" --version)" ]'
	"$q" "$bin" inspect --json "$work/app.bin" "$work/Full_USB.bin" "$work/deployer.bin" >"$work/$arch.json" 2>"$work/$arch.err"
	check "$arch: inspect of app, full and deployer images = the host binary's" \
		'cmp -s "$work/host.json" "$work/$arch.json"'
	if [ ${#real[@]} -gt 0 ]; then
		"$q" "$bin" inspect --json "${real[@]}" >"$work/$arch-real.json" 2>/dev/null
		echo $? >"$work/$arch-real.rc"
		check "$arch: inspect of the ${#real[@]} real images in $FW = the host binary's" \
			'[ -s "$work/host-real.json" ] && cmp -s "$work/host-real.json" "$work/$arch-real.json" && cmp -s "$work/host-real.rc" "$work/$arch-real.rc"'
	else
		skip "$arch: inspect of the real images" "no *.bin in $FW (set CARTOFLASH_FIRMWARE_DIR)"
	fi
	# libusb without udev lists devices through usbfs (/dev/bus/usb); a container may have none.
	"$q" "$bin" scan --dfu >"$work/$arch.dfu" 2>&1
	rc=$?
	if [ -d /dev/bus/usb ]; then
		check "$arch: libusb (no udev) lists USB through usbfs: scan --dfu finds no ROM (exit $rc)" \
			'[ $rc -eq 0 ] && grep -q "No device in DFU mode" "$work/$arch.dfu"'
	else
		check "$arch: libusb (no udev) is linked and starts; no /dev/bus/usb here, said as such (exit $rc)" \
			'[ $rc -eq 74 ] && grep -q "cannot list USB devices (libusb)" "$work/$arch.dfu"'
	fi
	"$q" "$bin" flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$uuid" --json >"$work/$arch.flash" 2>"$work/$arch.ferr"
	rc=$?
	check "$arch: flash through the simulated bus against a host twin (exit $rc)" \
		'[ $rc -eq 0 ] && grep -q "\"ok\":true" "$work/$arch.flash" && grep -q "application running" "$work/$arch.flash"'
	[ $rc -eq 0 ] || sed 's/^/# /' "$work/$arch.ferr" | tail -5
done
