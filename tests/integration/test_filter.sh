#!/usr/bin/env bash
# The session filter caches, in the kernel, the cgroups found outside every
# session.  What that cache could get wrong: a process already running (and
# known as outside) whose cgroup then gets watched, a process moved into or
# out of a session cgroup, and a cgroup watched again after an unwatch.  Each
# must be traced from its very next syscall; one that moves out of its
# session stays in it (the filter follows it: test_cgroup_leave.sh).
source "$(dirname "$0")/lib.sh"
plan 11

start_daemon || { not_ok "sandtraild starts"; exit 1; }

# A session elsewhere, so that the filter runs (and caches) from the start.
other=$(mk_cgroup other)
other_id=$("$SANDTRAIL" watch --cgroup "$other") || { not_ok "watch of an unrelated cgroup"; exit 1; }

# opener_start NAME CG: a shell in CG that opens the path of each line it
# reads and answers once it did (its pid in NAME_pid); poke NAME PATH makes
# it open $T/PATH.
opener_start() {
	local name=$1 cg=$2 pid
	mkfifo "$T/$name.cmd" "$T/$name.ack"
	run_in_cgroup "$cg" bash -c 'exec 3<"$1" 4>"$2"; echo $$ >&4; while read -r p <&3; do : <"$p"; echo >&4; done 2>/dev/null' \
		_ "$T/$name.cmd" "$T/$name.ack" 2>/dev/null &
	disown
	# the opener opens cmd, then ack: open our ends in that order
	eval "exec {${name}_cmd}>\"\$T/\$name.cmd\" {${name}_ack}<\"\$T/\$name.ack\""
	eval "read -r pid <&\$${name}_ack"
	eval "${name}_pid=$pid"
	defer "kill $pid 2>/dev/null"
}
poke() {
	local name=$1 cmdfd ackfd
	eval "cmdfd=\$${name}_cmd ackfd=\$${name}_ack"
	echo "$T/$2" >&"$cmdfd" && read -r _ <&"$ackfd"
}
# opened JSON NAME: how many open records of NAME (a path under $T) JSON has
opened() { jq_count "$1" '.type=="open" and .path=="'"$T/$2"'"'; }
none_in() { none "$1" '.type=="open" and .path=="'"$T/$3"'"' && none "$2" '.type=="open" and .path=="'"$T/$3"'"'; }

# 1. a running process, known outside, whose cgroup gets watched
late=$(mk_cgroup late)
opener_start a "$late"
poke a a-before-1
poke a a-before-2
late_id=$("$SANDTRAIL" watch --cgroup "$late")
poke a a-after
"$SANDTRAIL" unwatch "$late_id"
poke a a-unwatched

# 2. a process moved into a session cgroup and out of it again
outside=$(mk_cgroup outside)
moved=$(mk_cgroup moved)
moved_id=$("$SANDTRAIL" watch --cgroup "$moved")
opener_start b "$outside"
poke b b-outside-1
poke b b-outside-2
echo "$b_pid" >"$moved/cgroup.procs"
poke b b-moved-in
echo "$b_pid" >"$outside/cgroup.procs"
poke b b-moved-out

# 3. a cgroup unwatched, then watched again
again=$(mk_cgroup again)
again_id1=$("$SANDTRAIL" watch --cgroup "$again")
opener_start c "$again"
poke c c-first
"$SANDTRAIL" unwatch "$again_id1"
poke c c-between-1
poke c c-between-2
again_id2=$("$SANDTRAIL" watch --cgroup "$again")
poke c c-second

"$SANDTRAIL" unwatch "$moved_id"
"$SANDTRAIL" unwatch "$again_id2"
"$SANDTRAIL" unwatch "$other_id"
check "sandtraild stops cleanly" stop_daemon
# the filter lets through only tasks of watched cgroups: no process event of
# the whole journal is outside a session (the machine's other processes)
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --all --format json >"$T/all.json" 2>/dev/null
check "no process event in the journal lies outside every session" none "$T/all.json" \
	'(.type | IN("exec", "fork", "exit", "open", "unlink", "rename", "connect")) and (has("session") | not)'

replay_json "$late_id" >"$T/late.json"
check "a process outside is not traced before its cgroup is watched" none "$T/late.json" '.type=="open" and .path=="'"$T/a-before-2"'"'
check "its first syscall after the watch is traced" test "$(opened "$T/late.json" a-after)" -eq 1
check "after the unwatch it is not traced" none "$T/late.json" '.type=="open" and .path=="'"$T/a-unwatched"'"'

replay_json "$moved_id" >"$T/moved.json"
check "a process is not traced before it moves into a session" none "$T/moved.json" '.type=="open" and .path=="'"$T/b-outside-2"'"'
check "its first syscall in the session cgroup is traced" test "$(opened "$T/moved.json" b-moved-in)" -eq 1
check "once it moved out it is still traced, in the cgroup it went to" \
	test "$(jq_count "$T/moved.json" '.type=="open" and .path=="'"$T/b-moved-out"'" and .cgroup=='"$(stat -c %i "$outside")")" -eq 1

replay_json "$again_id1" >"$T/again1.json"
replay_json "$again_id2" >"$T/again2.json"
check "the first watch traces the cgroup" test "$(opened "$T/again1.json" c-first)" -eq 1
check "nothing is traced between unwatch and the next watch" \
	none_in "$T/again1.json" "$T/again2.json" c-between-2
check "a new watch of the same cgroup traces its next syscall" test "$(opened "$T/again2.json" c-second)" -eq 1

for f in late moved again1 again2; do
	diag "$f: $(jq -r --arg t "$T/" 'select(.type=="open" and (.path | startswith($t))) | .path' "$T/$f.json" | tr '\n' ' ')"
done
