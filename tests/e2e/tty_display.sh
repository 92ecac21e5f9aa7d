#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The progress display in a real terminal: tmux panes of 80x24 and 120x40 (and one resized
# from 120x40 to 80x24 mid-run) show a flash of several twins on the simulated bus; the screen
# is captured while it runs and at the end. No line may be wider than the pane (wrapped lines
# are joined back before measuring), every probe has exactly one intact line, no line holds
# two probes or a fragment. TERM=dumb gives plain lines; NO_COLOR removes the colour. Twins at
# half speed: a flash of four takes about 3 s, long enough for snapshots of the bars.
source "$(dirname "$0")/can_lib.bash"
command -v tmux >/dev/null || skip_all "tmux not installed (make deps)"
sock=cftty$$
tmx() { tmux -L "$sock" -f /dev/null "$@"; }
trap 'tmx kill-server 2>/dev/null; can_cleanup' EXIT

"$BIN/mkimage" app --iface can --bitrate 1000000 --version "CARTOGRAPHER 5.1.0" --size 12288 \
	-o "$work/app.bin" || fail_start mkimage
start_bus 1000000 1 || fail_start simbus "$work/simbus.out"
uids=(16000C000F43304253373820 000102030405060708090A0B 0A0B0C0D0E0F101112131415 1F2E3D4C5B6A798897A6B5C4)
uuids=()
for i in 0 1 2 3; do
	start_twin "p$i" "${uids[$i]}" 0.5 katapult:can:1000000 "app:can:1000000:CARTOGRAPHER 4.0.0" ||
		fail_start "twin p$i" "$work/p$i.out"
	uuids+=("$(uuid_of "p$i")")
done
uuid_args=()
for u in "${uuids[@]}"; do uuid_args+=(--uuid "$u"); done

# run_pane NAME COLS ROWS [ENV...]: the flash in a fresh pane; snapshots every 0.1 s in
# $work/NAME.snap.N (wrapped lines joined), the final screen in $work/NAME.final (and with
# escape sequences in $work/NAME.esc). Resizes to 80x24 after 1 s when NAME is "resize".
run_pane() {
	local name=$1 cols=$2 rows=$3 i=0 t0
	shift 3
	rm -f "$work/$name".*
	sock=cftty$$-$name	# a tmux server per run: no race with the last one's shutdown
	tmx new-session -d -s "$name" -x "$cols" -y "$rows" \
		"env $* $CARTOFLASH flash --allow-unknown $work/app.bin --can sim:$work/bus ${uuid_args[*]} >$work/$name.table; echo \$? >$work/$name.rc; sleep 60"
	tmx set-option -g window-size manual >/dev/null 2>&1
	t0=$(date +%s%N)
	while [ ! -f "$work/$name.rc" ] && [ $i -lt 400 ]; do
		tmx capture-pane -p -J -t "$name" >"$work/$name.snap.$i" 2>/dev/null
		i=$((i + 1))
		if [ "$name" = resize ] && [ $(($(date +%s%N) - t0)) -gt 1000000000 ] && [ ! -f "$work/resized" ]; then
			tmx resize-window -t "$name" -x 80 -y 24 && touch "$work/resized" && echo "$i" >"$work/$name.resized-at"
		fi
		sleep 0.1
	done
	sleep 0.2
	tmx capture-pane -p -J -t "$name" >"$work/$name.final"
	tmx capture-pane -p -e -J -t "$name" >"$work/$name.esc"
	tmx capture-pane -p -J -S - -t "$name" >"$work/$name.hist"
	echo "$i" >"$work/$name.nsnap"
	tmx kill-server 2>/dev/null
}

