#!/usr/bin/env bash
# The exporter framework through its simplest sink, file:///PATH.ndjson: a bad
# URL is one line at start; a sink that is down is retried and reported by
# sandtrail ps; every sealed record reaches the file once, in order, across
# rotation and a clean restart; after SIGKILL mid-shipping nothing is lost.
source "$(dirname "$0")/lib.sh"
plan 28

PUB=$KEYDIR/signing.pub
OUT=$T/out
SHIP=$OUT/ship.ndjson

bad_url "unknown scheme" "gopher://h/x" "no sink for scheme 'gopher'"
bad_url "host in a file URL" "file://relative/x.ndjson" "three slashes"
bad_url "unknown option" "file:///tmp/x.ndjson?rotate=5" "unknown option 'rotate' for file"
bad_url "bad number" "file:///tmp/x.ndjson?keep=many" "keep=many: not a count"
bad_url "out of bounds" "file:///tmp/x.ndjson?rotate_bytes=10" "rotate_bytes=10: must be between"
bad_url "bad name" "file:///tmp/x.ndjson?name=../x" "name=../x"
bad_url "no key=value" "file:///tmp/x.ndjson?keep" "expected key=value"
"$SANDTRAILD" --journal "$T/never" --key "$KEYDIR/signing.key" \
	--export "file://u:hunter2@host/x?api_key=hunter3&bogus=1" 2>"$T/bad.err"
check "a refused URL is shown without its secrets" \
	bash -c '! grep -q hunter "$1" && grep -q "u:\*\*\*@host" "$1" && grep -q "api_key=\*\*\*" "$1"' _ "$T/bad.err"
mkdir -p "$KEYDIR"
"$SANDTRAILD" --journal "$T/never" --key "$KEYDIR/signing.key" --export "file:///tmp/a.ndjson" \
	--export "file:///tmp/b.ndjson?name=same" --export "file:///tmp/c.ndjson?name=same" 2>"$T/bad.err"
check "two sinks cannot share a name (nor a cursor)" grep -q "a second sink named same" "$T/bad.err"

# exporter_json FIELD: FIELD of the (only) exporter in sandtrail ps --json
exporter_json() { "$SANDTRAIL" ps --json | jq -r "select(.exporter) | .$1"; }
# shipped: every line of every file of the sink, oldest file first
shipped() { ls -v -r "$SHIP".* 2>/dev/null | xargs -r cat; cat "$SHIP" 2>/dev/null; }
journal_json() { "$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$PUB" --all --format json; }

URL="file://$SHIP?rotate_bytes=64K&keep=1000&backoff_max=200ms"
start_daemon --export "$URL" || { not_ok "sandtraild starts with a file sink"; exit 1; }
# the directory is missing: the sink is down until it exists
burst 3000
check "ps shows the sink down, with its error" \
	wait_for 10 bash -c '[ "$("$1" ps --json | jq -r "select(.exporter) | .connected")" = false ] &&
		"$1" ps | grep -q "No such file or directory"' _ "$SANDTRAIL"
lag=$(exporter_json lag_records)
check "ps reports the lag of a sink that is down (got $lag records)" test "$lag" -ge 3000
check "a sink that is down is retried with backoff" test "$(exporter_json retries)" -ge 1
mkdir -p "$OUT"
check "once the directory exists the backlog is delivered" \
	wait_for 10 bash -c '[ "$("$1" ps --json | jq -r "select(.exporter) | .lag_records")" -le 2 ]' _ "$SANDTRAIL"
check "ps shows the sink connected" test "$(exporter_json connected)" = true
check "sandtrail ps prints an exporter table" bash -c '"$1" ps | grep -Eq "^file-[0-9a-f]{8} +connected"' _ "$SANDTRAIL"
check "sandtraild stops cleanly" stop_daemon
nfiles=$(ls "$SHIP"* | wc -l)
check "the file was rotated by size ($nfiles files)" test "$nfiles" -ge 4
check "every rotated file ends with a whole line" \
	bash -c 'for f in "$1"*; do [ -z "$(tail -c1 "$f")" ] || exit 1; done' _ "$SHIP"
journal_json | jq -c 'del(.journal)' >"$T/journal.json"
shipped >"$T/shipped.json"
jq -c 'del(.journal)' "$T/shipped.json" >"$T/shipped.nojournal"
check "the file holds every record of the journal once, in order, as replay renders it" \
	cmp -s "$T/journal.json" "$T/shipped.nojournal"
diag "$(wc -l <"$T/journal.json") records in the journal, $(wc -l <"$T/shipped.json") lines shipped"
jid=$(jq -r .journal "$T/shipped.json" | sort -u)
check "every line names the journal (32 hex digits)" bash -c '[[ $1 =~ ^[0-9a-f]{32}$ ]]' _ "$jid"
check "the cursor file names the journal and the next seq" \
	test "$(jq -c . "$T"/state/file-*.cursor)" = "{\"journal\":\"$jid\",\"next\":$(wc -l <"$T/journal.json")}"
check "the final seal was shipped" test "$(tail -1 "$T/shipped.json" | jq -c '[.type, .final]')" = '["seal",true]'

# a restart resumes exactly after the cursor
start_daemon --export "$URL" || { not_ok "sandtraild restarts"; exit 1; }
burst 500
check "sandtraild stops cleanly again" stop_daemon
journal_json | jq -c 'del(.journal)' >"$T/journal.json"
shipped | jq -c 'del(.journal)' >"$T/shipped.nojournal"
check "after a restart the file still holds each record once, in order" cmp -s "$T/journal.json" "$T/shipped.nojournal"

# SIGKILL while the sink is behind: at least once, every record
start_daemon --export "$URL&batch=64&window=256&cursor_interval=20ms" || { not_ok "sandtraild restarts"; exit 1; }
burst 60000 &
defer "kill $! 2>/dev/null"
check "the sink is shipping when the collector is killed" \
	wait_for 10 bash -c 'x=$("$1" ps --json | jq -r "select(.exporter) | [.delivered, .lag_records] | @tsv");
		read -r d l <<<"$x"; [ "${d:-0}" -gt 1000 ] && [ "${l:-0}" -gt 1000 ]' _ "$SANDTRAIL"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
wait
start_daemon --export "$URL" || { not_ok "sandtraild restarts after SIGKILL"; exit 1; }
check "sandtraild stops cleanly after the crash" stop_daemon
journal_json | jq -c 'del(.journal)' >"$T/journal.json"
shipped >"$T/shipped.json"
check "no line of the file is cut or broken" jq -e . "$T/shipped.json" >/dev/null
jq -sc 'unique_by([.journal, .seq]) | .[] | del(.journal)' "$T/shipped.json" >"$T/dedup.json"
check "after SIGKILL every record of the journal is in the file (dedup by journal and seq)" \
	cmp -s "$T/journal.json" "$T/dedup.json"
diag "$(($(wc -l <"$T/shipped.json") - $(wc -l <"$T/dedup.json"))) records shipped twice across the crash"
"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$PUB" >/dev/null
check "the journal still verifies" test $? -eq 0
