#!/usr/bin/env bash
# --network proxy: the session's own DNS, hardened and gvisor alike.  Its
# resolv.conf names 127.0.0.1, where sandtrail-proxy answers on the socket
# sandtraild bound in the session's network namespace: an allowed name is
# the one synthetic address (its connect goes to the proxy anyway, which
# decides by the name the client sends and connects to its own resolution),
# AAAA has no data, a name not allowed is NXDOMAIN and recorded (once a
# doubling of its count); nothing of it reaches a real resolver.  Answers
# come back after the proxy restarts (the socket is handed over again).
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/integration/helpers/proxy_fixture.sh"
MODES=(hardened gvisor)
plan $((14 * ${#MODES[@]} + 1))

proxy_fixture_up || { not_ok "the proxy fixture comes up"; exit 1; }
cat >"$T/proxy" <<EOF2
#!/bin/sh
exec ip netns exec $PF_NS $BIN/sandtrail-proxy "\$@"
EOF2
chmod 755 "$T/proxy"
start_daemon --proxy "$T/proxy" || { not_ok "sandtraild starts with the proxy"; exit 1; }

SH=$(mktemp -d /var/tmp/sandtrail-proxydns-share.XXXXXX)
defer "rm -rf $SH"
cp "$(pf_ca)" "$SH/ca.pem"
cat >"$SH/dns.py" <<'EOF2'
import json, socket, ssl, sys
what = sys.argv[1]
if what == "aaaa":
    try:
        print(socket.getaddrinfo("registry.test", 443, socket.AF_INET6, socket.SOCK_STREAM))
    except socket.gaierror as e:
        print("gaierror", e.errno)
elif what == "tls":
    # by name, as a client that ignores the proxy settings does
    ctx = ssl.create_default_context(cafile="/share/ca.pem")
    try:
        s = ctx.wrap_socket(socket.create_connection(("api.test", 443), timeout=10), server_hostname="api.test")
        s.sendall(b"GET /dns HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        body = json.loads(data.split(b"\r\n\r\n", 1)[1])
        print(json.dumps(body))
    except OSError as e:
        print("failed", type(e).__name__, e)
elif what == "many":
    n = 0
    for i in range(20):
        try:
            socket.getaddrinfo("vcs.test", 443, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror as e:
            if e.errno != socket.EAI_NONAME:
                break  # no answer at all: each would wait for the resolver's timeout
            n += 1
    print(n)
EOF2
chmod -R a+rX "$SH"
PV=(-v "$SH:/share" --volume-owner 0)

session='
	w=/share/w-$MODE
	echo "resolv $(grep -v "^#" /etc/resolv.conf | tr "\n" " ")"
	echo "getent $(getent hosts registry.test | tr -s " ")"
	echo "aaaa $(python3 /share/dns.py aaaa)"
	echo "py $(python3 /share/dns.py tls)"
	getent hosts vcs.test >/dev/null; echo "denied $?"
	echo "many $(python3 /share/dns.py many)"
	touch $w/killed.wait; while [ ! -e $w/go ]; do sleep 0.05; done
	echo "after $(getent hosts registry.test | tr -s " ")"'
field() { sed -n "s/^$1 //p" "$T/out"; }
jqt() { [ -n "$2" ] && jq -e "$1" <<<"$2" >/dev/null; }
logged() { grep -c "$1" "$T/daemon.err"; }
dns_from=$(wc -l <"$PF_DNS_LOG")
dns_session() {
	local M=$1 w=$SH/w-$1 run back
	mkdir -m 777 "$w"
	back=$(logged "sandtrail-proxy back after")
	"$SANDTRAIL" run --mode "$M" "${PV[@]}" -e MODE="$M" --network proxy --allow-domain registry.test \
		--allow-domain api.test --id-file "$T/id-$M" -- /bin/sh -c "$session" >"$T/out" 2>"$T/run.err" &
	run=$!
	defer "kill $run"
	wait_for 60 test -e "$w/killed.wait"
	# the proxy goes and comes back: the session's DNS socket is handed over again
	kill -KILL "$(pgrep -P "$DAEMON_PID" -x sandtrail-proxy)"
	wait_for 20 test "$(logged "sandtrail-proxy back after")" -gt "$back"
	touch "$w/go"
	wait "$run"
	check "[$M] a proxy session runs" test $? -eq 0 || diag "$(cat "$T/run.err")" "$(cat "$T/out")"
	check "[$M] its resolv.conf names the session's loopback ($(field resolv))" test "$(field resolv)" = "nameserver 127.0.0.1 "
	check "[$M] getent hosts answers an allowed name with the synthetic address ($(field getent))" \
		test "$(field getent)" = "198.18.0.1 registry.test" || diag "$(cat "$T/out")"
	check "[$M] AAAA of an allowed name has no data ($(field aaaa))" test "$(field aaaa)" = "gaierror -5"
	check "[$M] a client ignoring the proxy connects by name and reaches the name's server" \
		jqt '.sni == "api.test" and .path == "/dns"' "$(field py)" || diag "$(field py)"
	check "[$M] where the proxy connects is its own resolution of the name" jqt '.addr == "127.0.1.2"' "$(field py)"
	check "[$M] a name not allowed is NXDOMAIN: getent says not found (exit $(field denied))" test "$(field denied)" = 2
	check "[$M] python's getaddrinfo gets EAI_NONAME for it, every time ($(field many)/20)" test "$(field many)" = 20
	check "[$M] after the proxy restarted, the session's names are answered again ($(field after))" \
		test "$(field after)" = "198.18.0.1 registry.test"

	replay_json "$(cat "$T/id-$M")" >"$T/rec" 2>/dev/null
	drec() { jq -c "select(.type == \"proxy_dns\" and $1)" "$T/rec"; }
	check "[$M] the name not allowed is a proxy_dns deny record (not_allowed, its type)" \
		test -n "$(drec '.domain == "vcs.test" and .verdict == "deny" and .reason == "not_allowed" and .count == 1 and (.qtype == "A" or .qtype == "AAAA")')" ||
		diag "$(jq -c 'select(.type == "proxy_dns")' "$T/rec")"
	# over 20 questions: recorded at the 1st, 2nd, 4th, 8th, 16th (32nd: AAAA of getent)
	local counts
	counts=$(drec '.domain == "vcs.test"' | jq -s -c 'map(.count)')
	check "[$M] its repeats are counted, recorded at each doubling only ($counts)" \
		quiet jq -e 'length >= 5 and length <= 6 and . == ([range(0; length)] | map(pow(2; .)))' <<<"$counts"
	check "[$M] no allowed name is a proxy_dns record" test -z "$(drec '.domain != "vcs.test"')"
	check "[$M] the connect by name is recorded with the synthetic address" \
		test -n "$(jq -c 'select(.type == "connect" and .addr == "198.18.0.1" and .port == 443)' "$T/rec")"
	check "[$M] the proxy decided it by its SNI (transparent TLS allow)" \
		test -n "$(jq -c 'select(.type == "proxy" and .method == "TLS" and .domain == "api.test" and .transparent and .verdict == "allow")' "$T/rec")"
}
for M in "${MODES[@]}"; do dns_session "$M"; done
# the proxy resolved api.test for its connects; what the sandbox asked never got here
asked() { sed -n "$((dns_from + 1)),\$p" "$PF_DNS_LOG" | grep -ci "query\[[A-Z]*\] $1"; }
check "the fixture's resolver heard the proxy's question (api.test: $(asked api.test)), none of the sandbox's (registry.test: $(asked registry.test), vcs.test: $(asked vcs.test))" \
	test "$(asked api.test)" -ge 1 -a "$(asked registry.test)" = 0 -a "$(asked vcs.test)" = 0
