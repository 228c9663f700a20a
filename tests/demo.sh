#!/usr/bin/env bash
# make demo: start the collector, run a small agent-like script in a hardened
# session, and print what the session did.  Leaves nothing behind.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD
D=$(mktemp -d /tmp/sandtrail-demo.XXXXXX)
chmod 755 "$D"
export SANDTRAIL_SOCKET=$D/control.sock
DAEMON=
LISTENER=
source tests/session_parents.sh
PARENTS_BEFORE=$(session_parents)

cleanup() {
	[ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
	[ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	remove_new_session_parents "$PARENTS_BEFORE"
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

# a local service the policy allows; everything else on the network is denied
"$BIN/tests/helpers/st_workload" listen >"$D/port" &
LISTENER=$!
for _ in $(seq 50); do [ -s "$D/port" ] && break; sleep 0.1; done
PORT=$(cat "$D/port")

# the workspace the agent may change, and its task
mkdir -m 755 "$D/ws"
chown 65534:65534 "$D/ws" # the agent works as the workspace owner, never as root
printf 'def add(a, b):\n    return a + b\n' >"$D/ws/calc.py"
cat >"$D/ws/agent.sh" <<'AGENT'
cat calc.py                                   # read the workspace
printf 'def test_add():\n    assert add(1, 2) == 3\n' > test_calc.py
grep -c def calc.py test_calc.py              # run a tool
mv test_calc.py test_add.py && rm test_add.py # tidy up
echo "token is $DEMO_TOKEN" > notes.txt       # a secret: redacted in the records
exec 3<>/dev/tcp/127.0.0.1/$PORT && echo "allowed: 127.0.0.1:$PORT"
exec 4<>/dev/tcp/169.254.169.254/80 || echo "denied: the metadata address"
echo owned > /etc/sandtrail-demo || echo "refused: writing outside the workspace"
AGENT

echo "== sandtrail run --mode hardened -- sh agent.sh"
DEMO_TOKEN=s3cr3t-demo-value "$BIN/sandtrail" run --mode hardened --label demo=agent \
	-v "$D/ws:/tmp/ws" -w /tmp/ws -e PORT="$PORT" --secret DEMO_TOKEN \
	--network allowlist --allow "127.0.0.1:$PORT" --memory 256m --pids-limit 64 --timeout 30s \
	--id-file "$D/id" -- /bin/bash agent.sh || true
kill -TERM "$DAEMON" && wait "$DAEMON"
DAEMON=

echo
echo "== sandtrail replay --session $(cat "$D/id")"
"$BIN/sandtrail" replay --journal "$D/journal" --pubkey "$D/keys/signing.pub" --session "$(cat "$D/id")"
echo
echo "== sandtrail verify"
"$BIN/sandtrail" verify --journal "$D/journal" --pubkey "$D/keys/signing.pub"
if grep -rqa s3cr3t-demo-value "$D/journal"; then
	echo "the secret reached the journal" >&2
	exit 1
fi
