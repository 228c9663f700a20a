#!/usr/bin/env bash
# The switch of a hand-over (SIGUSR2, the next sandtraild on the pins) can
# fall between the two loads' programs of one hook's hit: the earlier load's
# read the word before it, the next one's after.  Such a hit is recorded
# once.  fork_stall holds each fork of the session 20 ms between the two
# loads' programs, so that the switch falls there most of the time; two
# hand-overs, every fork a record, none twice.
source "$(dirname "$0")/lib.sh"
plan 6

own_bpffs
DOPTS=(--pin-dir "$BPFFS/pins" --seal-ms 20)

start_daemon "${DOPTS[@]}" || { not_ok "sandtraild starts"; exit 1; }
cg=$(mk_cgroup forks)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
# a fork (and exec of true) at a time until told to stop; says how many
run_in_cgroup "$cg" sh -c 'n=0; while [ ! -e "$1" ]; do /bin/true; n=$((n+1)); done; echo $n' _ "$T/stop" \
	>"$T/forks" &
loop=$!
defer "touch '$T/stop'; kill $loop"

# hand_over ROUND: the forks stalled after the running collector's programs
# (attached before fork_stall's), the next one's attached after them
hand_over() {
	mkfifo "$T/stall.$1"
	"$HELPERS/fork_stall" "$cg" 20000 <"$T/stall.$1" >"$T/stall.$1.out" 2>&1 &
	local stall=$!
	defer "kill $stall"
	exec 9>"$T/stall.$1"
	wait_for 10 grep -q ready "$T/stall.$1.out" || diag "fork_stall: $(cat "$T/stall.$1.out")"
	sleep 0.5
	kill -USR2 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	start_daemon "${DOPTS[@]}" 9>&- || { exec 9>&-; return 1; }
	sleep 0.5
	exec 9>&-
	wait "$stall"
}
check "hand-over 1 while forks are held between the loads" hand_over 1
check "hand-over 2 while forks are held between the loads" hand_over 2
touch "$T/stop"
wait "$loop"
n=$(cat "$T/forks")
"$SANDTRAIL" unwatch "$id" >/dev/null || diag "unwatch $id failed"
replay_json "$id" >"$T/all.json"
check "taken over twice" test "$(jq_count "$T/all.json" '.type=="session_reattach" and .after=="restart"')" -eq 2
forks=$(jq_count "$T/all.json" '.type=="fork"')
check "forks were made throughout ($n)" test "${n:-0}" -ge 40
check "every fork is one record ($forks records of $n forks)" test "$forks" -eq "${n:-0}" ||
	diag "$(jq -c 'select(.type=="loss" or .type=="session_reattach") | {type, kind, count, downtime_ns}' "$T/all.json")"
check "sandtraild stops cleanly" stop_daemon
