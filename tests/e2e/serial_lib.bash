# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by tests/e2e/serial_*.sh: a twin process on a pty whose USB port is mirrored into a
# sysfs fixture tree (CARTOFLASH_SYSFS_ROOT, test-only), and TAP helpers. Sourced, not run.

CF=${CARTOFLASH:-$PWD/${BUILD:-build}/cartoflash}
# The test tools come from the build even when CARTOFLASH names another binary (the
# upstream-inih build of tests/static/inih_upstream.sh has cartoflash only).
BIN=$PWD/${BUILD:-build}
TWIN=$BIN/twin
MKIMAGE=$BIN/mkimage
WORK=$(mktemp -d /tmp/cf-e2e-serial-XXXXXX)
TTY=$WORK/dev/ttyACM0
export CARTOFLASH_SYSFS_ROOT=$WORK/sys
TWIN_PID=
OUT=$WORK/out
ERR=$WORK/err
RC=0

cleanup() {
	twin_stop
	rm -rf "$WORK"
}
trap cleanup EXIT

require_binaries() {
	local b
	for b in "$CF" "$TWIN" "$MKIMAGE"; do
		if [ ! -x "$b" ]; then
			echo "not ok - $1: $b not built (make BUILD=${BUILD:-build} all tools)"
			exit 1
		fi
	done
}

# twin_start ARGS...: a fresh probe (new flash file, new tree); waits for its ready line.
twin_start() {
	local i
	twin_stop
	rm -rf "$WORK/sys" "$WORK/dev" "$WORK/flash.bin"
	mkdir -p "$WORK/sys" "$WORK/dev"
	"$TWIN" --flash "$WORK/flash.bin" --pty "$TTY" --speed 0 "$@" \
		>"$WORK/twin.out" 2>"$WORK/twin.err" &
	TWIN_PID=$!
	# Ready means attached; the USB device shows up in the tree a moment later (the twin
	# models the enumeration delay): wait for its ids, and for its tty unless it is ROM DFU.
	for i in $(seq 200); do
		if grep -q '^twin: ready' "$WORK/twin.out" 2>/dev/null && usb_present; then
			return 0
		fi
		kill -0 "$TWIN_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# twin did not become ready: $(tr '\n' ' ' <"$WORK/twin.err")"
	return 1
}

usb_present() {
	local vid
	vid=$(cat "$WORK/sys/bus/usb/devices/1-1.3/idVendor" 2>/dev/null)
	[ -n "$vid" ] && { [ "$vid" = 0483 ] || [ -e "$TTY" ]; }
}

twin_stop() {
	if [ -n "$TWIN_PID" ]; then
		kill "$TWIN_PID" 2>/dev/null
		wait "$TWIN_PID" 2>/dev/null
	fi
	TWIN_PID=
}

# run ARGS...: cartoflash with stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
	"$CF" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

# check NAME CONDITION...: one TAP line; on failure the evidence as comments.
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		echo "#   exit $RC; stdout: $(tr '\n' ' ' <"$OUT" | cut -c1-600)"
		echo "#   stderr: $(tr '\n' ' ' <"$ERR" | cut -c1-600)"
	fi
}

has() { grep -qF -- "$2" "$1"; }
