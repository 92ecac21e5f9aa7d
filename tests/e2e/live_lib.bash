# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by tests/e2e/status.sh, guard.sh and locks.sh (sourced): a printer in a directory -
# a simulated CAN bus with twins on it, a USB twin on a pty with a fixture sysfs tree and a
# by-id link, the Klipper API socket stand-in (klippyd) and a fake systemctl on PATH that
# stops and starts it. Processes are stopped by pid on exit; waits are bounded, never fixed.
BUILD=${BUILD:-build}
CF=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
BIN=$(cd "$(dirname "$CF")" && pwd)
SRC=$PWD
T=0
PIDS=()
ok() { T=$((T + 1)); echo "ok $T - $1"; }
not_ok() { T=$((T + 1)); echo "not ok $T - $1"; }
# skip_all REASON: only for a missing prerequisite of the machine, before any check ran.
skip_all() { echo "ok 1 - ${0##*/} # SKIP $1"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/start_lib.bash"
# check NAME CONDITION [EVIDENCE-FILE...]: one TAP line; on failure the evidence as comments.
check() {
	local name=$1 cond=$2 f
	shift 2
	if eval "$cond"; then ok "$name"; else
		not_ok "$name"
		for f in "$@"; do sed 's/^/#   /' "$f" | tail -15; done
	fi
	return 0
}

for tool in "$CF" "$BIN/twin" "$BIN/simbus" "$BIN/klippyd" "$BIN/mkimage"; do
	[ -x "$tool" ] || { echo "not ok - ${0##*/}: $tool not built (make BUILD=$BUILD all)"; exit 1; }
done
command -v jq >/dev/null || skip_all "jq not installed (tools/deps.sh installs it)"
W=$(mktemp -d /tmp/cf-live-XXXXXX)
mkdir -p "$W/sys" "$W/dev" "$W/byid" "$W/home/printer_data/comms" "$W/home/printer_data/config" \
	"$W/locks" "$W/bin"
# the printer's user: default socket ~/printer_data/comms/klippy.sock, test-only roots
export HOME=$W/home CARTOFLASH_SYSFS_ROOT=$W/sys CARTOFLASH_LOCK_DIR=$W/locks \
	CARTOFLASH_SERIAL_BY_ID=$W/byid
unset SUDO_USER
SOCK=$HOME/printer_data/comms/klippy.sock
BUS=sim:$W/can0
OUT=$W/out
ERR=$W/err
RC=0

live_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap live_cleanup EXIT

# wait_for CONDITION: up to 5 s, polling every 20 ms.
wait_for() {
	local i
	for i in $(seq 250); do
		eval "$1" && return 0
		sleep 0.02
	done
	return 1
}

# run ARGS...: cartoflash with stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
	"$CF" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

# bus BITRATE: the simulated CAN bus at $W/can0, its candump log $W/can0.log.
bus() {
	"$BIN/simbus" --socket "$W/can0" --bitrate "${1:-1000000}" --speed 1 --log "$W/can0.log" \
		>"$W/simbus.out" 2>&1 &
	PIDS+=($!)
	wait_for "grep -qs '^simbus: ready' '$W/simbus.out'"
}

# can_twin NAME UID INIT: a twin on the bus.
can_twin() {
	"$BIN/twin" --uid "$2" --flash "$W/$1.bin" --init "$3" --speed 0 --attach "$BUS" \
		>"$W/$1.out" 2>"$W/$1.err" &
	PIDS+=($!)
	echo $! >"$W/$1.pid"
	wait_for "grep -qs '^twin: ready' '$W/$1.out'"
}

# usb_twin NAME UID INIT [TWIN ARGS...]: a twin on a pty with the fixture sysfs tree (port 1-1.3) and the
# by-id link udev would make (60-serial.rules: usb-<manufacturer>_<product or pid>_<serial>).
usb_twin() {
	local pts name=$1 uid=$2 init=$3
	shift 3
	"$BIN/twin" --uid "$uid" --flash "$W/$name.bin" --init "$init" "$@" --speed 0 \
		--pty "$W/dev/ttyACM0" >"$W/$name.out" 2>"$W/$name.err" &
	PIDS+=($!)
	echo $! >"$W/$name.pid"
	wait_for "grep -qs '^twin: ready' '$W/$name.out' && [ -e '$W/dev/ttyACM0' ]" || return 1
	wait_for "[ -s '$W/sys/bus/usb/devices/1-1.3/idVendor' ]" || return 1
	pts=$(readlink "$W/dev/ttyACM0")
	udev_link "$pts"
}

# udev_link TTY: (re)make the by-id link of the device on port 1-1.3 as udev names it.
udev_link() {
	local d=$W/sys/bus/usb/devices/1-1.3 m p s
	m=$(cat "$d/manufacturer") p=$(cat "$d/product") s=$(cat "$d/serial")
	[ -n "$p" ] || p=$(cat "$d/idProduct")
	rm -f "$W"/byid/*
	BYID=$W/byid/usb-${m}_${p}_${s}-if00
	ln -s "$1" "$BYID"
}

# klipper SCENARIO [ARGS...]: the API socket stand-in at the default socket path.
klipper() {
	local sc=$1
	shift
	"$BIN/klippyd" --socket "$SOCK" --scenario "$sc" --pidfile "$W/klippyd.pid" \
		--log "$W/klippyd.log" "$@" >"$W/klippyd.out" 2>&1 &
	PIDS+=($!)
	wait_for "grep -qs '^klippyd: ready' '$W/klippyd.out'"
}

# fake_systemctl UNIT: a systemctl on PATH that records its calls in $W/systemctl.log and
# stops (SIGUSR1) / starts (SIGUSR2) klippyd as systemd would the unit, waiting until its
# socket is gone / back, as `systemctl stop/start` return once the unit is down / up.
fake_systemctl() {
	cat >"$W/bin/systemctl" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$W/systemctl.log"
[ "\${2:-}" = "$1" ] || { echo "Unit \${2:-} not found." >&2; exit 5; }
pid=\$(cat "$W/klippyd.pid")
case \$1 in
stop) kill -USR1 "\$pid"; for i in \$(seq 250); do [ -S "$SOCK" ] || exit 0; sleep 0.02; done; exit 1 ;;
start) kill -USR2 "\$pid"; for i in \$(seq 250); do [ -S "$SOCK" ] && exit 0; sleep 0.02; done; exit 1 ;;
*) exit 0 ;;
esac
EOF
	chmod +x "$W/bin/systemctl"
	export PATH=$W/bin:$PATH
}

# has FILE TEXT: the file contains the text (fixed string).
has() { grep -qF -- "$2" "$1"; }
# frames PATTERN: how many candump lines of the bus log match the regex.
frames() { grep -cE "$1" "$W/can0.log"; }
# jrow SELECT COND: some JSON line of $OUT matches SELECT and every such line meets COND
# (slurped: jq 1.6 -e reports the last input line, not the last output).
jrow() { jq -e -s "[.[] | select($1) | ($2)] | length > 0 and all" "$OUT" >/dev/null; }
