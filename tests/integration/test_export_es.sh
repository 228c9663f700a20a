#!/usr/bin/env bash
# The Elasticsearch sink against a server that keeps the _bulk contract
# (helpers/es_server.py): every sealed record becomes one ECS document with
# _id "<journal>-<seq>", checked field by field against the journal; gzip
# bodies; injected 500s (whole requests) and per-item 429/503 are retried
# until delivered; a permanent refusal becomes an export_error record; a
# record shipped again (cursor lost) is a 409 that counts as delivered.
source "$(dirname "$0")/lib.sh"
plan 25

PUB=$KEYDIR/signing.pub
KEY=k$$secret

bad_url "no port" "elasticsearch://127.0.0.1/x" "one host, with its port"
bad_url "index in capitals" "elasticsearch://127.0.0.1:9200/Audit" "not an index"
bad_url "api_key and a password" "elasticsearch://u:p@127.0.0.1:9200/a?api_key=x" "choose one"

python3 "$TOP/tests/integration/helpers/es_server.py" --port-file "$T/es.port" --store "$T/store.ndjson" \
	--api-key "$KEY" 2>"$T/es.err" &
ES_PID=$!
defer "kill $ES_PID"
wait_for 10 test -s "$T/es.port" || { not_ok "the test server starts"; diag "$(cat "$T/es.err")"; exit 1; }
ES=http://127.0.0.1:$(cat "$T/es.port")
inject() { curl -sf -XPOST "$ES/_test/inject" -d "$1" >/dev/null; }
stat_of() { curl -sf "$ES/_test/stats" | jq -r ".$1"; }
exporter_json() { "$SANDTRAIL" ps --json | jq -r "select(.exporter == \"es\") | .$1"; }
jqe() { jq -e "$@" >/dev/null; }
caught_up() { [ "$(exporter_json lag_records)" -le 2 ]; }

# faults the sink must ride out, from the first request on
inject '{"request_status": 500, "count": 2}'
inject '{"item_status": 429, "every": 3, "count": 3}'
inject '{"item_status": 503, "every": 7, "count": 2}'
inject '{"reject_seq": 5}'
URL="elasticsearch://127.0.0.1:${ES##*:}/sandtrail-test-$$?api_key=$KEY&name=es&batch=300&backoff=20ms&backoff_max=200ms"
start_daemon --export "$URL" || { not_ok "sandtraild starts with an elasticsearch sink"; exit 1; }

cg=$(mk_cgroup es)
id=$("$SANDTRAIL" watch --cgroup "$cg")
mkdir -p "$T/w"
run_in_cgroup "$cg" sh -c 'echo go | "$1" burst-mix 40 5 "$2" >/dev/null; echo go | "$1" burst 1500 /dev/null >/dev/null' \
	_ "$HELPERS/st_workload" "$T/w"
"$SANDTRAIL" unwatch "$id" >/dev/null
check "the backlog is delivered through the injected faults" wait_for 30 caught_up
check "ps shows the sink connected" test "$(exporter_json connected)" = true
check "ps never shows the API key" lacks "$KEY" "$SANDTRAIL" ps --json
check "sandtraild stops cleanly" stop_daemon

"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$PUB" --all --format json >"$T/journal.json"
jid=$(jq -r .doc.sandtrail.journal "$T/store.ndjson" | sort -u)
jq -r .seq "$T/journal.json" | grep -vx 5 >"$T/want.seqs"
jq -r .doc.sandtrail.seq "$T/store.ndjson" | sort -n >"$T/got.seqs"
check "every record but the refused one is stored once ($(wc -l <"$T/got.seqs") documents)" \
	cmp -s "$T/want.seqs" "$T/got.seqs"
check "the _id of each document is <journal>-<seq>" \
	jqe -s --arg j "$jid" 'all(._id == "\($j)-\(.doc.sandtrail.seq)") and all(._index | startswith("sandtrail-test-"))' \
	"$T/store.ndjson"
check "the journal id is the journal's (32 hex digits)" bash -c '[[ $1 =~ ^[0-9a-f]{32}$ ]]' _ "$jid"
check "whole requests refused with 500 were sent again ($(stat_of injected_requests))" \
	test "$(stat_of injected_requests)" -eq 2
check "items refused with 429 and 503 were sent again ($(stat_of injected_items))" \
	test "$(stat_of injected_items)" -gt 0
check "every request body was gzipped ($(stat_of gzip_requests) requests)" \
	test "$(stat_of plain_requests)" -eq 0 -a "$(stat_of gzip_requests)" -gt 5
check "the refused record is an export_error record naming the sink, the seq and the reason" \
	test "$(jq -c 'select(.type == "export_error") | [.sink, .first, .last, .count, (.reason | test("^400 mapper_parsing_exception: failed to parse field \\[sandtrail.seq\\]\\?line two$"))]' \
		"$T/journal.json")" = '["es",5,5,1,true]'

# ECS field by field: each document against the journal's record of its seq
jq -s -c 'map({key: (.doc.sandtrail.seq | tostring), value: .doc}) | from_entries' "$T/store.ndjson" >"$T/docs.json"
jq -c --arg jid "$jid" --slurpfile docs "$T/docs.json" -f "$TOP/tests/integration/ecs_check.jq" "$T/journal.json" >"$T/ecs.bad"
check "every ECS document matches its record field by field" test ! -s "$T/ecs.bad" || head -3 "$T/ecs.bad" | sed "s/^/# /"
check "among them exec, fork, exit, open, unlink, rename, connect and session records" \
	test "$(jq -r '.doc.event.action' "$T/store.ndjson" | sort -u | grep -cxE 'exec|fork|exit|open|unlink|rename|connect|session_start|session_end')" -eq 9
check "exec documents carry the command line" \
	jqe -s 'map(select(.doc.event.action == "exec" and .doc.process.args == ["st-mix-true"] and .doc.process.executable == "/usr/bin/true")) | length > 0' "$T/store.ndjson"
check "failed file operations are failures with their errno" \
	jqe -s 'map(select(.doc.event.action == "unlink")) | length > 0 and all(.doc.event.outcome == "failure" and .doc.error.code == "ENOENT" and .doc.event.category == ["file"] and .doc.event.type == ["deletion"])' "$T/store.ndjson"
check "OCSF classes: file system 1001, process 1007, network 4001" \
	test "$(jq -r -s '[map(select(.doc.event.action == ("open", "exec", "connect"))) | group_by(.doc.event.action)[] | "\(.[0].doc.event.action)=\(map(.doc.sandtrail.ocsf.class_uid) | unique | join(","))"] | join(" ")' "$T/store.ndjson")" \
		= "connect=4001 exec=1007 open=1001"

# the cursor lost: everything comes again, and 409 counts as delivered
created=$(stat_of created)
rm -f "$T"/state/es.cursor
start_daemon --export "$URL" || { not_ok "sandtraild restarts"; exit 1; }
check "a journal shipped again is delivered (409 on each _id already there)" wait_for 30 caught_up
check "sandtraild stops cleanly again" stop_daemon
check "the second pass got a 409 for every document stored before ($(stat_of conflicts))" \
	test "$(stat_of conflicts)" -eq "$created"
check "the second pass stored only the records of the restart" \
	test "$(($(stat_of created) - created))" -le 4
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$PUB" --all --format json >"$T/journal.json"
check "no export_error record but the refused seq's (409 is not an error)" \
	test "$(jq -c 'select(.type == "export_error") | .first' "$T/journal.json" | sort -u)" = 5
"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$PUB" >/dev/null
check "the journal still verifies" test $? -eq 0
