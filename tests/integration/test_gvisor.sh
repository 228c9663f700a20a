#!/usr/bin/env bash
# sandtrail run --mode gvisor against a real sandtraild and Debian's runsc:
# the workload of the hardened audit test yields the same exec, open,
# rename, unlink and connect records (the Sentry's view, marked view
# sandbox; runsc's own host-side events marked view host); a forged or
# broken Sentry is refused and recorded while other sessions go on; nothing
# of runsc is left behind, after an exit, a stop or a killed sandbox.
source "$(dirname "$0")/lib.sh"
plan 50

command -v runsc >/dev/null || { not_ok "runsc is installed (make deps)"; exit 1; }
start_daemon || { not_ok "sandtraild starts"; exit 1; }
P=$HELPERS/sbx_probe
WS=$T/ws
mkdir -p "$WS"
chown 1000:1000 "$WS"
echo "input" >"$WS/input.txt"
STATE=/run/sandtrail/gvisor
# what a broken build would leave of this test's sessions, removed at exit:
# a tmpfs of runsc state mounted on the host, state directories that were
# not there before and that no process uses
ls "$STATE" >"$T/state.before" 2>/dev/null
leftovers() {
	local d
	while mountpoint -q "$STATE"; do umount "$STATE" || break; done
	for d in $(ls "$STATE" 2>/dev/null | grep -vxFf "$T/state.before"); do
		pgrep -f -- "$d" >/dev/null || rm -rf "${STATE:?}/$d"
	done
}
defer leftovers

python3 -m http.server --bind 127.0.0.1 0 >"$T/http.out" 2>&1 &
defer kill $!
for _ in $(seq 50); do PORT=$(grep -o 'port [0-9]*' "$T/http.out" | awk '{print $2}'); [ -n "$PORT" ] && break; sleep 0.1; done

WORKLOAD="cat /mnt/input.txt >/dev/null
echo data >/mnt/new.txt
mv /mnt/new.txt /mnt/moved.txt
rm /mnt/moved.txt
echo allowed=\$($P connect 127.0.0.1 $PORT)
echo denied=\$($P connect 127.0.0.2 $PORT)
exit 3"
# run NAME MODE ARGS...: a recorded session; id in $T/NAME.id
run() {
	local name=$1 mode=$2
	shift 2
	"$SANDTRAIL" run --mode "$mode" --id-file "$T/$name.id" --label test=gvisor -v "$WS:/mnt" "${HV[@]}" -w /mnt "$@" \
		2>"$T/$name.err"
}
records() { replay_json "$(cat "$T/$1.id")" >"$T/$1.json"; }

run hard hardened --network allowlist --allow 127.0.0.1:"$PORT" -- sh -c "$WORKLOAD" >"$T/hard.out"
run gv gvisor --network allowlist --allow 127.0.0.1:"$PORT" -- sh -c "$WORKLOAD" >"$T/gv.out"
rc=$?
check "gvisor: run returns CMD's status" test $rc -eq 3 || diag "$(cat "$T/gv.err")"
check "gvisor: the allowlisted connect succeeded" grep -q '^allowed=allowed$' "$T/gv.out"
check "gvisor: the connect off the list failed with EPERM" grep -q '^denied=refused EPERM$' "$T/gv.out" ||
	diag "$(cat "$T/gv.out")"
check "gvisor: the session id is printed" grep -q "^sandtrail: session $(cat "$T/gv.id")\$" "$T/gv.err"

# what the mode cannot police, it refuses, before anything exists
"$SANDTRAIL" run --mode gvisor --pids-limit 50 -- touch "$WS/ran" 2>"$T/refused.err"
check "gvisor: --pids-limit is refused (125, one line)" test $? -eq 125 -a "$(wc -l <"$T/refused.err")" -eq 1 -a ! -e "$WS/ran"
check "gvisor: the refusal says why" grep -q 'gvisor mode cannot police it' "$T/refused.err"
echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}' >"$T/prof.json"
"$SANDTRAIL" run --mode gvisor --security-opt seccomp="$T/prof.json" -- true 2>"$T/refused.err"
check "gvisor: a seccomp profile it would not apply is refused" test $? -eq 125
echo '{"mode": "gvisor"}' >"$T/policy.json"
"$SANDTRAIL" run --no-audit --policy "$T/policy.json" -- uname -r >"$T/policy.out" 2>/dev/null
check "a policy file can ask for gvisor mode (the Sentry's kernel answers)" \
	test -s "$T/policy.out" -a "$(cat "$T/policy.out")" != "$(uname -r)"
