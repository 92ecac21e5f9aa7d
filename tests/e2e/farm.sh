#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A print farm through ansible-core: tools/ansible/farm.yml against five printer hosts on this
# machine (local connection), each with its own simulated CAN bus, twin probe, Klipper API
# socket stand-in, fake systemctl and firmware directory. In inventory order: printing
# (refused), outdated (updated, Klipper stopped and started), current (unchanged), failing
# (its probe loses power mid-write and stays off) and one more outdated host that a failure
# budget of 49% on batches of 2 never reaches. Run twice (idempotence), as a dry run with a
# newer release (nothing written), then with a 50% budget (the roll-out goes on past the
# failure). Every assertion reads the farm summary JSON, a module's result or the probes' own
# state (flash file, bus log), never Ansible's log text. A helper (simbus, twin, klippyd) that
# does not start fails the script; only a missing ansible-core or jq skips it.
set -u
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
		for f in "$@"; do sed 's/^/#   /' "$f" | tail -25; done
	fi
	return 0
}

for tool in "$CF" "$BIN/twin" "$BIN/simbus" "$BIN/klippyd" "$BIN/mkimage"; do
	[ -x "$tool" ] || { echo "not ok - ${0##*/}: $tool not built (make BUILD=$BUILD all)"; exit 1; }
done
command -v ansible-playbook >/dev/null || skip_all "ansible-core not installed (tools/deps.sh installs it)"
command -v jq >/dev/null || skip_all "jq not installed (tools/deps.sh installs it)"
W=$(mktemp -d /tmp/cf-farm-XXXXXX)

farm_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${FARM_KEEP:-}" ] || rm -rf "$W"	# FARM_KEEP=1 keeps it to look at
}
trap farm_cleanup EXIT

# wait_for CONDITION: up to 5 s, polling every 20 ms.
wait_for() {
	local i
	for i in $(seq 250); do
		eval "$1" && return 0
		sleep 0.02
	done
	return 1
}

# ---- the releases, on the controller ----
mkdir -p "$W/release" "$W/old"
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 4.0.0" \
	-o "$W/old/app-4.0.0.bin" >/dev/null
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" \
	-o "$W/release/app-5.1.0.bin" >/dev/null
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.2.0" \
	-o "$W/app-5.2.0.bin" >/dev/null

export ANSIBLE_CONFIG=$SRC/tools/ansible/ansible.cfg ANSIBLE_HOME=$W/ansible-home \
	ANSIBLE_LOCAL_TEMP=$W/ansible-local ANSIBLE_REMOTE_TEMP=$W/ansible-remote ANSIBLE_NOCOLOR=1 ANSIBLE_PIPELINING=1

# adhoc NAME MODULE ARGS-JSON: one module on localhost through ansible-playbook; the result it
# returned (registered, written with to_json) in $W/NAME.json
adhoc() {
	cat >"$W/$1.yml" <<EOF
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - cartoflash.farm.$2: $3
      register: result
      ignore_errors: true
    - ansible.builtin.copy: {content: "{{ result | to_json }}", dest: "$W/$1.json"}
EOF
	ANSIBLE_CALLBACKS_ENABLED= ansible-playbook "$W/$1.yml" >"$W/$1.out" 2>&1
}
# res NAME FILTER: jq over the module result of adhoc NAME
res() { jq -c "$2" "$W/$1.json" 2>/dev/null; }

# ---- the modules read the JSON contract and nothing else ----
printf '#!/bin/sh\necho %s\nexit 0\n' "'{\"schema\": 2, \"event\": \"summary\"}'" >"$W/schema2"
chmod +x "$W/schema2"
adhoc schema2 cartoflash_update "{binary: $W/schema2, firmware: [$W/release], all: true}"
check "a binary writing another JSON schema: the module fails and names the schema" \
	"[ '$(res schema2 '[.failed, (.msg | test("JSON schema 2"))]')' = '[true,true]' ]" \
	"$W/schema2.out"

# ---- everything below runs the real binary through its JSON contract (docs/json.md) ----

