#!/usr/bin/env bash
# A `sandtrail run` session outlives a restart of sandtraild: the collector
# that hands over (SIGUSR2) tells the run manager, whose workload keeps
# running, recorded by the pinned kernel side; the next collector takes the
# session over and the manager reattaches to it, so `run` returns the
# workload's status with a session_end written by the new collector.  Every
# open of the workload is a record or counted in a loss record of the
# downtime.  Nobody but the session's own manager may take it back.  A
# killed collector (no hand-over) is still a lost one: the session dies.
source "$(dirname "$0")/lib.sh"
plan 17

own_bpffs
DOPTS=(--pin-dir "$BPFFS/pins" --ringbuf-size 256K --seal-ms 20)
N=200000
WS=$T/ws
mkdir -p "$WS"
: >"$WS/target"

start_daemon "${DOPTS[@]}" || { not_ok "sandtraild starts"; exit 1; }
# the workload waits for $WS/go, opens target N times, then exits 3
"$SANDTRAIL" run --id-file "$T/run.id" "${HV[@]}" -v "$WS:$WS" --volume-owner 0 -- sh -c \
	"until [ -e $WS/go ]; do sleep 0.01; done; echo go | $HELPERS/st_workload burst $N $WS/target >$WS/count; exit 3" \
	2>"$T/run.err" &
RUN=$!
defer "kill $RUN"
wait_for 30 test -s "$T/run.id" || { not_ok "run starts: $(cat "$T/run.err")"; exit 1; }
id=$(cat "$T/run.id")
touch "$WS/go"
some() { [ "$(cat "$JOURNAL"/*.stj | wc -c)" -ge 16384 ]; }
wait_for 60 some
# the manager is held while the collector hands over and the next one
# starts: the session then waits for it, and the workload goes on unseen
kill -STOP "$RUN"
kill -USR2 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
check "sandtraild hands over (SIGUSR2) and exits 0" test $? -eq 0
DAEMON_PID=
start_daemon "${DOPTS[@]}" || { not_ok "sandtraild restarts on the pins"; exit 1; }
check "the restarted collector takes the run session over and waits for its manager" \
	grep -q "session $id: taken over" "$T/daemon.err"
check "... listed as live" bash -c '"$1" ps | grep -q "$2"' _ "$SANDTRAIL" "$id"
# another process asks for it: refused, the session stays the manager's
python3 - "$SANDTRAIL_SOCKET" "$id" >"$T/intruder.out" 2>&1 <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(json.dumps({"cmd": "reattach", "id": sys.argv[2]}).encode())
print(s.recv(65536).decode())
EOF
check "another process cannot reattach the session" \
	quiet jq -e '.ok == false and (.error | test("only its manager"))' "$T/intruder.out" || diag "$(cat "$T/intruder.out")"
kill -CONT "$RUN"
wait "$RUN"
check "run returns the workload's status (3) across the restart" test $? -eq 3 || diag "$(cat "$T/run.err")"
check "... saying it waited for the next sandtraild and was taken back" \
	bash -c 'grep -q "waits for the next one" "$1" && grep -q "recorded by the restarted sandtraild" "$1"' _ "$T/run.err"
check "the workload did all its opens" test "$(cat "$WS/count")" = "$N"
check "the collector saw its manager come back" grep -q "session $id: its manager is back" "$T/daemon.err"

replay_json "$id" >"$T/all.json"
opens=$(grep -F '"type":"open"' "$T/all.json" | grep -cF "\"path\":\"$WS/target\"")
grep -vF '"type":"open"' "$T/all.json" >"$T/rest.json"
lost=$(jq -s '[.[] | select(.type=="loss" and .kind=="open") | .count] | add // 0' "$T/rest.json")
diag "$opens open records, $lost opens lost ($(jq -c 'select(.type=="loss") | {kind, reason, count, downtime_ns}' "$T/rest.json" | tr '\n' ' '))"
check "one session, taken over once after a restart, with its downtime" \
	test "$(jq_count "$T/rest.json" '.type=="session_start" and .mode=="hardened"')/$(jq_count "$T/rest.json" \
	'.type=="session_reattach" and .after=="restart" and .downtime_ns > 0')" = 1/1
check "it ends when the workload exits, with its status, written by the new collector" \
	test "$(jq -c 'select(.type=="session_end") | [.reason, .exit_status, .sealed]' "$T/rest.json")" = '["exit",3,true]'
check "open records + lost opens = the workload's opens ($opens + $lost = $N)" test $((opens + lost)) -eq "$N"
check "what the ring could not keep is counted in loss records of the downtime" \
	quiet jq -se '(map(select(.type=="session_reattach"))[0].downtime_ns) as $d |
		any(.type=="loss" and .kind=="open" and .count > 0 and .downtime_ns == $d)' "$T/rest.json"

# the hand-over lands between the workload's end and the manager's unwatch
# (its sendto held 5 s by strace): the notice comes instead of a reply,
# and the manager ends the session with the next collector
"$SANDTRAIL" run --id-file "$T/late.id" "${HV[@]}" -v "$WS:$WS" --volume-owner 0 -- sh -c \
	"until [ -e $WS/late ]; do sleep 0.01; done; exit 4" 2>"$T/late.err" &
RUN=$!
wait_for 30 test -s "$T/late.id"
strace -qq -o /dev/null -e trace=sendto -e inject=sendto:delay_enter=5000000 -p "$RUN" 2>"$T/strace.err" &
spid=$!
defer "kill $spid"
held() { [ "$(awk '{ print $3 }' /proc/"$RUN"/stat 2>/dev/null)" = t ] && grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/"$RUN"/status; }
wait_for 10 grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/"$RUN"/status
touch "$WS/late"
wait_for 30 held
kill -USR2 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon "${DOPTS[@]}" || not_ok "sandtraild restarts on the pins"
wait "$RUN"
check "a hand-over instead of the unwatch reply: run returns the workload's status (4)" test $? -eq 4 ||
	diag "$(cat "$T/late.err")"
check "... having waited for the next sandtraild to end the session" \
	grep -q "waits for the next one to end it" "$T/late.err"
check "... which ended it with the workload's status" \
	test "$(replay_json "$(cat "$T/late.id")" | jq -c 'select(.type=="session_end") | [.reason, .exit_status]')" = '["exit",4]'

# a killed collector says nothing: its run sessions are lost, and killed
"$SANDTRAIL" run "${HV[@]}" -- sleep 60 2>"$T/lost.err" &
RUN=$!
wait_for 30 grep -q "session " "$T/lost.err"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
wait "$RUN"
check "a killed collector's run session is killed (status $?, no hand-over awaited)" \
	grep -q "lost sandtraild" "$T/lost.err"
start_daemon "${DOPTS[@]}" || not_ok "sandtraild starts after the crash"
stop_daemon
check "... and a clean stop after leaves no pin" test ! -e "$BPFFS/pins"
