# SPDX-License-Identifier: GPL-3.0-or-later
# bash completion for cartoflash. Verbs and each verb's options are read from the program's
# own --help (cached per shell), so they cannot drift from it; option values come from the
# machine: --can from CAN interfaces in /sys/class/net, --serial from USB and UART ttys,
# --path from ROM DFU devices on USB, images and configs from files.
# Installed as $(pkg-config --variable=completionsdir bash-completion)/cartoflash.

# The roots are variables only so tests can point them at a fixture tree.
_cartoflash_sys=${CARTOFLASH_COMP_SYS:-/sys}
_cartoflash_dev=${CARTOFLASH_COMP_DEV:-/dev}
declare -gA _cartoflash_cache 2>/dev/null || declare -A _cartoflash_cache

# Verbs: the indented first words of the "verbs:" block of `cartoflash --help`.
_cartoflash_verbs() {
	local key="$1 ."
	if [[ -z ${_cartoflash_cache[$key]-} ]]; then
		_cartoflash_cache[$key]=$("$1" --help 2>/dev/null |
			awk '/^verbs:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }')
	fi
	printf '%s\n' "${_cartoflash_cache[$key]}"
}

# A verb's options: every --long option of its --help (examples included), and the short
# options that start an option line ("  -i, --can"). tests/e2e/docs_sync.sh uses the same rule.
_cartoflash_options() {
	local key="$1 $2"
	if [[ -z ${_cartoflash_cache[$key]-} ]]; then
		_cartoflash_cache[$key]=$("$1" "$2" --help 2>/dev/null |
			grep -oE -- '(^|[^[:alnum:]-])--[a-z][a-z0-9-]*|^ +-[a-zA-Z],' |
			sed -E 's/^[^-]*//; s/,$//' | sort -u)
	fi
	printf '%s\n' "${_cartoflash_cache[$key]}"
}

_cartoflash_can_ifaces() {	# interfaces of type ARPHRD_CAN (280)
	local d
	for d in "$_cartoflash_sys"/class/net/*; do
		[[ -r $d/type && $(<"$d/type") == 280 ]] && printf '%s\n' "${d##*/}"
	done
}

_cartoflash_ttys() {
	local t
	echo auto
	for t in "$_cartoflash_dev"/serial/by-id/* "$_cartoflash_dev"/ttyACM* "$_cartoflash_dev"/ttyUSB* \
		"$_cartoflash_dev"/ttyAMA*; do
		[[ -e $t ]] && printf '%s\n' "$t"
	done
}

_cartoflash_dfu_paths() {	# USB ports holding an STM32 ROM DFU device (0483:df11)
	local d
	for d in "$_cartoflash_sys"/bus/usb/devices/*; do
		[[ -r $d/idVendor && $(<"$d/idVendor") == 0483 && $(<"$d/idProduct") == df11 ]] &&
			printf '%s\n' "${d##*/}"
	done
}

_cartoflash_files() {	# $1 = extended glob of wanted files; directories always
	local IFS=$'\n' ext
	ext=$(shopt -p extglob)
	shopt -s extglob
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -d -- "$cur"; compgen -f -X "!$1" -- "$cur"))
	eval "$ext"
}

_cartoflash() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} prog=${COMP_WORDS[0]}
	local verb="" i IFS=$'\n'
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} != -* ]] && { verb=${COMP_WORDS[i]}; break; }
	done
	if [[ -z $verb ]]; then
		COMPREPLY=($(compgen -W "$(_cartoflash_verbs "$prog"; printf '%s\n' --help --version)" -- "$cur"))
		return
	fi
	case $prev in
	--can | -i | --interface) COMPREPLY=($(compgen -W "$(_cartoflash_can_ifaces)" -- "$cur")); return ;;
	--serial) COMPREPLY=($(compgen -W "$(_cartoflash_ttys)" -- "$cur")); return ;;
	--path) COMPREPLY=($(compgen -W "$(_cartoflash_dfu_paths)" -- "$cur")); return ;;
	--device) COMPREPLY=($(compgen -W "0483:df11" -- "$cur")); return ;;
	--check) COMPREPLY=($(compgen -W "katapult dfu" -- "$cur")); return ;;
	--switch-to | --device-iface) COMPREPLY=($(compgen -W "can usb" -- "$cur")); return ;;
	--klipper-config) _cartoflash_files '*.cfg'; return ;;
	--klippy-socket) _cartoflash_files '*.sock'; return ;;
	--full | --bootloader | --app) _cartoflash_files '*.@(bin|dfu)'; return ;;
	--uuid | --baud | --timeout | --lock-wait | --quiet-time | --device-mcu | --app-start | --flash-size | \
		--bus-bitrate | --load-address | --running-version) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_cartoflash_options "$prog" "$verb")" -- "$cur"))
		return
	fi
	case $verb in
	inspect | flash | verify) _cartoflash_files '*.@(bin|dfu)' ;;
	fleet) _cartoflash_files '*.ini' ;;
	dfu) [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "read" -- "$cur")) || _cartoflash_files '*' ;;
	esac
}
complete -F _cartoflash cartoflash
