#!/usr/bin/env bash
# The mutation check: each tests/mutations/*.mut breaks the product on
# purpose (see README.md).  Each is applied to a scratch copy of the tree,
# built there, and the tests it names are run there: they must fail.
#
#   caught    the tests failed: they notice the break
#   survived  the tests passed with the break in: they are blind to it
#   broken    the mutation no longer applies or the tree no longer builds:
#             it must be brought up to date with the code
#
# Prints one TAP line per mutation and a closing count; exits 1 when a
# mutation survived or is broken.  Root, as the tests it runs are.
#
#   tests/mutations/run.sh [--quick] [--apply-only] [--no-baseline] [--keep] [NAME...]
#     --quick        only the mutations marked "quick: yes" (make test runs these)
#     --apply-only   only check that each mutation still applies to the tree
#                    (no copy, no build, no test: seconds; make test runs it
#                    over all of them, so a mutation that code moved under is
#                    seen at once, not at the next full check)
#     --no-baseline  skip running the named tests on the unmutated copy first
#                    (for callers that just ran them)
#     --keep         keep each scratch tree and say where it is
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
BUILD=${BUILD:-build}
MUTDIR=$TOP/tests/mutations
JOBS=${JOBS:-2}

quick=0 baseline=1 keep=0 apply_only=0
names=()
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	--no-baseline) baseline=0 ;;
	--keep) keep=1 ;;
	--apply-only) apply_only=1 ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "mutations: unknown option $a" >&2; exit 2 ;;
	*) names+=("${a%.mut}") ;;
	esac
done

# header FILE KEY: the value of "KEY:" in FILE's header (the lines before the diff)
header() { sed -n "/^diff --git /q; s/^$2:[[:space:]]*//p" "$1" | head -n 1; }

