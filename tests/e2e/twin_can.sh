#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The twin process on the simulated bus: the "done" session of the issue (old CAN application ->
# new one) as katapult.md describes it, seen on the candump log; persistence; several twins.
set -u
. "$(dirname "$0")/twin_lib.bash"

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.2" -o "$W/new.bin"
bus bus 1000000 || fail_start simbus "$W/bus.out" "$W/bus.err"
twin p1 --init "app:can:1000000:Cartographer 4.0.0" --speed 0 --attach "sim:$W/bus" ||
	fail_start "twin p1" "$W/p1.out" "$W/p1.err"
check "ready line carries the spec UUID of serial 16000C000F43304253373820" \
	"grep -q '^twin: ready uuid=e0ef270ca188 serial=16000C000F43304253373820 mode=' '$W/p1.out'"

"$CARTOFLASH" flash --allow-unknown "$W/new.bin" --can "sim:$W/bus" --uuid e0ef270ca188 >"$W/flash.out" 2>&1
rc=$?
check "cartoflash flashes the twin over sim:PATH" "[ $rc -eq 0 ]" "$W/flash.out"
L=$W/bus.log
# the node id the host set for this UUID and its request/response CAN ids, read from the log
read -r NID REQ RESP <<<"$(node_ids "$L" E0EF270CA188)"
# katapult.md §2.2/§1.2 vectors, in the order of a session
check "log: request bootloader 02+uuid" "grep -q 'simbus 3F0#02E0EF270CA188$' '$L'"
check "log: a Katapult node id set for the UUID, in 129..255 (docs/can.md)" \
	"[ -n '$NID' ] && [ \$((0x${NID:-0})) -ge 129 ] && [ \$((0x${NID:-0})) -le 255 ]" "$L"
check "log: CONNECT on the node's request id" "grep -q 'simbus ${REQ:-none}#01881100F17C9903$' '$L'"
check "log: CONNECT ACK 1.0.0 on the node's response id" \
	"grep -q 'simbus ${RESP:-none}#0000010000200008$' '$L'"
check "log: GET_CANBUS_ID ACK carries the UUID" "grep -q 'simbus ${RESP:-none}#E0EF270CA1880000$' '$L'"
check "log: SEND_BLOCK ACK @0x08002000 (spec bytes)" \
	"grep -q 'simbus ${RESP:-none}#002000085AD69903$' '$L'"
check "log: SEND_EOF" "grep -q 'simbus ${REQ:-none}#01881300414F9903$' '$L'"
check "log: REQUEST_BLOCK @0x08002000 (spec bytes)" \
	"grep -q 'simbus ${REQ:-none}#0188140100200008$' '$L'"
check "log: COMPLETE then ACK" \
	"grep -q 'simbus ${REQ:-none}#01881500911B9903$' '$L' && grep -q 'simbus ${RESP:-none}#0188A00115000000$' '$L'"
# after LINE PATTERN: the first log line after LINE that matches (the session's next step)
after() { awk -v n="$1" -v re="$2" 'NR > n && $0 ~ re { print NR; exit }' "$L"; }
"$CARTOFLASH" scan --can "sim:$W/bus" >"$W/scan.out" 2>&1
R=${REQ:-none}
o1=$(after 0 '3F0#02E0EF270CA188$')		# request bootloader
o2=$(after "$o1" "3F0#11E0EF270CA188${NID:-none}\$")	# Katapult node id
o3=$(after "$o2" "$R#01881100F17C9903\$")	# CONNECT
o4=$(after "$o3" "$R#01881211........\$")	# first SEND_BLOCK
o5=$(after "$o4" "$R#01881300414F9903\$")	# SEND_EOF
o6=$(after "$o5" "$R#01881401........\$")	# first REQUEST_BLOCK
o7=$(after "$o6" "$R#01881500911B9903\$")	# COMPLETE
o8=$(after "$o7" '3F1#20E0EF270CA18801$')	# the new application answers the query
check "log order: request, node id, CONNECT, blocks, EOF, read-back, COMPLETE, app query" \
	"[ -n '$o8' ]"
