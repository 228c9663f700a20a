#!/usr/bin/env bash
# A burst far larger than a one-page ring buffer: every open is either a
# record or counted in a loss record, exactly; nothing is dropped silently.
source "$(dirname "$0")/lib.sh"
N=200000

start_daemon --ringbuf-size 4096 || { not_ok "sandtraild starts with a one-page ring buffer"; exit 1; }
cg=$(mk_cgroup loss)
mkfifo "$T/go"
# started before the watch: its loader's opens are not part of the count
run_in_cgroup "$cg" "$HELPERS/st_workload" burst $N /dev/null <"$T/go" >"$T/done" &
burst=$!
exec 7>"$T/go"
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
echo go >&7
exec 7>&-
wait $burst
check "the workload performed $N opens" test "$(cat "$T/done")" = $N
"$SANDTRAIL" unwatch "$id"
# the next session gets the freed loss counters back, zeroed
id2=$("$SANDTRAIL" watch --cgroup "$(mk_cgroup idle)") && "$SANDTRAIL" unwatch "$id2"
stop_daemon

replay_json "$id" >"$T/r.json" 2>/dev/null
"$SANDTRAIL" replay --journal "$JOURNAL" --all --format json 2>/dev/null | jq -c 'select(.type=="loss")' >"$T/loss.json"
captured=$(jq_count "$T/r.json" '.type=="open" and .requested=="/dev/null"')
lost=$(jq -s 'map(select(.kind=="open") | .count) | add // 0' "$T/loss.json")
diag "captured $captured, counted lost $lost"
check "the ring buffer overflowed (the test exercises losses)" test "$lost" -gt 0
check "captured + counted lost == $N opens performed" test $((captured + lost)) -eq $N
check "loss records say why: ringbuf" test "$(jq_count "$T/loss.json" '.kind=="open" and .reason=="ringbuf" and .count>0')" -ge 1
check "every loss is the session's own (none unattributed)" test "$(jq_count "$T/loss.json" '.session!="'"$id"'"')" -eq 0
"$SANDTRAIL" replay --journal "$JOURNAL" --format json >"$T/list.json" 2>/dev/null
check "the session list shows the session's losses" \
	test "$(jq -c 'select(.session=="'"$id"'") | .losses' "$T/list.json")" = "$(jq -s 'map(.count) | add' "$T/loss.json")"
check "a later session's loss counters start from zero" \
	test "$(jq -c 'select(.session=="'"$id2"'") | .losses' "$T/list.json")" = 0
