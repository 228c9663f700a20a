#!/usr/bin/env bash
# sandtrail run against a real sandtraild: the session is registered before
# CMD's first instruction, what CMD tries is recorded (allowed or refused),
# secrets never reach the journal, and session_end says how the session ended.
# Needs sandtraild with the capture programs and the egress enforcement
# (probes_set_netpolicy) and `sandtrail replay`.
source "$(dirname "$0")/lib.sh"
plan 28

start_daemon || { not_ok "sandtraild starts"; exit 1; }
P=$HELPERS/sbx_probe
WS=$T/ws
mkdir -p "$WS"
chown 4242:4242 "$WS"
echo "input" >"$WS/input.txt"
SECRET="tok-$$-$RANDOM-c0ffee"
# run NAME ARGS...: a recorded session; its id in $T/NAME.id, records in $T/NAME.json after replay
run() {
	local name=$1
	shift
	SANDTRAIL_TEST_TOKEN=$SECRET "$SANDTRAIL" run --id-file "$T/$name.id" --label test=audit --label case="$name" \
		"${HV[@]}" -v "$WS:/mnt" -w /mnt "$@" 2>"$T/$name.err"
}
records() { replay_json "$(cat "$T/$1.id")" >"$T/$1.json"; }

# one session doing what an agent might, and what it must not
python3 -m http.server --bind 127.0.0.1 0 >"$T/http.out" 2>&1 &
defer kill $!
for _ in $(seq 50); do PORT=$(grep -o 'port [0-9]*' "$T/http.out" | awk '{print $2}'); [ -n "$PORT" ] && break; sleep 0.1; done
run agent -m 256m --pids-limit 100 --network allowlist --allow 127.0.0.1:"$PORT" --secret SANDTRAIL_TEST_TOKEN -- sh -c "
	cat input.txt >/dev/null
	echo \"\$SANDTRAIL_TEST_TOKEN\" >out.txt
	$P write /etc/sandtrail-audit-$$; echo write=\$?
	$P mount; echo mount=\$?
	$P unshare-user; echo unshare=\$?
	$P bpf; echo bpf=\$?
	$P raw-socket; echo raw=\$?
	$P ptrace 1; echo ptrace=\$?
	echo allowed=\$($P connect 127.0.0.1 $PORT)
	echo denied=\$($P connect 127.0.0.2 $PORT)
	echo $SECRET-in-argv >/dev/null
	exit 3" >"$T/agent.out"
rc=$?
check "run returns CMD's status" test $rc -eq 3
check "run prints the session id on stderr" grep -q "^sandtrail: session $(cat "$T/agent.id")\$" "$T/agent.err"
check "every escape attempt failed inside" test "$(grep -Ec '^(write|mount|unshare|bpf|raw|ptrace)=0$' "$T/agent.out")" -eq 6 ||
	diag "$(cat "$T/agent.out")"
check "the allowlisted connect succeeded" grep -q '^allowed=allowed$' "$T/agent.out"
check "the connect off the list failed with EPERM" grep -q '^denied=refused EPERM$' "$T/agent.out"
check "ps no longer lists the ended session" lacks "^$(cat "$T/agent.id") " "$SANDTRAIL" ps

# records need the journal flushed
stop_daemon
records agent
J=$T/agent.json
check "session_start: mode hardened, labels, policy digest, argv" test "$(jq_count "$J" \
	'.type=="session_start" and .mode=="hardened" and .labels.test=="audit" and (.policy_digest|startswith("sha256:")) and .argv[0]=="sh"')" -eq 1
check "the workload's exec is recorded" test "$(jq_count "$J" '.type=="exec" and (.filename|endswith("sbx_probe"))')" -ge 1
check "the read of the workspace is recorded" test "$(jq_count "$J" '.type=="open" and .path=="/mnt/input.txt"')" -ge 1
check "the refused host write is recorded as a failed open" \
	test "$(jq_count "$J" '.type=="open" and (.path|endswith("sandtrail-audit-'$$'")) and .ret<0')" -ge 1
