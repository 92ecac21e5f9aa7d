#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `make install`/`make uninstall` into a DESTDIR with PREFIX and the directory variables, what
# `make` alone builds, the version's single source, and the udev rule's promises (Klipper's
# serial ports keep Debian's dialout group).
set -u
BUILD=${BUILD:-build}
CARTOFLASH=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
RULES=tools/udev/70-cartoflash.rules
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
[ -x "$CARTOFLASH" ] || { echo "not ok 1 - install: $CARTOFLASH not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Every make here is a fresh one: run from `make -j2 test`, the parent's MAKEFLAGS (its jobserver,
# -j, -k, -s) would reach it, and its jobserver warning would land in the logs checked below.
mke() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make --no-print-directory "$@"; }
mk() { mke BUILD="$BUILD" "$@"; }

# ---- install / uninstall ----
d=$work/root
mk install DESTDIR="$d" PREFIX=/usr BASHCOMPDIR=/usr/share/bash-completion/completions \
	UDEVRULESDIR=/usr/lib/udev/rules.d >"$work/install.log" 2>&1
check "make install exits 0" '[ $? -eq 0 ]'
check "binary in DESTDIR/PREFIX/bin, mode 755" '[ "$(stat -c %a "$d/usr/bin/cartoflash")" = 755 ]'
check "installed binary runs" '[ "$("$d/usr/bin/cartoflash" --version)" = "$("$CARTOFLASH" --version)" ]'
check "man page in PREFIX/share/man/man1" '[ -f "$d/usr/share/man/man1/cartoflash.1" ]'
check "bash completion in BASHCOMPDIR" '[ -f "$d/usr/share/bash-completion/completions/cartoflash" ]'
check "udev rule in UDEVRULESDIR" '[ -f "$d/usr/lib/udev/rules.d/70-cartoflash.rules" ]'
# four files, each into DESTDIR; any other line is make's own word or a build into $BUILD
check "nothing installed outside DESTDIR ($(wc -l <"$work/install.log") lines of log)" \
	'[ "$(grep -cE "^install -D -m 0[67][45][45] [^ ]+ $d/" "$work/install.log")" -eq 4 ] &&
	 ! grep -vE "^install -D -m 0[67][45][45] [^ ]+ $d/|^make(\[[0-9]+\])?: |^(cc|gcc|clang) .* -o $BUILD/" "$work/install.log" | grep -q .'
mk uninstall DESTDIR="$d" PREFIX=/usr BASHCOMPDIR=/usr/share/bash-completion/completions \
	UDEVRULESDIR=/usr/lib/udev/rules.d >/dev/null 2>&1
check "make uninstall removes every installed file" '[ -z "$(find "$d" -type f)" ]'
mk install DESTDIR="$d" >/dev/null 2>&1
check "default PREFIX is /usr/local" '[ -x "$d/usr/local/bin/cartoflash" ] && [ -f "$d/usr/local/share/man/man1/cartoflash.1" ]'
udevdir=$(pkg-config --variable=udevdir udev 2>/dev/null)
check "default udev rules dir is pkg-config's udevdir/rules.d (${udevdir:-/usr/lib/udev})" \
	'[ -f "$d${udevdir:-/usr/lib/udev}/rules.d/70-cartoflash.rules" ]'
compdir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null)
check "default completion dir is bash-completion's (${compdir:-/usr/share/bash-completion/completions})" \
	'[ -f "$d${compdir:-/usr/share/bash-completion/completions}/cartoflash" ]'

# ---- what make builds, and with which flags ----
plan=$(mke -n BUILD="$work/b" 2>&1)
check "make (all) builds the program only, no test tool" \
	'grep -q -- "-o $work/b/cartoflash " <<<"$plan" && ! grep -qE -- "-o $work/b/(twin|simbus|mkimage|dfuemu)( |$)" <<<"$plan"'
plan=$(mke -n BUILD="$work/b" CPPFLAGS=-DCPP_MARK LDFLAGS=-Wl,-z,now WERROR= 2>&1)
check "CPPFLAGS reach every compile" '! grep -E "^(cc|gcc) .* -c " <<<"$plan" | grep -qv -- -DCPP_MARK'
check "LDFLAGS reach the link" 'grep -- "-o $work/b/cartoflash " <<<"$plan" | grep -q -- "-Wl,-z,now"'
check "WERROR= drops -Werror (distribution build)" '! grep -q -- -Werror <<<"$plan"'
check "-Werror stays in the default build" 'mke -n BUILD="$work/b" | grep -q -- -Werror'

# ---- one version: NEWS, debian/changelog, the man page, the binary ----
news=$(sed -n '1s/^cartoflash \([^ ]*\).*/\1/p' NEWS)
deb=$(sed -n '1s/^cartoflash (\([^)]*\)).*/\1/p' debian/changelog 2>/dev/null)
check "NEWS and debian/changelog name one version ($news, ${deb:-none})" '[ -n "$news" ] && [ "$news" = "$deb" ]'
described=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//')
check "--version is git describe or NEWS (${described:-no tag}, $news)" \
	'[ "$("$CARTOFLASH" --version)" = "cartoflash ${described:-$news}" ]'
check "VERSION= on the make command line reaches main.c (debian/rules sets it)" \
	'mke -n BUILD="$work/b" VERSION=9.8.7 | grep -- "src/main.c" | grep -qE "CARTOFLASH_VERSION=.\"9\.8\.7\""'

# ---- the udev rule ----
check "no GROUP or MODE on any tty (Klipper keeps dialout)" '! grep -E "SUBSYSTEM==\"tty\"" "$RULES" | grep -qE "GROUP|MODE"'
check "no GROUP on the Klipper/Katapult USB ids" '! grep -E "1d50" "$RULES" | grep -q GROUP'
check "the probe ttys carry uaccess and the ModemManager opt-out" \
	'[ "$(grep -E "SUBSYSTEM==\"tty\".*(614e|6177)" "$RULES" | grep -c "TAG+=\"uaccess\".*ID_MM_DEVICE_IGNORE")" -eq 2 ]'
check "only the ROM DFU device (0483:df11) gets plugdev" \
	'[ "$(grep -c "GROUP=" "$RULES")" -eq 1 ] && grep "GROUP=\"plugdev\"" "$RULES" | grep -q "0483.*df11"'
check "the rule file parses as udev key/value lines" \
	'! grep -vE "^(#|$)" "$RULES" | grep -vqE "^[A-Z]+(\{[A-Za-z_]+\})?(==|\+=|=)\"[^\"]*\"(, [A-Z]+(\{[A-Za-z_]+\})?(==|\+=|=)\"[^\"]*\")*$"'
