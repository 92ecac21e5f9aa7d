# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by tests/e2e/can_*.sh (sourced, not run): a simulated bus with probe twins behind the
# real cartoflash binary, TAP helpers, and a cleanup that stops everything it started.
BUILD=${BUILD:-build}
CARTOFLASH=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
BIN=$PWD/$BUILD
n=0
pids=()
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
# skip_all REASON: only for a missing prerequisite of the machine, before any check ran.
skip_all() { echo "ok 1 - ${0##*/} # SKIP $1"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/start_lib.bash"

for tool in "$CARTOFLASH" "$BIN/twin" "$BIN/simbus" "$BIN/mkimage"; do
	[ -x "$tool" ] || { echo "not ok - ${0##*/}: $tool not built (make tools)"; exit 1; }
done
command -v python3 >/dev/null || skip_all "python3 not installed"
work=$(mktemp -d)

can_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap can_cleanup EXIT

# wait_line FILE PATTERN: until a process printed its ready line (never a fixed sleep).
wait_line() {
	local i
	for i in $(seq 1 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# no '$2' in $1:" >&2
	sed 's/^/#   /' "$1" >&2
	return 1
}

# start_bus [BITRATE] [SPEED]: simbus on $work/bus, candump log in $work/bus.log.
start_bus() {
	"$BIN/simbus" --socket "$work/bus" --bitrate "${1:-1000000}" --speed "${2:-1}" \
		--log "$work/bus.log" >"$work/simbus.out" 2>&1 &
	pids+=($!)
	wait_line "$work/simbus.out" "ready"
}

# start_twin NAME UID SPEED INIT...: a probe twin on the bus; its UUID lands in $work/NAME.uuid.
start_twin() {
	local name=$1 uid=$2 speed=$3 args=() s
	shift 3
	for s in "$@"; do args+=(--init "$s"); done
	"$BIN/twin" --uid "$uid" --flash "$work/$name.bin" "${args[@]}" --speed "$speed" \
		--attach "sim:$work/bus" >"$work/$name.out" 2>&1 &
	pids+=($!)
	echo $! >"$work/$name.pid"
	wait_line "$work/$name.out" "ready" || return 1
	sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/$name.out" | head -1 >"$work/$name.uuid"
}

# stop_twin NAME: SIGTERM saves its flash to $work/NAME.bin.
stop_twin() {
	local pid
	pid=$(cat "$work/$1.pid")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

uuid_of() { cat "$work/$1.uuid"; }

# node_ids UUID: "REQ RESP", the CAN ids (hex) of the node id the host gave UUID on this bus, read
# from the last Katapult set-id admin frame in the bus log (katapult.md §2.2: 3F0#11 uuid n,
# then 0x100+2n / 0x101+2n); nothing when the log has none. No check hard-codes a node's id.
node_ids() {
	local n
	n=$(grep -io "3F0#11$1[0-9A-F][0-9A-F]\$" "$work/bus.log" 2>/dev/null | tail -1 |
		sed 's/.*\(..\)$/\1/')
	[ -n "$n" ] && printf '%03X %03X\n' $((0x100 + 2 * 0x$n)) $((0x101 + 2 * 0x$n))
}

# bus_has PATTERN: the bus log exists and holds PATTERN (case-insensitive), so a negative check
# next to it is about a log that recorded the session.
bus_has() { [ -s "$work/bus.log" ] && grep -qi -- "$1" "$work/bus.log"; }

# app_matches NAME IMAGE: the twin's flash at 0x08002000 holds IMAGE (stop the twin first).
app_matches() {
	cmp -s -n "$(stat -c %s "$2")" -i 8192:0 "$work/$1.bin" "$2"
}

# py FILE EXPR: with j = the JSON objects of FILE, one per line; a tuple or list prints as
# its items joined by '|' ("application|scanner"), so checks compare plain words.
py() {
	python3 -c "
import json, sys
j = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = $2
print('|'.join(map(str, v)) if isinstance(v, (tuple, list)) else v)" "$1" 2>/dev/null
}