check "the allowlisted connect is an allow record" \
	test "$(jq_count "$J" '.type=="connect" and .addr=="127.0.0.1" and .port=='"$PORT"' and .verdict=="allow"')" -ge 1
check "the other connect is a deny record with EPERM" \
	test "$(jq_count "$J" '.type=="connect" and .addr=="127.0.0.2" and .verdict=="deny" and .error=="EPERM"')" -ge 1
check "session_end: reason exit, status 3, peaks" test "$(jq_count "$J" \
	'.type=="session_end" and .reason=="exit" and .exit_status==3 and .memory_peak>0 and .pids_peak>0 and .cpu_usec>0')" -eq 1
# the sandbox's init (CMD's parent) builds the root before CMD runs: its records are setup
init=$(jq -r 'select(.type=="exec") | .ppid' "$J" | head -n 1)
check "what the sandbox's init did is marked setup" test "$(jq_count "$J" ".pid==$init and .setup!=true")" -eq 0
check "... and nothing the workload did" test "$(jq_count "$J" ".pid!=$init and .setup==true")" -eq 0
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$(cat "$T/agent.id")" |
	sed -n '/files written/,/files deleted/p' >"$T/written"
check "files written lists the workload's file, not the sandbox's /etc nor its /dev nodes" \
	test "$(grep -c '/mnt/out.txt' "$T/written")" -eq 1 -a "$(grep -c 'etc/\|/dev/zero\|/dev/full\|/dev/tty' "$T/written")" -eq 0 ||
	diag "$(cat "$T/written")"
# (every field, every source of secrets: test_redaction.sh)
check "the secret is redacted as [secret:NAME] in session_start.argv" \
	test "$(jq_count "$J" '.type=="session_start" and (.argv[2]|contains("[secret:SANDTRAIL_TEST_TOKEN]-in-argv"))')" -eq 1
check "the secret is in no record replay renders" bash -c '[ -s "$2" ] && ! grep -qF -- "$1" "$2"' _ "$SECRET" "$J"

# how sessions end
start_daemon || { not_ok "sandtraild restarts"; exit 1; }
run oom -m 32m -- "$P" memhog 512 >/dev/null
check "a memory hog ends with 137" test $? -eq 137
run timeout --timeout 1 -- sleep 30
check "a timeout ends with 137" test $? -eq 137
run signal -- sh -c 'kill -TERM $$'
check "a signal ends with 143" test $? -eq 143
run stop -- sleep 60 &
RUNPID=$!
for _ in $(seq 50); do [ -s "$T/stop.id" ] && break; sleep 0.1; done
check "sandtrail stop ends a running session" "$SANDTRAIL" stop "$(cat "$T/stop.id")"
wait $RUNPID
check "a stopped session ends with 137" test $? -eq 137
stop_daemon
for c in oom timeout signal stop; do records $c; done
check "session_end says oom" test "$(jq_count "$T/oom.json" '.type=="session_end" and .reason=="oom" and .signal==9')" -eq 1
check "session_end says timeout" test "$(jq_count "$T/timeout.json" '.type=="session_end" and .reason=="timeout"')" -eq 1
check "session_end says signal" test "$(jq_count "$T/signal.json" '.type=="session_end" and .reason=="signal" and .signal==15')" -eq 1
check "session_end says stop" test "$(jq_count "$T/stop.json" '.type=="session_end" and .reason=="stop"')" -eq 1
# each session's cgroup, as its session_start names it (others' come and go on a shared machine)
left=$(jq -r 'select(.type=="session_start") | .cgroup' "$T"/{agent,oom,timeout,signal,stop}.json |
	while read -r cg; do [ -d "$cg" ] && echo "$cg"; done)
check "no session cgroup is left" test -z "$left" -a "$(cat "$T"/{agent,oom,timeout,signal,stop}.json | jq_count /dev/stdin '.type=="session_start"')" -eq 5
