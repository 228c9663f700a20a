#!/usr/bin/env bash
# --network proxy --inspect-tls: the session's TLS ends at the proxy with a
# CA made for the session (its certificate in the sandbox's trust store, its
# key nowhere in the sandbox); each HTTPS request is a record with method,
# path (no query) and status; --inject-header adds a header for one name
# only, whose value is in no record and not in the sandbox's environment.
# Clients that read none of the trust variables (env -i) trust the CA too:
# the Debian bundle path is the session's bundle in the sandbox, the host's
# file stays as it was.  Hardened and gvisor sessions alike.
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/integration/helpers/proxy_fixture.sh"
MODES=(hardened gvisor)
plan $((15 * ${#MODES[@]}))

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
	echo "trust $SSL_CERT_FILE $REQUESTS_CA_BUNDLE $NODE_EXTRA_CA_CERTS"
	echo "bundle $(cmp -s /etc/ssl/certs/ca-certificates.crt /etc/sandtrail-ca.crt && echo same)"
	echo "noenv $(env -i /usr/bin/curl -sS --max-time 10 --resolve registry.test:443:198.51.100.9 \
		-o /dev/null -w "%{http_code}" https://registry.test/noenv; echo " $?")"
	echo "s_client $(env -i /usr/bin/openssl s_client -connect 198.51.100.9:443 -servername api.test \
		-verify_return_error </dev/null 2>&1 | grep -c -m 1 "Verify return code: 0 (ok)")"'
host_bundle=/etc/ssl/certs/ca-certificates.crt
sum_before=$(sha256sum <"$host_bundle")
# inspect_session MODE: the session and its checks, in MODE
inspect_session() {
	local M=$1
	"$SANDTRAIL" run --mode "$M" --network proxy --allow-domain registry.test --allow-domain api.test --inspect-tls \
		--inject-header "api.test:X-Api-Key=@$T/key" --id-file "$T/id-$M" -- /bin/sh -c "$session" >"$T/out-$M" 2>"$T/run-$M.err"
	check "$M: an --inspect-tls session runs" test $? -eq 0 || diag "$(cat "$T/run-$M.err")"
	field() { sed -n "s/^$1 //p" "$T/out-$M"; }
	check "$M: its HTTPS clients trust the session CA (three requests answered: $(field one), $(field 404), $(field two))" \
		test "$(field one)|$(field 404)|$(field two)" = "200 0|404 0|200 0" || diag "$(cat "$T/out-$M")" "$(grep proxy "$T/daemon.err")"
	check "$M: the trust store is named for every client kind" \
		test "$(field trust)" = "/etc/sandtrail-ca.crt /etc/sandtrail-ca.crt /etc/sandtrail-ca.crt"
	check "$M: the CA's key is not in the sandbox's trust store" test "$(field key)" = 0
	check "$M: neither the injected value nor a key is in the sandbox's environment" test "$(field env)" = 0
	check "$M: the Debian bundle path holds the session's bundle" test "$(field bundle)" = same
	check "$M: curl with no environment trusts the session CA ($(field noenv))" test "$(field noenv)" = "200 0"
	check "$M: openssl s_client with no environment verifies the session's leaf" test "$(field s_client)" = 1
	check "$M: the host's bundle is unchanged" test "$(sha256sum <"$host_bundle")" = "$sum_before"

	replay_json "$(cat "$T/id-$M")" >"$T/rec-$M" 2>/dev/null
	req() { jq -c "select(.type == \"proxy_request\" and .method == \"GET\" and .path == \"$1\" and .status == $2)" "$T/rec-$M"; }
	check "$M: each request is a record: method, path and status (GET /one 200)" test -n "$(req /one 200)" ||
		diag "$(jq -c 'select(.type == "proxy")' "$T/rec-$M")"
	check "$M: GET /status/404 404" test -n "$(req /status/404 404)"
	check "$M: GET /two 200, without its query" test -n "$(req /two 200)"
	check "$M: GET /noenv 200 (a client with no environment)" test -n "$(req /noenv 200)"
	hdr() { jq -r -s --arg s "$1" '[.[] | select(.sni == $s) | .headers["x-api-key"] // "none"] | unique | join(",")' "$PF_HTTPS_LOG"; }
	check "$M: the injected header reached api.test, and only api.test" test "$(hdr api.test)|$(hdr registry.test)" = "$key|none" ||
		diag "$(cat "$PF_HTTPS_LOG")"
	check "$M: the injected value is in no record" lacks "$key" cat "$T/rec-$M"
}
for M in "${MODES[@]}"; do inspect_session "$M"; done
