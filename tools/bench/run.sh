#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# CAN benchmarks (make bench): every figure is a ratio measured in this run against the floor the
# timing model gives (wire time of every frame + flash time), never a timed assertion.
#   B1  one probe, 22 KiB application, 1 Mbit/s, twin at speed 1: wall / floor (median of the
#       eight single runs, each against its own floor)
#   B2  eight probes on one bus at once: wall / bus-bound floor, and / eight single runs in a row;
#       CPU time / wall and peak RSS of cartoflash during B2
#   B3  scan of eight nodes: time until all are listed
# Prints a table and writes it into docs/can.md between the bench markers.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD
CF=$BIN/cartoflash
DOC=${BENCH_DOC:-docs/can.md}
BYTES=22528
N=8
for b in "$CF" "$BIN/mkimage" "$BIN/twin" "$BIN/simbus" "$BIN/bench"; do
	[ -x "$b" ] || { echo "bench: $b is missing; run 'make all' first" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time (GNU time) is needed for CPU and RSS" >&2; exit 1; }
work=${BENCH_WORK:-$(mktemp -d)}
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${BENCH_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_line() {
	for _ in $(seq 1 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: no '$2' from $1" >&2
	exit 1
}
# The shell's own clock (bash >= 5): `$(date ...)` forks and runs a process around each reading,
# a process start the run did not make counted in its wall time (3-8 ms on a loaded 2-core host).
now() {
	now_s=${EPOCHREALTIME/,/.}
	[ -n "$now_s" ] || now_s=$(date +%s.%N)
}
calc() { python3 -c "print(format($1, '.3f'))"; }
# floor LOG_FROM LOG_TO KEY: a figure of `bench floor` over lines FROM..TO of the bus log.
floor() {
	sed -n "$1,$2p" "$work/bus.log" >"$work/slice.log"
	"$BIN/bench" floor --log "$work/slice.log" --bitrate 1000000 --image-bytes $BYTES |
		sed -n "s/^$3=//p"
}
lines() { wc -l <"$work/bus.log"; }

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size $BYTES \
	-o "$work/app.bin"
# What the probes run before: an old release of the same size, so the update erases every page
# the new image touches, as the floor counts (a twin's default application is only 6 pages:
# Katapult erases only pages that hold data, and the floor would charge 17 erases never done).
"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 4.0.0" --size $BYTES \
	-o "$work/old.bin"
"$BIN/simbus" --socket "$work/bus" --bitrate 1000000 --speed 1 --log "$work/bus.log" \
	>"$work/simbus.out" 2>&1 &
pids+=($!)
wait_line "$work/simbus.out" ready
uuids=()
for i in $(seq 1 $N); do
	uid=$(printf '1600%02X000F433042533738%02X' "$i" "$i")
	"$BIN/twin" --uid "$uid" --flash "$work/t$i.flash" --init katapult:can:1000000 \
		--init "file:0x08002000:$work/old.bin" --speed 1 --attach "sim:$work/bus" \
		>"$work/t$i.out" 2>&1 &
	pids+=($!)
	wait_line "$work/t$i.out" ready
	wait_line "$work/t$i.out" "mode app"
	uuids+=("$(sed -n 's/.*ready uuid=\([0-9a-f]*\).*/\1/p' "$work/t$i.out" | head -1)")
done
bus=sim:$work/bus

echo "bench: B3 scan of $N nodes" >&2
"$CF" scan --can "$bus" --json >"$work/scan.json" 2>/dev/null
b3_listed=$(python3 -c "
import json, sys
j = [json.loads(l) for l in open(sys.argv[1])]
n = [o for o in j if o['event'] == 'node']
print(format(max(o['seconds'] for o in n), '.4f') if len(n) == $N else 'missing')" "$work/scan.json")
b3_total=$(python3 -c "import json; print(format([json.loads(l) for l in open('$work/scan.json')][-1]['seconds'], '.3f'))")

echo "bench: B1 and $N single runs in a row" >&2
singles=0
for i in $(seq 0 $((${BENCH_SINGLES:-N} - 1))); do
	from=$(($(lines) + 1))
	now; t0=$now_s
	"$CF" flash --allow-unknown "$work/app.bin" --can "$bus" --uuid "${uuids[$i]}" -q >/dev/null 2>"$work/single$i.err" ||
		{ echo "bench: single run $i failed:" >&2; cat "$work/single$i.err" >&2; exit 1; }
	now; t1=$now_s
	wall=$(calc "$t1 - $t0")
	singles=$(calc "$singles + $wall")
	# Each single run is a B1 measurement against its own floor; the median resists the
	# scheduling noise of a shared host.
	echo "$wall $(floor "$from" "$(lines)" floor_single_s)" >>"$work/b1.txt"
done
read -r b1_wall b1_floor b1_ratio b1_min b1_max < <(python3 -c "
rows = sorted((float(w) / float(f), w, f) for w, f in (l.split() for l in open('$work/b1.txt')))
r, w, f = rows[len(rows) // 2]
print(w, f, format(r, '.3f'), format(rows[0][0], '.3f'), format(rows[-1][0], '.3f'))")

echo "bench: B2 $N probes at once" >&2
from=$(($(lines) + 1))
args=()
for u in "${uuids[@]}"; do args+=(--uuid "$u"); done
now; t0=$now_s
/usr/bin/time -f "%e %U %S %M" -o "$work/b2.time" "$CF" flash --allow-unknown "$work/app.bin" --can "$bus" \
	"${args[@]}" -q >"$work/b2.out" 2>"$work/b2.err" ||
	{ echo "bench: B2 failed:" >&2; cat "$work/b2.err" "$work/b2.out" >&2; exit 1; }
now; t1=$now_s
b2_wall=$(calc "$t1 - $t0")
b2_floor=$(floor "$from" "$(lines)" floor_bus_s)
read -r _ b2_user b2_sys b2_rss <"$work/b2.time"

b2_ratio=$(calc "$b2_wall / $b2_floor")
b2_vs=$(calc "$b2_wall / $singles")
b2_bound=$(calc "$b2_floor / $singles")
b2_cpu=$(calc "100 * ($b2_user + $b2_sys) / $b2_wall")
b2_rss_mib=$(calc "$b2_rss / 1024")
load=$(cut -d' ' -f1-3 /proc/loadavg)

table=$(cat <<EOF
| figure | measured | target |
|---|---|---|
| B1 one probe, 22 KiB, 1 Mbit/s: wall / floor (median of $N runs; range ${b1_min}-${b1_max}) | ${b1_wall} s / ${b1_floor} s = **${b1_ratio}** | <= 1.15 |
| B2 eight probes at once: wall / bus-bound floor | ${b2_wall} s / ${b2_floor} s = **${b2_ratio}** | <= 1.2 |
| B2 / eight single runs in a row | ${b2_wall} s / ${singles} s = **${b2_vs}** (physical bound: bus-bound floor / singles = ${b2_bound}) | <= 0.35 |
| B2 CPU time / wall (cartoflash) | **${b2_cpu} %** | < 5 % |
| B2 peak RSS (cartoflash) | **${b2_rss_mib} MiB** | < 4 MiB |
| B3 scan of eight nodes: all listed after | **${b3_listed} s** (scan returns after ${b3_total} s: quiet window) | - |
EOF
)
printf '\n%s\n\nhost: %s cores, load average %s while measuring\n' "$table" "$(nproc)" "$load"

if [ -f "$DOC" ] && grep -q '<!-- bench:begin -->' "$DOC"; then
	python3 - "$DOC" "$table" "$(nproc)" "$load" "$(date -u +%Y-%m-%dT%H:%MZ)" <<'PY'
import sys
path, table, cores, load, when = sys.argv[1:]
text = open(path).read()
head, rest = text.split('<!-- bench:begin -->', 1)
_, tail = rest.split('<!-- bench:end -->', 1)
body = f"\nMeasured {when} by `make bench` on {cores} cores (load average {load}).\n\n{table}\n"
open(path, 'w').write(head + '<!-- bench:begin -->' + body + '<!-- bench:end -->' + tail)
PY
	echo "bench: figures written into $DOC" >&2
fi