# printer NAME UID RUNS [TWIN ARGS...]: a printer host's directory $W/NAME with its bus
# ($W/NAME/can0, candump log can0.log) and its probe running the image RUNS.
printer() {
	local name=$1 uid=$2 runs=$3 h=$W/$1
	shift 3
	mkdir -p "$h/home" "$h/locks" "$h/klippy-locks" "$h/sys" "$h/bin"
	"$BIN/simbus" --socket "$h/can0" --bitrate 1000000 --speed 0 --log "$h/can0.log" \
		>"$h/simbus.out" 2>&1 &
	PIDS+=($!)
	wait_for "grep -qs '^simbus: ready' '$h/simbus.out'" || return 1
	"$BIN/twin" --uid "$uid" --flash "$h/probe.bin" --init katapult:can:1000000 \
		--init "file:0x08002000:$runs" --speed 0 --attach "sim:$h/can0" "$@" \
		>"$h/twin.out" 2>"$h/twin.err" &
	PIDS+=($!)
	wait_for "grep -qs '^twin: ready' '$h/twin.out'" || return 1
	sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$h/twin.out" | head -1 >"$h/uuid"
}

# klipper NAME PRINT_STATE VERSION: Klipper's API socket stand-in for the printer, connected to its
# probe (node id assigned on the bus), and a systemctl on the host's PATH that stops (SIGUSR1)
# and starts (SIGUSR2) it as systemd would klipper.service, logging its calls. On start the
# stand-in reports the firmware the probe runs then (identified on the bus with status, as klippy
# identifies its MCUs on connect), and the probe's interface is the host's simulated bus.
klipper() {
	local name=$1 state=$2 version=$3 h=$W/$1 uuid
	uuid=$(cat "$h/uuid")
	cat >"$h/klipper.json" <<EOF
{"info": {"state": "ready", "software_version": "v0.13.0-91-g1a2b3c4", "hostname": "$name"},
 "objects": {"configfile": {"settings": {"mcu scanner": {"canbus_uuid": "$uuid", "canbus_interface": "sim:$h/can0"}}},
  "print_stats": {"state": "$state", "filename": "benchy.gcode"},
  "mcu scanner": {"mcu_version": "$version", "mcu_build_versions": "gcc: 12.2.1",
                  "mcu_constants": {"MCU": "stm32f042x6", "CANBUS_FREQUENCY": 1000000}}}}
EOF
	"$BIN/klippyd" --socket "$h/klippy.sock" --scenario "$h/klipper.json" \
		--pidfile "$h/klippyd.pid" --can "sim:$h/can0" >"$h/klippyd.out" 2>&1 &
	PIDS+=($!)
	wait_for "grep -qs '^klippyd: ready' '$h/klippyd.out'" || return 1
	cat >"$h/bin/systemctl" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$h/systemctl.log"
[ "\${2:-}" = klipper.service ] || { echo "Unit \${2:-} not found." >&2; exit 5; }
pid=\$(cat "$h/klippyd.pid")
case \$1 in
stop) kill -USR1 "\$pid"; for i in \$(seq 250); do [ -S "$h/klippy.sock" ] || exit 0; sleep 0.02; done; exit 1 ;;
start)
	# like klippy on connect: identify the probe, report the firmware it runs now
	v=\$(CARTOFLASH_LOCK_DIR="$h/klippy-locks" "$CF" status --can "sim:$h/can0" --klippy-socket "" \
		--no-usb --json 2>/dev/null | jq -r 'select(.event == "probe" and .uuid == "$uuid") | .firmware.version // empty')
	if [ -n "\$v" ]; then
		jq --arg v "\$v" '.objects["mcu scanner"].mcu_version = \$v' "$h/klipper.json" >"$h/klipper.json.new" &&
			mv "$h/klipper.json.new" "$h/klipper.json" && kill -HUP "\$pid"
	fi
	kill -USR2 "\$pid"; for i in \$(seq 250); do [ -S "$h/klippy.sock" ] && exit 0; sleep 0.02; done; exit 1 ;;
*) exit 0 ;;
esac
EOF
	chmod +x "$h/bin/systemctl"
}

