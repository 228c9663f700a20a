# Sourced by the tests (after tests/integration/lib.sh) and the bench (after
# bench/lib.sh) of the domain proxy: the outside world a proxy talks to,
# inside a network namespace of its own.  It needs only their `defer`.
#
#   proxy_fixture_up   makes it: the namespace (loopback only), dnsmasq on
#                      $PF_DNS answering the registry names and a decoy,
#                      a test CA and one HTTPS server for the registry names
#                      (port 443), a plain HTTP server (port 80); all of it
#                      removed on exit, even on failure (lib.sh's defer)
#   pf_run CMD...      runs CMD in the namespace, where those names resolve
#                      through $PF_DNS (/etc/resolv.conf is the fixture's)
#   pf_ca              prints the path of the test CA's certificate (PEM)
#   pf_addr NAME       prints the address the fixture's DNS gives NAME
#
# The servers listen on every address of the namespace and tell in each
# answer, and in $PF_HTTPS_LOG / $PF_HTTP_LOG (JSON lines: addr, sni, method,
# path, headers), where the request came in: the decoy's address is a
# server too, so a proxy that went there is seen.

PF_NAMES=(registry.test api.test vcs.test)
PF_DECOY=decoy.test
declare -A PF_ADDRS=([registry.test]=127.0.1.1 [api.test]=127.0.1.2 [vcs.test]=127.0.1.3 [decoy.test]=127.0.1.9)
PF_DNS=127.0.0.53
PF_NS=
PF_DIR=
PF_HTTPS_LOG=
PF_HTTP_LOG=
PF_DNS_LOG=

pf_run() { ip netns exec "$PF_NS" "$@"; }
pf_ca() { echo "$PF_DIR/ca.pem"; }
pf_addr() { echo "${PF_ADDRS[$1]}"; }

# _pf_fail MSG: MSG as the test's diagnostic (or on stderr), status 1
_pf_fail() {
	if declare -F diag >/dev/null; then diag "$1"; else echo "proxy_fixture: $1" >&2; fi
	return 1
}

# _pf_until SECONDS CMD...: until CMD succeeds, at most SECONDS
_pf_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.05
	done
}

# the namespace's processes (all ours: the name is this test's), then the
# namespace, its resolv.conf and the fixture's files
_pf_down() {
	local pids
	[ -n "$PF_NS" ] || return 0
	pids=$(ip netns pids "$PF_NS" 2>/dev/null)
	[ -n "$pids" ] && kill $pids 2>/dev/null
	for _ in $(seq 100); do
		pids=$(ip netns pids "$PF_NS" 2>/dev/null)
		[ -z "$pids" ] && break
		sleep 0.05
	done
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	ip netns del "$PF_NS" 2>/dev/null
	rm -rf "/etc/netns/$PF_NS"
	case $PF_DIR in */sandtrail-proxy-fixture.?*) rm -rf "$PF_DIR" ;; esac
}

# the test CA and one server certificate for the registry names (EC P-256:
# quick to make; made here, never kept in the tree)
_pf_certs() {
	local san=
	for n in "${PF_NAMES[@]}"; do san+=${san:+,}DNS:$n; done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=sandtrail test CA $PF_NS" -keyout "$PF_DIR/ca.key" -out "$PF_DIR/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=${PF_NAMES[0]}" \
			-keyout "$PF_DIR/server.key" -out "$PF_DIR/server.csr" &&
		openssl x509 -req -in "$PF_DIR/server.csr" -CA "$PF_DIR/ca.pem" -CAkey "$PF_DIR/ca.key" \
			-CAcreateserial -days 2 -out "$PF_DIR/server.pem" \
			-extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san")
}

proxy_fixture_up() {
	local args=() n
	PF_NS=st-proxy-$$-$RANDOM
	PF_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sandtrail-proxy-fixture.XXXXXX") || return 1
	PF_HTTPS_LOG=$PF_DIR/https.log
	PF_HTTP_LOG=$PF_DIR/http.log
	PF_DNS_LOG=$PF_DIR/dns.log
	defer _pf_down
	ip netns add "$PF_NS" || { _pf_fail "ip netns add $PF_NS failed"; return; }
	pf_run ip link set lo up || return 1
	# ip netns exec binds /etc/netns/NAME/* over /etc: the names resolve
	# through the fixture's dnsmasq, and nothing else
	mkdir -p "/etc/netns/$PF_NS" && echo "nameserver $PF_DNS" >"/etc/netns/$PF_NS/resolv.conf" || return 1
	echo "127.0.0.1 localhost" >"/etc/netns/$PF_NS/hosts"
	_pf_certs >"$PF_DIR/openssl.log" 2>&1 || { _pf_fail "openssl: $(tail -n 1 "$PF_DIR/openssl.log")"; return; }

	for n in "${!PF_ADDRS[@]}"; do args+=("--host-record=$n,${PF_ADDRS[$n]}"); done
	pf_run dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --local=/test/ \
		--listen-address="$PF_DNS" --bind-interfaces --port=53 --user=root --pid-file= \
		--log-queries --log-facility="$PF_DNS_LOG" "${args[@]}" 2>"$PF_DIR/dnsmasq.err" &
	pf_run /usr/bin/python3 "$TOP/tests/integration/helpers/proxy_origin.py" --port 443 \
		--cert "$PF_DIR/server.pem" --key "$PF_DIR/server.key" --log "$PF_HTTPS_LOG" \
		--ready "$PF_DIR/https.ready" 2>"$PF_DIR/https.err" &
	pf_run /usr/bin/python3 "$TOP/tests/integration/helpers/proxy_origin.py" --port 80 \
		--log "$PF_HTTP_LOG" --ready "$PF_DIR/http.ready" 2>"$PF_DIR/http.err" &
	_pf_until 10 test -s "$PF_DIR/https.ready" || { _pf_fail "https server: $(tail -n 1 "$PF_DIR/https.err")"; return; }
	_pf_until 10 test -s "$PF_DIR/http.ready" || { _pf_fail "http server: $(tail -n 1 "$PF_DIR/http.err")"; return; }
	# getent hosts, not ahosts: that asks with AI_ADDRCONFIG, which a
	# namespace with only loopback answers empty, without a query
	_pf_until 10 pf_run getent hosts "${PF_NAMES[0]}" || _pf_fail "dnsmasq: $(tail -n 1 "$PF_DIR/dnsmasq.err")"
}
