#!/usr/bin/env bash
# The syslog sink into a real rsyslog (its own config, pid file, work
# directory and ports, on loopback), which writes every message it got to a
# file: parsed here as RFC 5424 (syslog_parse.py), every record arrives once,
# its fields in structured data escaped per the RFC (a path holding " ] \ =
# | comes back byte for byte), the record itself as MSG; the same as CEF.
# After each seal comes its anchor (MSGID anchor): the file rsyslog wrote is
# what verify --anchor FILE takes, and a journal cut on the host fails it.
source "$(dirname "$0")/lib.sh"
plan 26

PUB=$KEYDIR/signing.pub
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)

bad_url "unknown format" "syslog+tcp://127.0.0.1:514?format=leef" "format=leef"
bad_url "a path" "syslog+tcp://127.0.0.1:514/x" "no path"
bad_url "no port" "syslog+tcp://127.0.0.1" "one host, with its port"

# rsyslog of this test only: two TCP inputs on ports it picks, each to a file
mkdir -p "$T/rsyslog"
cat >"$T/rsyslog.conf" <<EOF
global(workDirectory="$T/rsyslog" maxMessageSize="256k")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="$T/port.5424" ruleset="r5424")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="$T/port.cef" ruleset="rcef")
ruleset(name="r5424") { action(type="omfile" file="$T/got.5424" template="raw") }
ruleset(name="rcef") { action(type="omfile" file="$T/got.cef" template="raw") }
EOF
"$RSYSLOGD" -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" 2>"$T/rsyslog.err" &
RS_PID=$!
defer "kill $RS_PID"
wait_for 10 test -s "$T/port.5424" -a -s "$T/port.cef" ||
	{ not_ok "rsyslog starts"; diag "$(cat "$T/rsyslog.err")"; exit 1; }
jqe() { jq -e "$@" >/dev/null; }
exporter_json() { "$SANDTRAIL" ps --json | jq -r "select(.exporter == \"$1\") | .$2"; }
caught_up() { [ "$(exporter_json s5424 lag_records)" -le 2 ] && [ "$(exporter_json scef lag_records)" -le 2 ]; }

start_daemon --segment-bytes 8K --export "syslog+tcp://127.0.0.1:$(cat "$T/port.5424")?name=s5424" \
	--export "syslog+tcp://localhost:$(cat "$T/port.cef")?format=cef&name=scef&facility=4" ||
	{ not_ok "sandtraild starts with two syslog sinks"; exit 1; }
cg=$(mk_cgroup syslog)
id=$("$SANDTRAIL" watch --cgroup "$cg")
mkdir -p "$T/w"
EVIL='ev"il]na\me=x|y z'
run_in_cgroup "$cg" sh -c 'cat "$3/$4" 2>/dev/null; echo go | "$1" burst-mix 20 3 "$2" >/dev/null; echo go | "$1" burst 500 /dev/null >/dev/null' \
	_ "$HELPERS/st_workload" "$T/w" "$T/w" "$EVIL"
"$SANDTRAIL" unwatch "$id" >/dev/null
check "both sinks deliver the backlog" wait_for 30 caught_up
check "ps shows both connected" test "$(exporter_json s5424 connected) $(exporter_json scef connected)" = "true true"
check "sandtraild stops cleanly" stop_daemon

"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$PUB" --all --format json | jq -c 'del(.journal)' >"$T/journal.json"
jq -r 'select(.type == "seal") | .seq' "$T/journal.json" >"$T/seals"
n=$(($(wc -l <"$T/journal.json") + $(wc -l <"$T/seals")))
check "rsyslog wrote every message ($n: the records, and an anchor after each seal)" \
	wait_for 20 bash -c '[ "$(wc -l <"$1")" -ge "$3" ] && [ "$(wc -l <"$2")" -ge "$3" ]' _ "$T/got.5424" "$T/got.cef" "$n"
kill "$RS_PID"
wait "$RS_PID" 2>/dev/null
check "rsyslog stopped" bash -c '! kill -0 "$1" 2>/dev/null' _ "$RS_PID"

python3 "$TOP/tests/integration/syslog_parse.py" "$T/got.5424" >"$T/p5424.json" 2>"$T/parse.err"
check "every RFC 5424 message parses (header, structured data, escapes)" test $? -eq 0 || diag "$(cat "$T/parse.err")"
# anchors: the seals' seqs, each as MSG "sandtrail-anchor journal=... seq=N seal=HEX", no structured data
jq -c 'select(.msgid == "anchor")' "$T/p5424.json" >"$T/anchors.json"
jq -c 'select(.msgid != "anchor")' "$T/p5424.json" >"$T/records.json" && mv "$T/records.json" "$T/p5424.json"
check "after each seal comes its anchor: MSGID anchor, the anchor line as MSG" \
	cmp -s "$T/seals" <(jq -r 'select(.sd == {}) | .msg | capture("^sandtrail-anchor journal=[0-9a-f]{32} seq=(?<s>[0-9]+) seal=[0-9a-f]+$").s' "$T/anchors.json")
