#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# tests/fuzz/seeds.sh NAME DIR: seeds made at run time for fuzzer NAME, added to DIR (run.sh
# calls it next to the stored corpus). fuzz_image gets images of real size from build/mkimage
# (21-30 KiB, the dictionary near the end as in release builds) and, when the real release
# images are there (CARTOFLASH_FIRMWARE_DIR or ../shared/firmware), those too. fuzz_appid gets
# an application's whole identify conversation with mkimage's dictionaries.
set -eu
name=$1 dir=$2
BUILD=${BUILD:-build}
M=$BUILD/mkimage
case $name in
fuzz_image)
	[ -x "$M" ] || { echo "seeds: $M not built" >&2; exit 1; }
	"$M" app --iface can --bitrate 1000000 --size 22528 -o "$dir/gen-app-can-1m-22k.bin"
	"$M" app --iface usb --size 26624 -o "$dir/gen-app-usb-26k.bin"
	"$M" app --iface can --bitrate 250000 --size 24576 --corrupt-dict -o "$dir/gen-app-corrupt-24k.bin"
	"$M" full --iface can --bitrate 500000 --size 20480 -o "$dir/gen-full-can-500k-28k.bin"
	"$M" full --iface usb --size 22528 -o "$dir/gen-full-usb-30k.bin"
	"$M" deployer --iface can --bitrate 250000 -o "$dir/gen-deployer-can-250k.bin"
	fw=${CARTOFLASH_FIRMWARE_DIR:-../shared/firmware}
	if [ -d "$fw" ]; then
		find "$fw" -maxdepth 2 -name '*.bin' -size -1025k -exec cp {} "$dir/" \;
	fi
	;;
fuzz_appid)
	# an application answering identify with mkimage's dictionary (CAN: and get_canbus_id
	# with UUID e0ef270ca188, node 5), as tests/fuzz/fuzz_appid.c reads flags 3 / 2
	[ -x "$M" ] || { echo "seeds: $M not built" >&2; exit 1; }
	for iface in can usb; do
		"$M" dict --iface "$iface" -o "$dir/dict.json" >/dev/null
		n=$(wc -c <"$dir/dict.json")
		{
			if [ "$iface" = can ]; then printf '\003'; else printf '\002'; fi
			printf "\\$(printf %03o $((n & 255)))\\$(printf %03o $((n >> 8)))"
			cat "$dir/dict.json"
			printf '\006\340\357\047\014\241\210\005'
		} >"$dir/gen-app-$iface"
		rm "$dir/dict.json"
	done
	;;
esac
