#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the Debian packages cartoflash needs (design.md, Dependencies) that are missing.
# Non-interactive; needs root (or sudo) only when something is missing.
#   tools/deps.sh                  what `make test` needs
#   tools/deps.sh package static   also what `make ci` adds: the Debian package build and
#                                  lintian, the cross toolchains and qemu-user of the static builds
set -eu
pkgs=(build-essential pkg-config libusb-1.0-0-dev libsocketcan-dev linux-libc-dev zlib1g-dev
	libjansson-dev libinih-dev nettle-dev libcmocka-dev umockdev libumockdev-dev
	gir1.2-umockdev-1.0 python3-gi dfu-util clang libclang-rt-14-dev can-utils jq time
	python3-jsonschema qemu-system-x86 busybox-static cpio kmod ansible-core tmux)
for group in "$@"; do
	case $group in
	package) pkgs+=(debhelper lintian fakeroot dpkg-dev man-db) ;;
	static) pkgs+=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-mipsel-linux-gnu
		libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev-mipsel-cross qemu-user file
		debian-archive-keyring) ;;
	*) echo "deps: unknown group '$group' (package, static)" >&2; exit 64 ;;
	esac
done
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
