#!/usr/bin/env bash
# sandtrail replay against journals written through the journal API by
# tests/integration/helpers/replay_fixture (JSON lines and their contract
# fields, filters, the session list, the text timeline, --follow, errors),
# then against a real watched session recorded by sandtraild.
source "$(dirname "$0")/lib.sh"
plan 61

FIXTURE=$HELPERS/replay_fixture
SID=00112233aabbccdd
SID2=99887766aabbccdd
LIVE=aaaaaaaaaaaaaaaa
OUT=$T/out
ERR=$T/err
FIXJ=$T/fixture  # the fixture's journal; sandtraild's is $JOURNAL

# The fixture's journal is sealed with its own key; replay verifies it.
# (its own key: a key evolves with the one journal it signs)
"$SANDTRAIL" keygen --out "$T/fixkeys" >/dev/null
KEY=(--key "$T/fixkeys/signing.key") PUB=(--pubkey "$T/fixkeys/signing.pub")

replay() { "$SANDTRAIL" replay --journal "$FIXJ" "${PUB[@]}" "$@"; }
lines() { wc -l <"$1" | tr -d ' '; }
# one_line_error EXPECTED_STATUS CMD...: fails with that status and one stderr line
one_line_error() {
	local want=$1 rc
	shift
	"$@" >"$OUT" 2>"$ERR"
	rc=$?
	[ "$rc" -eq "$want" ] && [ "$(lines "$ERR")" -eq 1 ] && [ ! -s "$OUT" ] ||
		{ diag "status $rc (want $want):" "$(cat "$ERR")"; return 1; }
}

check "fixture writes a journal through the journal API" \
	"$FIXTURE" "${KEY[@]}" "$FIXJ" session $SID $SID2

# ---- JSON ----
replay --session $SID --format json >"$OUT" 2>"$ERR"
check "json: exit 0" test $? -eq 0
check "json: every line parses, one per record" \
	bash -c '[ "$(jq -c . <"$1" | wc -l)" -eq 17 ] && [ "$(wc -l <"$1")" -eq 17 ]' _ "$OUT"
check "json: seq comes first" bash -c '[ -s "$1" ] && ! grep -v "^{\"seq\":" "$1"' _ "$OUT"
check "json: contract fields on every record" \
	test "$(jq_count "$OUT" '(.seq|type)!="number" or (.session!="'$SID'") or (.type|type)!="string" or
		(.ts|test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$")|not)')" -eq 0
check "json: process events carry pid, ppid, uid, comm" \
	test "$(jq_count "$OUT" '(.type|IN("exec","fork","exit","open","unlink","rename","connect")) and
		((.pid|type)!="number" or (.ppid|type)!="number" or (.uid|type)!="number" or (.comm|type)!="string")')" -eq 0
check "json: seqs are the journal's, in order" \
	test "$(jq -s -c '[.[].seq]' "$OUT")" = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]"
check "json: ts is RFC 3339 UTC with nanoseconds" \
	test "$(jq -r 'select(.type=="session_start") | .ts' "$OUT")" = "2023-11-14T22:13:20.010000000Z"
check "json: failed open has ret and errno name" \
	test "$(jq_count "$OUT" '.type=="open" and .path=="/missing" and .ret==-2 and .error=="ENOENT"')" -eq 1
check "json: denied connect has verdict, EPERM" \
	test "$(jq_count "$OUT" '.type=="connect" and .addr=="10.1.2.3" and .port==443 and .verdict=="deny" and .error=="EPERM"')" -eq 1
check "json: open flags are names" \
	test "$(jq -c 'select(.type=="open" and .ret==4) | .flags' "$OUT")" = '["O_WRONLY","O_CREAT","O_TRUNC"]'
check "json: hostile path is escaped" \
	test "$(jq -r 'select(.type=="open" and .ret==5) | .path' "$OUT")" = '/work/evil\nname"q\x1b[31m\xff'
check "json: hostile argv is escaped" \
	test "$(jq -r 'select(.type=="exec" and .pid==102) | .argv[2]' "$OUT")" = 'a\nb\xc3('
check "json: no raw control byte in the output" bash -c '! LC_ALL=C grep -q "[[:cntrl:]]" "$1"' _ "$OUT"
check "json: sealed is true on every record" none "$OUT" ".sealed!=true"
check "json: nothing tampered" none "$OUT" 'has("tampered")'

