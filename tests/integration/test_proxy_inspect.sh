#!/usr/bin/env bash
# --network proxy --inspect-tls: the session's TLS ends at the proxy with a
# CA made for the session (its certificate in the sandbox's trust store, its
# key nowhere in the sandbox); each HTTPS request is a record with method,
# path (no query) and status; --inject-header adds a header for one name
# only, whose value is in no record and not in the sandbox's environment.
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/integration/helpers/proxy_fixture.sh"
plan 10

proxy_fixture_up || { not_ok "the proxy fixture comes up"; exit 1; }
cat >"$T/proxy" <<EOF
#!/bin/sh
exec ip netns exec $PF_NS $BIN/sandtrail-proxy "\$@"
EOF
chmod 755 "$T/proxy"
start_daemon --proxy "$T/proxy" --proxy-upstream-ca "$(pf_ca)" || { not_ok "sandtraild starts with the proxy"; exit 1; }
key=sk-test-$RANDOM$RANDOM-value
echo "$key" >"$T/key"
chmod 600 "$T/key"

session='
	get() { curl -sS --max-time 10 -o /dev/null -w "%{http_code}" "$1"; echo " $?"; }
	echo "one $(get https://registry.test/one)"
	echo "404 $(get https://registry.test/status/404)"
	echo "two $(get "https://api.test/two?user=x")"
	echo "env $(env | grep -c -e sk-test -e PRIVATE)"
	echo "key $(grep -c PRIVATE /etc/sandtrail-ca.crt)"
	echo "trust $SSL_CERT_FILE $REQUESTS_CA_BUNDLE $NODE_EXTRA_CA_CERTS"'
"$SANDTRAIL" run --network proxy --allow-domain registry.test --allow-domain api.test --inspect-tls \
	--inject-header "api.test:X-Api-Key=@$T/key" --id-file "$T/id" -- /bin/sh -c "$session" >"$T/out" 2>"$T/run.err"
check "an --inspect-tls session runs" test $? -eq 0 || diag "$(cat "$T/run.err")"
field() { sed -n "s/^$1 //p" "$T/out"; }
check "its HTTPS clients trust the session CA (three requests answered: $(field one), $(field 404), $(field two))" \
	test "$(field one)|$(field 404)|$(field two)" = "200 0|404 0|200 0" || diag "$(cat "$T/out")" "$(grep proxy "$T/daemon.err")"
check "the trust store is named for every client kind" \
	test "$(field trust)" = "/etc/sandtrail-ca.crt /etc/sandtrail-ca.crt /etc/sandtrail-ca.crt"
check "the CA's key is not in the sandbox's trust store" test "$(field key)" = 0
check "neither the injected value nor a key is in the sandbox's environment" test "$(field env)" = 0

replay_json "$(cat "$T/id")" >"$T/rec" 2>/dev/null
req() { jq -c "select(.type == \"proxy_request\" and .method == \"GET\" and .path == \"$1\" and .status == $2)" "$T/rec"; }
check "each request is a record: method, path and status (GET /one 200)" test -n "$(req /one 200)" ||
	diag "$(jq -c 'select(.type == "proxy")' "$T/rec")"
check "GET /status/404 404" test -n "$(req /status/404 404)"
check "GET /two 200, without its query" test -n "$(req /two 200)"
hdr() { jq -r -s --arg s "$1" '[.[] | select(.sni == $s) | .headers["x-api-key"] // "none"] | unique | join(",")' "$PF_HTTPS_LOG"; }
check "the injected header reached api.test, and only api.test" test "$(hdr api.test)|$(hdr registry.test)" = "$key|none" ||
	diag "$(cat "$PF_HTTPS_LOG")"
check "the injected value is in no record" lacks "$key" cat "$T/rec"