# printer_or_fail NAME ARGS...: printer, or the script fails naming what did not start
printer_or_fail() {
	printer "$@" || fail_start "$1's simbus or twin" "$W/$1/simbus.out" "$W/$1/twin.out" "$W/$1/twin.err"
}
klipper_or_fail() { klipper "$@" || fail_start "$1's klippyd" "$W/$1/klippyd.out"; }

# The outdated printers run Klipper: update --stop-klipper stops and starts it around the write.
printer_or_fail printer-a 0A0000000000000000000001 "$W/old/app-4.0.0.bin"
klipper_or_fail printer-a printing "CARTOGRAPHER 4.0.0"
printer_or_fail printer-b 0B0000000000000000000002 "$W/old/app-4.0.0.bin"
klipper_or_fail printer-b standby "CARTOGRAPHER 4.0.0"
printer_or_fail printer-c 0C0000000000000000000003 "$W/release/app-5.1.0.bin"
# the failing probe: power lost at its 20th block written, and it stays off
printer_or_fail printer-d 0D0000000000000000000004 "$W/old/app-4.0.0.bin" \
	--fault power-loss-block=20 --power-on-after -1
printer_or_fail printer-e 0E0000000000000000000005 "$W/old/app-4.0.0.bin"
klipper_or_fail printer-e standby "CARTOGRAPHER 4.0.0"

# ---- the inventory: every host local, its own environment, bus, Klipper and firmware ----
{
	echo "printers:"
	echo "  vars:"
	echo "    ansible_connection: local"
	echo "    ansible_python_interpreter: \"{{ ansible_playbook_python }}\""
	echo "    cartoflash_install: binary"
	echo "    cartoflash_binary_src: $CF"
	echo "    cartoflash_firmware_src: $W/release"
	echo "    cartoflash_allow_unknown: true"
	echo "    cartoflash_usb: false"
	echo "    cartoflash_klipper_service: klipper.service"
	echo "  hosts:"
	for n in a b c d e; do
		h=$W/printer-$n
		echo "    printer-$n:"
		echo "      cartoflash_bin: $h/bin/cartoflash"
		echo "      cartoflash_firmware_dest: $h/firmware"
		echo "      cartoflash_can: [\"sim:$h/can0\"]"
		if [ "$n" = d ]; then
			echo "      cartoflash_all: false"
			echo "      cartoflash_targets: [--can, \"sim:$h/can0\", --uuid, \"$(cat "$h/uuid")\"]"
		else
			echo "      cartoflash_targets: [--can, \"sim:$h/can0\"]"
		fi
		echo "      cartoflash_klippy_socket: $h/klippy.sock"
		echo "      cartoflash_environment:"
		echo "        HOME: $h/home"
		echo "        CARTOFLASH_LOCK_DIR: $h/locks"
		echo "        CARTOFLASH_SYSFS_ROOT: $h/sys"
		echo "        PATH: $h/bin:$PATH"
	done
} >"$W/inventory.yml"

# farm N [ANSIBLE-PLAYBOOK ARGS...]: one roll-out; summary $W/summary-N.json, output $W/run-N.out
farm() {
	local n=$1
	shift
	CARTOFLASH_FARM_SUMMARY=$W/summary-$n.json ansible-playbook -i "$W/inventory.yml" \
		"$SRC/tools/ansible/farm.yml" -e farm_become=false -e farm_serial=2 "$@" \
		>"$W/run-$n.out" 2>&1
	echo $? >"$W/run-$n.rc"
}
# q N FILTER: jq over summary N, compact
q() { jq -c "$2" "$W/summary-$1.json" 2>/dev/null; }
# host N HOST FILTER: jq over one host's record of summary N
host() { jq -c ".hosts[] | select(.host==\"$2\") | $3" "$W/summary-$1.json" 2>/dev/null; }
flash_sum() { sha256sum "$W/$1/probe.bin" | cut -c1-64; }
frames() { grep -cE "$2" "$W/$1/can0.log"; }
BOOT='3F0#02'	# the Katapult bootloader request (spec/katapult.md)
declare -A SUM0 BOOT0
for n in a b c d e; do SUM0[$n]=$(flash_sum printer-$n); done
# untouched HOST...: since the last mark, no bootloader request on their buses and their
# probes' flash unchanged
untouched() {
	local n
	for n in "$@"; do
		[ "$(frames printer-$n "$BOOT")" -eq "${BOOT0[$n]}" ] || return 1
		[ "$(flash_sum printer-$n)" = "${SUM0[$n]}" ] || return 1
	done
}
mark() { local n; for n in a b c d e; do BOOT0[$n]=$(frames printer-$n "$BOOT"); SUM0[$n]=$(flash_sum printer-$n); done; }
mark