# runsc makes the stdio it gets non-blocking: the caller's pipe must stay as it was
flags=$( ("$SANDTRAIL" run --mode gvisor --no-audit -- true 2>/dev/null; awk '/^flags/ { print $2 }' /proc/self/fdinfo/1) | cat)
check "gvisor: the caller's stdout pipe is left blocking" test $((0$flags & 04000)) -eq 0
# a regular file is written at the caller's offset: after what the
# manager wrote there (>, 2>&1), or at its end (>>)
(echo "before the run"; "$SANDTRAIL" run --mode gvisor --no-audit -- sh -c 'echo out1; echo err1 >&2; echo out2') \
	>"$T/stdio.log" 2>&1
check "gvisor: a > file keeps what came before, the manager's line, then the workload's in order" \
	test "$(cat "$T/stdio.log")" = "$(printf '%s\n' 'before the run' \
		'sandtrail: --no-audit: this session is not recorded' out1 err1 out2)" || diag "$(cat "$T/stdio.log")"
printf 'kept line\n' >"$T/append.log"
"$SANDTRAIL" run --mode gvisor --no-audit -- sh -c 'echo appended; echo err >&2' >>"$T/append.log" 2>/dev/null
"$SANDTRAIL" run --mode gvisor --no-audit -- sh -c 'echo again' >>"$T/append.log" 2>/dev/null
check "gvisor: >> appends the workload's output, run after run" \
	test "$(cat "$T/append.log")" = "$(printf '%s\n' 'kept line' appended again)" || diag "$(cat "$T/append.log")"
# a regular file as stdin is read from where the caller left it
printf 'l1\nl2\nl3\n' >"$T/stdin.txt"
(read -r _; "$SANDTRAIL" run --mode gvisor --no-audit -- cat) <"$T/stdin.txt" >"$T/stdin.out" 2>/dev/null
check "gvisor: a file as stdin is read from the caller's offset" \
	test "$(cat "$T/stdin.out")" = "$(printf '%s\n' l2 l3)" || diag "$(cat "$T/stdin.out")"

# a forged Sentry beside a real session: refused input is recorded, the other session is untouched
PEER_CG=$(mk_cgroup peer)
"$HELPERS/gvisor_peer" "$SANDTRAIL_SOCKET" "$PEER_CG" peer-cid /peer/file 7 >"$T/peer.id" 2>"$T/peer.err" &
PEER=$!
run busy gvisor -- sh -c 'i=0; while [ $i -lt 20 ]; do cat /mnt/input.txt >/dev/null; i=$((i+1)); done'
check "gvisor: a session beside a forged Sentry ends normally" test $? -eq 0
wait $PEER
check "the forged Sentry got through the handshake" test $? -eq 0 || diag "$(cat "$T/peer.err")"

# how the workload ended, the same workloads in both modes: a signal is a
# signal, an exit 143 an exit
for mode in hardened gvisor; do
	run "sig-$mode" $mode -- sh -c 'kill -TERM $$'
	echo $? >"$T/sig-$mode.rc"
	run "ex-$mode" $mode -- sh -c 'exit 143'
	echo $? >"$T/ex-$mode.rc"
done

stop_daemon
for c in hard gv busy sig-hardened sig-gvisor ex-hardened ex-gvisor; do records $c; done
ended() { # NAME: run's status and session_end's reason, exit_status, signal
	echo "$(cat "$T/$1.rc") $(jq -c 'select(.type=="session_end") | [.reason, .exit_status, .signal]' "$T/$1.json")"
}
check "gvisor: a workload killed by SIGTERM ends as in hardened mode (143, reason signal, signal 15)" \
	test "$(ended sig-gvisor)" = "$(ended sig-hardened)" -a "$(ended sig-hardened)" = '143 ["signal",143,15]' ||
	diag "hardened: $(ended sig-hardened)" "gvisor: $(ended sig-gvisor)"
