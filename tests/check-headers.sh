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
exit $bad