check "no SEND_BLOCK after EOF, no REQUEST_BLOCK after COMPLETE" \
	"[ -n '$o7' ] && [ -z \"\$(after $o5 '$R#01881211........\$')\" ] && [ -z \"\$(after $o7 '$R#01881401........\$')\" ]"
check "the new application answers the query (20 uuid 01)" \
	"grep -q 'e0ef270ca188  application' '$W/scan.out'" "$W/scan.out"
check "twin reported Katapult then the application" \
	"grep -q 'mode katapult' '$W/p1.err' && tail -1 '$W/p1.err' | grep -q 'mode app'" "$W/p1.err"
stop p1
rc=$?
check "SIGTERM exits 0" "[ $rc -eq 0 ]"
check "flash file holds the new image at 0x08002000" \
	"cmp -s -n $(stat -c %s "$W/new.bin") -i 8192:0 '$W/p1.bin' '$W/new.bin'"
twin p1 --speed 0 --attach "sim:$W/bus"
"$CARTOFLASH" scan --can "sim:$W/bus" >"$W/scan2.out" 2>&1
check "restarted from its flash file it runs the new application" \
	"grep -q 'e0ef270ca188  application' '$W/scan2.out'" "$W/scan2.out"

twin p2 --uid 000102030405060708090A0B --init app:can:1000000 --speed 0 --attach "sim:$W/bus"
twin p3 --uid 000102030405060708090A0C --init katapult:can:500000 --speed 0 --attach "sim:$W/bus"
check "second twin: UUID 90a4ae022dfc (spec vector)" "grep -q 'uuid=90a4ae022dfc' '$W/p2.out'"
"$CARTOFLASH" scan --can "sim:$W/bus" >"$W/scan3.out" 2>&1
check "several twins on one bus answer with distinct UUIDs" \
	"grep -q 'e0ef270ca188' '$W/scan3.out' && grep -q '90a4ae022dfc' '$W/scan3.out'" "$W/scan3.out"
u3=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/p3.out")
check "a 500 kbit/s Katapult is invisible on a 1 Mbit/s bus (the others are listed)" \
	"[ -n '$u3' ] && grep -q '90a4ae022dfc' '$W/scan3.out' && ! grep -q '$u3' '$W/scan3.out'"

# §5: a double reset (RESET pads shorted twice inside 0.5 s) enters Katapult; a power cycle
# loses the RAM flag and the valid application runs again.
twin p4 --uid 000102030405060708090A0E --init app:can:1000000 --speed 1 --attach "sim:$W/bus"
u4=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/p4.out")
wait_for "grep -q 'mode app' '$W/p4.err'"
kill -USR2 "$(cat "$W/p4.pid")"
sleep 0.1 # the second press, 100 ms after the first
kill -USR2 "$(cat "$W/p4.pid")"
wait_for "[ \$(grep -c 'mode katapult' '$W/p4.err') -ge 1 ]"
"$CARTOFLASH" scan --can "sim:$W/bus" >"$W/scan4.out" 2>&1
check "double reset (SIGUSR2 twice in 100 ms) enters Katapult" \
	"grep -q '$u4  katapult' '$W/scan4.out'" "$W/scan4.out"
kill -USR1 "$(cat "$W/p4.pid")"
wait_for "tail -1 '$W/p4.err' | grep -q 'mode app'"
"$CARTOFLASH" scan --can "sim:$W/bus" >"$W/scan5.out" 2>&1
check "power cycle (SIGUSR1) boots the valid application again" \
	"grep -q '$u4  application' '$W/scan5.out'" "$W/scan5.out"

# SocketCAN front end: needs a vcan interface (the QEMU rig has one; containers often do not).
if ip link show vcan0 >/dev/null 2>&1; then
	twin pv --uid 000102030405060708090A0D --init app:can:1000000 --speed 0 --attach vcan0
	"$CARTOFLASH" scan --can vcan0 >"$W/vscan.out" 2>&1
	uv=$(sed -n 's/.*uuid=\([0-9a-f]*\).*/\1/p' "$W/pv.out")
	check "twin on SocketCAN vcan0 answers a scan" "grep -q '$uv' '$W/vscan.out'" "$W/vscan.out"
else
	ok "twin on SocketCAN vcan0 answers a scan # SKIP no vcan0 interface on this machine"
fi
