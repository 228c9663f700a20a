#!/usr/bin/env bash
# Failing safe: a collector that does not answer never holds `sandtrail run`
# (deadlines; SIGTERM and Ctrl-C in a real pty end it, nothing left behind);
# a flood of control connections never stops the recording; a lost run
# manager's cgroups are removed; a full disk says ENOSPC and where; an
# exposed signing key and watches of the collector's own cgroups are refused.
source "$(dirname "$0")/lib.sh"
plan 44

# what a session could leave on the host: mounts and its cgroups
leftovers() { # CG: the session cgroup named in run's error or records
	grep -c " $T" /proc/self/mountinfo
	[ -n "$1" ] && [ -d "$1" ] && echo "cgroup $1 left"
}
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- a signing key others can read is refused, with the fix ----
mkdir -p "$KEYDIR"
"$SANDTRAIL" keygen --out "$KEYDIR" >/dev/null 2>&1
chmod 640 "$KEYDIR/signing.key"
# (bounded: a sandtraild that took the key would run on)
timeout -s KILL 20 "$SANDTRAILD" --journal "$JOURNAL" --socket "$SANDTRAIL_SOCKET" --key "$KEYDIR/signing.key" 2>"$T/key.err"
rc=$?
check "a signing key readable by its group is refused" test $rc -ne 0 ||
	diag "$(cat "$T/key.err")"
check "... saying the chmod that fixes it" grep -q "readable by group or others: refused.*chmod 600 $KEYDIR/signing.key" "$T/key.err"
check "... and nothing listens" test ! -e "$SANDTRAIL_SOCKET"
chmod 600 "$KEYDIR/signing.key"

# ---- sandtraild in a cgroup of its own, to check it refuses to watch it ----
home=$(mk_cgroup daemon)
mkdir "$home/inner"
run_in_cgroup "$home/inner" true # the cgroup is usable
start_daemon_in() { # CG
	"$SANDTRAILD" --journal "$JOURNAL" --socket "$SANDTRAIL_SOCKET" --key "$KEYDIR/signing.key" \
		2>>"$T/daemon.err" &
	DAEMON_PID=$!
	echo $DAEMON_PID >"$1/cgroup.procs"
	defer stop_daemon
	wait_for 30 grep -q '^sandtraild: ready' "$T/daemon.err"
}
: >"$T/daemon.err"
start_daemon_in "$home/inner" || { not_ok "sandtraild starts"; exit 1; }
watch_err() { "$SANDTRAIL" watch --cgroup "$1" 2>&1 >/dev/null; }
check "watching the cgroup2 root is refused" bash -c '[[ "$1" == *"the root of the cgroup2 hierarchy holds every process of the machine"* ]]' _ \
	"$(watch_err "$(cg2_root)")"
check "watching sandtraild's own cgroup is refused" bash -c '[[ "$1" == *"sandtraild runs in it"*"it would record its own work"* ]]' _ \
	"$(watch_err "$home/inner")"
check "... and any cgroup that holds it" bash -c '[[ "$1" == *"sandtraild runs in it"* ]]' _ "$(watch_err "$home")"
check "none of them became a session" lacks . bash -c 'set -o pipefail; "$1" ps | tail -n +2' _ "$SANDTRAIL"

# ---- 30,000 control connections while a session is recorded ----
cg=$(mk_cgroup flooded)
wid=$("$SANDTRAIL" watch --cgroup "$cg" 2>"$T/watch.err")
check "a watched session starts" test -n "$wid" || diag "$(cat "$T/watch.err")"
mkfifo "$T/go"
exec 7<>"$T/go"
N=20000
run_in_cgroup "$cg" "$HELPERS/st_workload" burst $N /etc/hostname <"$T/go" >"$T/burst.out" &
BURST=$!
"$HELPERS/ctl_flood" "$SANDTRAIL_SOCKET" 30000 >"$T/flood" 2>"$T/flood.err" &
FLOOD=$!
# and 30,000 more from 100 processes: the bound per process is not enough
"$HELPERS/ctl_flood" "$SANDTRAIL_SOCKET" 30000 100 >"$T/flood100" 2>"$T/flood100.err" &
FLOOD100=$!
echo go >&7
wait $BURST
wait $FLOOD
wait $FLOOD100
read -r _ held _ refused _ other <"$T/flood"
check "the flood ran: 30,000 connections, each held or refused" test "$((held + refused + other))" -eq 30000 -a "$other" -eq 0 ||
	diag "$(cat "$T/flood" "$T/flood.err")"
check "the excess was refused with an error naming the bound" test "$refused" -ge 29000 -a "$held" -le 32 ||
	diag "$(cat "$T/flood")"
