#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs the named test layers and ends with one line: "N passed, N failed, N skipped".
#   unit, sim : cmocka binaries in $BUILD/tests/<layer>/ (their summary lines are counted)
#   e2e, rig, package, static : scripts tests/<layer>/*.sh printing TAP lines: "ok - name",
#               "not ok - name", "ok - name # SKIP reason"
#   fuzz      : every $BUILD/fuzz/fuzz_* for $FUZZ_SECONDS on a copy of its seed corpus
# A binary or script that dies without reporting counts as one failure.
set -u
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
export BUILD CARTOFLASH=${CARTOFLASH:-$PWD/$BUILD/cartoflash}
passed=0 failed=0 skipped=0
failures=()
log_dir=$BUILD/test-logs
mkdir -p "$log_dir"

run_cmocka() {	# $1 = binary
	local bin=$1 name out rc p f s
	name=$(basename "$bin")
	out=$log_dir/$name.log
	"$bin" >"$out" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$s" -ne 0 ] && grep -B1 '^\[  SKIPPED \] test' "$out" | grep -v '^\[  SKIPPED' | sed 's/^/    skip: /'
	if [ "$f" -ne 0 ]; then
		failures+=("$name (log: $out)")
		grep -E '^\[  (FAILED|  ERROR) \]|ERROR: |Sanitizer|runtime error' "$out" | head -20 | sed 's/^/    /'
	fi
	printf '%-40s %3d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
}

run_tap() {	# $1 = script
	local script=$1 name out rc p f s
	name=$(basename "$script" .sh)
	out=$log_dir/$name.log
	bash "$script" >"$out" 2>&1
	rc=$?
	p=$(grep -cE '^ok( [0-9]+)? - ' "$out" | tr -d ' ')
	s=$(grep -cE '^ok( [0-9]+)? - .*# SKIP' "$out" | tr -d ' ')
	f=$(grep -cE '^not ok( [0-9]+)? - ' "$out" | tr -d ' ')
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$f" -ne 0 ]; then
		failures+=("$name (log: $out)")
		grep -E '^not ok' "$out" | head -20 | sed 's/^/    /'
	fi
	grep -E '^ok.*# SKIP' "$out" | sed 's/^/    /'
	printf '%-40s %3d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
}

run_fuzz() {	# $1 = fuzzer binary
	local bin=$1 name corpus work out opts
	name=$(basename "$bin")
	corpus=tests/fuzz/corpus/$name
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
	out=$log_dir/$name.log
	opts=()
	# tests/fuzz/NAME.options: extra libFuzzer flags (one line), e.g. -close_fd_mask=3 for a
	# target whose code prints usage errors on every run.
	[ -f "tests/fuzz/$name.options" ] && read -ra opts <"tests/fuzz/$name.options"
	if ! BUILD=$BUILD bash tests/fuzz/seeds.sh "$name" "$work" >"$out" 2>&1; then
		failed=$((failed + 1))
		failures+=("$name seeds (log: $out)")
		tail -5 "$out" | sed 's/^/    /'
	elif "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=1024 "${opts[@]}" \
		-artifact_prefix="$log_dir/$name-" "$work" >"$out" 2>&1; then
		passed=$((passed + 1))
		printf '%-40s ran %ss: %s execs\n' "$name" "$FUZZ_SECONDS" "$(grep -oE '^#[0-9]+' "$out" | tail -1 | tr -d '#')"
	else
		failed=$((failed + 1))
		failures+=("$name (log: $out)")
		tail -20 "$out" | sed 's/^/    /'
	fi
	rm -rf "$work"
}

for layer in "$@"; do
	echo "== $layer"
	case $layer in
	unit | sim)
		for bin in "$BUILD"/tests/"$layer"/test_*; do
			[ -x "$bin" ] && run_cmocka "$bin"
		done ;;
	e2e | rig | package | static)
		for script in tests/"$layer"/*.sh; do
			[ -f "$script" ] && run_tap "$script"
		done ;;
	fuzz)
		for bin in "$BUILD"/fuzz/fuzz_*; do
			[ -x "$bin" ] && run_fuzz "$bin"
		done ;;
	*) echo "unknown layer $layer"; failed=$((failed + 1)) ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
