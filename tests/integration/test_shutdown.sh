#!/usr/bin/env bash
# How sessions end when what runs them goes away.  SIGTERM of sandtraild with
# a live watched session and a live `run` session: every event the sessions
# made before the signal is in the journal, each session ends with
# session_end reason "shutdown" after its last event, the journal is sealed,
# and `run` kills its workload (no collector, no session).  kill -9 of
# `sandtrail run`: its session ends with reason "manager_lost" and its
# workload dies with it.
source "$(dirname "$0")/lib.sh"
plan 29
W=$HELPERS/st_workload
N=3000

start_daemon || { not_ok "sandtraild starts"; exit 1; }
cg=$(mk_cgroup watched)
wid=$("$SANDTRAIL" watch --cgroup "$cg" 2>"$T/watch.err")
check "a watched session starts" test -n "$wid" || diag "$(cat "$T/watch.err")"
mkfifo "$T/go.watched" "$T/go.run"
exec 7<>"$T/go.watched" 8<>"$T/go.run"
# each workload: N opens when told, then it stays alive
run_in_cgroup "$cg" sh -c '"$1" burst "$2" /etc/hostname; exec sleep 600' _ "$W" $N <"$T/go.watched" >"$T/watched.out" &
"$SANDTRAIL" run "${HV[@]}" --id-file "$T/run.id" -- sh -c '"$1" burst "$2" /etc/hostname; exec sleep 600' _ "$W" $N \
	<"$T/go.run" >"$T/run.out" 2>"$T/run.err" &
RUNPID=$!
defer "kill -9 $RUNPID"
check "a run session starts" wait_for 20 test -s "$T/run.id" || diag "$(cat "$T/run.err")"
rid=$(cat "$T/run.id")

# the events are made while the collector cannot read them: they are in the
# ring buffer, not yet in the journal, when the signal comes
kill -STOP "$DAEMON_PID"
echo go >&7
echo go >&8
wait_for 60 grep -qx $N "$T/watched.out"
check "the watched workload made its $N opens" grep -qx $N "$T/watched.out"
wait_for 60 grep -qx $N "$T/run.out"
check "the run workload made its $N opens" grep -qx $N "$T/run.out"
# and both went on to their last event, the exec of sleep
sleeping() { [ "$(pgrep -cxf 'sleep 600')" -ge 2 ]; }
wait_for 30 sleeping
kill -TERM "$DAEMON_PID"
kill -CONT "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
check "sandtraild exits 0 on SIGTERM" test $rc -eq 0 || diag "$(cat "$T/daemon.err")"
wait $RUNPID
rc=$?
check "run kills its session when sandtraild goes away (137)" test $rc -eq 137 || diag "rc $rc"
check "run says why" grep -q "lost sandtraild" "$T/run.err" || diag "$(cat "$T/run.err")"

"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" >"$T/verify" 2>&1
check "the journal verifies after the shutdown" test $? -eq 0 || diag "$(cat "$T/verify")"
for s in watched run; do
	id=$([ $s = watched ] && echo "$wid" || echo "$rid")
	replay_json "$id" >"$T/$s.json" 2>"$T/$s.replay.err"
	check "$s: replay reads the session" test $? -eq 0 -a -s "$T/$s.json" || diag "$(cat "$T/$s.replay.err")"
	check "$s: all $N opens made before the signal are recorded" \
		test "$(jq_count "$T/$s.json" '.type=="open" and .path=="/etc/hostname" and .ret>=0')" -eq $N
	check "$s: and its last event, the exec of sleep (the last in the ring may be either's)" \
		test "$(jq_count "$T/$s.json" '.type=="exec" and .argv==["sleep","600"] and .ret==0')" -eq 1
	check "$s: no loss" none "$T/$s.json" '.type=="loss"'
	check "$s: session_end says shutdown" test "$(jq_count "$T/$s.json" '.type=="session_end" and .reason=="shutdown"')" -eq 1
	check "$s: session_end is the session's last record" test "$(tail -n 1 "$T/$s.json" | jq -r .type)" = session_end
	check "$s: every record is sealed" none "$T/$s.json" '.sealed!=true'
done

# kill -9 of the session manager
start_daemon || { not_ok "sandtraild restarts"; exit 1; }
"$SANDTRAIL" run --id-file "$T/lost.id" -- sleep 600 2>"$T/lost.err" &
RUNPID=$!
defer "kill -9 $RUNPID"
check "a run session starts" wait_for 20 test -s "$T/lost.id" || diag "$(cat "$T/lost.err")"
lid=$(cat "$T/lost.id")
lcg=$("$SANDTRAIL" ps --json | jq -r "select(.id==\"$lid\") | .cgroup")
check "ps names the session's cgroup" test -d "$lcg"
defer "rm_cgroup '$lcg'"
populated() { grep -qx "populated $2" "$1/cgroup.events"; }
check "the workload runs in it" populated "$lcg" 1
kill -9 $RUNPID
wait $RUNPID 2>/dev/null
gone() { lacks "^$lid " "$SANDTRAIL" ps; }
check "the session ends when its manager is killed" wait_for 20 gone
# (and sandtraild then removes the cgroup: test_failsafe.sh)
emptied() { [ ! -d "$1" ] || populated "$1" 0; }
check "its workload dies with the manager" wait_for 20 emptied "$lcg"
check "sandtraild stops cleanly" stop_daemon
replay_json "$lid" >"$T/lost.json"
check "session_end says manager_lost" test "$(jq_count "$T/lost.json" '.type=="session_end" and .reason=="manager_lost"')" -eq 1
