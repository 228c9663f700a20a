# Sourced by every tests/integration/test_*.sh.  Gives each test a private
# directory, a private sandtraild, cgroups that are removed on exit (even on
# failure), and TAP output: "ok - name" / "not ok - name".
set -u

TOP=${SANDTRAIL_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) BIN=$BUILD ;; *) BIN=$TOP/$BUILD ;; esac
SANDTRAILD=$BIN/sandtraild
SANDTRAIL=$BIN/sandtrail
T=$(mktemp -d /tmp/sandtrail-test.XXXXXX)
# Sandboxes see none of the host's /tmp, /home or /var: the helpers they run
# are a copy bound in at the same path ("${HV[@]}" on sandtrail run's line).
HELPERS=$(mktemp -d /var/tmp/sandtrail-helpers.XXXXXX)
cp -a "$BIN/tests/helpers/." "$HELPERS/"
chmod 755 "$HELPERS"
HV=(-v "$HELPERS:$HELPERS:ro")
export SANDTRAIL_SOCKET=$T/control.sock
JOURNAL=$T/journal
KEYDIR=$T/keys
DAEMON_PID=
_cleanups=()

defer() { _cleanups+=("$*"); }

_on_exit() {
	local i cg
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" >/dev/null 2>&1
	done
	# mk_cgroup runs in $(...), where its defer is lost: its cgroups go here
	for cg in "$(cg2_root)"/sandtrail-test-$$-*; do
		[ -d "$cg" ] && rm_cgroup "$cg" >/dev/null 2>&1
	done
	rm -rf "$T" "$HELPERS"
}
trap _on_exit EXIT
trap 'exit 130' INT TERM

# plan N: the number of results this test will print (TAP's 1..N), said
# first; the runner fails a test that prints fewer or more
plan() { echo "1..$1"; }
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check NAME CMD...: one TAP line for CMD's status, which it returns, so
# that `check NAME CMD || diag ...` explains a failure
check() {
	local name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name"
		return 1
	fi
}
# quiet CMD...: CMD's status without its output (check quiet jq -e ...)
quiet() { "$@" >/dev/null; }
# skip NAME REASON: a check this host cannot run, counted as skipped
skip() { echo "ok - $1 # SKIP $2"; }
# diag TEXT...: shown by the runner when the test fails
diag() { printf '# %s\n' "$@"; }

# none FILE FILTER: FILE holds records (the command that wrote it worked)
# and none of them matches the jq FILTER
none() {
	local hits
	[ -s "$1" ] || { diag "$1 is empty: nothing to look for $2 in"; return 1; }
	hits=$(jq -c "select($2)" "$1") || { diag "$1 does not parse as JSON lines"; return 1; }
	[ -z "$hits" ] || { diag "$(grep -c . <<<"$hits") records match $2: $(head -n 1 <<<"$hits")"; return 1; }
}

# lacks PATTERN CMD...: CMD succeeds and no line of its output matches the
# extended regex PATTERN (a failed command proves no absence)
lacks() {
	local pat=$1 out rc
	shift
	out=$("$@")
	rc=$?
	[ $rc -eq 0 ] || { diag "$*: exit $rc"; return 1; }
	! grep -qE -- "$pat" <<<"$out" || { diag "$*: prints $(grep -E -- "$pat" <<<"$out" | head -n 1)"; return 1; }
}

# links_on_cgroup ID: how many BPF links are attached to the cgroup of that
# id (no number when bpftool fails)
links_on_cgroup() {
	local links
	links=$(bpftool link show -j) || return 1
	jq "[.[] | select(.cgroup_id == $1)] | length" <<<"$links"
}

# wait_for SECONDS CMD...: polls CMD, quietly, until it succeeds (the record,
# the ack, the file it waits for is there); when SECONDS passed without it,
# a last try says why it fails.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $end ]; then
			"$@"
			return
		fi
		sleep 0.05
	done
}

# The cgroup2 mount: /sys/fs/cgroup on pure v2 hosts, .../unified on hybrid ones.
cg2_root() { awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo; }

# rm_cgroup PATH: kills what runs in PATH and below, then removes the tree.
rm_cgroup() {
	local cg=$1 d
	[ -d "$cg" ] || return 0
	if [ -e "$cg/cgroup.kill" ]; then
		echo 1 >"$cg/cgroup.kill" 2>/dev/null
	else
		find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
	fi
	for _ in $(seq 50); do
		find "$cg" -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null; done
		[ -d "$cg" ] || return 0
		sleep 0.1
	done
	return 1
}

# mk_cgroup NAME: a fresh cgroup v2 directory, removed when the test ends.
mk_cgroup() {
	local cg
	cg=$(cg2_root)/sandtrail-test-$$-$1
	mkdir -p "$cg" || return 1
	echo "$cg"
}

