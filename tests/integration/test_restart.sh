#!/usr/bin/env bash
# sandtraild stopped for a restart (SIGUSR2) or killed in the middle of a
# watched burst: the kernel side, pinned in a bpffs, keeps recording while
# no collector runs; the next one takes the session over (session_reattach
# with the downtime) and drains the ring.  Every open of the burst is a
# record or counted in a loss record of the downtime, none twice.  Without
# pins, a killed collector's session is closed at recovery (collector_crash).
# The pins live in a bpffs of this test's own and are gone after a clean stop.
source "$(dirname "$0")/lib.sh"
plan 22

own_bpffs
PINS=$BPFFS/pins
N=300000
: >"$T/target"
: >"$T/after"
M=1000
DOPTS=(--pin-dir "$PINS" --ringbuf-size 256K --seal-ms 20)

# downtime_losses FILE: a loss of opens carries the downtime of the takeover
downtime_losses() {
	jq -se '(map(select(.type=="session_reattach"))[0].downtime_ns) as $d |
		any(.type=="loss" and .kind=="open" and .count > 0 and .downtime_ns == $d)' "$1" >/dev/null
}

# restart_during_burst HOW (USR2 or KILL) NAME: a burst in a watched cgroup,
# the collector stopped by HOW once its first records are in, restarted
restart_during_burst() {
	local how=$1 name=$2 cg id burst opens lost
	start_daemon "${DOPTS[@]}" || { not_ok "$name: sandtraild starts"; return 1; }
	cg=$(mk_cgroup "$name")
	id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "$name: watch"; return 1; }
	rm -f "$T/go" && mkfifo "$T/go"
	run_in_cgroup "$cg" "$HELPERS/st_workload" burst "$N" "$T/target" <"$T/go" >"$T/$name.out" &
	burst=$!
	defer "kill $burst"
	exec 3>"$T/go"
	echo go >&3
	exec 3>&-
	# the burst is under way (its first records are in the journal); it
	# waits while the collector stops, then goes on while none runs
	some() { [ "$(cat "$JOURNAL"/*.stj | wc -c)" -ge 16384 ]; }
	wait_for 60 some
	# the ring overflows once before the stop (the collector paused a
	# moment): those opens are in a loss record already, which the next
	# collector must not count again
	kill -STOP "$DAEMON_PID"
	sleep 0.05
	kill -STOP "$burst"
	kill -CONT "$DAEMON_PID"
	early_loss() { "$SANDTRAIL" replay --journal "$JOURNAL" --session "$id" --type loss --format json | grep -q .; }
	wait_for 30 early_loss || diag "$name: no loss record before the stop"
	links=$(ls "$PINS" | grep -c '^L')
	kill -"$how" "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	diag "$name: sandtraild stopped with $?"
	DAEMON_PID=
	kill -CONT "$burst"
	start_daemon "${DOPTS[@]}" || { not_ok "$name: sandtraild restarts on the pins"; return 1; }
	check "$name: the earlier programs were let go: as many links pinned as before ($links)" \
		test "$(ls "$PINS" | grep -c '^L')" -eq "$links"
	wait "$burst"
	check "$name: the burst did all its opens" test "$(cat "$T/$name.out")" = "$N"
	# and the session goes on being recorded by the collector that took it over
	echo go | run_in_cgroup "$cg" "$HELPERS/st_workload" burst "$M" "$T/after" >/dev/null
	"$SANDTRAIL" unwatch "$id" >/dev/null || diag "$name: unwatch $id failed"
	# the opens counted by grep (a million JSON lines are slow in jq), the rest in jq
	replay_json "$id" >"$T/$name.all"
	opens=$(grep -F '"type":"open"' "$T/$name.all" | grep -cF "\"path\":\"$T/target\"")
	grep -vF '"type":"open"' "$T/$name.all" >"$T/$name.json"
	check "$name: one session, taken over once, with its downtime" test "$(jq_count "$T/$name.json" \
		'.type=="session_start"')/$(jq_count "$T/$name.json" ".type==\"session_reattach\" and .after==\"$3\" and
		.downtime_ns > 0 and .down_to > .down_from")" = 1/1
	check "$name: it ends when unwatched, not at the restart" \
		test "$(jq -c 'select(.type=="session_end") | .reason' "$T/$name.json")" = '"unwatch"'
	after=$(grep -F '"type":"open"' "$T/$name.all" | grep -cF "\"path\":\"$T/after\"")
	check "$name: recorded after the takeover ($after of $M opens)" test "$after" -ge 1
	lost=$(jq -s '[.[] | select(.type=="loss" and .kind=="open") | .count] | add // 0' "$T/$name.json")
	opens=$((opens + after))
	diag "$name: $opens open records, $lost opens lost ($(jq -c 'select(.type=="loss") |
		{kind, reason, count, downtime_ns}' "$T/$name.json" | tr '\n' ' '))"
	if [ "$3" = restart ]; then
		check "$name: open records + lost opens = the burst's opens ($opens + $lost = $N + $M)" test $((opens + lost)) -eq $((N + M))
	else # what the killed collector had taken from the ring and not written is gone with it
		check "$name: open records + lost opens <= the burst's opens, none twice ($opens + $lost <= $N + $M)" \
			test $((opens + lost)) -le $((N + M))
	fi
	check "$name: what the ring could not keep while down is counted in loss records of the downtime" \
		downtime_losses "$T/$name.json"
	check "$name: sandtraild stops cleanly" stop_daemon
	check "$name: a clean stop leaves no pin" test ! -e "$PINS"
}

restart_during_burst USR2 handover restart
restart_during_burst KILL killed crash

"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" >"$T/verify" 2>&1
check "the journal verifies after both" test $? -eq 0 || diag "$(cat "$T/verify")"

# no pins: the killed collector's session is closed when the next one starts
start_daemon || { not_ok "sandtraild starts without pins"; exit 1; }
cg=$(mk_cgroup nopins)
id=$("$SANDTRAIL" watch --cgroup "$cg") || not_ok "watch"
run_in_cgroup "$cg" cat "$T/target"
# the session is in the journal (sealed) before the crash, or nothing knows of it
sealed_open() { replay_json "$id" | jq -e 'select(.type=="open" and .sealed)' >/dev/null; }
wait_for 30 sealed_open
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon || { not_ok "sandtraild restarts"; exit 1; }
replay_json "$id" >"$T/nopins.json"
check "without pins, the cut-off session is closed at recovery: session_end collector_crash" \
	test "$(jq -c 'select(.type=="session_end") | .reason' "$T/nopins.json")" = '"collector_crash"' ||
	diag "$(jq -c '{type, reason, sealed}' "$T/nopins.json" | tail -n 3)" "$(tail -n 8 "$T/daemon.err")"
check "and it is not live any more" lacks "$id" "$SANDTRAIL" ps
# the sessions of the bursts above ended (unwatch) before this crash
ended_twice() {
	"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --all --format json |
		jq -r 'select(.type=="session_end") | .session' | sort | uniq -d
}
check "sessions that had ended before the crash are not closed again at recovery" test -z "$(ended_twice)" ||
	diag "ended twice: $(ended_twice | paste -sd' ')"
