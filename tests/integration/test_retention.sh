#!/usr/bin/env bash
# Retention: --retain-bytes and --retain-days remove the oldest closed
# segments, only once every sink shipped them, and record each cut as a
# sealed `retention` record; sandtrail verify accepts a head cut that way and
# rejects one cut by anyone else (a segment removed by hand, the epochs file
# removed).  A disk that fills stops sandtraild with a clear error, and the
# journal it leaves opens and verifies once there is room again.
source "$(dirname "$0")/lib.sh"
plan 25

PUB=$KEYDIR/signing.pub
jqe() { jq -e "$@" >/dev/null; }
verify() { "$SANDTRAIL" verify --journal "$1" --pubkey "$PUB" >"$T/verify.out" 2>&1; }
segments() { ls "$1" | grep -c '\.stj$'; }
first_segment() { ls "$1" | grep '\.stj$' | head -1; }
journal_json() { "$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$PUB" --all --format json; }

"$SANDTRAILD" --journal "$T/never" --key "$KEYDIR/signing.key" --retain-days soon 2>"$T/bad.err"
rc=$?
check "a bad --retain-days is one line at start" \
	bash -c '[ "$2" -ne 0 ] && [ "$(wc -l <"$1")" -eq 1 ] && grep -q "retain-days: .soon. is not a number" "$1"' _ "$T/bad.err" "$rc"

# ---- no sink: retention applies on its own ----
OPTS=(--segment-bytes 8K --epoch-seconds 1)
start_daemon "${OPTS[@]}" --retain-bytes 64K || { not_ok "sandtraild starts with --retain-bytes"; exit 1; }
for i in 1 2 3; do burst 3000; done
check "segments are removed past --retain-bytes, and sandtraild says so" \
	wait_for 20 grep -q "retention: [0-9]* segments\? removed from $JOURNAL" "$T/daemon.err"
