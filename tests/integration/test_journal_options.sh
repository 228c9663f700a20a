#!/usr/bin/env bash
# sandtraild's journal settings, end to end: --fsync seal|always|none as
# strace sees the daemon's writes and fdatasync calls on its segments (the
# syncs run on a thread of their own, in batches: schemas/journal.md), and
# signing key epochs that follow --epoch-seconds (time, not seals).
source "$(dirname "$0")/lib.sh"
plan 12
W=$HELPERS/st_workload
N=400

# traced_burst MODE: a session of N opens under `--fsync MODE`, the daemon
# under strace from before the session to its exit.  Sets WRITES and SYNCS
# (write and fdatasync calls on a segment), SYNCED (1 when a sync on the
# segment came after its last write) and SEALS (seal records after the
# session started).
traced_burst() {
	local mode=$1 cg id first tracer log=$T/strace.$1
	rm -rf "$JOURNAL"
	start_daemon --fsync "$mode" --seal-records 50 --seal-ms 100000 || return 1
	strace -f -y -e trace=fdatasync,fsync,write,pwrite64,writev,pwritev -p "$DAEMON_PID" -o "$log" 2>"$log.err" &
	tracer=$!
	# strace says so once it has seized the daemon
	wait_for 10 grep -q "Process $DAEMON_PID attached" "$log.err" || return 1
	cg=$(mk_cgroup "fsync-$mode")
	id=$("$SANDTRAIL" watch --cgroup "$cg") || return 1
	echo go | run_in_cgroup "$cg" "$W" burst $N /dev/null >/dev/null
	"$SANDTRAIL" unwatch "$id"
	stop_daemon
	wait $tracer
	WRITES=$(grep -Ec '^[0-9]+ +(p?write(64|v)?)\([0-9]+<[^>]*\.stj>' "$log")
	SYNCS=$(grep -Ec '^[0-9]+ +fdatasync\([0-9]+<[^>]*\.stj>' "$log")
	SYNCED=$(awk '/\.stj>/ && /(write|writev|pwrite64|pwritev)\(/ { w = NR } /fdatasync\([0-9]+<[^>]*\.stj>/ { s = NR }
		END { print (s > w) ? 1 : 0 }' "$log")
	first=$(replay_json "$id" | jq -s 'map(select(.type=="session_start")) | .[0].seq')
	SEALS=$("$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --all --format json |
		jq -s "map(select(.type==\"seal\" and .seq > ${first:-0})) | length")
	diag "--fsync $mode: $WRITES writes and $SYNCS fdatasync calls on segments, $SEALS seals, $N+ records"
}

traced_burst always
check "--fsync always: each record is written at once" test "$WRITES" -ge $N
check "--fsync always: and synced after (the syncs batch them)" test "$SYNCED" = 1 -a "$SYNCS" -ge 1
traced_burst seal
check "--fsync seal: blocks are written at seals, not per record" test "$SEALS" -ge 8 -a "$WRITES" -le $((2 * SEALS + 4))
check "--fsync seal: the seals are synced, the last one too" test "$SYNCED" = 1 -a "$SYNCS" -ge 1
check "--fsync seal: no more syncs than seals" test "$SYNCS" -le $((SEALS + 2))
traced_burst none
check "--fsync none: only the final seal at shutdown is synced" test "$SEALS" -ge 8 -a "$SYNCS" -eq 1 -a "$SYNCED" = 1
"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" >/dev/null 2>&1
check "--fsync none: the journal verifies after a clean shutdown" test $? -eq 0

# ---- key epochs by time: a new key every second, however many seals ----
rm -rf "$JOURNAL"
start_daemon --epoch-seconds 1 --seal-ms 10 || { not_ok "sandtraild starts with --epoch-seconds 1"; exit 1; }
cg=$(mk_cgroup epochs)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
# a steady trickle of records, so that seals come every few ms
run_in_cgroup "$cg" sh -c 'while :; do cat /etc/hostname; sleep 0.02; done' >/dev/null &
trickle=$!
defer "kill $trickle"
enough_epochs() {
	[ "$("$SANDTRAIL" replay --journal "$JOURNAL" --all --type epoch --format json 2>/dev/null | wc -l)" -ge 4 ]
}
check "epochs come while the daemon runs" wait_for 30 enough_epochs
"$SANDTRAIL" unwatch "$id"
stop_daemon
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --all --format json >"$T/all" 2>/dev/null
jq -r 'select(.type=="epoch") | .ts' "$T/all" >"$T/epochs"
# gaps in ms between the epoch records
gaps=$(while read -r ts; do date -d "$ts" +%s%3N; done <"$T/epochs" | awk 'NR > 1 { print $1 - prev } { prev = $1 }')
diag "epochs $(wc -l <"$T/epochs"), gaps in ms: $(echo $gaps)"
check "each epoch lasted its second (no key evolved before its time)" \
	test -n "$gaps" -a -z "$(awk '$1 < 950' <<<"$gaps")"
check "seals came much more often than epochs (epochs follow time, not seals)" \
	test "$(jq_count "$T/all" '.type=="seal"')" -gt "$(($(wc -l <"$T/epochs") * 10))"
"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" >"$T/verify" 2>&1
check "the journal verifies across the epochs" test $? -eq 0 || diag "$(cat "$T/verify")"
check "verify counts the epochs" grep -Eq " $(wc -l <"$T/epochs") epochs," "$T/verify" || diag "$(cat "$T/verify")"
