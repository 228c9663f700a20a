#!/usr/bin/env bash
# sandtraild killed right after it wrote the journal while taking events
# from the ring (strace holds it at the exit of that write): the next
# collector takes the session over from the pins and drains the rest of
# the ring.  No event may be recorded twice, by the collector that wrote it
# and by the one that found it still in the ring.
source "$(dirname "$0")/lib.sh"
plan 5

own_bpffs
DOPTS=(--pin-dir "$BPFFS/pins" --ringbuf-size 1M --seal-ms 20)
N=1000
: >"$T/target"

start_daemon "${DOPTS[@]}" || { not_ok "sandtraild starts"; exit 1; }
cg=$(mk_cgroup killed)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
started() { replay_json "$id" | jq -e 'select(.type=="session_start" and .sealed)'; }
wait_for 30 started || diag "session_start not sealed"
# the burst waits in the ring while the collector is stopped (1000 opens of
# about 200 bytes: no loss in 1 MiB)
kill -STOP "$DAEMON_PID"
echo go | run_in_cgroup "$cg" "$HELPERS/st_workload" burst "$N" "$T/target" >/dev/null
# every journal write (writev: blocks and seals, nothing else) is held at its exit
strace -f -qq -o /dev/null -e trace=writev -e inject=writev:delay_exit=60s -p "$DAEMON_PID" 2>"$T/strace.err" &
tracer=$!
defer "kill $tracer"
traced() { grep -q TracerPid:.*[1-9] "/proc/$DAEMON_PID/status"; }
wait_for 10 traced || diag "strace did not attach: $(cat "$T/strace.err")"
size() { cat "$JOURNAL"/*.stj | wc -c; }
before=$(size)
kill -CONT "$DAEMON_PID"
grew() { [ "$(size)" -gt "$before" ]; }
check "the collector wrote the journal while taking the burst" wait_for 30 grew
kill -KILL "$DAEMON_PID"
# the tracer first: until it goes, the dead collector waits for it
kill "$tracer"
wait "$tracer" "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon "${DOPTS[@]}" || { not_ok "sandtraild restarts on the pins"; exit 1; }
"$SANDTRAIL" unwatch "$id" >/dev/null || diag "unwatch $id failed"
replay_json "$id" >"$T/all.json"
jq -c 'select(.type!="open") | {type, after, count, reason}' "$T/all.json" >"$T/others"
check "one session, taken over after the crash" \
	test "$(grep -c '"type":"session_reattach","after":"crash"' "$T/others")" -eq 1 || diag "$(cat "$T/others")"
before_kill=$(jq -r 'select(.type=="session_reattach") | .seq' "$T/all.json")
check "recorded by both collectors" test "$(jq -c "select(.type==\"open\" and .seq < $before_kill)" "$T/all.json" |
	wc -l)" -ge 1 -a "$(jq -c "select(.type==\"open\" and .seq > $before_kill)" "$T/all.json" | wc -l)" -ge 1
# (a record found again carries the same kernel time, but each collector
# converts it to wall time with an offset of its own: counted, not matched)
opens=$(jq_count "$T/all.json" ".type==\"open\" and .path==\"$T/target\"")
check "no event twice ($opens open records of $N opens)" test "$opens" -le "$N"
check "sandtraild stops cleanly" stop_daemon