check "sandtraild stops cleanly" stop_daemon
check "the journal holds no segment starting at seq 0 any more" test "$(first_segment "$JOURNAL")" != 00000000000000000000.stj
size=$(cat "$JOURNAL"/*.stj | wc -c)
check "what is left is near --retain-bytes ($size bytes; 64K, and the segments written since the last pass)" test "$size" -le $((128 * 1024))
verify "$JOURNAL"
check "sandtrail verify accepts the journal cut by retention" test $? -eq 0 || diag "$(cat "$T/verify.out")"
journal_json >"$T/journal.json"
first=$((10#$(first_segment "$JOURNAL" | cut -c1-20)))
check "a sealed retention record names the cut: the seqs before the first segment, its segments, the reason" \
	jqe -s --argjson f "$first" 'map(select(.type == "retention")) | last
		| .last + 1 == $f and .sealed == true and .reason == "retain-bytes" and (.segments | length) >= 1
		  and .bytes > 0 and (.epochs | type) == "number"' "$T/journal.json"
check "... and every retention record is sealed, its segments gone" \
	bash -c 'for s in $(jq -r "select(.type == \"retention\") | .segments[]" "$1"); do [ ! -e "$2/$s" ] || exit 1; done' \
	_ "$T/journal.json" "$JOURNAL"

# ---- cut by anyone else ----
# a start after a clean close begins a segment: the cut copy keeps at least one
start_daemon "${OPTS[@]}" && stop_daemon
cp -a "$JOURNAL" "$T/cut"
rm -f "$T/cut/$(first_segment "$T/cut")"
verify "$T/cut"
check "a segment removed by hand after the cut: verify fails" test $? -eq 1
check "... naming the missing retention record" grep -q "earlier segments removed, and no retention record" "$T/verify.out" ||
	diag "$(cat "$T/verify.out")"
cp -a "$JOURNAL" "$T/noepochs"
rm -f "$T/noepochs/epochs"
verify "$T/noepochs"
check "the epochs file removed: verify fails (no way back to the trusted key)" test $? -eq 1
check "... and says why" grep -q "epochs file" "$T/verify.out" || diag "$(cat "$T/verify.out")"

# ---- a sink that is behind holds retention back ----
rm -rf "$JOURNAL" "$T/state" "$KEYDIR"
SHIP=$T/out/ship.ndjson
start_daemon "${OPTS[@]}" --retain-bytes 32K --export "file://$SHIP?backoff_max=200ms&cursor_interval=50ms" ||
	{ not_ok "sandtraild starts with a sink and --retain-bytes"; exit 1; }
for i in 1 2 3; do burst 2000; done
check "while the sink is down, segments past retention wait for it, and sandtraild says so" \
	wait_for 20 grep -q "retention in $JOURNAL: segments past retention wait for every exporter to ship them" "$T/daemon.err"
check "... none is removed (the journal grows past the limit)" \
	bash -c '[ "$(cat "$1"/*.stj | wc -c)" -gt $((64 * 1024)) ] && [ "$(ls "$1" | grep "\.stj$" | head -1)" = 00000000000000000000.stj ]' \
	_ "$JOURNAL"
mkdir -p "$T/out"
check "once the sink has shipped them, they are removed" \
	wait_for 30 bash -c '[ "$(ls "$1" | grep "\.stj$" | head -1)" != 00000000000000000000.stj ]' _ "$JOURNAL"
check "sandtraild stops cleanly" stop_daemon
jq -r .seq "$SHIP" | sort -n | uniq >"$T/shipped.seqs"
check "the sink got every record, from seq 0 on, none removed before it shipped it" \
	test "$(head -1 "$T/shipped.seqs")" = 0 -a "$(wc -l <"$T/shipped.seqs")" -eq "$(($(tail -1 "$T/shipped.seqs") + 1))"
check "no export_error for records gone before shipping" \
	bash -c '! jq -e "select(.type == \"export_error\")" "$1" >/dev/null' _ "$SHIP"
verify "$JOURNAL"
check "the journal verifies" test $? -eq 0 || diag "$(cat "$T/verify.out")"

# ---- by age ----
rm -rf "$JOURNAL" "$T/state" "$KEYDIR"
start_daemon "${OPTS[@]}" --retain-days 0.00003 || { not_ok "sandtraild starts with --retain-days"; exit 1; }
burst 2000
check "segments older than --retain-days (2.6 s) are removed" \
	wait_for 20 grep -q "retention: [0-9]* segments\? removed" "$T/daemon.err"
stop_daemon
check "the retention record says retain-days, and the journal verifies" \
	bash -c 'jq -e -s "map(select(.type == \"retention\")) | length > 0 and all(.reason == \"retain-days\")" "$1" >/dev/null &&
		"$2" verify --journal "$3" --pubkey "$4" >/dev/null' _ <(journal_json) "$SANDTRAIL" "$JOURNAL" "$PUB"

# ---- a full disk ----
mkdir -p "$T/small"
mount -t tmpfs -o size=256k tmpfs "$T/small" || { not_ok "tmpfs for a full disk"; exit 1; }
defer "umount -l $T/small"
JOURNAL=$T/small/j
rm -rf "$KEYDIR"
start_daemon --seal-ms 5 || { not_ok "sandtraild starts on a small disk"; exit 1; }
burst 200000 2>/dev/null &
check "a full disk stops sandtraild with ENOSPC and the journal's directory" \
	wait_for 60 grep -q "journal .* failed in $JOURNAL: No space left on device (ENOSPC)" "$T/daemon.err"
check "... and new sessions are refused" wait_for 20 bash -c '! "$1" watch --cgroup "$2" 2>/dev/null' _ "$SANDTRAIL" "$(mk_cgroup late)"
wait
stop_daemon
mount -o remount,size=4m "$T/small"
check "once there is room, sandtraild opens the journal the full disk left" start_daemon
stop_daemon
verify "$JOURNAL"
check "the journal a full disk stopped opens again and verifies" test $? -eq 0 || diag "$(cat "$T/verify.out")"
