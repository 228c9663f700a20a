#!/usr/bin/env bash
# A task that moves itself, or is moved, out of a watched cgroup is recorded
# leaving (cgroup_leave: where it went, by the kernel's cgroup_attach_task)
# and stays in its session: what it and its children do afterwards is
# recorded, with the cgroup they are in now.  Moves within the session and
# tasks that were never in it leave nothing.  A hardened session cannot
# move itself (no cgroup file system inside).
source "$(dirname "$0")/lib.sh"
plan 16

start_daemon || { not_ok "sandtraild starts"; exit 1; }
cg=$(mk_cgroup leave)
mkdir "$cg/sub"
other=$(mk_cgroup elsewhere)
other_id=$(stat -c %i "$other")
for f in self child moved early back stranger; do echo "$f" >"$T/$f.marker"; done
mkfifo "$T/go-moved" "$T/go-early" "$T/go-stranger"

# present before the watch: the session learns of it from cgroup.procs
# sh -c "$WAITER" _ CG FIFO FILE &: in CG ($! is its pid: no function, no
# subshell in between), reads FILE once a line comes through FIFO
WAITER='echo $$ >"$1/cgroup.procs"; read x <"$2"; cat "$3" >/dev/null'
sh -c "$WAITER" _ "$cg" "$T/go-early" "$T/early.marker" &
early=$!
wait_for 10 grep -qx "$early" "$cg/cgroup.procs"
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
# a process that moves itself, then runs a child
run_in_cgroup "$cg" sh -c 'echo $$ >"$1/cgroup.procs"; cat "$2" >/dev/null; sh -c "cat $3 >/dev/null"; true' \
	_ "$other" "$T/self.marker" "$T/child.marker"
# a process moved by someone outside the session (this shell)
sh -c "$WAITER" _ "$cg" "$T/go-moved" "$T/moved.marker" &
moved=$!
wait_for 10 grep -qx "$moved" "$cg/cgroup.procs"
echo "$moved" >"$other/cgroup.procs"
echo go >"$T/go-moved"
wait "$moved"
echo "$early" >"$other/cgroup.procs"
echo go >"$T/go-early"
wait "$early"
# within the session, then out and back in
run_in_cgroup "$cg" sh -c 'echo $$ >"$1/sub/cgroup.procs"; echo $$ >"$2/cgroup.procs"; echo $$ >"$1/cgroup.procs"; cat "$3" >/dev/null' \
	_ "$cg" "$other" "$T/back.marker"
# never in the session: moved to the same place, not recorded
sh -c 'read x <"$1"; cat "$2" >/dev/null' _ "$T/go-stranger" "$T/stranger.marker" &
stranger=$!
echo "$stranger" >"$other/cgroup.procs"
echo go >"$T/go-stranger"
wait "$stranger"
"$SANDTRAIL" unwatch "$id"
replay_json "$id" >"$T/r.json"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$id" >"$T/r.txt"
R=$T/r.json
export -f jq_count
has() { test "$(jq_count "$R" "$1")" -ge 1 || { diag "no record matches: $1"; return 1; }; }
opened() { has '.type=="open" and .path=="'"$T/$1.marker"'" and .cgroup=='"$other_id"' and .session=="'"$id"'"'; }

self=$(jq -r 'select(.type=="open" and .path=="'"$T/self.marker"'") | .ppid' "$R" | head -n 1)
check "self move: cgroup_leave with where it went" has \
	'.type=="cgroup_leave" and .task=='"${self:-0}"' and .pid=='"${self:-0}"' and .dst_cgroup=='"$other_id"' and (.dst_path|endswith("/'"${other##*/}"'")) and .threadgroup==true'
check "self move: what it does afterwards stays in the session" opened self
check "self move: its child, forked outside, too" opened child
check "self move: the child's fork and exec are recorded" has '.type=="exec" and .argv[2]=="cat '"$T/child.marker"' >/dev/null" and .cgroup=='"$other_id"
check "moved by another: cgroup_leave names the task moved and the mover" has \
	'.type=="cgroup_leave" and .task=='"$moved"' and .pid=='"$$"' and .dst_cgroup=='"$other_id"
check "moved by another: its later open is in the session" opened moved
check "a process there before the watch: its move is known" has '.type=="cgroup_leave" and .task=='"$early"
check "a process there before the watch: followed" opened early
check "a move within the session is no cgroup_leave" test "$(jq_count "$R" '.type=="cgroup_leave" and (.dst_path|endswith("/sub"))')" = 0
back=$(jq -r 'select(.type=="open" and .path=="'"$T/back.marker"'") | .ppid' "$R" | head -n 1)
check "out and back in: one cgroup_leave, then recorded in the session's cgroup" bash -c '
	test "$(jq_count "$1" ".type==\"cgroup_leave\" and .task==$2")" = 1 &&
	test "$(jq_count "$1" ".type==\"open\" and .path==\"$4\" and .ppid==$2 and .cgroup==$3")" = 1' \
	_ "$R" "${back:-0}" "$(stat -c %i "$cg")" "$T/back.marker"
check "a task never in the session is not recorded" none "$R" 'tostring | contains("stranger")'
check "no cgroup_leave of a task never in the session" none "$R" '.type=="cgroup_leave" and .task=='"$stranger"
check "replay text: the move, marked" grep -q "cgroup leave: pid $moved moved to .*${other##*/} (still in the session)" "$T/r.txt"
check "the filter follows only while it must: no task is left followed after the session" bash -c '
	bpftool map dump name members -j | jq -e "[.[] | select(.value.session == $1)] | length == 0" >/dev/null' _ "$(stat -c %i "$cg")"

# a hardened session has no cgroup file system to move itself with
"$SANDTRAIL" run --id-file "$T/h.id" "${HV[@]}" -- /bin/sh -c '
	for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs; do
		(echo $$ >"$f") 2>/dev/null && echo moved
	done; echo done' >"$T/h.out" 2>"$T/h.err"
check "run: the session cannot move itself out" test "$(cat "$T/h.out")" = done || diag "$(cat "$T/h.out" "$T/h.err")"
replay_json "$(cat "$T/h.id")" >"$T/h.json"
check "run: and leaves no cgroup_leave" none "$T/h.json" '.type=="cgroup_leave"'