# ---- filters ----
replay --session $SID --format json --type exec >"$OUT" 2>/dev/null
check "--type exec: only the two execs" \
	bash -c '[ "$(wc -l <"$1")" -eq 2 ] && [ "$(jq -c "select(.type!=\"exec\")" "$1")" = "" ]' _ "$OUT"
replay --session $SID --format json --type exec,connect >"$OUT" 2>/dev/null
check "--type exec,connect: four records" test "$(lines "$OUT")" -eq 4
replay --session $SID --format json --pid 102 >"$OUT" 2>/dev/null
check "--pid 102: its exec, connects and exit" \
	test "$(jq -s -c '[.[] | select(.pid==102) | .type]' "$OUT")" = '["exec","connect","connect","exit"]'
replay --session $SID --format json --path '/work/*' >"$OUT" 2>/dev/null
check "--path /work/*: opens, rename, unlink under /work" \
	test "$(jq -s -c '[.[].type]' "$OUT")" = '["open","open","open","rename","unlink"]'
replay --session $SID --format json --since 100ms --until 120ms >"$OUT" 2>/dev/null
check "--since/--until durations from the session start" \
	test "$(jq -s -c '[.[].seq]' "$OUT")" = "[11,12,13]"
replay --session $SID --format json --since 2023-11-14T23:13:20.15+01:00 >"$OUT" 2>/dev/null
check "--since RFC 3339 with an offset" test "$(jq -s -c '[.[].seq]' "$OUT")" = "[15,16,17]"

# ---- session list ----
replay >"$OUT" 2>"$ERR"
check "list: both sessions, in order" \
	bash -c 'grep -q "^'$SID'  hardened" "$1" && grep -q "^'$SID2'  hardened" "$1" && [ "$(wc -l <"$1")" -ge 3 ]' _ "$OUT"
replay --format json >"$OUT" 2>/dev/null
check "list json: counts, losses, exit status, duration" \
	test "$(jq -c 'select(.session=="'$SID'") | [.events, .counts.exec, .counts.open, .losses, .lost.open, .exit_status, .duration_ns, .labels.team]' "$OUT")" \
	= '[17,2,4,3,3,0,160000000,"red"]'
check "list json: second session" \
	test "$(jq -c 'select(.session=="'$SID2'") | [.events, .first_seq, .last_seq, .ended]' "$OUT")" = '[3,18,20,true]'

# ---- text timeline ----
replay --session $SID >"$OUT" 2>"$ERR"
indent_of() { grep -F "$2" "$1" | head -1 | sed -E 's/^.{2} *\+[0-9.]+s  //' | awk '{ match($0, /^ */); print RLENGTH }'; }
export -f indent_of
check "text: children indented below their parents" \
	bash -c '[ "$1" -eq 0 ] && [ "$2" -eq 2 ] && [ "$3" -eq 4 ]' _ \
	"$(indent_of "$OUT" "100 sh  fork")" "$(indent_of "$OUT" "101 sh  exec")" "$(indent_of "$OUT" "102 sh  exec")"
check "text: exec with argv, quoted where needed" grep -qF 'exec /bin/sh sh -c "echo hi"' "$OUT"
check "text: relative times" grep -qE '^. +\+0\.080s +102 sh  exec /usr/bin/curl' "$OUT"
check "text: denied connect" grep -qF 'connect 10.1.2.3:443 DENY (failed: EPERM)' "$OUT"
check "text: hostile path escaped" grep -qF '"/work/evil\nname\"q\x1b[31m\xff"' "$OUT"
check "text: summary lists written, deleted, destinations, losses" \
	bash -c 'grep -q "files written: 3" "$1" && grep -q "files deleted: 1" "$1" &&
		grep -q "destinations denied: 1" "$1" && grep -q "events lost: 3" "$1"' _ "$OUT"
check "text: no raw control byte, no colour off a terminal" bash -c '! LC_ALL=C grep -q "[[:cntrl:]]" "$1"' _ "$OUT"
"$SANDTRAIL" replay --journal "$FIXJ" --session $SID >"$T/nopub" 2>/dev/null
check "text: unverified records are marked and named" \
	bash -c 'grep -q "^!     +0.010s" "$1" && grep -q "^! records .* are not covered by a valid seal" "$1"' _ "$T/nopub"