# the mutations to run
muts=()
if [ ${#names[@]} -gt 0 ]; then
	for n in "${names[@]}"; do
		[ -f "$MUTDIR/$n.mut" ] || { echo "mutations: no mutation $n ($MUTDIR/$n.mut)" >&2; exit 2; }
		muts+=("$MUTDIR/$n.mut")
	done
else
	for f in "$MUTDIR"/*.mut; do
		[ -f "$f" ] || continue
		[ $quick -eq 1 ] && [ "$(header "$f" quick)" != yes ] && continue
		muts+=("$f")
	done
fi
[ ${#muts[@]} -gt 0 ] || { echo "mutations: none selected" >&2; exit 2; }
echo "1..${#muts[@]}"

if [ $apply_only -eq 1 ]; then
	broken=0
	for f in "${muts[@]}"; do
		name=$(basename "$f" .mut)
		if err=$(git apply --check --whitespace=nowarn "$f" 2>&1); then
			echo "ok - mutation $name applies"
		else
			broken=$((broken + 1))
			echo "not ok - mutation $name: broken, does not apply: $(head -n 1 <<<"$err")"
			sed 's/^/# /' <<<"$err"
		fi
	done
	echo "# mutations: ${#muts[@]} checked, $broken do not apply"
	exit $((broken > 0))
fi

# targets TEST...: what make must build for these tests (see tests/run.sh for the names)
targets() {
	local t
	for t in "$@"; do
		case $t in
		unit/* | unit-san/*) echo "build/tests/$t" ;;
		integration/*) echo all test-helpers build/bench/floor microvm ;;
		fuzz/*) echo "build/tests/$t" ;;
		esac
	done | tr ' ' '\n' | sort -u
}

# known TEST: the test exists in the tree (a typo must not pass as "caught")
known() {
	case $1 in
	unit/test_* | unit-san/test_*) [ -f "tests/unit/${1#*/}.c" ] ;;
	integration/test_*) [ -f "tests/integration/$(basename "${1%.sh}").sh" ] ;;
	fuzz/*) [ -f "tests/fuzz/${1#fuzz/}.c" ] ;;
	*) false ;;
	esac
}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/sandtrail-mutations.XXXXXX")
cleanup() { [ $keep -eq 1 ] || rm -rf "$SCRATCH"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The base copy: the working tree as it is (committed or not, without what
# git ignores), and the shared build, copied, so that each mutation rebuilds
# only what it touches.  Nothing in the shared tree is written.
BASE=$SCRATCH/base
mkdir -p "$BASE"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$BASE"
else
	tar --exclude="./$BUILD" -cf - . | tar -xf - -C "$BASE"
fi
# .d files name their targets under the build dir they were made in: only
# the default one can be reused as it is
[ "$BUILD" = build ] && [ -d build ] && cp -a build "$BASE/build"

all_tests=()
for f in "${muts[@]}"; do
	read -r -a ts <<<"$(header "$f" tests)"
	all_tests+=("${ts[@]}")
done
mapfile -t all_targets < <(targets "${all_tests[@]}")
if ! make -C "$BASE" -j"$JOBS" BUILD=build "${all_targets[@]}" >"$SCRATCH/base-build.log" 2>&1; then
	echo "not ok - mutations: the unmutated tree does not build"
	sed 's/^/# /' "$SCRATCH/base-build.log" | tail -n 30
	exit 1
fi
if [ $baseline -eq 1 ]; then
	mapfile -t uniq_tests < <(printf '%s\n' "${all_tests[@]}" | sort -u)
	if ! (cd "$BASE" && BUILD=build tests/run.sh "${uniq_tests[@]}") >"$SCRATCH/baseline.log" 2>&1; then
		echo "not ok - mutations: the named tests fail without any mutation: no verdict is possible"
		sed 's/^/# /' "$SCRATCH/baseline.log" | tail -n 40
		exit 1
	fi
fi

caught=0 survived=0 broken=0 n=0
for f in "${muts[@]}"; do
	name=$(basename "$f" .mut)
	what=$(header "$f" what)
	read -r -a ts <<<"$(header "$f" tests)"
	n=$((n + 1))
	dir=$SCRATCH/$name
	log=$SCRATCH/$name.log
	verdict= why=
	start=$SECONDS
	for t in "${ts[@]}"; do
		known "$t" || why="${why:+$why; }names no test '$t'"
	done
	[ ${#ts[@]} -gt 0 ] || why="names no tests"
	if [ -z "$why" ]; then
		cp -a "$BASE" "$dir"
		mapfile -t tg < <(targets "${ts[@]}")
		if ! (cd "$dir" && git apply --whitespace=nowarn "$f") >"$log" 2>&1; then
			why="does not apply: $(head -n 1 "$log")"
		elif ! make -C "$dir" -j"$JOBS" BUILD=build "${tg[@]}" >>"$log" 2>&1; then
			why="does not build: $(grep -m1 -E 'error|Error' "$log")"
		fi
	fi
	if [ -n "$why" ]; then
		verdict=broken
		broken=$((broken + 1))
		echo "not ok - mutation $name: broken, $why ($what)"
	elif (cd "$dir" && BUILD=build tests/run.sh "${ts[@]}") >>"$log" 2>&1; then
		verdict=survived
		survived=$((survived + 1))
		echo "not ok - mutation $name: survived: ${ts[*]} pass with it ($what)"
	else
		verdict=caught
		caught=$((caught + 1))
		echo "ok - mutation $name: caught ($what) [$((SECONDS - start))s]"
	fi
	# the failed checks that caught it, or why it was not caught
	if [ $verdict = caught ]; then
		sed -n '/^failures:$/,$ s/^  \([^ ].*\)/# caught by \1/p' "$log" | head -n 3
	else
		tail -n 15 "$log" | sed 's/^/# /'
	fi
	if [ $keep -eq 1 ]; then
		echo "# kept: $dir"
	else
		rm -rf "$dir"
	fi
done
echo "# mutations: $n run, $caught caught, $survived survived, $broken broken"
[ $survived -eq 0 ] && [ $broken -eq 0 ]
