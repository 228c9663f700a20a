#!/usr/bin/env bash
# The --inspect-tls engine (userspace/proxy/inspect.c with ca.c and http1.c)
# against the proxy fixture's origin, through its test peer
# (helpers/inspect_peer: the smallest CONNECT proxy around it): a client
# that trusts only the session CA gets its requests through, each one is
# recorded (method, path without query, status, content type, sizes), the
# injected header replaces the client's own at the origin and is in no
# record, nor is the client's Authorization; a request for another host
# and an origin the proxy cannot verify are refused.  Then the same through
# sandtrail-proxy itself (standalone, --inspect-tls): one record per request;
# and under a control socket as sandtraild drives it (session_add with
# inspect, its CA and the headers to inject: helpers/proxy_control.py).
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/integration/helpers/proxy_fixture.sh"

plan 15

proxy_fixture_up || { diag "the fixture did not come up"; exit 1; }
SECRET=sk-inspect-$$-SECRET
# peer PORT RECORDS UPSTREAM_CA: an inspecting peer for api.test
peer() {
	pf_run "$HELPERS/inspect_peer" --listen "127.0.0.1:$1" --host api.test --origin "$(pf_addr api.test):443" \
		--upstream-ca "$3" --ca-out "$T/ca.$1.pem" --records "$2" --inject "x-api-key=$SECRET" 2>"$T/peer.$1.err" &
	wait_for 10 grep -q '^inspect_peer: ready' "$T/peer.$1.err" || { diag "peer: $(cat "$T/peer.$1.err")"; return 1; }
}
peer 3130 "$T/rec" "$(pf_ca)" || exit 1
SCA=$T/ca.3130.pem
# through PATH [CURL ARGS]: curl through the peer, trusting only the session CA
through() {
	local path=$1
	shift
	pf_run curl -sS --max-time 10 -x 127.0.0.1:3130 --cacert "$SCA" -H "x-api-key: forged-by-agent" \
		-H "Authorization: Bearer agent-token" "$@" "https://api.test$path"
}

codes=$(through /one?token=abc -o /dev/null -w '%{http_code}' && through /two -o /dev/null -w '%{http_code}' &&
	through /three -d hello -o /dev/null -w '%{http_code}')
check "three HTTPS requests pass, the client trusting only the session CA ($codes)" test "$codes" = 200200200

out=$(pf_run openssl s_client -proxy 127.0.0.1:3130 -connect api.test:443 -servername api.test -CAfile "$SCA" \
	-verify_hostname api.test -verify_return_error </dev/null 2>&1)
check "openssl verifies the leaf for api.test against the session CA" \
	grep -q 'Verification: OK' <<<"$out" || diag "$(grep -m 3 -i 'verif\|error' <<<"$out")"

version=$(through /h2 --http2 -o /dev/null -w '%{http_version}')
check "a client offering h2 is answered in HTTP/1.1, the protocol inspected ($version)" test "$version" = 1.1

recorded() {
	jq -e -s '[.[] | select(.method)] as $x | ($x | length) == 4
		and ([$x[0:3][] | "\(.method) \(.path) \(.status) \(.content_type)"] ==
		     ["GET /one 200 application/json", "GET /two 200 application/json", "POST /three 200 application/json"])
		and $x[2].req_body == 5 and ($x[0].resp_body > 0)' "$T/rec" >/dev/null || { diag "$(cat "$T/rec")"; return 1; }
}
check "each request is recorded: method, path without query, status, content type, sizes" recorded

injected() {
	jq -e -s --arg s "$SECRET" 'map(select(.path | startswith("/one") or startswith("/two") or startswith("/three")))
		| length == 3 and all(.headers["x-api-key"] == $s)' "$PF_HTTPS_LOG" >/dev/null ||
		{ diag "$(cat "$PF_HTTPS_LOG")"; return 1; }
}
check "the injected header reaches the origin in place of the client's own" injected
check "no record holds the injected value, the client's Authorization or the query" \
	lacks "$SECRET|agent-token|token=abc|forged-by-agent" cat "$T/rec"

before=$(wc -l <"$PF_HTTPS_LOG")
rc=0
through /four -H "Host: evil.test" -o /dev/null 2>/dev/null || rc=$?
refused() {
	[ "$rc" != 0 ] || { diag "curl succeeded"; return 1; }
	[ "$(wc -l <"$PF_HTTPS_LOG")" = "$before" ] || { diag "the origin saw: $(tail -n 1 "$PF_HTTPS_LOG")"; return 1; }
	grep -q '"end":"request: Host header names another host' "$T/rec" || { diag "$(tail -n 2 "$T/rec")"; return 1; }
}
check "a request whose Host names another host is refused, recorded and never reaches the origin" refused

# a peer whose trust store is not the origin's CA: the origin is not verified
peer 3131 "$T/rec.untrusted" "$SCA" || exit 1
rc=0
pf_run curl -sS --max-time 10 -x 127.0.0.1:3131 --cacert "$T/ca.3131.pem" -o /dev/null https://api.test/five 2>/dev/null || rc=$?
untrusted() {
	[ "$rc" != 0 ] || { diag "curl succeeded"; return 1; }
	! grep -q '"/five"' "$PF_HTTPS_LOG" || { diag "the origin saw /five"; return 1; }
	grep -q '"end":"origin TLS: certificate verify failed"' "$T/rec.untrusted" || { diag "$(cat "$T/rec.untrusted")"; return 1; }
}
check "an origin the proxy cannot verify gets no request, and the reason is recorded" untrusted

