#!/usr/bin/env bash
# Rollback of the journal on the host: sandtraild keeps the end its journal
# reached on disk in state/journal.highwater (outside the journal directory)
# and refuses to start on that journal when it ends before: an older copy put
# back, or its tail removed.  A crash is no rollback: what was durable stays.
# A journal removed whole (or another journal in its place) starts afresh:
# that only a copy off the host can tell (verify --kafka, --anchor).
source "$(dirname "$0")/lib.sh"
plan 5

HW=$T/state/journal.highwater
last_seq() { "$SANDTRAIL" replay --journal "$1" --pubkey "$KEYDIR/signing.pub" --all --format json | tail -n 1 | jq .seq; }

start_daemon || { not_ok "sandtraild starts"; exit 1; }
burst 300
stop_daemon
jid=$(jq -r .journal "$HW" 2>/dev/null)
check "a clean stop leaves the journal's end in state/journal.highwater" \
	bash -c '[[ $1 =~ ^[0-9a-f]{32}$ ]] && [ "$(jq .next "$2")" -ge "$3" ]' _ "$jid" "$HW" "$(last_seq "$JOURNAL")"
cp -a "$JOURNAL" "$T/old"

start_daemon || { not_ok "sandtraild starts again"; exit 1; }
burst 300
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon
check "after a crash sandtraild starts again (what was durable is still there)" test -n "$DAEMON_PID"
burst 300
stop_daemon
cp -a "$JOURNAL" "$T/new"

# refused NAME: sandtraild exits non-zero at start, saying why, on the journal now in place
refused() {
	local pid rc=running
	"$SANDTRAILD" --journal "$JOURNAL" --socket "$SANDTRAIL_SOCKET" --key "$KEYDIR/signing.key" 2>"$T/refused.err" &
	pid=$!
	wait_for 30 bash -c '! kill -0 "$1" 2>/dev/null || grep -q "^sandtraild: ready" "$2"' _ "$pid" "$T/refused.err"
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid"
	else
		wait "$pid"
		rc=$?
	fi
	check "$1 is refused at start (exit $rc)" \
		bash -c '[ "$1" != running ] && [ "$1" -ne 0 ] && grep -q "but had reached seq $(jq .next "$3").*refusing to write on it" "$2"' \
		_ "$rc" "$T/refused.err" "$HW" || diag "$(cat "$T/refused.err")"
}
rm -rf "$JOURNAL" && cp -a "$T/old" "$JOURNAL"
refused "an older copy of the journal put back"
rm -rf "$JOURNAL" && cp -a "$T/new" "$JOURNAL"
ls "$JOURNAL"/*.stj | tail -n 1 | xargs rm -f
refused "the journal with its last segment removed"
rm -f "$HW"
start_daemon
check "with the highwater file removed (the operator's say-so) it starts" test -n "$DAEMON_PID"
stop_daemon