check "gvisor: a workload that exits 143 ends as in hardened mode (reason exit, no signal)" \
	test "$(ended ex-gvisor)" = "$(ended ex-hardened)" -a "$(ended ex-hardened)" = '143 ["exit",143,null]' ||
	diag "hardened: $(ended ex-hardened)" "gvisor: $(ended ex-gvisor)"
check "gvisor: the sandbox's own exit record has the signal" \
	test "$(jq_count "$T/sig-gvisor.json" '.type=="exit" and .view=="sandbox" and .pid==1 and .signal==15')" -eq 1
replay_json "$(cat "$T/peer.id")" >"$T/peer.json"
H=$T/hard.json
G=$T/gv.json
check "gvisor: session_start says mode gvisor and names its container" \
	test "$(jq_count "$G" '.type=="session_start" and .mode=="gvisor" and (.container|startswith("sandtrail-"))')" -eq 1
# the same set of records, as each view sees it
same() { same_records gvisor "$H" "$G" "$@"; }
# (gVisor refuses renameat2 on its gofer file systems, so mv falls back to renameat)
same exec 'select(.type=="exec" and .ret==0) | .argv | join(" ")'
same open 'select(.type=="open" and (.path|startswith("/mnt/"))) | "\(.path) \(.ret >= 0)"'
same rename 'select(.type=="rename" and .ret==0) | "\(.ret)"'
same unlink 'select(.type=="unlink" and .dir==false) | "\(.ret)"'
same connect 'select(.type=="connect" and (.addr|tostring|startswith("127.0.0."))) | "\(.addr) \(.port) \(.verdict) \(.error)"'
check "gvisor: the Sentry's rename and unlink have unreadable paths" \
	test "$(jq_count "$G" '(.type=="rename" and .view=="sandbox" and .from_unreadable and .to_unreadable) or (.type=="unlink" and .view=="sandbox" and .path_unreadable)')" -ge 2
check "gvisor: the host view has the gofer's rename with its names" \
	test "$(jq_count "$G" '.type=="rename" and .view=="host" and (.from|endswith("new.txt")) and (.to|endswith("moved.txt")) and .ret==0')" -eq 1
check "gvisor: the host view has the gofer's unlink with its name" \
	test "$(jq_count "$G" '.type=="unlink" and .view=="host" and (.path|endswith("moved.txt")) and .ret==0')" -eq 1
check "gvisor: the denied connect is also in the host view (the Sentry's socket)" \
	test "$(jq_count "$G" '.type=="connect" and .view=="host" and .addr=="127.0.0.2" and .verdict=="deny"')" -ge 1
check "gvisor: every process record is marked with its view" \
	none "$G" '(.type|IN("exec","open","fork","exit","rename","unlink","connect")) and .view==null'
check "gvisor: the workload's exit is recorded (code 3)" \
	test "$(jq_count "$G" '.type=="exit" and .view=="sandbox" and .pid==1 and .code==3')" -eq 1
check "gvisor: session_end: exit status 3" test "$(jq_count "$G" '.type=="session_end" and .exit_status==3')" -eq 1
check "gvisor: no loss in a quiet session" none "$G" '.type=="loss"'

P2=$T/peer.json
check "sink: the forged Sentry's good message is recorded" \
	test "$(jq_count "$P2" '.type=="open" and .view=="sandbox" and .path=="/peer/file"')" -eq 2
check "sink: another container's message is rejected, not recorded" \
	none "$P2" '.path=="/forged"'
check "sink: undecodable and foreign messages are loss records (malformed)" \
	test "$(jq_count "$P2" '.type=="loss" and .kind=="open" and .reason=="malformed" and .count==2')" -eq 1
check "sink: the oversized message is a loss record" \
	test "$(jq_count "$P2" '.type=="loss" and .kind=="exec" and .reason=="oversized" and .count==1')" -eq 1
check "sink: the Sentry's own drops are a loss record" \
	test "$(jq_count "$P2" '.type=="loss" and .reason=="sentry_dropped" and .count==7')" -eq 1
check "sink: the session beside it lost nothing" \
	test "$(jq_count "$T/busy.json" '.type=="loss"')" -eq 0 -a \
	"$(jq_count "$T/busy.json" '.type=="open" and .view=="sandbox" and .path=="/mnt/input.txt"')" -eq 20

