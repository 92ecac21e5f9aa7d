#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The Debian package, as CI builds it (`make ci`): dpkg-buildpackage -us -uc -b on a copy of the
# tracked tree (offline: its tests are `make check`), lintian with 0 errors (warnings listed),
# installed with dpkg, then the installed binary: --version agrees with the package, the
# hardening flags reached it, man page, completion and udev rule are where their tools look,
# and a flash on the simulated bus against a twin (build/simbus and build/twin from the tree)
# succeeds. The package is removed at the end.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
skip_all() { echo "ok 1 - debian package # SKIP $1"; exit 0; }
for t in dpkg-buildpackage dh lintian fakeroot readelf; do
	command -v "$t" >/dev/null || skip_all "$t not installed (make deps-ci)"
done
[ "$(id -u)" -eq 0 ] || skip_all "installing the package needs root"
for b in twin simbus mkimage; do [ -x "$BIN/$b" ] || skip_all "$BIN/$b not built (make tools)"; done
dpkg-query -W -f='${Status}' cartoflash 2>/dev/null | grep -q "install ok installed" &&
	skip_all "a cartoflash package is already installed on this machine; not touching it"
work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	dpkg -r cartoflash >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# ---- build ----
mkdir -p "$work/src/cartoflash"
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$work/src/cartoflash"
(cd "$work/src/cartoflash" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
rc=$?
check "dpkg-buildpackage -us -uc -b exits 0" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || { tail -30 "$work/build.log" | sed 's/^/# /'; exit 0; }
deb=$(ls "$work"/src/cartoflash_*.deb)
check "the package's build ran make check (unit + sim)" 'grep -qE "^[0-9]+ passed, 0 failed" "$work/build.log"'
check "the package's build used no network and called no make deps" '! grep -qE "deps\.sh|apt-get" "$work/build.log"'
check "the distribution build had no -Werror (only dpkg-buildflags' -Werror=format-security)" \
	'grep -E " -c src/.*\.c " "$work/build.log" | grep -q . && ! grep -E " -c src/.*\.c " "$work/build.log" | grep -qE -- "-Werror( |$)"'
lintian --tag-display-limit 0 "$deb" "$work"/src/cartoflash_*.changes 2>&1 |
	grep -v "running with root privileges" >"$work/lintian.txt"
errors=$(grep -c '^E:' "$work/lintian.txt")
check "lintian: 0 errors ($errors)" '[ "$errors" -eq 0 ]'
check "lintian: 0 warnings ($(grep -c '^W:' "$work/lintian.txt"))" '! grep -q "^W:" "$work/lintian.txt"'
sed 's/^/# lintian: /' "$work/lintian.txt"

# ---- install ----
dpkg -i "$deb" >"$work/install.log" 2>&1
check "dpkg -i installs it" '[ $? -eq 0 ]'
version=$(dpkg-query -W -f='${Version}' cartoflash)
check "/usr/bin/cartoflash --version = the package version ($version)" \
	'[ "$(/usr/bin/cartoflash --version)" = "cartoflash ${version%-*}" ]'
relro=$(readelf -lW /usr/bin/cartoflash | grep -c GNU_RELRO)
check "hardening: full RELRO (GNU_RELRO and BIND_NOW)" \
	'[ "$relro" -ge 1 ] && readelf -dW /usr/bin/cartoflash | grep -qE "BIND_NOW|FLAGS.*NOW"'
check "hardening: PIE" 'readelf -hW /usr/bin/cartoflash | grep -q "DYN"'
check "hardening: stack protector" 'readelf -sW --dyn-syms /usr/bin/cartoflash | grep -q __stack_chk_fail'
check "hardening: fortify (_chk functions)" 'readelf -sW --dyn-syms /usr/bin/cartoflash | grep -qE "__[a-z]+_chk@"'
check "man page installed (man -w cartoflash)" '[ "$(man -w cartoflash 2>/dev/null)" = /usr/share/man/man1/cartoflash.1.gz ]'
check "bash completion installed" '[ -f /usr/share/bash-completion/completions/cartoflash ]'
check "udev rule installed in /usr/lib/udev/rules.d" '[ -f /usr/lib/udev/rules.d/70-cartoflash.rules ]'
check "copyright and changelog shipped" \
	'[ -f /usr/share/doc/cartoflash/copyright ] && [ -f /usr/share/doc/cartoflash/changelog.gz ]'

# ---- the installed binary flashes a twin on the simulated bus ----
wait_line() {
	for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" -o "$work/app.bin"
"$BIN/simbus" --socket "$work/bus" --bitrate 1000000 >"$work/simbus.out" 2>&1 &
pids+=($!)
wait_line "$work/simbus.out" ready
"$BIN/twin" --uid 16000C000F43304253373820 --flash "$work/p.bin" --init katapult:can:1000000 \
	--init "app:can:1000000:CARTOGRAPHER 4.0.0" --speed 0 --attach "sim:$work/bus" >"$work/twin.out" 2>&1 &
pids+=($!)
wait_line "$work/twin.out" ready
uuid=$(sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/twin.out" | head -1)
/usr/bin/cartoflash flash --allow-unknown "$work/app.bin" --can "sim:$work/bus" --uuid "$uuid" --json >"$work/flash.json" 2>"$work/flash.err"
rc=$?
check "installed cartoflash flashes a twin on the simulated bus (exit $rc)" \
	'[ $rc -eq 0 ] && grep -q "\"ok\":true" "$work/flash.json" && grep -q "application running" "$work/flash.json"'
