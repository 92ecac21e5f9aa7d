#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# protocol/ is pure (design.md): headers include only stdbool/stddef/stdint and protocol/
# headers; .c files may add string/stdlib/assert/limits and the pure codecs zlib, jansson and
# nettle, never an I/O header. Also: every header compiles on its own.
set -u
bad=0
for f in protocol/*.h protocol/*.c; do
	[ -f "$f" ] || continue
	while read -r inc; do
		case $inc in
		'<stdbool.h>' | '<stddef.h>' | '<stdint.h>' | '"protocol/'*) ;;
		'<string.h>' | '<assert.h>' | '<limits.h>' | '<stdlib.h>' | '<zlib.h>' | '<jansson.h>' | '<nettle/sha2.h>') [[ $f == *.c ]] || { echo "$f: $inc"; bad=1; } ;;
		*) echo "protocol purity: $f includes $inc"; bad=1 ;;
		esac
	done < <(sed -n 's/^#include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' "$f")
done
CC=${CC:-cc}
for h in protocol/*.h src/*.h src/*/*.h; do
	[ -f "$h" ] || continue
	if ! echo "#include \"$h\"" | $CC -std=c11 -D_GNU_SOURCE -I. -Isrc -fsyntax-only -x c - 2>/tmp/hdr.$$; then
		echo "header does not stand alone: $h"; cat /tmp/hdr.$$; bad=1
	fi
done
rm -f /tmp/hdr.$$
# inih: upstream's options are compile-time macros; Debian's build adds runtime globals
# (ini_max_line, ini_allow_no_value, ...). Every file using inih must compile against the
# upstream API, i.e. Debian's ini.h without those globals (issue 13: builds against both).
inih_h=$(pkg-config --variable=includedir inih 2>/dev/null)/ini.h
if [ -f "$inih_h" ]; then
	up=$(mktemp -d)
	grep -v 'INI_API extern' "$inih_h" >"$up/ini.h"
	for f in $(grep -l '#include <ini.h>' src/*.c src/*/*.c tools/*/*.c 2>/dev/null); do
		if ! LC_ALL=C $CC -std=c11 -D_GNU_SOURCE -I"$up" -I. -Isrc $(pkg-config --cflags libusb-1.0 2>/dev/null) \
			-fsyntax-only "$f" 2>"$up/err"; then
			echo "upstream inih: $f uses Debian-only runtime options of libinih:"
			grep -o "'ini_[a-z_]*'" "$up/err" | sort -u | sed 's/^/  /'
			echo "  upstream has them only as compile-time macros; parse with ini_parse_stream and a"
			echo "  reader that hands inih lines shorter than its buffer, comments removed (see"
			echo "  src/klipper_config.c next_line), instead of setting them"
			bad=1
		fi
	done
	rm -rf "$up"
fi
exit $bad