# nothing of runsc stays: state, processes, mounts, the session cgroup
# left_behind NAME: what of session NAME's runsc remains, if anything
left_behind() {
	local cid cg
	cid=$(jq -r 'select(.type=="session_start") | .container' "$T/$1.json")
	cg=$(jq -r 'select(.type=="session_start") | .cgroup' "$T/$1.json")
	[ -n "$cid" ] || { echo "no container in $1's session_start"; return; }
	[ -e "$STATE/$cid" ] && echo "state $STATE/$cid"
	pgrep -f -- "$cid" >/dev/null && echo "processes: $(pgrep -af -- "$cid")"
	# a mount of the session's in any namespace still alive (the host's included)
	grep -lF -- "$cid" /proc/[0-9]*/mountinfo 2>/dev/null | sed 's/^/mounts in /'
	grep -q " $STATE " /proc/self/mountinfo && echo "a mount on $STATE on the host"
	[ -d "$cg" ] && echo "cgroup $cg"
}
nothing_left() {
	local what
	what=$(left_behind "$1")
	[ -z "$what" ] || diag "$what"
	[ -z "$what" ]
}

start_daemon || { not_ok "sandtraild restarts"; exit 1; }
run stop gvisor -- sleep 60 &
RUNPID=$!
for _ in $(seq 100); do [ -s "$T/stop.id" ] && break; sleep 0.1; done
check "sandtrail stop ends a gvisor session" "$SANDTRAIL" stop "$(cat "$T/stop.id")"
wait $RUNPID
check "a stopped gvisor session ends with 137" test $? -eq 137

run killed gvisor -- sleep 60 &
RUNPID=$!
for _ in $(seq 100); do [ -s "$T/killed.id" ] && break; sleep 0.1; done
CG=$("$SANDTRAIL" ps | awk -v id="$(cat "$T/killed.id")" '$1 == id { print $NF }')
SENTRY=
for _ in $(seq 100); do
	for pid in $(cat "$CG/cgroup.procs" 2>/dev/null); do
		grep -qa -- '^boot$' <(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) && SENTRY=$pid
	done
	[ -n "$SENTRY" ] && break
	sleep 0.1
done
check "the gvisor session's Sentry runs in the session cgroup" test -n "$SENTRY"
[ -n "$SENTRY" ] && kill -KILL "$SENTRY"
wait $RUNPID
check "a session whose Sentry was killed ends (non-zero)" test $? -ne 0
# the manager killed (kill -9) while the sandbox runs: sandtraild kills and
# removes the session cgroup, runsc's state and mounts go with their namespaces
"$SANDTRAIL" run --mode gvisor --id-file "$T/k9.id" -v "$WS:/work" -- sleep 60 2>"$T/k9.err" &
RUNPID=$!
wait_for 30 test -s "$T/k9.id"
CG=$("$SANDTRAIL" ps | awk -v id="$(cat "$T/k9.id")" '$1 == id { print $NF }')
check "a gvisor session's sandbox runs (its Sentry in the session cgroup)" \
	wait_for 30 bash -c 'grep -qa "^boot$" <(cat "$1"/cgroup.procs | sed "s|.*|/proc/&/cmdline|" | xargs -r cat 2>/dev/null | tr "\0" "\n")' _ "$CG"
kill -9 $RUNPID
wait $RUNPID 2>/dev/null
check "after kill -9 of its manager, sandtraild removes the session cgroup" wait_for 30 test ! -d "$CG" ||
	diag "$CG holds: $(cat "$CG/cgroup.procs" 2>&1 | xargs -r ps -o pid,args -p 2>&1)"
stop_daemon
for c in stop killed k9; do records $c; done
check "session_end says stop" test "$(jq_count "$T/stop.json" '.type=="session_end" and .reason=="stop"')" -eq 1
check "session_end says manager_lost after the kill -9" \
	test "$(jq_count "$T/k9.json" '.type=="session_end" and .reason=="manager_lost"')" -eq 1 ||
	diag "$(jq -c 'select(.type=="session_end")' "$T/k9.json")"
for c in gv busy stop killed k9; do
	check "nothing of runsc is left after the $c session" nothing_left $c
done
