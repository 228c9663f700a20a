#!/usr/bin/env bash
# --network proxy with --allow ADDR[/PREFIX][:PORT]: the proxy lets a literal
# address that a rule covers through (a CONNECT, a plain HTTP request, a
# transparent client's connection to it), recorded with its rule; the next
# address, another port, an address outside the prefix and a loopback
# address a rule covers (the proxy's host, not the session's) are refused
# and recorded ip_literal.  The kernel still admits the proxy only (UDP to
# an allowed address is denied); a host name given to --allow is refused
# at start.  The fixture's world (helpers/proxy_fixture.sh) gets addresses
# of documentation ranges on its loopback, where its servers listen too.
# Hardened and gvisor sessions alike.
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/integration/helpers/proxy_fixture.sh"
MODES=(hardened gvisor)
plan $((1 + 19 * ${#MODES[@]}))

proxy_fixture_up || { not_ok "the proxy fixture comes up"; exit 1; }
for a in 192.0.2.10 192.0.2.11 198.18.0.7 198.18.0.8 198.18.1.7; do
	pf_run ip addr add "$a/32" dev lo || { not_ok "address $a in the fixture"; exit 1; }
done
cat >"$T/proxy" <<EOF
#!/bin/sh
exec ip netns exec $PF_NS $BIN/sandtrail-proxy "\$@"
EOF
chmod 755 "$T/proxy"
start_daemon --proxy "$T/proxy" || { not_ok "sandtraild starts with the proxy"; exit 1; }

"$SANDTRAIL" run --network proxy --allow registry.test:443 -- /bin/true >/dev/null 2>"$T/name.err"
check "a host name given to --allow is refused at start" \
	grep -q "a host name is an --allow-domain" "$T/name.err" || diag "$(cat "$T/name.err")"

SH=$(mktemp -d /var/tmp/sandtrail-proxy-iprules.XXXXXX)
defer "rm -rf $SH"
cp "$(pf_ca)" "$SH/ca.pem"
cat >"$SH/udp.py" <<'EOF'
import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.10", 80))
    print("sent")
except OSError as e:
    print("udp", e.errno)
EOF
chmod -R a+rX "$SH"

session='
	get() { curl -sS --max-time 10 "$@"; echo " $?"; }
	code() { curl -sS --max-time 10 -o /dev/null -w %{http_code} "$@" 2>/dev/null; echo " $?"; }
	echo "lit $(get http://192.0.2.10/lit)"
	echo "next $(code http://192.0.2.11/next)"
	echo "port $(code -k https://192.0.2.10/port)"
	echo "prefix $(get -k https://198.18.0.7/prefix)"
	echo "outside $(code http://198.18.1.7/outside)"
	echo "loop $(code http://127.0.1.1/loop)"
	echo "transparent $(get --noproxy "*" http://192.0.2.10/transparent)"
	echo "transparent-tls $(get --noproxy "*" -k https://198.18.0.8/transparent-tls)"
	echo "transparent-next $(code --noproxy "*" http://192.0.2.11/transparent-next)"
	echo "name $(code --cacert /share/ca.pem https://registry.test/name)"
	echo "udp $(python3 /share/udp.py)"'
# iprules_session MODE: the session and its checks, in MODE
iprules_session() {
	local M=$1
	"$SANDTRAIL" run --mode "$M" -v "$SH:/share" --volume-owner 0 --network proxy --allow-domain registry.test \
		--allow 192.0.2.10:80 --allow 198.18.0.0/24 --allow 127.0.1.0/24 \
		--id-file "$T/id-$M" -- /bin/sh -c "$session" >"$T/out-$M" 2>"$T/run-$M.err"
	check "$M: a proxy session with address rules runs" test $? -eq 0 || diag "$(cat "$T/run-$M.err")"
	field() { sed -n "s/^$1 //p" "$T/out-$M"; }
	# body: the JSON the fixture's server answered, before curl's exit status
	body() { field "$1" | sed 's/ [0-9]*$//'; }
	jqt() { [ -n "$2" ] && jq -e "$1" <<<"$2" >/dev/null; }
	check "$M: plain HTTP to an allowed address (port rule) gets there" \
		jqt '.addr == "192.0.2.10" and .path == "/lit"' "$(body lit)" || diag "$(cat "$T/out-$M")" "$(grep proxy "$T/daemon.err")"
	check "$M: the next address is refused (403)" test "$(field next)" = "403 0"
	check "$M: the allowed address on another port is refused (CONNECT 403, curl exit 56)" test "$(field port)" = "000 56"
	check "$M: CONNECT to an address in an allowed prefix gets there, TLS passed as it is" \
		jqt '.addr == "198.18.0.7" and .path == "/prefix"' "$(body prefix)" || diag "$(field prefix)" "$(cat "$T/run-$M.err")"
	check "$M: an address outside the prefix is refused (403)" test "$(field outside)" = "403 0"
	check "$M: a loopback address a rule covers is refused (the proxy's host is not the session's)" \
		test "$(field loop)" = "403 0"
	check "$M: a transparent HTTP client reaches an allowed address" \
		jqt '.addr == "192.0.2.10" and .path == "/transparent"' "$(body transparent)"
	check "$M: a transparent TLS client without SNI reaches an address in the prefix" \
		jqt '.addr == "198.18.0.8" and .path == "/transparent-tls" and .sni == null' "$(body transparent-tls)"
	check "$M: a transparent client to another address is refused (403)" test "$(field transparent-next)" = "403 0"
	check "$M: domain rules work beside address rules" test "$(field name)" = "200 0"
	check "$M: the kernel admits the proxy only: UDP to an allowed address is denied (EPERM)" test "$(field udp)" = "udp 1"

	replay_json "$(cat "$T/id-$M")" >"$T/rec-$M" 2>/dev/null
	prec() { jq -c "select(.type == \"proxy\" and $1)" "$T/rec-$M"; }
	check "$M: the allowed literal is an allow record with its rule" \
		test -n "$(prec '.domain == "192.0.2.10" and .port == 80 and .method == "GET" and .verdict == "allow" and .rule == "192.0.2.10:80"')" ||
		diag "$(jq -c 'select(.type == "proxy")' "$T/rec-$M")"
	check "$M: the CONNECT in the prefix is an allow record with the prefix rule" \
		test -n "$(prec '.domain == "198.18.0.7" and .port == 443 and .method == "CONNECT" and .verdict == "allow" and .rule == "198.18.0.0/24" and .bytes_in > 0')"
	check "$M: the next address is a deny record (ip_literal)" \
		test -n "$(prec '.domain == "192.0.2.11" and .verdict == "deny" and .reason == "ip_literal" and .rule == null')"
	check "$M: the other port is a deny record (ip_literal, port 443)" \
		test -n "$(prec '.domain == "192.0.2.10" and .port == 443 and .reason == "ip_literal"')"
	check "$M: the address outside the prefix and the loopback one are deny records (ip_literal)" \
		test -n "$(prec '.domain == "198.18.1.7" and .reason == "ip_literal"')" -a -n "$(prec '.domain == "127.0.1.1" and .reason == "ip_literal"')"
	check "$M: the transparent clients let through by address are transparent allow records with their rules" \
		test -n "$(prec '.transparent and .domain == "192.0.2.10" and .port == 80 and .rule == "192.0.2.10:80" and .verdict == "allow"')" \
		-a -n "$(prec '.transparent and .domain == "198.18.0.8" and .port == 443 and .rule == "198.18.0.0/24"')"
	check "$M: the transparent client to another address is a deny record (ip_literal)" \
		test -n "$(prec '.transparent and .domain == "192.0.2.11" and .reason == "ip_literal"')"
}
for M in "${MODES[@]}"; do iprules_session "$M"; done