# screen_ok WIDTH FINAL UUIDS FILE[:WIDTH]...: what is wrong with the screens, nothing when they
# are right (one python for all snapshots of a run).
screen_ok() {
	python3 - "$@" <<'EOF'
import re, sys
width, final, uuids, files = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3].split(), sys.argv[4:]
def bad_of(path, width):
    lines = [l.rstrip() for l in open(path, encoding="utf-8", errors="replace")]
    # the one R7 warning before any probe is reached (a synthesised image, --allow-unknown)
    lines = [l for l in lines if l and not (l.startswith("cartoflash: warning: ") and
                                            "R7 lifted by --allow-unknown" in l)]
    bad = []
    for l in lines:
        if len(l) > width:
            bad.append(f"line of {len(l)} > {width} columns: {l!r}")
        hits = [u for u in uuids if u in l]
        if len(hits) > 1:
            bad.append(f"two probes on one line: {l!r}")
        elif not hits:
            bad.append(f"fragment or stray line: {l!r}")
        elif not re.match(r"^(probe )?[0-9a-f]{12} \(sim:\S*\)? *[a-zA-Z]+ ", l + " "):
            bad.append(f"probe line not intact: {l!r}")
    for u in uuids:
        n = sum(u in l for l in lines)
        if lines and n != 1 and (final or n > 1):
            bad.append(f"probe {u}: {n} lines")
    if final:
        for u in uuids:
            if not any(u in l and re.search(r"\bdone\b", l) for l in lines):
                bad.append(f"probe {u}: no 'done' line at the end")
    return bad
for f in files:
    path, _, w = f.partition(":")
    bad = bad_of(path, int(w) if w else width)
    if bad:
        print(path.rsplit("/", 1)[-1] + ": " + "; ".join(bad[:3]))
        break
EOF
}

# check_run NAME WIDTH: every snapshot and the final screen of run NAME. Around a resize: the
# old width before it, and 0.3 s for the SIGWINCH redraw after it.
check_run() {
	local name=$1 width=$2 err snaps=() i at=-1
	[ -f "$work/$name.resized-at" ] && at=$(cat "$work/$name.resized-at")
	for ((i = 0; i < $(cat "$work/$name.nsnap"); i++)); do
		[ -s "$work/$name.snap.$i" ] || continue
		if [ "$at" -ge 0 ] && [ "$i" -lt "$at" ]; then
			snaps+=("$work/$name.snap.$i:120")
		elif [ "$at" -lt 0 ] || [ "$i" -ge $((at + 3)) ]; then
			snaps+=("$work/$name.snap.$i")
		fi
	done
	check "$name: flash exits 0" '[ "$(cat "$work/$name.rc" 2>/dev/null)" = 0 ]'
	err=$(screen_ok "$width" 0 "${uuids[*]}" "${snaps[@]}")
	check "$name: ${#snaps[@]} snapshots while it ran, none garbled${err:+ ($err)}" '[ ${#snaps[@]} -ge 3 ] && [ -z "$err" ]'
	err=$(screen_ok "$width" 1 "${uuids[*]}" "$work/$name.final")
	check "$name: final screen, one intact 'done' line per probe${err:+ ($err)}" '[ -z "$err" ]'
	[ -n "$err" ] && sed 's/^/# /' "$work/$name.final"
}

run_pane w80 80 24 NO_COLOR=1
check_run w80 80
check "NO_COLOR=1: no colour on the screen" '! grep -q $'"'"'\e\[3[0-9]m'"'"' "$work/w80.esc" && grep -q "done" "$work/w80.final"'
check "w80: some snapshot shows a progress bar that fits" 'cat "$work"/w80.snap.* | grep -qE "\[[#.]+\] +[0-9]+%"'
check "w80: the result table went to stdout" 'grep -q "4 of 4 devices succeeded" "$work/w80.table"'
run_pane w120 120 40
check_run w120 120
check "w120: a wide pane gets rate and ETA" 'cat "$work"/w120.snap.* | grep -qE "KiB/s ETA"'
check "w120: done lines are green (SGR 32)" 'grep -q $'"'"'\e\[32mdone'"'"' "$work/w120.esc"'
run_pane resize 120 40
check "resize: the pane was narrowed to 80 columns mid-run" '[ -f "$work/resized" ]'
check_run resize 80
run_pane dumb 80 24 TERM=dumb
check "TERM=dumb: plain progress lines, one per stage and quarter" \
	'[ "$(grep -cE "^(probe )?[0-9a-f]{12} \(sim:.*\): write (25|50|75|100)%" "$work/dumb.hist")" -ge 16 ]'
check "TERM=dumb: exits 0" '[ "$(cat "$work/dumb.rc" 2>/dev/null)" = 0 ]'
