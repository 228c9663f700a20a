#!/usr/bin/env bash
# SIGKILL of sandtraild in the middle of a write burst, then a restart: the
# journal verifies, a recovery record says what the crash cut, and every
# record that was sealed before the crash is still there, unchanged.
source "$(dirname "$0")/lib.sh"
plan 8

start_daemon --seal-ms 20 --segment-bytes 1M || { not_ok "sandtraild starts"; exit 1; }
cg=$(mk_cgroup crash)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
run_in_cgroup "$cg" sh -c 'echo go | "$1" burst 20000000 /dev/null' _ "$HELPERS/st_workload" >/dev/null &
burst=$!
defer "kill $burst"

sealed() { # the sealed records of the journal as it is, one JSON line each, without the seal mark
	"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --all --format json 2>/dev/null |
		jq -c 'select(.sealed==true) | del(.sealed)'
}
# killed once two segments are closed (each ends with a seal), while the
# burst goes on
segments() { [ "$(find "$JOURNAL" -name '*.stj' | wc -l)" -ge 3 ]; }
wait_for 60 segments
check "the burst is still being written when the collector is killed" kill -0 "$burst"
kill -KILL "$DAEMON_PID"
echo 1 >"$cg/cgroup.kill"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
sealed >"$T/before"
diag "$(wc -l <"$T/before") records sealed before the crash"
check "records were sealed before the crash" test "$(wc -l <"$T/before")" -gt 2000
check "the killed collector left no program on the session's cgroup" \
	lacks '^ *[0-9]' bpftool cgroup show "$cg"

start_daemon || { not_ok "sandtraild restarts on the crashed journal"; exit 1; }
ok "sandtraild restarts on the crashed journal"
check "sandtraild stops cleanly after the restart" stop_daemon

"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" >"$T/verify" 2>&1
check "the journal verifies after the crash" test $? -eq 0
diag "$(cat "$T/verify")"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --all --format json 2>/dev/null >"$T/after.all"
check "a recovery record says what was discarded" \
	test "$(jq_count "$T/after.all" '.type=="recovery" and (.discarded_bytes|type)=="number" and
		(.discarded_records|type)=="number" and (.unsealed|type)=="number"')" -eq 1
last=$(tail -n 1 "$T/before" | jq .seq)
jq -c "select(.seq <= $last) | del(.sealed)" "$T/after.all" >"$T/after"
check "no record sealed before the crash was lost or changed" cmp -s "$T/before" "$T/after"