# the status module on the printing printer: Klipper's print state, its probe, nothing changed
CARTOFLASH_LOCK_DIR=$W/printer-a/locks CARTOFLASH_SYSFS_ROOT=$W/printer-a/sys HOME=$W/printer-a/home \
	adhoc status-a cartoflash_status \
	"{binary: $CF, can: [\"sim:$W/printer-a/can0\"], usb: false, klippy_socket: $W/printer-a/klippy.sock}"
check "cartoflash_status on a printing printer: printing, the print, its probe, changed false" \
	"[ '$(res status-a '[.changed, .printing, .print_state, .klipper.print_filename, [.probes[].uuid]]')' = '[false,true,\"printing\",\"benchy.gcode\",[\"$(cat "$W/printer-a/uuid")\"]]' ]" \
	"$W/status-a.out"
check "... with the binary's version from --version --json" \
	"[ '$(res status-a .version)' = '$("$CF" --version --json | jq -c .version)' ]" "$W/status-a.json"

# ---- a dry run on a host that has no cartoflash yet: it would be installed, nothing else ----
farm 0 --check --limit printer-e
check "check mode on a host without cartoflash: would_install, only that host in the summary" \
	"[ '$(q 0 '[[.hosts[] | [.host, .outcome]], .totals.failed]')' = '[[[\"printer-e\",\"would_install\"]],0]' ]" \
	"$W/summary-0.json" "$W/run-0.out"
check "... and nothing was installed or sent to its probe" \
	"[ ! -e $W/printer-e/bin/cartoflash ] && untouched e"

# ---- run 1: the roll-out stops at the failure budget ----
farm 1 -e farm_max_fail_percentage=49
check "run 1: ansible-playbook exits non-zero (a host failed) and wrote the farm summary" \
	"[ \$(cat $W/run-1.rc) -ne 0 ] && [ -s $W/summary-1.json ]" "$W/run-1.out"
check "run 1: every host in inventory order with its outcome" \
	"[ '$(q 1 '[.hosts[] | [.host, .outcome]]')' = '[[\"printer-a\",\"refused\"],[\"printer-b\",\"updated\"],[\"printer-c\",\"current\"],[\"printer-d\",\"failed\"],[\"printer-e\",\"not_reached\"]]' ]" \
	"$W/summary-1.json" "$W/run-1.out"
check "run 1: the printing printer is refused with Klipper's print state, no probe update ran" \
	"[ '$(host 1 printer-a '[.print_state, .probes]')' = '[\"printing\",[]]' ]" "$W/summary-1.json"
check "run 1: ... and its probe saw no bootloader request; its flash is as it was" \
	"untouched a" "$W/printer-a/can0.log"
check "run 1: the outdated probe: 4.0.0 -> 5.1.0, written, exit 0" \
	"[ '$(host 1 printer-b '[.probes[] | [.uuid, .previous_version, .version, .written, .exit_code]]')' = '[[\"$(cat "$W/printer-b/uuid")\",\"CARTOGRAPHER 4.0.0\",\"CARTOGRAPHER 5.1.0\",true,0]]' ]" \
	"$W/summary-1.json"
check "run 1: ... Klipper was stopped for it and started again (systemctl stop, start)" \
	"[ \"\$(cat $W/printer-b/systemctl.log 2>/dev/null | tr '\n' ,)\" = 'stop klipper.service,start klipper.service,' ]" \
	"$W/printer-b/systemctl.log"
check "run 1: the current probe is left alone: not written, no bootloader request" \
	"[ '$(host 1 printer-c '[.changed, (.probes[] | [.previous_version, .version, .written, .exit_code])]')' = '[false,[\"CARTOGRAPHER 5.1.0\",\"CARTOGRAPHER 5.1.0\",false,0]]' ] && [ \$(frames printer-c '$BOOT') -eq 0 ]" \
	"$W/summary-1.json"
