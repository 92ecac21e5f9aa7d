#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Static cartoflash binaries for small hosts (Raspberry Pi OS arm64/armhf, Creality K1 mipsel),
# built with Debian's cross toolchains:
#   tools/static/static.sh build ARCH     -> $BUILD/static/cartoflash-ARCH (stripped, static)
#   tools/static/static.sh sysroot ARCH   -> the libraries only; prints the sysroot
#   tools/static/static.sh qemu ARCH      -> prints the qemu-user command that runs ARCH
#   tools/static/static.sh orig PACKAGE   -> prints the upstream tarball of a Debian source package
# ARCH: arm64, armhf, mipsel, amd64. Libraries: zlib, jansson, inih, nettle and libsocketcan
# from the Debian -dev packages of ARCH (their .a files), unpacked into a private sysroot by a
# private apt configuration pointed at the mirror of the machine's own apt sources (the
# machine's apt state and architectures are never touched); libusb built from the Debian
# source package with --disable-udev (no libudev.a exists; netlink hotplug needs no udevd),
# so DFU recovery works from the static binary. Cached under
#   $CARTOFLASH_STATIC_DIR, default ${XDG_CACHE_HOME:-$HOME/.cache}/cartoflash-static
# A missing prerequisite of the machine (no cross compiler, no apt index or package, no libusb
# source) is said on a line starting "static: PREREQ "; tests/static/qemu.sh skips only on it,
# and any other failure (a compile error, a failed libusb build) is a failure.
set -eu
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${CARTOFLASH_STATIC_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cartoflash-static}
BUILD=${BUILD:-build}
DEV_PKGS="zlib1g-dev libjansson-dev libinih-dev nettle-dev libsocketcan-dev"
log() { echo "static: $*" >&2; }
prereq() { echo "static: PREREQ $*" >&2; }

# ARCH -> GNU triplet and qemu-user binary.
triplet() {
	case $1 in
	arm64) echo aarch64-linux-gnu ;;
	armhf) echo arm-linux-gnueabihf ;;
	mipsel) echo mipsel-linux-gnu ;;
	amd64) echo x86_64-linux-gnu ;;
	*) log "unknown ARCH '$1' (arm64, armhf, mipsel, amd64)"; return 1 ;;
	esac
}
qemu_of() {
	case $1 in
	arm64) echo qemu-aarch64 ;;
	armhf) echo qemu-arm ;;
	mipsel) echo qemu-mipsel ;;
	amd64) echo "" ;;
	esac
}

# The machine's Debian mirror, as the rig finds it (tools/rig/rig.sh).
mirror() {
	# shellcheck source=../rig/rig.sh
	source "$REPO/tools/rig/rig.sh"
	rig_mirror
}

# apt_setup: fills the array AO with one private apt configuration under $CACHE/apt serving
# the binary packages of every cross architecture and the source packages of the machine's
# suite, and updates its index unless a day-old one is there (one download for all arches).
apt_setup() {
	local dir=$CACHE/apt uri codename
	read -r uri codename <<<"$(mirror)" || return 1
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	{
		echo "deb [arch=arm64,armhf,mipsel,amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $codename main"
		echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $codename main"
	} >"$dir/sources.list"
	AO=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Dir::State::status=/dev/null
		-o APT::Architecture=amd64 -o APT::Architectures::=arm64 -o APT::Architectures::=armhf
		-o APT::Architectures::=mipsel -o APT::Architectures::=amd64 -o APT::Sandbox::User=root
		-o Acquire::Languages=none -o Acquire::Retries=2 -o Acquire::http::Timeout=30)
	[ -n "$(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ] && return 0
	log "apt index for the cross architectures (once a day)"
	timeout 900 apt-get "${AO[@]}" -qq update >&2
}

# orig PACKAGE: prints the upstream tarball of a Debian source package (its orig.tar, without
# Debian's patches), downloaded once into $CACHE/src. The machine's own suite first; a mirror
# may lack a source file of an older release (seen: libinih 55's orig answers 404 where the
# .dsc is there), so then the suites in $CARTOFLASH_ORIG_SUITES (default: the next Debian
# releases) on the same mirror. Only the orig tarball is needed: a missing .dsc or Debian diff
# beside it does not matter.
orig() {
	local src suite dir uri codename
	src=$(ls -1 "$CACHE"/src/"$1"_*.orig.tar.* 2>/dev/null | sort -V | tail -1)
	[ -n "$src" ] && { echo "$src"; return 0; }
	apt_setup || { log "apt index unavailable"; return 1; }
	mkdir -p "$CACHE/src"
	(cd "$CACHE/src" && timeout 600 apt-get "${AO[@]}" -qq source --download-only "$1" >&2) || true
	src=$(ls -1 "$CACHE"/src/"$1"_*.orig.tar.* 2>/dev/null | sort -V | tail -1)
	read -r uri codename <<<"$(mirror)" || return 1
	for suite in ${CARTOFLASH_ORIG_SUITES-trixie testing}; do
		[ -z "$src" ] || break
		log "$1: no upstream tarball in $codename's sources on this mirror; trying $suite"
		dir=$CACHE/apt-src-$suite
		mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
		echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" \
			>"$dir/sources.list"
		local so=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
			-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Dir::State::status=/dev/null
			-o APT::Sandbox::User=root -o Acquire::Languages=none -o Acquire::Retries=2
			-o Acquire::http::Timeout=30)
		timeout 600 apt-get "${so[@]}" -qq update >&2 || continue
		(cd "$CACHE/src" && timeout 600 apt-get "${so[@]}" -qq source --download-only "$1" >&2) || true
		src=$(ls -1 "$CACHE"/src/"$1"_*.orig.tar.* 2>/dev/null | sort -V | tail -1)
	done
	[ -n "$src" ] || return 1
	echo "$src"
}