# run_in_cgroup CG CMD...: runs CMD with its shell moved into CG first.
run_in_cgroup() {
	local cg=$1
	shift
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$cg" "$@"
}

# burst N: N opens (st_workload) in a fresh watched session, then its end
burst() {
	local cg id
	cg=$(mk_cgroup "burst$RANDOM")
	id=$("$SANDTRAIL" watch --cgroup "$cg") || return 1
	run_in_cgroup "$cg" sh -c 'echo go | "$1" burst "$2" /dev/null' _ "$HELPERS/st_workload" "$1" >/dev/null
	"$SANDTRAIL" unwatch "$id"
}

# bad_url NAME URL PATTERN: sandtraild refuses the --export URL at start,
# exit 2, with one line naming PATTERN, before it touches the journal
bad_url() {
	local rc
	"$SANDTRAILD" --journal "$T/never" --socket "$T/never.sock" --key "$KEYDIR/signing.key" \
		--export "$2" >/dev/null 2>"$T/bad.err"
	rc=$?
	check "a bad --export is one line at start: $1 (exit $rc)" \
		bash -c '[ "$1" -eq 2 ] && [ "$(wc -l <"$2")" -eq 1 ] && grep -q -- "$3" "$2" && [ ! -e "$4" ]' \
		_ "$rc" "$T/bad.err" "$3" "$T/never" || diag "$(cat "$T/bad.err")"
}

# start_daemon [ARGS...]: a private sandtraild; waits for "sandtraild: ready".
start_daemon() {
	local i
	mkdir -p "$KEYDIR"
	"$SANDTRAILD" --journal "$JOURNAL" --socket "$SANDTRAIL_SOCKET" \
		--key "$KEYDIR/signing.key" --create-key "$@" 2>"$T/daemon.err" &
	DAEMON_PID=$!
	defer stop_daemon
	for i in $(seq 300); do
		grep -q '^sandtraild: ready' "$T/daemon.err" 2>/dev/null && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "sandtraild did not become ready:" "$(cat "$T/daemon.err")"
	return 1
}

# stop_daemon: SIGTERM, then wait for the drain and final seal; a failed
# exit shows the end of sandtraild's stderr.
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	local rc=$?
	DAEMON_PID=
	[ $rc -eq 0 ] || diag "sandtraild exited $rc:" "$(tail -n 5 "$T/daemon.err" 2>/dev/null)"
	return $rc
}

# own_bpffs: a bpffs of the test's own at $BPFFS (pins no other test sees),
# unmounted when the test ends
own_bpffs() {
	BPFFS=$T/bpffs
	mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS" || { not_ok "a bpffs of the test's own"; exit 1; }
	defer "umount -l '$BPFFS'"
}

# replay_json SESSION: the session's records, one JSON object per line.
replay_json() {
	"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$1" --format json
}

# jq_count FILE FILTER: how many records of FILE match the jq FILTER.
jq_count() { jq -c "select($2)" "$1" | wc -l; }

# same_records MODE HARDENED MODE_FILE WHAT FILTER: one check that the records
# of HARDENED and of MODE_FILE (MODE's session of the same workload) make the
# same non-empty set of lines through FILTER, each in the sandbox's own view
same_records() {
	local mode=$1 h=$2 m=$3 what=$4 filter="select(.view == null or .view == \"sandbox\") | $5"
	local hs ms
	hs=$(jq -r "$filter" "$h" | sort -u) ms=$(jq -r "$filter" "$m" | sort -u)
	if [ "$hs" = "$ms" ] && [ -n "$hs" ]; then
		ok "$mode: the same $what records as hardened"
	else
		not_ok "$mode: the same $what records as hardened"
		diag "hardened:" "$hs" "$mode:" "$ms"
	fi
}

# attach_type_names: the attach types of the links in `bpftool link show -j`
# (stdin), one name a line, sorted.  A bpftool older than the kernel prints
# the newer types by number: the kernel's BTF names them then.
attach_type_names() {
	local names
	names=$(bpftool btf dump file /sys/kernel/btf/vmlinux format raw 2>/dev/null | awk -F"[' =\t]+" '
		/ENUM .bpf_attach_type/ { on = 1; next }
		on && /^\[/ { exit }
		on { print $4, tolower(substr($2, 5)) }')
	jq -r '.[] | .attach_type' | while read -r t; do
		case $t in
		*[!0-9]*) echo "$t" ;;
		*) awk -v n="$t" '$1 == n { print $2; f = 1 } END { if (!f) print "unknown-" n }' <<<"$names" ;;
		esac
	done | sort
}
