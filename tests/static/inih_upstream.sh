#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# cartoflash builds against upstream inih, not only Debian's (which adds runtime globals): ini.c
# of upstream's release (the orig tarball of Debian's libinih source package, without Debian's
# patches, from the machine's suite or a newer one on the same mirror: tools/static/static.sh
# orig; or a checkout named by INIH_SRC) compiled with its default compile-time options,
# cartoflash and the Klipper-config unit test linked against it, then the unit test and the
# e2e scripts that read Klipper configs and fleet manifests run with that binary.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
out=$PWD/$BUILD/inih-upstream
src=${INIH_SRC:-}
name=$(basename "${src:-inih}")
if [ -z "$src" ]; then
	tarball=$(bash tools/static/static.sh orig libinih 2>/dev/null) ||
		{ echo "ok 1 - upstream inih # SKIP the libinih source package is not on this machine's mirror (set INIH_SRC to an inih checkout)"; exit 0; }
	rm -rf "$out/inih" && mkdir -p "$out/inih"
	tar -xf "$tarball" -C "$out/inih" --strip-components=1
	src=$out/inih
	name=$(basename "$tarball")
fi
mkdir -p "$out/inc"
cp "$src/ini.h" "$out/inc/ini.h"
check "upstream ini.h has no runtime option globals ($name)" '! grep -q "extern.*ini_max_line" "$out/inc/ini.h"'
cc -O2 -c "$src/ini.c" -I"$out/inc" -o "$out/ini.o" && ar rcs "$out/libinih.a" "$out/ini.o"
check "upstream ini.c compiles with its default options" '[ -f "$out/libinih.a" ]'
libs="$(pkg-config --libs libusb-1.0 libsocketcan zlib jansson nettle) $out/libinih.a"
make --no-print-directory -j2 BUILD="$BUILD/inih-upstream" \
	PKG_CFLAGS="-I$out/inc $(pkg-config --cflags libusb-1.0)" PKG_LIBS="$libs" TEST_LIBS="$(pkg-config --libs cmocka)" \
	"$BUILD/inih-upstream/cartoflash" "$BUILD/inih-upstream/tests/unit/test_klipper_config" >"$out/build.log" 2>&1
rc=$?
check "cartoflash and test_klipper_config build against it" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || { grep -E "error|undefined" "$out/build.log" | head -10 | sed 's/^/# /'; exit 0; }
check "the binary has inih linked in, not Debian's libinih.so" '! ldd "$out/cartoflash" | grep -q libinih'
"$out/tests/unit/test_klipper_config" >"$out/unit.log" 2>&1
check "test_klipper_config passes against upstream inih ($(grep -o '[0-9]* test(s)' "$out/unit.log" | tail -1))" \
	'grep -q "PASSED" "$out/unit.log" && ! grep -q "FAILED" "$out/unit.log"'
for t in can_fleet can_flash serial_fleet inputs; do
	CARTOFLASH=$out/cartoflash bash "tests/e2e/$t.sh" >"$out/$t.log" 2>&1
	# a skipped script proves nothing about this binary: its skips are not counted as passes
	p=$(grep '^ok' "$out/$t.log" | grep -vc '# SKIP') f=$(grep -c '^not ok' "$out/$t.log")
	s=$(grep -c '^ok.*# SKIP' "$out/$t.log")
	check "e2e $t with the upstream-inih binary: $p ok, $f not ok, $s skipped" \
		'[ "$f" -eq 0 ] && [ "$p" -gt 0 ] && [ "$s" -eq 0 ]'
done