# libusb for TRIPLET into SYSROOT: static, no udev.
build_libusb() {
	local arch=$1 tri=$2 sysroot=$3 src
	src=$(orig libusb-1.0) || { prereq "$arch: libusb source unavailable"; return 1; }
	log "$arch: libusb from $(basename "$src"), static, --disable-udev"
	rm -rf "$CACHE/$arch/libusb-build" && mkdir -p "$CACHE/$arch/libusb-build"
	tar -xf "$src" -C "$CACHE/$arch/libusb-build" --strip-components=1
	(cd "$CACHE/$arch/libusb-build" &&
		./configure -q --host="$tri" CC="$tri-gcc" AR="$tri-ar" RANLIB="$tri-ranlib" STRIP="$tri-strip" --prefix=/usr --libdir="/usr/lib/$tri" \
			--disable-udev --enable-static --disable-shared >/dev/null &&
		make -s -j2 >/dev/null 2>&1 && make -s install DESTDIR="$sysroot" >/dev/null) >&2 ||
		{ tail -20 "$CACHE/$arch/libusb-build/config.log" >&2; return 1; }
	rm -rf "$CACHE/$arch/libusb-build"
}

# sysroot ARCH: prints the sysroot holding every library's headers, .a and .pc for ARCH.
sysroot() {
	local arch=$1 tri dir sysroot deb
	tri=$(triplet "$arch")
	dir=$CACHE/$arch
	sysroot=$dir/sysroot
	if [ -f "$sysroot/.complete" ]; then
		echo "$sysroot"
		return 0
	fi
	command -v "$tri-gcc" >/dev/null || { prereq "$tri-gcc missing (make deps-ci)"; return 1; }
	log "$arch: sysroot from Debian packages ($DEV_PKGS) and libusb source"
	rm -rf "$sysroot" "$dir/debs" && mkdir -p "$sysroot" "$dir/debs"
	apt_setup || { prereq "$arch: apt index unavailable"; return 1; }
	(cd "$dir/debs" && timeout 600 apt-get "${AO[@]}" -qq download $(printf "%s:$arch " $DEV_PKGS) >&2) ||
		{ prereq "$arch: packages unavailable"; return 1; }
	for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
	if ! build_libusb "$arch" "$tri" "$sysroot"; then
		log "$arch: libusb build failed"
		return 1
	fi
	rm -rf "$dir/debs"
	touch "$sysroot/.complete"
	echo "$sysroot"
}

# build ARCH: the static binary, through the Makefile's own rules in its own BUILD directory.
build() {
	local arch=$1 tri sysroot out pc cflags libs
	tri=$(triplet "$arch")
	command -v "$tri-gcc" >/dev/null || { prereq "$tri-gcc missing (make deps-ci)"; return 1; }
	sysroot=$(sysroot "$arch") || return 1
	pc="$sysroot/usr/lib/$tri/pkgconfig:$sysroot/usr/share/pkgconfig"
	cflags=$(PKG_CONFIG_LIBDIR=$pc PKG_CONFIG_SYSROOT_DIR=$sysroot pkg-config --cflags \
		libusb-1.0 libsocketcan zlib jansson inih nettle)
	libs=$(PKG_CONFIG_LIBDIR=$pc PKG_CONFIG_SYSROOT_DIR=$sysroot pkg-config --static --libs \
		libusb-1.0 libsocketcan zlib jansson inih nettle)
	out=$REPO/$BUILD/static
	mkdir -p "$out"
	log "$arch: building with $tri-gcc"
	make -C "$REPO" --no-print-directory -j2 BUILD="$BUILD/static/$arch" CC="$tri-gcc" \
		CFLAGS="-O2" LDFLAGS="-static" \
		PKG_CFLAGS="-isystem $sysroot/usr/include/$tri -isystem $sysroot/usr/include $cflags" \
		PKG_LIBS="$libs -lpthread" "$BUILD/static/$arch/cartoflash" >&2
	"$tri-strip" -o "$out/cartoflash-$arch" "$REPO/$BUILD/static/$arch/cartoflash"
	log "$arch: $(stat -c %s "$out/cartoflash-$arch") bytes, $(file -b "$out/cartoflash-$arch" 2>/dev/null | cut -d, -f1-2)"
	echo "$out/cartoflash-$arch"
}

case ${1:-} in
build) build "${2:?ARCH}" ;;
sysroot) sysroot "${2:?ARCH}" ;;
qemu) qemu_of "${2:?ARCH}" ;;
orig) orig "${2:?PACKAGE}" ;;
*)
	echo "usage: tools/static/static.sh build|sysroot|qemu ARCH   (arm64, armhf, mipsel, amd64)" >&2
	exit 64 ;;
esac
