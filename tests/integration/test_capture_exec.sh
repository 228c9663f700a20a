#!/usr/bin/env bash
# Execs whose file name says nothing: a memfd run by fexecve records exe as
# the memfd's name, marked "(memfd)"; a filename the capture could not read
# (its page never touched) shows the exe in the text replay, marked, never
# `exec ""`.  In a watched cgroup and in a hardened run session.
source "$(dirname "$0")/lib.sh"
plan 10
W=$HELPERS/st_workload

start_daemon || { not_ok "sandtraild starts"; exit 1; }
echo_exe=$(readlink -f /bin/echo)
cg=$(mk_cgroup exec)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
mkdir "$T/w"
run_in_cgroup "$cg" "$W" memfd-exec /bin/echo memfd-arg >"$T/m.out"
run_in_cgroup "$cg" "$W" cold-exec "$T/w" /bin/echo cold-arg >"$T/c.out"
"$SANDTRAIL" unwatch "$id"
replay_json "$id" >"$T/r.json"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$id" >"$T/r.txt"
has() { test "$(jq_count "$1" "$2")" -ge 1 || { diag "no record in $1 matches: $2"; return 1; }; }

check "the workloads ran" test "$(cat "$T/m.out" "$T/c.out")" = "memfd-arg"$'\n'"cold-arg"
check "memfd exec: exe is the memfd's name, marked (memfd)" has "$T/r.json" \
	'.type=="exec" and .syscall=="execveat" and (.at_flags|index("AT_EMPTY_PATH")) and .argv==["/bin/echo","memfd-arg"] and .exe=="memfd:st-payload (memfd)" and .ret==0'
check "memfd exec: the text replay shows the memfd, not an empty name" bash -c '
	grep -qE "exec \"memfd:st-payload \(memfd\)\" /bin/echo memfd-arg \[(by fd|filename unreadable): exe shown\]" "$1" &&
	! grep -qE "exec \"\"" "$1"' _ "$T/r.txt"
check "unreadable filename: flagged, the exe the kernel ran recorded" has "$T/r.json" \
	'.type=="exec" and .filename_unreadable==true and .argv==["/bin/echo","cold-arg"] and .exe=="'"$echo_exe"'" and .ret==0'
check "unreadable filename: the text replay shows the exe, marked" \
	grep -qF "exec $echo_exe /bin/echo cold-arg [filename unreadable: exe shown]" "$T/r.txt"
check "no exec is shown with an empty name" lacks '(^| )exec "" ' cat "$T/r.txt"

# a hardened session: memfd_create and fexecve are allowed there
mkdir -p "$T/ws"
chown 4242:4242 "$T/ws"
"$SANDTRAIL" run --id-file "$T/h.id" "${HV[@]}" -v "$T/ws:/ws" -- /bin/sh -c "
	$W memfd-exec /bin/echo memfd-run; $W cold-exec /ws /bin/echo cold-run" >"$T/h.out" 2>"$T/h.err"
check "run: the session ran both" test "$(cat "$T/h.out")" = "memfd-run"$'\n'"cold-run" || diag "$(cat "$T/h.err")"
replay_json "$(cat "$T/h.id")" >"$T/h.json"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$(cat "$T/h.id")" >"$T/h.txt"
check "run: memfd exec's exe, marked (memfd)" has "$T/h.json" \
	'.type=="exec" and .argv==["/bin/echo","memfd-run"] and .exe=="memfd:st-payload (memfd)" and .ret==0'
check "run: unreadable filename, the exe recorded" has "$T/h.json" \
	'.type=="exec" and .filename_unreadable==true and .argv==["/bin/echo","cold-run"] and (.exe|endswith("/echo")) and .ret==0'
check "run: the text replay shows exes, never an empty name" bash -c '
	grep -q "exec \"memfd:st-payload (memfd)\" /bin/echo memfd-run" "$1" &&
	grep -qE "exec [^ ]*/echo /bin/echo cold-run \[filename unreadable: exe shown\]" "$1" && ! grep -qE "exec \"\" " "$1"' _ "$T/h.txt"