"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$PUB" --anchor "$T/got.5424" >"$T/verify.out" 2>&1
check "verify --anchor with the file rsyslog wrote: the journal reaches the last anchored seal (exit $?)" \
	grep -q "anchor: the journal reaches the last anchored seal (seq $(tail -n 1 "$T/seals"))" "$T/verify.out" ||
	diag "$(cat "$T/verify.out")"
cp -a "$JOURNAL" "$T/cut" && ls "$T/cut"/*.stj | tail -n 1 | xargs rm -f
"$SANDTRAIL" verify --journal "$T/cut" --pubkey "$PUB" --anchor "$T/got.cef" >"$T/verify.out" 2>&1
check "the same from the CEF stream fails the journal without its last segment (exit $?)" \
	grep -q "anchor: FAILED: the journal ends, before the last anchored seal (seq $(tail -n 1 "$T/seals"))" "$T/verify.out" ||
	diag "$(cat "$T/verify.out")"
SD='.sd["sandtrail@32473"]'
jq -c "$SD" "$T/p5424.json" >"$T/sd.json"
check "each record arrived once, in order (seq in structured data)" \
	cmp -s <(jq -r .seq "$T/journal.json") <(jq -r .seq "$T/sd.json")
check "MSG is the record as replay renders it" \
	cmp -s "$T/journal.json" <(jq -c '.msg | fromjson | del(.journal)' "$T/p5424.json")
jq -c -s --slurpfile sd "$T/sd.json" '
	[range(length) as $i | .[$i] as $r | $sd[$i] as $p
	 | $r | to_entries[] | select(.value != null and .key != "journal")
	 | select($p[.key] != (.value | if type == "string" then . else tojson end))
	 | {seq: $r.seq, key, want: .value, got: $p[.key]}] | .[]' "$T/journal.json" >"$T/sd.bad"
check "every field of every record is a structured-data parameter of the same value" test ! -s "$T/sd.bad" ||
	head -3 "$T/sd.bad" | sed "s/^/# /"
check "structured data names the journal (its id, 32 hex digits)" \
	jqe -s 'map(.journal | test("^[0-9a-f]{32}$")) | all' "$T/sd.json"
# the hostile path as the record holds it (render_json's escapes), and as structured data gives it back
evil_of() { jq -r 'select(.type == "open" and (.path | contains("ev\"il]"))) | .path' "$1"; }
evil=$(evil_of "$T/journal.json")
check "a path holding \" ] \\ = | comes back byte for byte from structured data" \
	bash -c '[[ $1 == *\"*\]*\\*=*\|* ]] && [ "$1" = "$2" ]' _ "$evil" "$(evil_of "$T/sd.json")"
check "the raw message escapes \", \\ and ] in that PARAM-VALUE" \
	grep -qF "path=\"$(printf '%s' "$evil" | sed 's/[]"\\]/\\&/g')\"" "$T/got.5424"
check "header: facility 13 (log audit), APP-NAME, HOSTNAME, MSGID = type" \
	jqe -s --arg h "$(hostname)" 'all(.pri == 110 or .pri == 108) and all(.app == "sandtrail" and .host == $h and .msgid == .sd["sandtrail@32473"].type)' "$T/p5424.json"
check "TIMESTAMP is the record's, to the microsecond" \
	cmp -s <(jq -r '.ts | .[0:26] + "Z"' "$T/journal.json") <(jq -r .ts "$T/p5424.json")

python3 "$TOP/tests/integration/syslog_parse.py" "$T/got.cef" >"$T/pcef.json" 2>"$T/parse.err"
check "every CEF message parses" test $? -eq 0 || diag "$(cat "$T/parse.err")"
check "the CEF stream has the same anchors" \
	cmp -s <(jq -c '.msg' "$T/anchors.json") <(jq -c 'select(.msgid == "anchor") | .msg' "$T/pcef.json")
jq -c 'select(.msgid != "anchor")' "$T/pcef.json" >"$T/records.json" && mv "$T/records.json" "$T/pcef.json"
check "CEF: each record once, in order, the record itself in cs3" \
	cmp -s "$T/journal.json" <(jq -c '.cef.ext.cs3 | fromjson | del(.journal)' "$T/pcef.json")
check "CEF header: vendor, product, signature = type, facility 4" \
	jqe -s 'all(.cef.vendor == "sandtrail" and .cef.product == "sandtrail" and .cef.signature == (.cef.ext.cs3 | fromjson | .type) and (.pri / 8 | floor) == 4)' "$T/pcef.json"
check "CEF: the hostile path comes back from filePath, = and \\ unescaped" \
	test "$(jq -r 'select(.cef.ext.filePath // "" | contains("ev\"il]")) | .cef.ext.filePath' "$T/pcef.json")" = "$evil"
check "CEF: connects name their destination, exec their process" \
	jqe -s 'any(.cef.signature == "connect" and .cef.ext.dst == "127.0.0.1" and .cef.ext.dpt == "9") and any(.cef.signature == "exec" and .cef.ext.sproc == "true")' "$T/pcef.json"
