# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by tests/e2e/twin_*.sh and simbus_*.sh (sourced): processes started here are stopped
# by pid on exit; every wait is for a line or a file, bounded, never a fixed sleep.
BUILD=${BUILD:-build}
CARTOFLASH=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
BIN=$(cd "$(dirname "$CARTOFLASH")" && pwd)
T=0
PIDS=()
ok() { T=$((T + 1)); echo "ok $T - $1"; }
not_ok() { T=$((T + 1)); echo "not ok $T - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; [ -n "${3:-}" ] && sed 's/^/#   /' "$3"; fi; return 0; }
# skip_all REASON: only for a missing prerequisite of the machine, before any check ran.
skip_all() { echo "ok 1 - ${0##*/} # SKIP $1"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/start_lib.bash"

for tool in "$CARTOFLASH" "$BIN/twin" "$BIN/simbus" "$BIN/mkimage"; do
	[ -x "$tool" ] || { echo "not ok - ${0##*/}: $tool not built (make BUILD=$BUILD all)"; exit 1; }
done
W=$(mktemp -d /tmp/cf-twin-XXXXXX)

twin_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap twin_cleanup EXIT

# wait_for CONDITION: up to 5 s, polling every 20 ms.
wait_for() {
	local i
	for i in $(seq 250); do
		eval "$1" && return 0
		sleep 0.02
	done
	return 1
}

# bus NAME BITRATE [SPEED]: a simbus on $W/NAME with its candump log $W/NAME.log.
bus() {
	"$BIN/simbus" --socket "$W/$1" --bitrate "$2" --speed "${3:-1}" --log "$W/$1.log" \
		>"$W/$1.out" 2>"$W/$1.err" &
	PIDS+=($!)
	wait_for "grep -qs '^simbus: ready' '$W/$1.out'"
}

# twin NAME ARGS...: a twin process; its pid in $W/NAME.pid, ready line in $W/NAME.out.
twin() {
	local name=$1
	shift
	"$BIN/twin" --flash "$W/$name.bin" "$@" >"$W/$name.out" 2>"$W/$name.err" &
	PIDS+=($!)
	echo $! >"$W/$name.pid"
	wait_for "grep -qs '^twin: ready' '$W/$name.out'"
}

# node_ids LOG UUID: "NODE REQ RESP", the Katapult node id (hex byte) the host gave UUID in the
# last set-id admin frame of the candump LOG (katapult.md §2.2: 3F0#11 uuid n) and the CAN ids
# (hex) it means, 0x100+2n and 0x101+2n; nothing when the log has none. No check hard-codes a
# node's id.
node_ids() {
	local n
	n=$(grep -io "3F0#11$2[0-9A-F][0-9A-F]\$" "$1" 2>/dev/null | tail -1 | sed 's/.*\(..\)$/\1/')
	[ -n "$n" ] && printf '%s %03X %03X\n' "$n" $((0x100 + 2 * 0x$n)) $((0x101 + 2 * 0x$n))
}

# stop NAME: SIGTERM; returns the process's exit status.
stop() {
	local pid
	pid=$(cat "$W/$1.pid")
	kill "$pid" 2>/dev/null
	wait "$pid"
}
