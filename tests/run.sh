#!/usr/bin/env bash
# Runs the suites named on the command line (unit, integration, fuzz,
# mutations, all) or single tests (unit/test_x, unit-san/test_x,
# integration/test_x.sh, fuzz/NAME) and ends with one line:
#   N passed, N failed, N skipped
# Every test speaks TAP: a plan "1..N" (N results to come), then "ok - name",
# "not ok - name" or "ok - name # SKIP reason".  A test fails as a whole
# when it has no plan, runs fewer or more results than it planned, exits
# non-zero without a "not ok", or is missing: each of these counts as one
# failure.  Skips are listed with their reasons before the closing line.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
export BUILD
export SANDTRAIL_TOP=$PWD
source tests/session_parents.sh
passed=0
failed=0
skipped=0
failures=()
skips=()

# run_tap LABEL CMD...: runs CMD, tallies its TAP lines against its plan
run_tap() {
	local label=$1 out rc line ok=0 bad=0 skip=0 plan= ran
	shift
	out=$(mktemp)
	"$@" >"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"1.."*)
			if [ -n "$plan" ]; then
				bad=$((bad + 1))
				failures+=("$label: a second plan ($line)")
			fi
			plan=${line#1..}
			plan=${plan%%[!0-9]*}
			# "1..0 # SKIP reason": the whole test cannot run here
			case $line in *"# SKIP"*) skip=1; skips+=("$label: ${line#*# SKIP }") ;; esac
			;;
		"ok "*"# SKIP"*) skip=$((skip + 1)); skips+=("$label: ${line#ok - }") ;;
		"ok "*) ok=$((ok + 1)) ;;
		"not ok "*) bad=$((bad + 1)); failures+=("$label: ${line#not ok }") ;;
		esac
	done <"$out"
	ran=$((ok + bad + skip))
	if [ -z "$plan" ]; then
		bad=$((bad + 1))
		failures+=("$label: no plan (1..N): it ended before saying what it would run")
	elif [ "$plan" -eq 0 ] && [ $skip -eq 1 ] && [ $ok -eq 0 ] && [ $bad -eq 0 ]; then
		: # skipped as a whole
	elif [ $ran -ne "$plan" ]; then
		bad=$((bad + 1))
		failures+=("$label: planned $plan, ran $ran")
	fi
	if [ $rc -ne 0 ] && [ $bad -eq 0 ]; then
		bad=1
		failures+=("$label: exited with status $rc")
	fi
	if [ $bad -ne 0 ] || [ -n "${VERBOSE:-}" ]; then
		sed "s/^/    /" "$out"
	fi
	printf '%-60s %3d passed %3d failed %3d skipped\n' "$label" $ok $bad $skip
	passed=$((passed + ok))
	failed=$((failed + bad))
	skipped=$((skipped + skip))
	rm -f "$out"
}

# missing LABEL: a test that should be there is not (not built, not found)
missing() {
	printf '%-60s %3d passed %3d failed %3d skipped\n' "$1" 0 1 0
	failures+=("$1: missing")
	failed=$((failed + 1))
}

# run_unit BINARY...
run_unit() {
	local t
	for t in "$@"; do
		if [ ! -x "$t" ]; then
			missing "unit: ${t#"$BUILD"/tests/}"
			continue
		fi
		CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			run_tap "unit: ${t#"$BUILD"/tests/}" timeout -k 10 600 "$t"
	done
}

# one binary per tests/unit/test_*.c, plain and under the sanitizers
suite_unit() {
	local s bins=() san=()
	for s in tests/unit/test_*.c; do
		bins+=("$BUILD/tests/unit/$(basename "$s" .c)")
		san+=("$BUILD/tests/unit-san/$(basename "$s" .c)")
	done
	run_unit "${bins[@]}" "${san[@]}"
}

# run_integration SCRIPT...
run_integration() {
	local t before
	before=$(session_parents)
	for t in "$@"; do
		if [ ! -f "$t" ]; then
			missing "integration: $(basename "$t" .sh)"
			continue
		fi
		run_tap "integration: $(basename "$t" .sh)" timeout -k 10 900 bash "$t"
	done
	remove_new_session_parents "$before"
}

suite_integration() {
	run_integration tests/integration/test_*.sh
}

# one target over a copy of its seed corpus
run_fuzz() {
	local name=$1 f=$BUILD/tests/fuzz/$1 corpus
	if [ ! -x "$f" ]; then
		missing "fuzz: $name"
		return
	fi
	corpus=$(mktemp -d)
	cp -r tests/fuzz/corpus/"$name"/. "$corpus"/ 2>/dev/null
	run_tap "fuzz: $name" bash -c 'echo 1..1; "$1" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 \
		-rss_limit_mb=2048 "$2" && echo "ok - $3 survives ${FUZZ_SECONDS:-20}s of fuzzing"' \
		_ "$f" "$corpus" "$name"
	rm -rf "$corpus"
}

suite_fuzz() {
	local s
	for s in tests/fuzz/*.c; do
		run_fuzz "$(basename "$s" .c)"
	done
}

# The quick mutation check: after the suites above passed, their run is the
# baseline the mutations are judged against.
suite_mutations() {
	local baseline=
	[ $passed -gt 0 ] && [ $failed -eq 0 ] && baseline=--no-baseline
	run_tap "mutations: all apply" tests/mutations/run.sh --apply-only
	run_tap "mutations: --quick" tests/mutations/run.sh --quick $baseline
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
	fuzz/*) run_fuzz "${s#fuzz/}" ;;
	integration/*) run_integration "tests/integration/$(basename "${s%.sh}").sh" ;;
	*) echo "run.sh: unknown suite '$s'" >&2; exit 2 ;;
	esac
done

if [ ${#skips[@]} -gt 0 ]; then
	echo "skipped:"
	printf '  %s\n' "${skips[@]}"
fi
if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