script -qec "$SANDTRAIL replay --journal $FIXJ ${PUB[*]} --session $SID" /dev/null >"$OUT" 2>&1
check "text: colour on a terminal" grep -q $'\033\\[' "$OUT"
NO_COLOR=1 script -qec "$SANDTRAIL replay --journal $FIXJ ${PUB[*]} --session $SID" /dev/null >"$OUT" 2>&1
check "text: no colour with NO_COLOR" bash -c '[ -s "$1" ] && ! grep -q $'"'"'\033\\['"'"' "$1"' _ "$OUT"

# ---- --follow ----
"$FIXTURE" "${KEY[@]}" "$FIXJ" start $LIVE
replay --session $LIVE --format json --follow >"$T/follow" 2>/dev/null &
FOLLOW=$!
defer "kill $FOLLOW"
# it has read what is there (the session_start) before the next record comes
check "--follow prints the records already there" wait_for 10 grep -q '"session_start"' "$T/follow"
"$FIXTURE" "${KEY[@]}" "$FIXJ" append $LIVE exec
appended() { [ "$(jq -c 'select(.type=="exec" and .filename=="/bin/appended")' "$T/follow" 2>/dev/null)" != "" ]; }
check "--follow prints a record appended after it started" wait_for 10 appended
"$FIXTURE" "${KEY[@]}" "$FIXJ" append $LIVE session_end
check "--follow --session ends with the session" wait_for 10 bash -c "! kill -0 $FOLLOW 2>/dev/null"
wait $FOLLOW
check "--follow exits 0 and printed three records" \
	bash -c '[ $1 -eq 0 ] && [ "$(jq -c . "$2" | wc -l)" -eq 3 ]' _ $? "$T/follow"

# ---- errors: one line, exit 2 (usage, I/O) or 1 (no such session) ----
check "missing journal: one-line error, exit 2" one_line_error 2 "$SANDTRAIL" replay --journal "$T/nope"
check "unreadable --pubkey: one-line error, exit 2" \
	one_line_error 2 "$SANDTRAIL" replay --journal "$FIXJ" --pubkey "$T/nope.pub"
check "--pubkey a directory: one-line error, exit 2" \
	one_line_error 2 "$SANDTRAIL" replay --journal "$FIXJ" --pubkey "$T"
check "--format xml: one-line error, exit 2" one_line_error 2 replay --format xml
check "--type bogus: one-line error, exit 2" one_line_error 2 replay --session $SID --type bogus
check "--session not an id: one-line error, exit 2" one_line_error 2 replay --session XYZ
check "--since 10s without --session: exit 2" one_line_error 2 replay --since 10s
check "--pid without --session or --all: exit 2" one_line_error 2 replay --pid 5
check "unknown session: one-line error, exit 1" one_line_error 1 replay --session 0123456789abcdef
# run as on a host without the default key: where /etc/sandtrail exists, a
# private tmpfs hides it from this replay
no_default_key() {
	if [ -e /etc/sandtrail ]; then
		unshare --mount --propagation private sh -c 'mount -t tmpfs none /etc/sandtrail && exec "$@"' _ "$@"
	else
		"$@"
	fi
}
no_default_key "$SANDTRAIL" replay --journal "$FIXJ" --session $SID --format json >"$OUT" 2>"$ERR"
check "no default public key: replay works, everything unverified" \
	bash -c '[ $1 -eq 0 ] && [ -s "$2" ] && [ "$(jq -c "select(.sealed)" "$2")" = "" ] && grep -q "seals not checked" "$3" && [ "$(wc -l <"$3")" -eq 2 ]' \
	_ $? "$OUT" "$ERR"

# ---- streaming: many records, all of them, in order ----
BULK=$T/bulk
"$FIXTURE" "${KEY[@]}" "$BULK" bulk bbbbbbbbbbbbbbbb 100000
"$SANDTRAIL" replay --journal "$BULK" "${PUB[@]}" --all --format json 2>/dev/null >"$OUT"
check "--all json streams 100000 records, every seq in order" \
	test "$(jq -r '[.seq, .session // "-"] | @tsv' "$OUT" |
		awk 'NR-1!=$1 { bad=1 } $2=="bbbbbbbbbbbbbbbb" { n++ } END { print n, bad+0 }')" = "100000 0"