check "the session CA's file is a certificate, its key stays in the peer" lacks 'PRIVATE KEY' cat "$SCA"

# ---- sandtrail-proxy --inspect-tls (standalone) ----
echo "sk-proxy-$$-SECRET" >"$T/key"
pf_run "$BIN/sandtrail-proxy" --listen 127.0.0.1:3132 --allow-domain api.test --allow-domain registry.test \
	--dns "$PF_DNS" --records "$T/px.rec" --inspect-tls --upstream-ca "$(pf_ca)" --ca-out "$T/px-ca.pem" \
	--inject-header "api.test:x-api-key=@$T/key" 2>"$T/px.err" &
wait_for 10 grep -q '^sandtrail-proxy: ready' "$T/px.err" || { diag "sandtrail-proxy: $(cat "$T/px.err")"; exit 1; }
px() { pf_run curl -sS --max-time 10 -x 127.0.0.1:3132 --cacert "$T/px-ca.pem" -H "x-api-key: forged-by-agent" "$@"; }
codes=$(px -o /dev/null -w '%{http_code}' "https://api.test/p1?token=abc" && px -o /dev/null -w '%{http_code}' -d x https://registry.test/p2)
px_recorded() {
	jq -e -s '[.[] | select(.type == "proxy_request")] | map("\(.domain) \(.method) \(.path) \(.status) \(.content_type)")
		== ["api.test GET /p1 200 application/json", "registry.test POST /p2 200 application/json"]' \
		"$T/px.rec" >/dev/null || { diag "$(cat "$T/px.rec")"; return 1; }
}
check "sandtrail-proxy --inspect-tls: each request is a record ($codes)" px_recorded
px_injected() {
	jq -e -s --arg s "sk-proxy-$$-SECRET" '(map(select(.path == "/p1?token=abc")) | .[0].headers["x-api-key"] == $s)
		and (map(select(.path == "/p2")) | .[0].headers["x-api-key"] == "forged-by-agent")' "$PF_HTTPS_LOG" >/dev/null ||
		{ diag "$(tail -n 2 "$PF_HTTPS_LOG")"; return 1; }
}
check "sandtrail-proxy injects the header for its domain only" px_injected
check "no sandtrail-proxy record holds the injected value or the query" lacks "sk-proxy-$$-SECRET|token=abc" cat "$T/px.rec"
px -o /dev/null -H "Host: evil.test" https://api.test/p3 2>/dev/null
px_denied() {
	jq -e -s 'map(select(.reason == "host_mismatch" and .verdict == "deny" and .inspected)) | length == 1' \
		"$T/px.rec" >/dev/null || { diag "$(tail -n 1 "$T/px.rec")"; return 1; }
	! grep -q '"/p3"' "$PF_HTTPS_LOG" || { diag "the origin saw /p3"; return 1; }
}
check "sandtrail-proxy denies and records a request for another host on an inspected connection" px_denied

# ---- sandtrail-proxy under its control socket: session_add with inspect, ca, inject ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=test session CA $$" \
	-keyout "$T/sess.key" -out "$T/sess.pem" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign >/dev/null 2>&1
jq -n --rawfile key "$T/sess.key" --rawfile cert "$T/sess.pem" --arg v "sk-ctl-$$-SECRET" \
	'{cmd: "session_add", session: "s-ctl", cgid: 0, domains: ["api.test"], inspect: true, ca: ($key + $cert),
	  inject: [{domain: "api.test", name: "x-api-key", value: $v}]}' >"$T/session.json"
pf_run /usr/bin/python3 "$TOP/tests/integration/helpers/proxy_control.py" --listen 127.0.0.1:3133 \
	--session "$T/session.json" --records "$T/ctl.rec" -- "$BIN/sandtrail-proxy" --dns "$PF_DNS" \
	--upstream-ca "$(pf_ca)" 2>"$T/ctl.err" &
wait_for 10 grep -q '"ready"' "$T/ctl.rec" || { diag "proxy under control: $(cat "$T/ctl.err")"; exit 1; }
code=$(pf_run curl -sS --max-time 10 -x 127.0.0.1:3133 --cacert "$T/sess.pem" -o /dev/null -w '%{http_code}' \
	"https://api.test/ctl?x=1")
ctl_recorded() {
	wait_for 5 jq -e -s 'map(select(.type == "proxy_request" and .session == "s-ctl" and .path == "/ctl"
		and .status == 200)) | length == 1' "$T/ctl.rec" || { diag "$(cat "$T/ctl.rec")"; return 1; }
}
check "under its control socket: the session's CA is what the client sees, each request a proxy_request record ($code)" ctl_recorded
ctl_injected() {
	jq -e -s --arg v "sk-ctl-$$-SECRET" 'map(select(.path == "/ctl?x=1")) | .[0].headers["x-api-key"] == $v' \
		"$PF_HTTPS_LOG" >/dev/null || { diag "$(tail -n 1 "$PF_HTTPS_LOG")"; return 1; }
	! grep -q "sk-ctl-$$-SECRET" "$T/ctl.rec" || { diag "a record holds the injected value"; return 1; }
}
check "under its control socket: the session's header is injected, and in no record" ctl_injected
