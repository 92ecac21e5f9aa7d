#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The man page and the bash completion against the real binary: every verb of `cartoflash
# --help` has a section in man/cartoflash.1 naming every option of its --help (and none it
# lacks), and the completion offers exactly those verbs and options, and real values for
# --can, --serial, --path and image files. A failure says what to add where: a new verb
# needs a ".SS VERB" section in man/cartoflash.1 (the completion reads --help by itself).
set -u
BUILD=${BUILD:-build}
CARTOFLASH=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
MAN=$PWD/man/cartoflash.1
COMP=$PWD/tools/completion/cartoflash.bash
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
[ -x "$CARTOFLASH" ] || { echo "not ok 1 - docs sync: $CARTOFLASH not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

verbs=$("$CARTOFLASH" --help | awk '/^verbs:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }')
check "cartoflash --help lists verbs" '[ "$(echo "$verbs" | wc -w)" -ge 10 ]'

# The options of a verb's --help: --long anywhere (examples included), -x at an option line's
# start ("  -i, --can"). The completion script uses the same rule.
help_options() {
	"$CARTOFLASH" "$1" --help | grep -oE -- '(^|[^[:alnum:]-])--[a-z][a-z0-9-]*|^ +-[a-zA-Z],' |
		sed -E 's/^[^-]*//; s/,$//' | sort -u
}
# The text of the man page's ".SS VERB" section, roff escapes of '-' undone.
man_section() {
	awk -v v="$1" '$1 == ".SS" { f = ($2 == v); next } $1 == ".SH" { f = 0 } f' "$MAN" | sed 's/\\-/-/g'
}
man_options() {
	man_section "$1" | grep -oE -- '(^|[^[:alnum:]-])-{1,2}[a-zA-Z][a-z0-9-]*' | sed -E 's/^[^-]*//' |
		grep -vE '^-[a-z0-9]$|^--?[0-9]' | grep -E '^--' | sort -u
}

for v in $verbs; do
	help=$(help_options "$v")
	[ -n "$help" ] || { not_ok "$v: --help lists no option"; continue; }
	section=$(man_section "$v")
	if [ -z "$section" ]; then
		not_ok "$v: man/cartoflash.1 has no '.SS $v' section: add one under .SH VERBS with its usage and the options $(echo $help | tr '\n' ' ')"
		continue
	fi
	missing=()
	for o in $help; do
		case $o in -h | --help | -v | -q | --verbose | --quiet | --json) continue ;; esac	# COMMON OPTIONS
		grep -qE -- "(^|[^[:alnum:]-])$o([^[:alnum:]-]|$)" <<<"$section" || missing+=("$o")
	done
	check "$v: man section names every option of its --help${missing:+ (add to '.SS $v' in man/cartoflash.1: ${missing[*]})}" \
		'[ ${#missing[@]} -eq 0 ]'
	stale=()
	for o in $(man_options "$v"); do
		grep -qxF -- "$o" <<<"$help" && continue
		case $o in --help | --verbose | --quiet | --json | --version) continue ;; esac
		stale+=("$o")
	done
	check "$v: man section names no option its --help lacks${stale:+ (stale in '.SS $v': ${stale[*]})}" \
		'[ ${#stale[@]} -eq 0 ]'
done
man_verbs=$(awk '$1 == ".SH" { f = ($2 == "VERBS") } f && $1 == ".SS" { print $2 }' "$MAN")
extra=$(comm -13 <(echo "$verbs" | sort) <(echo "$man_verbs" | sort) | tr '\n' ' ')
check "man page has no section for a verb the program lacks${extra:+ ($extra)}" '[ -z "$extra" ]'

if command -v man >/dev/null; then
	warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$MAN" 2>&1 >/dev/null)
	check "man page renders without groff warnings${warn:+: $warn}" '[ -z "$warn" ]'
else
	skip "man page renders without groff warnings" "man not installed"
fi
check "man page carries the version of NEWS" \
	'grep -qF "\"cartoflash $(sed -n "1s/^cartoflash \([^ ]*\).*/\1/p" NEWS)\"" "$MAN"'

# ---- completion, through bash itself ----
# complete WORDS...: what the completion offers when the cursor is on the last word.
complete_words() {
	CARTOFLASH_COMP_SYS=$work/sys CARTOFLASH_COMP_DEV=$work/dev bash -c '
		cd "$1" && shift && shopt -s extglob && source "$0" || exit 1
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cartoflash; printf "%s\n" "${COMPREPLY[@]}"' \
		"$COMP" "$work/files" "$@" | sed '/^$/d' | sort
}
mkdir -p "$work"/sys/class/net/{can0,vcan1,eth0} "$work"/sys/bus/usb/devices/{1-1.3,1-2} \
	"$work"/dev/serial/by-id "$work"/files/fw
echo 280 >"$work/sys/class/net/can0/type"; echo 280 >"$work/sys/class/net/vcan1/type"
echo 1 >"$work/sys/class/net/eth0/type"
echo 0483 >"$work/sys/bus/usb/devices/1-1.3/idVendor"; echo df11 >"$work/sys/bus/usb/devices/1-1.3/idProduct"
echo 1d50 >"$work/sys/bus/usb/devices/1-2/idVendor"; echo 614e >"$work/sys/bus/usb/devices/1-2/idProduct"
touch "$work/dev/ttyACM0" "$work/dev/ttyS0" "$work/dev/serial/by-id/usb-Cartographer_614e_16000C-if00"
touch "$work/files/app.bin" "$work/files/Full.dfu" "$work/files/notes.txt" "$work/files/probes.ini"

got=$(complete_words "$CARTOFLASH" "")
want=$(printf '%s\n' $verbs --help --version | sort)
check "completion offers the verbs of --help" '[ "$got" = "$want" ]'
for v in $verbs; do
	got=$(complete_words "$CARTOFLASH" "$v" "-")
	want=$(help_options "$v")
	d=$(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')
	check "completion of '$v -' is its --help options${d:+ (diff: $d)}" '[ "$got" = "$want" ]'
done
check "--can completes CAN interfaces from /sys/class/net (not eth0)" \
	'[ "$(complete_words "$CARTOFLASH" flash --can "" | tr "\n" " ")" = "can0 vcan1 " ]'
check "-i completes CAN interfaces too" '[ "$(complete_words "$CARTOFLASH" scan -i c)" = can0 ]'
check "--serial completes auto, by-id links and USB ttys" \
	'[ "$(complete_words "$CARTOFLASH" flash app.bin --serial "" | tr "\n" " ")" = "$work/dev/serial/by-id/usb-Cartographer_614e_16000C-if00 $work/dev/ttyACM0 auto " ]'
check "--path completes ROM DFU ports only" '[ "$(complete_words "$CARTOFLASH" recover --path "")" = 1-1.3 ]'
check "flash IMAGE completes images and directories" \
	'[ "$(complete_words "$CARTOFLASH" flash "" | tr "\n" " ")" = "Full.dfu app.bin fw " ]'
check "fleet completes manifests" '[ "$(complete_words "$CARTOFLASH" fleet p)" = probes.ini ]'
check "--switch-to completes can and usb" \
	'[ "$(complete_words "$CARTOFLASH" flash x.bin --switch-to "" | tr "\n" " ")" = "can usb " ]'
check "dfu completes its sub-verb" '[ "$(complete_words "$CARTOFLASH" dfu "")" = read ]'
check "completion script passes bash -n" 'bash -n "$COMP"'