# ---- a real watched session: sandtraild records, replay rebuilds ----
if ! start_daemon; then
	not_ok "sandtraild starts"
	exit 1
fi
cg=$(mk_cgroup replay)
W=$T/work
mkdir -p "$W"
id=$("$SANDTRAIL" watch --cgroup "$cg" --label suite=replay)
run_in_cgroup "$cg" /bin/sh -c 'echo hi >"$1/w.txt"; mv "$1/w.txt" "$1/v.txt"; rm "$1/v.txt"
	cat /nonexistent 2>/dev/null; /bin/true a "b c"; exit 3' _ "$W"
check "the workload ran in the session" test $? -eq 3
"$SANDTRAIL" unwatch "$id"
check "sandtraild stops cleanly" stop_daemon
LIVEPUB=(--pubkey "$KEYDIR/signing.pub")
"$SANDTRAIL" replay --journal "$JOURNAL" "${LIVEPUB[@]}" --session "$id" --format json >"$OUT" 2>/dev/null
check "real session: every line parses with the contract fields" \
	bash -c '[ "$(jq -c . "$1" | wc -l)" -eq "$(wc -l <"$1")" ] && [ "$(jq -c "select((.seq|type)!=\"number\" or .session!=\"$2\" or (.ts|type)!=\"string\")" "$1")" = "" ]' \
	_ "$OUT" "$id"
shell=$(jq -r 'select(.type=="open" and (.path|endswith("/w.txt"))) | .pid' "$OUT")
true_pid=$(jq -r 'select(.type=="exec" and .filename=="/bin/true" and .ret==0) | .pid' "$OUT")
check "real session: /bin/true ran with its argv, child of the shell" \
	test "$(jq -c 'select(.type=="exec" and .filename=="/bin/true" and .ret==0) | [.argv, .ppid]' "$OUT")" = "[[\"/bin/true\",\"a\",\"b c\"],${shell:-0}]"
check "real session: the shell's fork record names that child" \
	test "$(jq_count "$OUT" '.type=="fork" and .pid=='"${shell:-0}"' and .child_pid=='"${true_pid:-0}")" -eq 1
check "real session: rename, unlink and the failed open are there" \
	bash -c '[ "$(jq -c "select(.type==\"rename\" and (.to|endswith(\"/v.txt\")) and .ret==0)" "$1")" != "" ] &&
		[ "$(jq -c "select(.type==\"unlink\" and (.path|endswith(\"/v.txt\")) and .ret==0)" "$1")" != "" ] &&
		[ "$(jq -c "select(.type==\"open\" and .path==\"/nonexistent\" and .error==\"ENOENT\")" "$1")" != "" ]' _ "$OUT"
check "real session: the shell's exit code" \
	test "$(jq_count "$OUT" '.type=="exit" and .pid=='"${shell:-0}"' and .code==3')" -eq 1
check "real session: a cleanly stopped journal is sealed" none "$OUT" '.sealed!=true'
"$SANDTRAIL" replay --journal "$JOURNAL" "${LIVEPUB[@]}" --session "$id" >"$OUT" 2>/dev/null
check "real session text: the shell's children are indented below it" \
	bash -c '[ "$(indent_of "$1" "exec /bin/true /bin/true a \"b c\"")" -eq $(( $(indent_of "$1" "'"$shell"' sh  create") + 2 )) ]' _ "$OUT"
check "real session text: summary has the written and deleted files" \
	bash -c 'grep -q "^    $2/w.txt\$" "$1" && grep -A1 "files deleted: 1" "$1" | grep -q "$2/v.txt"' _ "$OUT" "$W"
"$SANDTRAIL" replay --journal "$JOURNAL" "${LIVEPUB[@]}" --format json >"$OUT" 2>/dev/null
check "real session list: mode, label, ended by unwatch" \
	test "$(jq -c 'select(.session=="'"$id"'") | [.mode, .labels.suite, .reason, .ended]' "$OUT")" = '["watch","replay","unwatch",true]'