read -r _ held _ refused _ other <"$T/flood100"
check "from 100 processes: 30,000 connections, each held or refused" test "$((held + refused + other))" -eq 30000 -a "$other" -eq 0 ||
	diag "$(cat "$T/flood100" "$T/flood100.err")"
check "... at most 1024 held in all, the excess refused with an error" test "$held" -le 1024 -a "$refused" -ge 28976 ||
	diag "$(cat "$T/flood100")"
check "sandtraild still answers" bash -c '"$1" ps >/dev/null' _ "$SANDTRAIL"
check "the session ends normally" "$SANDTRAIL" unwatch "$wid"
check "sandtraild stops cleanly (final seal)" stop_daemon
check "the journal verifies" bash -c '"$1" verify --journal "$2" --pubkey "$3" >/dev/null' _ "$SANDTRAIL" "$JOURNAL" "$KEYDIR/signing.pub"
replay_json "$wid" >"$T/flood.json"
check "every operation of the concurrent burst was recorded" \
	test "$(jq_count "$T/flood.json" '.type=="open" and .path=="/etc/hostname"')" -eq $N
check "... without loss" test "$(jq_count "$T/flood.json" '.type=="loss"')" -eq 0
check "... and sealed" test "$(jq_count "$T/flood.json" '.sealed!=true')" -eq 0

# ---- run against a collector that does not answer (SIGSTOP) ----
start_daemon || { not_ok "sandtraild restarts"; exit 1; }
kill -STOP "$DAEMON_PID"
defer "kill -CONT $DAEMON_PID"
before=$(leftovers "")
start=$(date +%s%N)
"$SANDTRAIL" run --stop-timeout 5 -- touch "$T/ran" 2>"$T/stopped.err" &
RUNPID=$!
# its sandbox child exists once the watch request is sent: run waits for the ack
wait_for 20 pgrep -P $RUNPID >/dev/null
kill -TERM $RUNPID
wait $RUNPID
rc=$?
took=$(elapsed_ms "$start")
check "SIGTERM ends run while sandtraild is stopped: 143" test $rc -eq 143 || diag "rc $rc: $(cat "$T/stopped.err")"
check "... within the grace period" test "$took" -lt 5000 || diag "took $took ms"
check "... saying why" grep -q "interrupted by TERM before the session started" "$T/stopped.err"
check "... and CMD never ran" test ! -e "$T/ran"
check "... nothing is left behind" test "$(leftovers "")" = "$before"
start=$(date +%s%N)
SANDTRAIL_CONTROL_TIMEOUT=1s "$SANDTRAIL" run -- touch "$T/ran" 2>"$T/deadline.err"
rc=$?
took=$(elapsed_ms "$start")
check "without a signal, the deadline ends it: 125" test $rc -eq 125 || diag "rc $rc: $(cat "$T/deadline.err")"
check "... after the deadline, not much later" test "$took" -lt 4000 || diag "took $took ms"
check "... saying so" grep -q "sandtraild did not acknowledge the session: no answer within 1000 ms" "$T/deadline.err"

# ---- Ctrl-C in a real terminal (script gives run a pty) ----
# ctrl_c 'READY' CMD...: CMD in a pty; Ctrl-C typed once the shell test READY
# holds; prints "rc ms"
ctrl_c() {
	local ready=$1 fifo=$T/tty.$RANDOM start rc
	shift
	mkfifo "$fifo"
	(wait_for 30 bash -c "$ready"; printf '\003'; sleep 30) >"$fifo" &
	local typist=$!
	start=$(date +%s%N)
	script -qfec "$(printf '%q ' "$@")" /dev/null <"$fifo" >"$T/tty.out" 2>&1
	rc=$?
	kill $typist 2>/dev/null
	echo "$rc $(elapsed_ms "$start")"
}
# run waits for the ack once its sandbox child exists
waiting="p=\$(pgrep -f -o '^$SANDTRAIL run --id-file $T/tty0.id') && pgrep -P \"\$p\" >/dev/null"
read -r rc took < <(ctrl_c "$waiting" "$SANDTRAIL" run --id-file "$T/tty0.id" -- touch "$T/ran")
check "Ctrl-C ends run while sandtraild is stopped: 130" test "$rc" -eq 130 || diag "rc $rc: $(cat "$T/tty.out")"
check "... at once, and CMD never ran" test "$took" -lt 10000 -a ! -e "$T/ran" || diag "took $took ms"
check "... nothing is left behind" test "$(leftovers "")" = "$before"
kill -CONT "$DAEMON_PID"
read -r rc took < <(ctrl_c "test -s $T/tty.id" "$SANDTRAIL" run --id-file "$T/tty.id" -- sleep 600)
check "Ctrl-C in a running session reaches CMD: 130" test "$rc" -eq 130 || diag "rc $rc: $(cat "$T/tty.out")"
check "... promptly" test "$took" -lt 20000 || diag "took $took ms"

