#!/usr/bin/env bash
# Secrets never reach a record: a session's secrets (from the caller's
# environment, from --secret NAME=@FILE, and from a policy file) are put
# where a workload leaks them (session_start.argv, exec filename and argv,
# comm, the image of later records, opened, renamed, unlinked and failed
# paths) and the journal is read back through `sandtrail replay`, JSON and
# text: each field holds [secret:NAME], and no rendered byte holds a secret.
source "$(dirname "$0")/lib.sh"
plan 55

start_daemon || { not_ok "sandtraild starts"; exit 1; }

# short enough to be the whole comm (15 bytes), unlikely anywhere by chance
secret() { printf '%s%05d%05dz' "$1" $((RANDOM + $$ % 1000)) $RANDOM; }
ST_ENV_SECRET=$(secret e)
ST_FILE_SECRET=$(secret f)
ST_POLICY_SECRET=$(secret p)
export ST_ENV_SECRET
printf '%s\n' "$ST_FILE_SECRET" >"$T/file-secret"
printf '%s\n' "$ST_POLICY_SECRET" >"$T/policy-secret"
cat >"$T/policy.json" <<'EOF'
{ "secrets": [ { "name": "ST_POLICY_SECRET", "file": "policy-secret" } ] }
EOF
names=(ST_ENV_SECRET ST_FILE_SECRET ST_POLICY_SECRET)
values=("$ST_ENV_SECRET" "$ST_FILE_SECRET" "$ST_POLICY_SECRET")

# the workload gets the secrets in its argv (so in session_start.argv) and
# checks it got the real values in its environment
workload='
[ "$1" = "$ST_ENV_SECRET" ] && [ "$2" = "$ST_FILE_SECRET" ] && [ "$3" = "$ST_POLICY_SECRET" ] || exit 9
for s in "$@"; do
	cp /bin/true "/tmp/$s"
	"/tmp/$s" "arg=$s"
	mv "/tmp/$s" "/tmp/$s.moved"
	rm "/tmp/$s.moved"
	cat "/nonexistent/$s" 2>/dev/null
done
# argv cut at ST_ARGV_MAX (4096) bytes 8 bytes into the secret
/bin/true "$(printf "%4077s" "" | tr " " p)" "$ST_ENV_SECRET"
echo done'
"$SANDTRAIL" run --id-file "$T/id" --policy "$T/policy.json" --secret ST_ENV_SECRET \
	--secret ST_FILE_SECRET=@"$T/file-secret" -- sh -c "$workload" _ "${values[@]}" >"$T/out" 2>"$T/run.err"
rc=$?
check "the session ran with the secrets in its environment" test $rc -eq 0 -a "$(cat "$T/out")" = done ||
	diag "rc $rc: $(cat "$T/out" "$T/run.err")"
stop_daemon
id=$(cat "$T/id")

replay_json "$id" >"$T/json" 2>"$T/json.err"
check "replay --format json reads the session" test $? -eq 0 -a -s "$T/json" || diag "$(cat "$T/json.err")"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$id" --format text \
	>"$T/text" 2>"$T/text.err"
check "replay --format text reads the session" test $? -eq 0 -a -s "$T/text" || diag "$(cat "$T/text.err")"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --all --format json >"$T/all" 2>"$T/all.err"
check "replay --all reads the journal" test $? -eq 0 -a -s "$T/all" || diag "$(cat "$T/all.err")"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --format json >"$T/list" 2>"$T/list.err"
check "replay lists the sessions" test $? -eq 0 -a -s "$T/list" || diag "$(cat "$T/list.err")"

# has FIELD-FILTER: at least one record matches
has() {
	test "$(jq_count "$T/json" "$1")" -ge 1 || { diag "no record matches: $1"; return 1; }
}
# a piece of a secret where a value was cut is a secret too
check "the piece of a secret that ends a cut argv is marked" \
	has '.type=="exec" and .argv[0]=="/bin/true" and .argv_truncated and .argv[2]=="[secret:ST_ENV_SECRET]"'
check "no string of any JSON record holds the piece" \
	test "$(jq -c --arg s "${ST_ENV_SECRET:0:7}" '[.. | strings | select(contains($s))] | length' "$T/all" | sort -u)" = 0
for i in 0 1 2; do
	n=${names[i]} v=${values[i]}
	m="[secret:$n]"
	check "$n: session_start.argv holds the mark" has '.type=="session_start" and .argv['$((i + 4))']=="'"$m"'"'
	check "$n: the exec filename holds the mark" has '.type=="exec" and .filename=="/tmp/'"$m"'" and .ret==0'
	check "$n: the exec argv holds the mark" has '.type=="exec" and .argv[1]=="arg='"$m"'"'
	check "$n: the exe holds the mark" has '.type=="exec" and .exe=="/tmp/'"$m"'"'
	check "$n: the comm holds the mark" has '.comm=="'"$m"'"'
	check "$n: the image of later records holds the mark" has '.type!="exec" and .image=="/tmp/'"$m"'"'
	check "$n: the opened path holds the mark" has '.type=="open" and .path=="/tmp/'"$m"'" and (.flags|index("O_CREAT"))'
	check "$n: the renamed paths hold the mark" has '.type=="rename" and .from=="/tmp/'"$m"'" and .to=="/tmp/'"$m"'.moved"'
	check "$n: the unlinked path holds the mark" has '.type=="unlink" and .path=="/tmp/'"$m"'.moved"'
	check "$n: the failed open holds the mark" has '.type=="open" and .requested=="/nonexistent/'"$m"'" and .ret<0'
	check "$n: the text timeline shows the mark" grep -qF "$m" "$T/text"
	for f in json text all list; do
		check "$n: no byte of replay's $f output holds the secret" bash -c '[ -s "$2" ] && ! grep -qF -- "$1" "$2"' _ "$v" "$T/$f"
	done
	# in case a renderer escaped some byte of it: every string, decoded
	check "$n: no string of any JSON record holds the secret" \
		test "$(jq -c --arg s "$v" '[.. | strings | select(contains($s))] | length' "$T/all" | sort -u)" = 0
done
