#!/usr/bin/env bash
# The bench's floor probe (bench/floor.bpf.c: the same hooks as the product,
# each doing nothing) must keep hooking exactly what build/sandtrail.bpf.o
# hooks, or every overhead row's floor variant fails, unseen until someone
# runs `make bench`.  It refuses to start on a mismatch; here it must start.
source "$(dirname "$0")/lib.sh"
plan 2

cg=$(mk_cgroup floor)
"$BIN/bench/floor" --cgroup "$cg" --check "$BIN/sandtrail.bpf.o" 2>"$T/floor.err" &
pid=$!
defer "kill $pid"
check "the floor probe hooks what the product hooks, and starts" \
	wait_for 60 grep -q '^floor: ready' "$T/floor.err" || diag "$(cat "$T/floor.err")"
kill -TERM $pid
wait $pid
check "... and ends cleanly on SIGTERM" test $? -eq 0