# ---- SIGTERM to run: CMD's whole process group gets it, SIGKILL after the grace ----
# run_signalled ARGS...: run in the background, SIGTERM once CMD runs; "rc ms"
run_signalled() {
	local start rc id=$T/sig.$RANDOM.id
	"$SANDTRAIL" run --id-file "$id" "$@" >/dev/null 2>"$T/sig.err" &
	local pid=$!
	wait_for 20 test -s "$id"
	start=$(date +%s%N)
	kill -TERM $pid
	wait $pid
	rc=$?
	echo "$rc $(elapsed_ms "$start")"
}
# the shell ignores TERM; its child only dies if the whole group is signalled
read -r rc took < <(run_signalled --stop-timeout 20 --timeout 60 -- sh -c 'trap "" TERM; env --default-signal=TERM sleep 600; exit 7')
check "SIGTERM reaches CMD's children (its process group): they end, CMD goes on" test "$rc" -eq 7 -a "$took" -lt 10000 ||
	diag "rc $rc after $took ms" "$(cat "$T/sig.err")"
read -r rc took < <(run_signalled --stop-timeout 2 --timeout 60 -- sh -c 'trap "" TERM; while :; do sleep 0.2; done')
check "a session that ignores SIGTERM is killed after the grace period: 137" test "$rc" -eq 137 || diag "rc $rc"
check "... in about the grace period (2 s)" test "$took" -ge 1900 -a "$took" -lt 8000 || diag "took $took ms"
check "... saying so" grep -q "did not end within 2000 ms of the signal; killing it" "$T/sig.err"
stop_daemon
replay_json "$(cat "$T/tty.id")" >"$T/tty.json"
check "... and the session ends recorded, by the signal" \
	test "$(jq_count "$T/tty.json" '.type=="session_end" and .reason=="signal" and .signal==2')" -eq 1
cgs=$(jq -r 'select(.type=="session_start") | .cgroup' "$T/tty.json")
check "... its cgroup is gone" test -n "$cgs" -a ! -d "$cgs"

# ---- kill -9 of run: the collector removes the session's cgroups ----
start_daemon || { not_ok "sandtraild restarts"; exit 1; }
"$SANDTRAIL" run --memory 64m --pids-limit 50 --id-file "$T/lost.id" -- sleep 600 2>"$T/lost.err" &
RUNPID=$!
defer "kill -9 $RUNPID"
check "a run session starts" wait_for 20 test -s "$T/lost.id" || diag "$(cat "$T/lost.err")"
lcg=$("$SANDTRAIL" ps --json | jq -r "select(.id==\"$(cat "$T/lost.id")\") | .cgroup")
defer "rm_cgroup '$lcg'"
v1=$(find /sys/fs/cgroup/memory/sandtrail /sys/fs/cgroup/pids/sandtrail -maxdepth 1 -name "$(basename "$lcg")" 2>/dev/null)
kill -9 $RUNPID
wait $RUNPID 2>/dev/null
check "after kill -9 of run, sandtraild removes the session cgroup" wait_for 30 test ! -d "$lcg"
check "... and its v1 cgroups (hybrid hosts)" bash -c 'for d in $1; do test ! -d "$d" || exit 1; done' _ "$v1"
check "... and says so" grep -q "cgroup $lcg: removed (its manager was lost)" "$T/daemon.err"
stop_daemon

# ---- a full disk: ENOSPC, naming the journal's directory ----
mkdir -p "$T/small"
cgf=$(mk_cgroup full)
unshare -m --propagation private sh -c 'mount -t tmpfs -o size=192k tmpfs "$1" && shift && exec "$@"' _ "$T/small" \
	"$SANDTRAILD" --journal "$T/small/j" --socket "$SANDTRAIL_SOCKET" --key "$KEYDIR/signing.key" \
	--seal-ms 5 2>"$T/full.err" &
FULL=$!
defer "kill -9 $FULL"
wait_for 30 grep -q '^sandtraild: ready' "$T/full.err"
"$SANDTRAIL" watch --cgroup "$cgf" >/dev/null 2>&1
run_in_cgroup "$cgf" sh -c 'echo go | "$0" burst 2000000 /etc/hostname' "$HELPERS/st_workload" >/dev/null 2>&1 &
wait_for 60 grep -q "journal .* failed" "$T/full.err"
check "a full disk is reported as ENOSPC with the journal's directory" \
	grep -q "journal append failed in $T/small/j: No space left on device (ENOSPC)\|journal seal failed in $T/small/j: No space left on device (ENOSPC)" "$T/full.err" ||
	diag "$(cat "$T/full.err")"
check "... and sandtraild stops (nothing could be recorded)" wait_for 20 bash -c '! kill -0 $1 2>/dev/null' _ $FULL
