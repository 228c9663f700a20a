#!/usr/bin/env bash
# sandtrail watch/unwatch/ps/stop against a real sandtraild: sessions are
# registered only when valid, bad input leaves nothing registered, and
# session_start/session_end records frame what was traced.
source "$(dirname "$0")/lib.sh"
plan 25

start_daemon || { not_ok "sandtraild starts"; exit 1; }
ok "sandtraild starts and says ready"

cg=$(mk_cgroup watch)
id=$("$SANDTRAIL" watch --cgroup "$cg" --label team=sec --label run=42 --id-file "$T/id" 2>"$T/err")
check "watch prints the session id" test -n "$id"
check "watch writes --id-file" test "$(cat "$T/id")" = "$id"
check "ps lists the session" bash -c '"$1" ps | grep -q "^$2 .*watch"' _ "$SANDTRAIL" "$id"
# the last event of a session gone quiet is recorded without another after it
run_in_cgroup "$cg" /bin/true
exited() { replay_json "$id" | jq -e 'select(.type=="exit" and .comm=="true")'; }
check "an event with none after it is recorded all the same" wait_for 10 exited

# bad input: one line on stderr, non-zero, nothing registered
expect_refused() {
	local name=$1 want=$2
	shift 2
	local before after
	before=$("$SANDTRAIL" ps --json | wc -l)
	if "$SANDTRAIL" watch "$@" >"$T/out" 2>"$T/err"; then
		not_ok "$name: accepted"
		return
	fi
	after=$("$SANDTRAIL" ps --json | wc -l)
	if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$want" "$T/err" && [ "$before" = "$after" ] &&
		[ ! -s "$T/out" ]; then
		ok "$name"
	else
		not_ok "$name"
		diag "stderr: $(cat "$T/err")" "sessions before $before after $after"
	fi
}
expect_refused "watch on a missing path fails" "No such file" --cgroup "$(cg2_root)/sandtrail-test-$$-missing"
expect_refused "watch on a non-cgroup path fails" "not a cgroup v2 directory" --cgroup /tmp
if [ "$(stat -f -c %T /sys/fs/cgroup/pids 2>/dev/null)" = cgroupfs ]; then # hybrid hosts
	expect_refused "watch on a cgroup v1 path fails" "not a cgroup v2 directory" --cgroup /sys/fs/cgroup/pids
else
	skip "watch on a cgroup v1 path fails" "no cgroup v1 hierarchy on this host (pure cgroup v2)"
fi
expect_refused "watch on an already watched cgroup fails" "already watched by session $id" --cgroup "$cg"
mkdir "$cg/inner"
expect_refused "watch inside a watched cgroup fails" "overlaps" --cgroup "$cg/inner"
expect_refused "watch with a bad label fails" "label" --cgroup "$cg" --label "bad key=1"

check "a non-root client cannot reach the socket" bash -c \
	'setpriv --reuid 65534 --regid 65534 --clear-groups "$1" ps 2>&1 | grep -q "cannot reach sandtraild"' _ "$SANDTRAIL"
# even when the file permissions would let it in, the daemon checks the peer
chmod 755 "$T" && chmod 666 "$SANDTRAIL_SOCKET"
check "a non-root peer is refused by its credentials" bash -c \
	'setpriv --reuid 65534 --regid 65534 --clear-groups "$1" ps 2>&1 | grep -q "permission denied: only root"' _ "$SANDTRAIL"
chmod 700 "$T" && chmod 600 "$SANDTRAIL_SOCKET"

# a second collector on the same journal would interleave its blocks
timeout 20 "$SANDTRAILD" --journal "$JOURNAL" --socket "$T/second.sock" --key "$KEYDIR/signing.key" 2>"$T/second.err"
rc=$?
check "a second sandtraild on the same journal is refused, in one line" \
	bash -c '[ "$1" -eq 1 ] && [ "$(wc -l <"$2")" -eq 1 ] && grep -q "in use by another writer" "$2"' _ $rc "$T/second.err"

check "unwatch ends the session" "$SANDTRAIL" unwatch "$id"
check "unwatch of an ended session fails, saying so" bash -c 'out=$("$1" unwatch "$2" 2>&1); [ $? -ne 0 ] && grep -q "no live session $2" <<<"$out"' _ "$SANDTRAIL" "$id"
check "ps no longer lists it" lacks "^$id " "$SANDTRAIL" ps

# stop kills every process of a watched cgroup and ends the session
id2=$("$SANDTRAIL" watch --cgroup "$cg/inner")
run_in_cgroup "$cg/inner" sleep 300 &
sleeper=$!
wait_for 10 grep -qx "populated 1" "$cg/inner/cgroup.events"
check "stop succeeds" "$SANDTRAIL" stop "$id2"
wait $sleeper 2>/dev/null
check "stop killed the workload" test $? -eq 137

# a removed cgroup ends its session
mkdir "$cg/gone"
id3=$("$SANDTRAIL" watch --cgroup "$cg/gone")
rmdir "$cg/gone"
check "removing the cgroup ends its session" wait_for 10 lacks "^$id3 " "$SANDTRAIL" ps

check "sandtraild stops cleanly on SIGTERM" stop_daemon

replay_json "$id" >"$T/s1.json"
check "session_start carries mode, cgroup and labels" test "$(jq_count "$T/s1.json" \
	'.type=="session_start" and .mode=="watch" and .cgroup=="'"$cg"'" and .labels.team=="sec" and .labels.run=="42"')" -eq 1
check "session_end says unwatch" test "$(jq_count "$T/s1.json" '.type=="session_end" and .reason=="unwatch"')" -eq 1
replay_json "$id2" >"$T/s2.json"
check "session_end of a stopped session says stop" test "$(jq_count "$T/s2.json" '.type=="session_end" and .reason=="stop"')" -eq 1
replay_json "$id3" >"$T/s3.json"
check "session_end of a removed cgroup says cgroup_removed" \
	test "$(jq_count "$T/s3.json" '.type=="session_end" and .reason=="cgroup_removed"')" -eq 1
