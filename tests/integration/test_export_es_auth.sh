#!/usr/bin/env bash
# The Elasticsearch sink's credentials and TLS, against the test server
# (helpers/es_server.py) requiring them: basic auth (USER:PASSWORD@) over
# http, an API key over https with a CA file of the test's own (openssl);
# wrong credentials and an unknown CA are the sink down, with the server's
# answer in sandtrail ps, a retry counter and a log line, never silent and
# never a record passed; no secret is shown.
source "$(dirname "$0")/lib.sh"
plan 14

PUB=$KEYDIR/signing.pub
KEY=k$$key
PW=p$$word
command -v openssl >/dev/null || { diag "openssl is missing"; exit 1; }

# a CA of this test, and the server's certificate for 127.0.0.1 signed by it
mkdir -p "$T/pki"
(
	cd "$T/pki" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
			-days 1 -subj /CN=sandtrail-test-ca &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr \
			-subj /CN=127.0.0.1 &&
		printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >srv.ext &&
		openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile srv.ext -out srv.pem
) >"$T/pki.log" 2>&1 || { not_ok "openssl makes a test CA"; diag "$(tail -5 "$T/pki.log")"; exit 1; }

# es_start NAME ARGS...: a test server; its port in $T/NAME.port
es_start() {
	local name=$1
	shift
	python3 "$TOP/tests/integration/helpers/es_server.py" --port-file "$T/$name.port" --store "$T/$name.ndjson" "$@" \
		2>"$T/$name.err" &
	defer "kill $!"
	wait_for 10 test -s "$T/$name.port" || { diag "$(cat "$T/$name.err")"; return 1; }
}
es_start plain --basic "elastic:$PW" || { not_ok "the http server starts"; exit 1; }
es_start tls --api-key "$KEY" --tls "$T/pki/srv.pem" "$T/pki/srv.key" || { not_ok "the https server starts"; exit 1; }
PLAIN=127.0.0.1:$(cat "$T/plain.port")
TLS=127.0.0.1:$(cat "$T/tls.port")
stat_of() { curl -sf --cacert "$T/pki/ca.pem" -H "Authorization: ApiKey $KEY" "$1/_test/stats" | jq -r ".$2"; }
exporter_json() { "$SANDTRAIL" ps --json | jq -r "select(.exporter == \"$1\") | .$2"; }
caught_up() { [ "$(exporter_json "$1" lag_records)" -le 2 ]; }
# sink_down NAME REGEX: ps shows the sink disconnected, its last error matching REGEX
sink_down() {
	"$SANDTRAIL" ps --json | jq -s -e --arg n "$1" --arg re "$2" \
		'map(select(.exporter == $n))[0] | .connected == false and (.last_error // "" | test($re))' >/dev/null
}

check "the https server speaks TLS only, with the test CA's certificate" \
	bash -c 'curl -sf --cacert "$1" "https://$2/_test/stats" >/dev/null && ! curl -sf "http://$2/_test/stats" >/dev/null' \
	_ "$T/pki/ca.pem" "$TLS"

O="backoff=20ms&backoff_max=300ms"
start_daemon \
	--export "elasticsearch://elastic:$PW@$PLAIN/basic?name=basic&$O" \
	--export "elasticsearch://$TLS/tls?tls=true&cacert=$T/pki/ca.pem&api_key=$KEY&name=tls&$O" \
	--export "elasticsearch://elastic:wrong$PW@$PLAIN/badpw?name=badpw&$O" \
	--export "elasticsearch://$TLS/badkey?tls=true&cacert=$T/pki/ca.pem&api_key=wrong$KEY&name=badkey&$O" \
	--export "elasticsearch://$TLS/noca?tls=true&api_key=$KEY&name=noca&$O" ||
	{ not_ok "sandtraild starts with five elasticsearch sinks"; exit 1; }
burst 1500
check "basic auth over http: the sink catches up" wait_for 30 caught_up basic
check "an API key over https, checked with the CA file: the sink catches up" wait_for 30 caught_up tls
check "a wrong password is the sink down, with the server's 401 in ps" \
	wait_for 10 sink_down badpw "HTTP 401: .*security_exception"
check "a wrong API key likewise" \
	wait_for 10 sink_down badkey "HTTP 401: .*security_exception"
check "an https server whose CA is not given is the sink down, naming the certificate" \
	wait_for 10 sink_down noca "certificate"
check "the refused sinks count their attempts, and are retried ($(exporter_json badpw retries), $(exporter_json badkey retries), $(exporter_json noca retries))" \
	wait_for 10 bash -c 'for s in badpw badkey noca; do [ "$("$1" ps --json | jq -r "select(.exporter == \"$s\") | .retries")" -ge 2 ] || exit 1; done' _ "$SANDTRAIL"
check "sandtraild logs the refusal, naming the sink" grep -q "badpw.*HTTP 401" "$T/daemon.err" || diag "$(grep badpw "$T/daemon.err" | head -3)"
lag=$(exporter_json badpw lag_records)
check "nothing passes a refused sink: its lag is the journal's ($lag records)" test "$lag" -ge 1500
check "neither ps nor the log shows a password or a key" \
	bash -c '! { "$1" ps --json; "$1" ps; cat "$2"; } | grep -qE "$3|$4"' _ "$SANDTRAIL" "$T/daemon.err" "$PW" "$KEY"
check "sandtraild stops cleanly" stop_daemon

"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$PUB" --all --format json | jq -r .seq >"$T/want.seqs"
check "basic auth: every record stored once, each request authenticated as Basic" \
	bash -c 'cmp -s "$1" <(jq -r "select(._index == \"basic\") | .doc.sandtrail.seq" "$2" | sort -n) && [ "$(curl -sf "http://$3/_test/stats" | jq .auth_basic)" -gt 1 ]' \
	_ "$T/want.seqs" "$T/plain.ndjson" "$PLAIN"
check "API key over https: every record stored once" \
	bash -c 'cmp -s "$1" <(jq -r "select(._index == \"tls\") | .doc.sandtrail.seq" "$2" | sort -n)' _ "$T/want.seqs" "$T/tls.ndjson"
check "the wrong credentials stored nothing, and the server counted them ($(stat_of "https://$TLS" unauthorised) refused there)" \
	bash -c '[ "$(jq -s "map(select(._index != \"basic\" and ._index != \"tls\")) | length" "$1" "$2")" = 0 ] && [ "$3" -ge 2 ]' \
	_ "$T/plain.ndjson" "$T/tls.ndjson" "$(stat_of "https://$TLS" unauthorised)"
