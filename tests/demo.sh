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
source tests/session_parents.sh
source tests/demo_session.sh
PARENTS_BEFORE=$(session_parents)

cleanup() {
	[ -n "$DEMO_LISTENER" ] && kill "$DEMO_LISTENER" 2>/dev/null
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

demo_session "$BIN/sandtrail" "$BIN/tests/helpers/st_workload" "$D"
kill -TERM "$DAEMON" && wait "$DAEMON"
DAEMON=

echo
echo "== sandtrail replay --session $(cat "$D/id")"
"$BIN/sandtrail" replay --journal "$D/journal" --pubkey "$D/keys/signing.pub" --session "$(cat "$D/id")"
echo
echo "== sandtrail verify"
"$BIN/sandtrail" verify --journal "$D/journal" --pubkey "$D/keys/signing.pub"
if grep -rqa "$DEMO_SECRET" "$D/journal"; then
	echo "the secret reached the journal" >&2
	exit 1
fi