check "run 1: the failing probe is reported with cartoflash's error object and exit code" \
	"[ '$(host 1 printer-d '[.exit_code != 0, (.error.exit_code // 0) != 0, (.error.code | length > 0), [.probes[].ok]]')' = '[true,true,true,[false]]' ]" \
	"$W/summary-1.json"
check "run 1: the host after the budget was never touched: no cartoflash installed, no bootloader request, flash as it was" \
	"[ ! -e $W/printer-e/bin/cartoflash ] && untouched e && [ ! -e $W/printer-e/systemctl.log ]"
# written: b's probe, and d's, half-written when its power went
check "run 1: totals and the early stop" \
	"[ '$(q 1 '[.stopped_early, .check_mode, .totals.failed, .totals.not_reached, .totals.refused, .totals.updated, .totals.current, .probes.written]')' = '[true,false,1,1,1,1,1,2]' ]" \
	"$W/summary-1.json"

# ---- run 2: the same again changes nothing ----
mark
farm 2 -e farm_max_fail_percentage=49
check "run 2 (idempotence): no host changed, no probe written" \
	"[ '$(q 2 '[([.hosts[] | .changed // false] | any), .probes.written]')' = '[false,0]' ]" "$W/summary-2.json" "$W/run-2.out"
check "run 2: the probe updated in run 1 is current now (5.1.0 -> 5.1.0)" \
	"[ '$(host 2 printer-b '[.outcome, (.probes[] | [.previous_version, .version, .written])]')' = '[\"current\",[\"CARTOGRAPHER 5.1.0\",\"CARTOGRAPHER 5.1.0\",false]]' ]" \
	"$W/summary-2.json"
check "run 2: no bootloader request on any bus, every flash as after run 1" \
	"untouched a b c e"
check "run 2: the same stop at the same budget (d failed, e not reached)" \
	"[ '$(q 2 '[.hosts[] | .outcome]')' = '[\"refused\",\"current\",\"current\",\"failed\",\"not_reached\"]' ]" "$W/summary-2.json"

# ---- run 3: a newer release, as a dry run (--check): what would change, nothing written ----
cp "$W/app-5.2.0.bin" "$W/release/"
mark
farm 3 --check -e farm_max_fail_percentage=49
check "run 3 (check mode): b and c would be updated to 5.2.0, reported as dry run" \
	"[ '$(q 3 '[.check_mode, [.hosts[] | select(.outcome=="would_update") | .host, (.probes[] | [.previous_version, .version, .written])]]')' = '[true,[\"printer-b\",[\"CARTOGRAPHER 5.1.0\",\"CARTOGRAPHER 5.2.0\",true],\"printer-c\",[\"CARTOGRAPHER 5.1.0\",\"CARTOGRAPHER 5.2.0\",true]]]' ]" \
	"$W/summary-3.json" "$W/run-3.out"
check "run 3: nothing rebooted or written: no bootloader request, every flash as before" \
	"untouched a b c e"

# ---- run 4: a budget of 50% tolerates one failed host in a batch of two ----
farm 4 -e farm_max_fail_percentage=50
check "run 4: the roll-out goes past the failing host: e is reached and updated" \
	"[ '$(q 4 '[.stopped_early, [.hosts[] | [.host, .outcome]]]')' = '[false,[[\"printer-a\",\"refused\"],[\"printer-b\",\"updated\"],[\"printer-c\",\"updated\"],[\"printer-d\",\"failed\"],[\"printer-e\",\"updated\"]]]' ]" \
	"$W/summary-4.json" "$W/run-4.out"
check "run 4: e went from 4.0.0 to the newest release, 5.2.0" \
	"[ '$(host 4 printer-e '[.probes[] | [.previous_version, .version, .written, .exit_code]]')' = '[[\"CARTOGRAPHER 4.0.0\",\"CARTOGRAPHER 5.2.0\",true,0]]' ]" \
	"$W/summary-4.json"
check "run 4: the printing printer is still refused and untouched" \
	"untouched a && [ '$(host 4 printer-a .outcome)' = '\"refused\"' ]"
