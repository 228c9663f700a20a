#!/usr/bin/env bash
# The world the proxy tests talk to (helpers/proxy_fixture.sh), checked on
# its own: names resolve through its dnsmasq, its HTTPS server is trusted
# through its CA and nothing else, answers say where they arrived, requests
# are logged with their headers, and all of it is gone after the test, even
# one that failed.
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/integration/helpers/proxy_fixture.sh"

plan 12

proxy_fixture_up || { diag "the fixture did not come up"; exit 1; }

resolves_all() {
	local n got
	for n in "${PF_NAMES[@]}" "$PF_DECOY"; do
		got=$(pf_run getent hosts "$n" | awk 'NR == 1 { print $1 }')
		[ "$got" = "$(pf_addr "$n")" ] || { diag "$n resolves to '$got', not $(pf_addr "$n")"; return 1; }
	done
}
check "the registry names and the decoy resolve to their addresses in the namespace" resolves_all
unknown_nx() {
	! pf_run getent hosts nx.test || { diag "nx.test resolves"; return 1; }
	grep -q "nx.test is NXDOMAIN" "$PF_DNS_LOG" || { diag "dnsmasq did not answer nx.test: $(tail -n 2 "$PF_DNS_LOG")"; return 1; }
}
check "an unknown name under .test is NXDOMAIN from dnsmasq" unknown_nx
check "dnsmasq logged the queries" grep -q "query\[A\] decoy.test" "$PF_DNS_LOG"

# https_json NAME: the JSON answer of https://NAME/probe, the CA trusted
https_json() { pf_run curl -sS --fail --max-time 10 --cacert "$(pf_ca)" -H "x-probe: $1" "https://$1/probe"; }
answers_https() {
	local n out
	for n in "${PF_NAMES[@]}"; do
		out=$(https_json "$n") || return 1
		jq -e --arg n "$n" --arg a "$(pf_addr "$n")" '.sni == $n and .host == $n and .addr == $a and .path == "/probe"' \
			<<<"$out" >/dev/null || { diag "https://$n/ answered $out"; return 1; }
	done
}
check "each registry name answers over HTTPS on its own address, with its SNI" answers_https

# the CA is what makes it trusted: without it, curl's verification fails (60)
curl_rc() { pf_run curl -sS -o /dev/null --max-time 10 "$@" 2>/dev/null; echo $?; }
rc=$(curl_rc "https://${PF_NAMES[1]}/")
check "without the test CA the server is not trusted (curl exit $rc)" test "$rc" = 60
# the certificate names the registry names only
rc=$(curl_rc --cacert "$(pf_ca)" "https://$PF_DECOY/")
check "the decoy name is not in the certificate (curl exit $rc)" test "$rc" = 60
check "openssl verifies the server certificate against the CA" lacks 'error' \
	openssl verify -CAfile "$(pf_ca)" -purpose sslserver "$PF_DIR/server.pem"

logged() {
	jq -e -s --arg n "$1" 'map(select(.scheme == "https" and .sni == $n and .path == "/probe"
		and .headers["x-probe"] == $n)) | length == 1' "$PF_HTTPS_LOG" >/dev/null
}
check "the HTTPS log holds each request with its headers" logged "${PF_NAMES[2]}"

out=$(pf_run curl -sS --fail --max-time 10 "http://${PF_NAMES[1]}/plain")
plain_ok() {
	jq -e --arg a "$(pf_addr "${PF_NAMES[1]}")" '.addr == $a and .sni == null and .path == "/plain"' \
		<<<"$out" >/dev/null || { diag "http://${PF_NAMES[1]}/plain answered $out"; return 1; }
}
check "plain HTTP answers on the name's address" plain_ok

size=$(pf_run curl -sS --fail --max-time 30 --cacert "$(pf_ca)" -o /dev/null -w '%{size_download}' \
	"https://${PF_NAMES[0]}/bytes/5000001")
check "/bytes/N sends N bytes ($size)" test "$size" = 5000001

# a test that fails half way: its namespace, processes and resolv.conf go too
child=$T/child
bash -c 'source "$1/tests/integration/lib.sh"; source "$1/tests/integration/helpers/proxy_fixture.sh"
	proxy_fixture_up || exit 3
	echo "$PF_DIR" >"$2.dir"
	{ echo "$PF_NS"; ip netns pids "$PF_NS"; } >"$2"
	exit 1' _ "$TOP" "$child" >/dev/null 2>&1
ns=$(head -n 1 "$child" 2>/dev/null)
gone() {
	[ -n "$ns" ] || { diag "the child fixture did not come up"; return 1; }
	! ip netns list | grep -qw "$ns" || { diag "namespace $ns left behind"; return 1; }
	[ ! -e "/etc/netns/$ns" ] || { diag "/etc/netns/$ns left behind"; return 1; }
	[ ! -e "$(cat "$child.dir")" ] || { diag "$(cat "$child.dir") left behind"; return 1; }
	for p in $(tail -n +2 "$child"); do
		! kill -0 "$p" 2>/dev/null || { diag "process $p ($(cat /proc/"$p"/comm)) left behind"; return 1; }
	done
	[ "$(tail -n +2 "$child" | wc -l)" -ge 3 ] || { diag "the child saw fewer than 3 processes"; return 1; }
}
check "a failing test's fixture leaves no namespace, resolv.conf, file or process" gone
check "this test's namespace runs its three servers" test "$(ip netns pids "$PF_NS" | wc -l)" -ge 3
