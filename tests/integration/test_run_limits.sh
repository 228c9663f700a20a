#!/usr/bin/env bash
# Resource limits, timeout, exit status and signal propagation of
# `sandtrail run` (unrecorded; the session_end records are in test_run_audit.sh).
source "$(dirname "$0")/lib.sh"
plan 12

P=$HELPERS/sbx_probe
run() { "$SANDTRAIL" run --no-audit "${HV[@]}" "$@" 2>"$T/run.err"; }

out=$(run --pids-limit 20 -- "$P" forks 100)
check "a fork bomb stops at the pids limit" bash -c "[[ '$out' =~ ^forked\ 1[0-9]\ refused\ 8[0-9]$ ]]" || diag "$out"
run -m 32m -- "$P" memhog 512 >/dev/null
rc=$?
check "a memory hog is OOM-killed (137)" test $rc -eq 137
check "the OOM kill is reported as such" grep -q 'ran out of memory' "$T/run.err"
check "within the limit the same program survives" test "$(run -m 256m -- "$P" memhog 64)" = survived
# sleep 30 ends with 0: a 137 with the timeout's message is the timeout
run --timeout 1 -- sleep 30
rc=$?
check "--timeout ends the session (137)" test $rc -eq 137
check "--timeout is reported" grep -q 'timed out after 1000 ms' "$T/run.err"
run --timeout 1 -- sh -c 'sleep 30 & sleep 30 & wait'
check "--timeout kills the whole session" test $? -eq 137
# the quota of the session's cgroup, read on the host (the sandbox has no
# /sys): v1 cpu.cfs_quota_us or v2 cpu.max
run --cpus 0.5 -- sh -c 'cat /proc/self/cgroup; exec sleep 30' >"$T/cg" &
CPID=$!
for _ in $(seq 100); do [ -s "$T/cg" ] && break; sleep 0.05; done
p=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' "$T/cg")
if [ -n "$p" ] && [ -r "/sys/fs/cgroup/cpu$p/cpu.cfs_quota_us" ]; then quota=$(cat "/sys/fs/cgroup/cpu$p/cpu.cfs_quota_us")
else quota=$(cut -d" " -f1 "$(cg2_root)$(sed -n 's/^0:://p' "$T/cg")/cpu.max" 2>/dev/null); fi
kill $CPID
wait $CPID
check "--cpus sets a CFS quota of half a period" test "$quota" = 50000 || diag "quota: $quota"

run -- sh -c 'exit 7'
check "the exit status propagates" test $? -eq 7
run -- sh -c 'kill -TERM $$'
check "death by signal gives 128+signal" test $? -eq 143
run -- does-not-exist-anywhere
check "a missing command gives 127" test $? -eq 127
"$SANDTRAIL" run --no-audit -- sh -c 'trap "exit 42" TERM; echo up; while :; do sleep 0.1; done' >"$T/fwd.out" 2>/dev/null &
RUNPID=$!
for _ in $(seq 50); do grep -q up "$T/fwd.out" && break; sleep 0.1; done
kill -TERM $RUNPID
wait $RUNPID
check "SIGTERM to sandtrail run reaches CMD" test $? -eq 42
