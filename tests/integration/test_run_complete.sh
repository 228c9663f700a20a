#!/usr/bin/env bash
# `sandtrail run` returns once its session is whole in the journal: a replay
# started right after it shows every record of the workload and session_end,
# sealed (written only, with --fsync none).  The same for `sandtrail unwatch`.
# Seals are 5 s apart here: the end of a session must not wait for the next.
# Nor for the disk: the seal's fdatasync runs on the journal's syncer thread
# after the reply, except with --fsync always, where the reply waits for it.
# gvisor mode too (its records come from the Sentry's sink), and microvm in
# a few runs (each boots a guest under TCG): its records come from the
# guest through the event port, drained at the end.
source "$(dirname "$0")/lib.sh"
plan 9

start_daemon --seal-ms 5000 || { not_ok "sandtraild starts"; exit 1; }

# complete_runs N [JQ [MODE]]: N runs, each replayed at once; prints how many
# were whole (the workload's open, session_end, and JQ on session_end)
complete_runs() {
	local i id whole=0
	for i in $(seq "$1"); do
		"$SANDTRAIL" run --mode "${3:-hardened}" --id-file "$T/run.id" -- sh -c "cat /etc/hostname >/dev/null; exit 7" \
			2>"$T/run.err"
		[ $? -eq 7 ] || { diag "run $i: $(cat "$T/run.err")" >&2; continue; }
		id=$(cat "$T/run.id")
		replay_json "$id" >"$T/run.json" 2>"$T/replay.err"
		if jq -se "any(.type==\"open\" and .path==\"/etc/hostname\") and
			(map(select(.type==\"session_end\" and .reason==\"exit\" and .exit_status==7 ${2:-})) | length == 1)" \
			"$T/run.json" >/dev/null; then
			whole=$((whole + 1))
		else
			diag "run $i (session $id): $(jq -c '{seq, type, sealed}' "$T/run.json" | tail -n 3 | tr '\n' ' ')" >&2
		fi
	done
	echo "$whole"
}

n=$(complete_runs 100 'and .sealed==true')
check "100 runs in a row: each replay right after run shows the workload and a sealed session_end ($n)" test "$n" -eq 100
n=$(complete_runs 20 'and .sealed==true' gvisor)
check "20 gvisor runs: each replay right after run shows the Sentry's open and a sealed session_end ($n)" test "$n" -eq 20
n=$(complete_runs 2 'and .sealed==true' microvm)
check "2 microvm runs: each replay right after run shows the guest's open and a sealed session_end ($n)" test "$n" -eq 2

cg=$(mk_cgroup unwatch)
id=$("$SANDTRAIL" watch --cgroup "$cg") || not_ok "watch"
run_in_cgroup "$cg" cat /etc/hostname >/dev/null
"$SANDTRAIL" unwatch "$id"
replay_json "$id" >"$T/unwatch.json"
check "unwatch returns once the session's end is sealed" \
	test "$(jq_count "$T/unwatch.json" '.type=="session_end" and .reason=="unwatch" and .sealed==true')" -eq 1
check "the watched session's event is there too" \
	test "$(jq_count "$T/unwatch.json" '.type=="open" and .path=="/etc/hostname" and .sealed==true')" -ge 1

# traced_unwatch NAME: a watched session ended under strace, every fdatasync
# held 1 s: the request, the writes, the syncs and the reply in $T/strace.NAME
traced_unwatch() {
	local cg id spid
	cg=$(mk_cgroup "$1")
	id=$("$SANDTRAIL" watch --cgroup "$cg") || not_ok "watch"
	strace -f -qq -ttt -e trace=recvfrom,sendto,writev,fdatasync -e inject=fdatasync:delay_exit=1000000 -s 200 \
		-o "$T/strace.$1" -p "$DAEMON_PID" 2>"$T/strace.err" &
	spid=$!
	traced() { ! grep -q '^TracerPid:[[:space:]]*0$' /proc/"$DAEMON_PID"/task/*/status; }
	wait_for 10 traced || diag "strace did not attach: $(cat "$T/strace.err")"
	"$SANDTRAIL" unwatch "$id"
	kill -INT "$spid"
	wait "$spid"
}
# the reply's place: after the write of the block holding the seal, and
# (SYNCED=1) after an fdatasync that returned, or (SYNCED=0) well before
# the held fdatasync could have returned
reply_order() {
	awk -v synced="$2" '
	/recvfrom.*unwatch/ { u = NR; t = $2 }
	u && /writev/ { written = NR }
	u && /fdatasync/ && / = 0( \(DELAYED\))?$/ { sync_done = NR }
	u && /sendto.*\\"seq\\"/ { ok = written > u && (synced ? sync_done > u : $2 - t < 0.9); exit }
	END { exit !ok }' "$1"
}
traced_unwatch seal
check "the unwatch reply comes once its seal is written, without waiting for the fdatasync (held 1 s)" \
	reply_order "$T/strace.seal" 0 || diag "$(grep -A 12 unwatch "$T/strace.seal")"

stop_daemon
start_daemon --seal-ms 5000 --fsync always || { not_ok "sandtraild starts with --fsync always"; exit 1; }
traced_unwatch always
check "with --fsync always, the unwatch reply is sent after its seal's fdatasync returned" \
	reply_order "$T/strace.always" 1 || diag "$(grep -A 12 unwatch "$T/strace.always")"
stop_daemon
start_daemon --seal-ms 5000 --fsync none || { not_ok "sandtraild starts with --fsync none"; exit 1; }
n=$(complete_runs 20)
check "with --fsync none, session_end is written when run returns ($n of 20)" test "$n" -eq 20
check "sandtraild stops cleanly" stop_daemon
