#!/usr/bin/env bash
# make demo: start the collector, trace a session of a small agent-like
# workload, and print what the session did.  Leaves nothing behind.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD
D=$(mktemp -d /tmp/sandtrail-demo.XXXXXX)
export SANDTRAIL_SOCKET=$D/control.sock
CG=
DAEMON=

cleanup() {
	[ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		echo 1 >"$CG/cgroup.kill" 2>/dev/null || true
		sleep 0.1
		rmdir "$CG" 2>/dev/null || true
	fi
	rm -rf "$D"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
	echo "make demo: run as root (the collector loads BPF programs)" >&2
	exit 1
fi

echo "== starting sandtraild (journal in $D/journal)"
"$BIN/sandtraild" --journal "$D/journal" --socket "$SANDTRAIL_SOCKET" \
	--key "$D/keys/signing.key" --create-key 2>"$D/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do
	grep -q '^sandtraild: ready' "$D/daemon.log" && break
	kill -0 "$DAEMON" 2>/dev/null || { cat "$D/daemon.log" >&2; exit 1; }
	sleep 0.1
done

CG=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' \
	/proc/self/mountinfo)/sandtrail-demo-$$
mkdir "$CG"
ID=$("$BIN/sandtrail" watch --cgroup "$CG" --label demo=agent)
echo "== session $ID watches $CG"

# an agent-like workload: read the workspace, run tools, write, tidy up, call out
mkdir -p "$D/workspace"
printf 'def add(a, b):\n    return a + b\n' >"$D/workspace/calc.py"
sh -c 'echo $$ > "$1/cgroup.procs"; cd "$2"
	cat calc.py >/dev/null
	grep -n "def " calc.py >/dev/null
	printf "def test_add():\n    assert add(1, 2) == 3\n" > test_calc.py
	mv test_calc.py test_calc_new.py
	rm -f test_calc_new.py
	cat /nonexistent/config 2>/dev/null
	exec 3<>/dev/tcp/127.0.0.1/9 2>/dev/null || true' _ "$CG" "$D/workspace"

"$BIN/sandtrail" unwatch "$ID"
kill -TERM "$DAEMON" && wait "$DAEMON"
DAEMON=

echo "== replay of session $ID"
"$BIN/sandtrail" replay --journal "$D/journal" --session "$ID"
