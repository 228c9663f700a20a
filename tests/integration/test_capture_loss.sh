#!/usr/bin/env bash
# A burst far larger than a one-page ring buffer: every open is either a
# record or counted in a loss record, exactly; nothing is dropped silently.
source "$(dirname "$0")/lib.sh"
plan 24
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
check "every loss is the session's own (none unattributed)" none "$T/loss.json" '.session!="'"$id"'"'
"$SANDTRAIL" replay --journal "$JOURNAL" --format json >"$T/list.json" 2>/dev/null
check "the session list shows the session's losses" \
	test "$(jq -c 'select(.session=="'"$id"'") | .losses' "$T/list.json")" = "$(jq -s 'map(.count) | add' "$T/loss.json")"
check "a later session's loss counters start from zero" \
	test "$(jq -c 'select(.session=="'"$id2"'") | .losses' "$T/list.json")" = 0

# ---- other kinds: every unlink, rename, connect, fork, exec and exit is a
# record or counted, exactly; the forks are spread over the flood ----
start_daemon --ringbuf-size 4096 || { not_ok "sandtraild restarts with a one-page ring buffer"; exit 1; }
cg=$(mk_cgroup mix)
mkfifo "$T/go.mix"
exec 7<>"$T/go.mix"
NM=20000 MM=200
run_in_cgroup "$cg" "$HELPERS/st_workload" burst-mix $NM $MM "$T" <"$T/go.mix" >"$T/mix.out" &
mixer=$!
wait_for 10 test -s "$T/mix.out"
wpid=$(head -n 1 "$T/mix.out")
id3=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
echo go >&7
wait $mixer
check "the workload performed $NM unlinks, renames, connects and $MM fork+exec" grep -qx "$NM $MM" "$T/mix.out"
"$SANDTRAIL" unwatch "$id3"
stop_daemon
# per kind, in one pass: "KIND CAPTURED LOST"
replay_json "$id3" 2>/dev/null | jq -rs --arg t "$T" --argjson w "$wpid" '
	def n(f): map(select(f)) | length;
	def lost(k): map(select(.type=="loss" and .kind==k) | .count) | add // 0;
	"unlink \(n(.type=="unlink" and .path==$t+"/nope-unlink")) \(lost("unlink"))",
	"rename \(n(.type=="rename" and .from==$t+"/nope-from")) \(lost("rename"))",
	"connect \(n(.type=="connect" and .addr=="127.0.0.1" and .port==9)) \(lost("connect"))",
	"fork \(n(.type=="fork" and .pid==$w)) \(lost("fork"))",
	"exec \(n(.type=="exec" and .argv[0]=="st-mix-true")) \(lost("exec"))",
	"exit \(n(.type=="exit" and (.ppid==$w or .pid==$w))) \(lost("exit"))",
	"other-reasons \(n(.type=="loss" and .reason!="ringbuf")) 0"' >"$T/mix.counts"
# exact KIND PERFORMED: captured + counted lost == PERFORMED
exact() {
	local got lost
	read -r got lost < <(sed -n "s/^$1 //p" "$T/mix.counts")
	diag "$1: captured $got, counted lost $lost"
	[ $((got + lost)) -eq "$2" ]
}
some_lost() { [ "$(awk '$1 ~ /^(unlink|rename|connect)$/ && $3 == 0' "$T/mix.counts")" = "" ]; }
check "unlink: captured + counted lost == performed" exact unlink $NM
check "rename: captured + counted lost == performed" exact rename $NM
check "connect: captured + counted lost == performed" exact connect $NM
check "... and each of them overflowed the ring buffer" some_lost || diag "$(cat "$T/mix.counts")"
check "fork: captured + counted lost == performed" exact fork $MM
check "exec: captured + counted lost == performed" exact exec $MM
check "exit (the children's and the workload's): captured + counted lost == performed" exact exit $((MM + 1))
check "each of these loss records says ringbuf" grep -qx "other-reasons 0 0" "$T/mix.counts"

# ---- pending: the map that keeps a syscall's strings from entry to exit
# is full (one entry, held by an open blocked on a fifo): every other open
# is counted, none made up ----
start_daemon --pending-max 1 || { not_ok "sandtraild starts with --pending-max 1"; exit 1; }
cg=$(mk_cgroup pending)
mkfifo "$T/go.pend" "$T/blocked"
exec 8<>"$T/go.pend"
NP=5000
run_in_cgroup "$cg" "$HELPERS/st_workload" burst $NP /dev/null <"$T/go.pend" >"$T/pend.out" &
# the workload's own start (ld.so's opens) is over before the watch: only
# its burst may meet the full map
waits_for_go() {
	local p
	for p in $(cat "$cg/cgroup.procs"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = st_workload ] &&
			[ "$(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null)" = 0 ] && return 0 # read
	done
	return 1
}
wait_for 10 waits_for_go || diag "the workload is not waiting for its go"
id4=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
sh -c 'echo $$ >"$1/cgroup.procs" && exec cat "$2"' _ "$cg" "$T/blocked" >"$T/blocked.out" &
blocker=$!
in_open() { [ "$(cut -d' ' -f1 /proc/$blocker/syscall 2>/dev/null)" = 257 ]; } # openat
check "an open of the session waits on a fifo (it holds the only pending entry)" wait_for 10 in_open
echo go >&8
wait_for 60 grep -qx $NP "$T/pend.out"
check "the workload performed $NP opens" grep -qx $NP "$T/pend.out"
echo released >"$T/blocked"
wait $blocker
"$SANDTRAIL" unwatch "$id4"
stop_daemon
replay_json "$id4" >"$T/pend.json" 2>/dev/null
pend=$(jq -s 'map(select(.type=="loss" and .kind=="open" and .reason=="pending") | .count) | add' "$T/pend.json")
check "every open while the map was full is counted as pending ($pend of $NP)" test "$pend" = $NP
check "... and none is recorded" none "$T/pend.json" '.type=="open" and .requested=="/dev/null"'
check "the open that held the entry is recorded once it returns" \
	test "$(jq_count "$T/pend.json" '.type=="open" and .path=="'"$T"'/blocked" and .ret>=0')" -eq 1

# ---- decode: samples in the ring buffer that are no event (a kernel
# program of another version, a bug) are counted, not dropped ----
start_daemon || { not_ok "sandtraild restarts"; exit 1; }
map=
for m in $(sed -n 's/^map_id:[[:space:]]*//p' /proc/"$DAEMON_PID"/fdinfo/* 2>/dev/null); do
	bpftool map show id "$m" -j 2>/dev/null | jq -e 'select(.type=="ringbuf" and .name=="events")' >/dev/null && map=$m
done
check "bpftool finds sandtraild's ring buffer" test -n "$map"
ND=37
check "$ND samples that are no event are written into it" test "$("$HELPERS/forge_event" "$map" $ND)" = $ND
stop_daemon
"$SANDTRAIL" replay --journal "$JOURNAL" --all --format json 2>/dev/null | jq -c 'select(.type=="loss" and .reason=="decode")' >"$T/decode.json"
check "they are counted in loss records: kind unknown, reason decode" \
	test "$(jq -s 'map(select(.kind=="unknown") | .count) | add' "$T/decode.json")" = $ND
