#!/usr/bin/env bash
# A thread rewrites the path buffer while another opens it: the requested
# copy may then name the other file, but the resolved path (walked from the
# returned descriptor in the kernel) is always the file actually opened, as
# the opener's own /proc/self/fd link says.
source "$(dirname "$0")/lib.sh"
plan 3
N=20000

start_daemon || { not_ok "sandtraild starts"; exit 1; }
cg=$(mk_cgroup race)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
work=$(readlink -f "$T")/in
mkdir "$work"
echo real >"$work/aaaa-real"
echo decoy >"$work/bbbb-decy"

run_in_cgroup "$cg" "$HELPERS/st_workload" race $N "$work/aaaa-real" "$work/bbbb-decy" >"$T/truth"
"$SANDTRAIL" unwatch "$id"
stop_daemon
replay_json "$id" >"$T/r.json" 2>/dev/null

# the opener's calls, in order: "ok LINK" or "err ERRNO"
jq -r 'select(.type=="open" and .comm=="st_workload" and (.requested|startswith("'"$work"'/")))
	| if .ret >= 0 then "ok \(.path)" else "err \(-.ret)" end' "$T/r.json" >"$T/recorded"
check "every one of the $N opens is recorded" test "$(wc -l <"$T/recorded")" -eq $N
check "each resolved path is the file the descriptor refers to" diff "$T/truth" "$T/recorded"
lied=$(jq_count "$T/r.json" '.type=="open" and .comm=="st_workload" and .ret>=0 and (.requested|startswith("'"$work"'/")) and .requested!=.path')
diag "the racing thread made the requested copy differ from the opened file $lied times"
# without a race won at least once, the check above proves nothing
check "the race happened: a requested copy named the other file at least once" test "$lied" -ge 1
