#!/usr/bin/env bash
# Runs the suites named on the command line (unit, integration, fuzz,
# mutations, all) or single tests (unit/test_x, unit-san/test_x,
# integration/test_x.sh) and ends with one "N passed, N failed" line.  Every suite speaks TAP: "ok - name"
# or "not ok - name"; a binary or script that dies without saying so counts
# as one failure.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
export BUILD
export SANDTRAIL_TOP=$PWD
source tests/session_parents.sh
passed=0
failed=0
failures=()

# run_tap LABEL CMD...: runs CMD, tallies its TAP lines
run_tap() {
	local label=$1 out rc line ok=0 bad=0
	shift
	out=$(mktemp)
	"$@" >"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) ok=$((ok + 1)) ;;
		"not ok "*) bad=$((bad + 1)); failures+=("$label: ${line#not ok }") ;;
		esac
	done <"$out"
	if [ $rc -ne 0 ] && [ $bad -eq 0 ]; then
		bad=1
		failures+=("$label: exited with status $rc")
	fi
	if [ $bad -ne 0 ] || [ -n "${VERBOSE:-}" ]; then
		sed "s/^/    /" "$out"
	fi
	printf '%-60s %3d passed %3d failed\n' "$label" $ok $bad
	passed=$((passed + ok))
	failed=$((failed + bad))
	rm -f "$out"
}

# run_unit BINARY...
run_unit() {
	local t
	for t in "$@"; do
		CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			run_tap "unit: ${t#"$BUILD"/tests/}" timeout -k 10 600 "$t"
	done
}

suite_unit() {
	local t bins=()
	for t in "$BUILD"/tests/unit/test_* "$BUILD"/tests/unit-san/test_*; do
		[ -x "$t" ] && bins+=("$t")
	done
	run_unit "${bins[@]}"
}

# run_integration SCRIPT...
run_integration() {
	local t before
	before=$(session_parents)
	for t in "$@"; do
		run_tap "integration: $(basename "$t" .sh)" timeout -k 10 900 bash "$t"
	done
	remove_new_session_parents "$before"
}

suite_integration() {
	run_integration tests/integration/test_*.sh
}

# The quick mutation check: after the suites above passed, their run is the
# baseline the mutations are judged against.
suite_mutations() {
	local baseline=
	[ $passed -gt 0 ] && [ $failed -eq 0 ] && baseline=--no-baseline
	run_tap "mutations: --quick" tests/mutations/run.sh --quick $baseline
}

suite_fuzz() {
	local f name corpus
	for f in "$BUILD"/tests/fuzz/*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=$(mktemp -d)
		cp -r tests/fuzz/corpus/"$name"/. "$corpus"/ 2>/dev/null
		run_tap "fuzz: $name" bash -c '"$1" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 \
			-rss_limit_mb=2048 "$2" && echo "ok - $3 survives ${FUZZ_SECONDS:-20}s of fuzzing"' \
			_ "$f" "$corpus" "$name"
		rm -rf "$corpus"
	done
}

[ $# -gt 0 ] || set -- all
for s in "$@"; do
	case $s in
	unit) suite_unit ;;
	integration) suite_integration ;;
	fuzz) suite_fuzz ;;
	mutations) suite_mutations ;;
	all) suite_unit; suite_integration; suite_fuzz; suite_mutations ;;
	unit/* | unit-san/*) run_unit "$BUILD/tests/$s" ;;
	integration/*) run_integration "tests/integration/$(basename "${s%.sh}").sh" ;;
	*) echo "run.sh: unknown suite '$s'" >&2; exit 2 ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
