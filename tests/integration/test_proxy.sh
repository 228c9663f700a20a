#!/usr/bin/env bash
# --network proxy: a session, hardened and gvisor alike, reaches the fixture's world
# (helpers/proxy_fixture.sh) through sandtraild's sandtrail-proxy only, by
# name.  Allowed names work for curl honouring HTTPS_PROXY and for a client
# that ignores it (the kernel sends its connect to the proxy, which reads
# the SNI); a name not allowed, an IP literal, a CONNECT whose SNI or a
# request whose Host says another name are refused and recorded; where the
# proxy connects is its own resolution's answer, not the sandbox's; nothing
# else leaves (UDP, a plain connect to the fixture's address).  Killed, the
# proxy fails closed, comes back and the gap is recorded.
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/integration/helpers/proxy_fixture.sh"
MODES=(hardened gvisor)
plan $((22 * ${#MODES[@]} + 1 + 3 + 8 * ${#MODES[@]} + 1))

proxy_fixture_up || { not_ok "the proxy fixture comes up"; exit 1; }
# the proxy lives where the fixture's names resolve and its servers are
cat >"$T/proxy-in-ns" <<EOF
#!/bin/sh
exec ip netns exec $PF_NS $BIN/sandtrail-proxy "\$@"
EOF
cat >"$T/proxy-broken" <<'EOF'
#!/bin/sh
exit 3
EOF
cp "$T/proxy-in-ns" "$T/proxy"
chmod 755 "$T/proxy" "$T/proxy-in-ns" "$T/proxy-broken"
start_daemon --proxy "$T/proxy" || { not_ok "sandtraild starts with the proxy"; exit 1; }

SH=$(mktemp -d /var/tmp/sandtrail-proxy-share.XXXXXX)
defer "rm -rf $SH"
cp "$(pf_ca)" "$SH/ca.pem"
# a client that ignores the proxy: it connects to the address it was given,
# with the name only in its SNI
cat >"$SH/tls.py" <<'EOF'
import socket, ssl, sys
name, addr = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile="/share/ca.pem")
try:
    s = ctx.wrap_socket(socket.create_connection((addr, 443), timeout=10), server_hostname=name)
    s.sendall(b"GET /py HTTP/1.1\r\nHost: " + name.encode() + b"\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    print(data.split(b"\r\n\r\n", 1)[1].decode())
except OSError as e:
    print("failed", type(e).__name__)
EOF
# CONNECT to one name through the proxy, then a TLS hello naming another
cat >"$SH/connect_sni.py" <<'EOF'
import socket, ssl, sys
host, sni = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(b"CONNECT " + host.encode() + b":443 HTTP/1.1\r\nHost: " + host.encode() + b":443\r\n\r\n")
head = s.recv(4096)
ctx = ssl.create_default_context(cafile="/share/ca.pem")
ctx.check_hostname = False
try:
    t = ctx.wrap_socket(s, server_hostname=sni)
    print("tunnel", head.split(b"\r\n")[0].decode(), "handshake ok")
except (OSError, ssl.SSLError) as e:
    print("tunnel", head.split(b"\r\n")[0].decode(), "refused", type(e).__name__)
EOF
cat >"$SH/udp.py" <<'EOF'
import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("198.51.100.9", 53))
    print("sent")
except OSError as e:
    print("udp", e.errno)
EOF
chmod -R a+rX "$SH"
PV=(-v "$SH:/share" --volume-owner 0)

session='
	ca=/share/ca.pem
	echo "curl $(curl -sS --max-time 10 --cacert $ca https://registry.test/curl)"
	echo "py $(python3 /share/tls.py api.test 198.51.100.9)"
	curl -sS -o /dev/null --max-time 10 --cacert $ca https://vcs.test/denied 2>/dev/null; echo "denied $?"
	curl -sS -o /dev/null --max-time 10 -k https://127.0.1.1/literal 2>/dev/null; echo "literal $?"
	echo "sni $(python3 /share/connect_sni.py registry.test decoy.test)"
	echo "host $(curl -sS -o /dev/null -w %{http_code} --max-time 10 -H "Host: decoy.test" http://registry.test/hosthdr)"
	tok=$(echo czNjcmV0 | base64 -d); echo "plain $(curl -sS --max-time 10 "http://registry.test/plain?token=$tok")"
	echo "direct $(curl -sS -o /dev/null --noproxy "*" --max-time 10 --cacert $ca --resolve registry.test:443:127.0.1.1 https://registry.test/ 2>/dev/null; echo $?)"
	echo "udp $(python3 /share/udp.py)"'
# field NAME: what the session printed after NAME
field() { sed -n "s/^$1 //p" "$T/out"; }
# jqt FILTER JSON: JSON is there and FILTER holds for it
jqt() { [ -n "$2" ] && jq -e "$1" <<<"$2" >/dev/null; }
pf_https_hits() { jq -s "map(select(.addr == \"$1\")) | length" "$PF_HTTPS_LOG"; }
prec() { jq -c "select(.type == \"proxy\" and $1)" "$T/rec"; }
sni_refused() { case $(field sni) in "tunnel HTTP/1.1 200 Connection established refused "*) ;; *) return 1 ;; esac; }
proxy_session() {
	local M=$1
	"$SANDTRAIL" run --mode "$M" "${PV[@]}" --network proxy --allow-domain registry.test --allow-domain api.test \
		--id-file "$T/id-$M" -- /bin/sh -c "$session" >"$T/out" 2>"$T/run.err"
	check "[$M] a proxy session runs" test $? -eq 0 || diag "$(cat "$T/run.err")"
	check "[$M] curl honouring HTTPS_PROXY reaches the allowed name at its own address" \
		jqt '.sni == "registry.test" and .addr == "127.0.1.1" and .path == "/curl"' "$(field curl)" ||
		diag "$(cat "$T/out")" "$(cat "$T/run.err")"
	check "[$M] a client ignoring the proxy reaches the allowed name by its SNI" \
		jqt '.sni == "api.test" and .path == "/py"' "$(field py)"
	check "[$M] where the proxy connects is its own resolution, not the address the sandbox had" \
		jqt '.addr == "127.0.1.2"' "$(field py)"
	check "[$M] a name not allowed fails for curl (exit $(field denied))" test "$(field denied)" = 56
	check "[$M] an IP literal fails (exit $(field literal))" test "$(field literal)" = 56
	check "[$M] a CONNECT whose SNI names another host is refused in the handshake" sni_refused
	check "[$M] a request whose Host names another host is refused (403)" test "$(field host)" = 403
	check "[$M] plain HTTP through HTTP_PROXY reaches the allowed name" \
		jqt '.addr == "127.0.1.1" and (.path | startswith("/plain?token="))' "$(field plain)"
	check "[$M] a connect past the proxy to the fixture's address does not get there (curl exit 7)" \
		test "$(field direct)" = 7
	check "[$M] UDP leaves no proxy session (EPERM)" test "$(field udp)" = "udp 1"
	check "[$M] no request reached the decoy's address nor the address the sandbox gave" \
		test "$(pf_https_hits "$(pf_addr decoy.test)")" = 0

	replay_json "$(cat "$T/id-$M")" >"$T/rec" 2>/dev/null
	check "[$M] the session_start names the mode" test "$(jq_count "$T/rec" ".type == \"session_start\" and .mode == \"$M\"")" -eq 1
	check "[$M] curl's CONNECT is an allow record with its rule, TLS version and ALPN" \
		test -n "$(prec '.method == "CONNECT" and .domain == "registry.test" and .verdict == "allow" and .rule == "registry.test"
			and .tls_version == "TLSv1.3" and (.alpn | test("http/1.1")) and .bytes_in > 0 and .bytes_out > 0 and .port == 443')" ||
		diag "$(jq -c 'select(.type == "proxy")' "$T/rec")"
	check "[$M] the client ignoring the proxy is a transparent TLS allow record" \
		test -n "$(prec '.method == "TLS" and .domain == "api.test" and .transparent and .verdict == "allow" and .port == 443')"
	check "[$M] its connect is recorded with the destination it asked for" \
		test -n "$(jq -c 'select(.type == "connect" and .addr == "198.51.100.9" and .port == 443 and .verdict == "allow")' "$T/rec")"
	check "[$M] the name not allowed is a deny record (not_allowed)" \
		test -n "$(prec '.domain == "vcs.test" and .verdict == "deny" and .reason == "not_allowed" and .rule == null')"
	check "[$M] the IP literal is a deny record (ip_literal)" test -n "$(prec '.domain == "127.0.1.1" and .reason == "ip_literal"')"
	check "[$M] the false SNI is a deny record (sni_mismatch)" \
		test -n "$(prec '.domain == "registry.test" and .reason == "sni_mismatch" and .verdict == "deny"')"
	check "[$M] the false Host is a deny record (host_mismatch)" test -n "$(prec '.reason == "host_mismatch"')"
	check "[$M] plain HTTP is recorded with the request line without its query, and the status" \
		test -n "$(prec '.method == "GET" and .request == "GET /plain" and .status == 200 and .verdict == "allow"')"
	check "[$M] no proxy record holds the query string (s3cret)" lacks s3cret jq -c 'select(.type == "proxy")' "$T/rec"
}
dns_before=$(wc -l <"$PF_DNS_LOG") # the fixture's own questions are not the proxy's
proxy_session "${MODES[0]}"
dns_first=$(wc -l <"$PF_DNS_LOG")
for M in "${MODES[@]:1}"; do proxy_session "$M"; done
# curl's CONNECT, the false SNI's (port 443) and plain HTTP (port 80) went to
# registry.test: one question to the proxy's resolver (evdns mixes the name's
# case), then its answer, kept a while
dns_asked() { sed -n "$((dns_before + 1)),${dns_first}p" "$PF_DNS_LOG" | grep -ci 'query\[A\] registry.test'; }
check "the proxy asked DNS for registry.test once in the first session ($(dns_asked))" test "$(dns_asked)" = 1

# the proxy itself: unprivileged, no way back to privileges, its own filter
proxy_pid=$(pgrep -P "$DAEMON_PID" -x sandtrail-proxy)
pstatus() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$proxy_pid/status"; }
check "the proxy runs as nobody (uid $(pstatus Uid))" test "$(pstatus Uid)" = "$(id -u nobody)"
check "the proxy has no capabilities and no_new_privs" test "$(pstatus CapEff)$(pstatus NoNewPrivs)" = 00000000000000001
check "the proxy runs under a seccomp filter of its own (mode $(pstatus Seccomp))" test "$(pstatus Seccomp)" = 2

# ---- the proxy killed mid-session: closed, restarted, the gap recorded ----
kill_session='
	w=/share/w-$MODE
	get() { curl -sS -o /dev/null -w %{http_code} --max-time 5 --cacert /share/ca.pem https://registry.test/$1 2>/dev/null; echo " $?"; }
	echo "before $(get before)"
	touch $w/killed.wait; while [ ! -e $w/go ]; do sleep 0.05; done
	echo "during $(get during)"
	echo "during-py $(python3 /share/tls.py api.test 198.51.100.9)"
	touch $w/back.wait; while [ ! -e $w/go2 ]; do sleep 0.05; done
	echo "after $(get after)"'
# logged TEXT: how many lines of sandtraild's stderr hold TEXT
logged() { grep -c "$1" "$T/daemon.err"; }
field2() { sed -n "s/^$1 //p" "$T/out2"; }
proxy_killed() {
	local M=$1 w=$SH/w-$1 run exited back
	mkdir -m 777 "$w"
	exited=$(logged "sandtrail-proxy exited") back=$(logged "sandtrail-proxy back after")
	"$SANDTRAIL" run --mode "$M" "${PV[@]}" -e MODE="$M" --network proxy --allow-domain registry.test \
		--allow-domain api.test --id-file "$T/id2-$M" -- /bin/sh -c "$kill_session" >"$T/out2" 2>>"$T/run.err" &
	run=$!
	defer "kill $run"
	wait_for 30 test -e "$w/killed.wait"
	proxy_pid=$(pgrep -P "$DAEMON_PID" -x sandtrail-proxy)
	# it cannot come back until the test says so: the gap is the test's to see
	cp "$T/proxy-broken" "$T/proxy.new" && mv "$T/proxy.new" "$T/proxy"
	kill -KILL "$proxy_pid"
	wait_for 10 test "$(logged "sandtrail-proxy exited")" -gt "$exited"
	touch "$w/go"
	wait_for 30 test -e "$w/back.wait"
	cp "$T/proxy-in-ns" "$T/proxy.new" && mv "$T/proxy.new" "$T/proxy"
	wait_for 20 test "$(logged "sandtrail-proxy back after")" -gt "$back"
	touch "$w/go2"
	wait "$run"
	check "[$M] the session with the proxy killed ends well" test $? -eq 0 || diag "$(cat "$T/out2")"
	check "[$M] before the kill, a request works" test "$(field2 before)" = "200 0"
	check "[$M] while the proxy is down, a request fails at once (connection refused, curl exit 7)" \
		test "$(field2 during)" = "000 7" || diag "$(cat "$T/out2")"
	check "[$M] while the proxy is down, a client ignoring it gets nowhere either" \
		test "$(field2 during-py)" = "failed ConnectionRefusedError"
	check "[$M] after the restart, a new connection works" test "$(field2 after)" = "200 0"
	replay_json "$(cat "$T/id2-$M")" >"$T/rec2" 2>/dev/null
	check "[$M] the gap is recorded in the session: SIGKILL, its length" \
		test -n "$(jq -c 'select(.type == "proxy_gap" and .signal == 9 and .downtime_ns > 0)' "$T/rec2")" ||
		diag "$(grep proxy "$T/daemon.err")"
	# a signal to run reaches the workload in the session's network
	# namespace (gvisor: runsc kill talks to the sandbox there)
	rm -f "$T/id3-$M"
	"$SANDTRAIL" run --mode "$M" --network proxy --allow-domain registry.test --id-file "$T/id3-$M" -- \
		/bin/sh -c 'exec sleep 60' >/dev/null 2>"$T/term.err" &
	run=$!
	defer "kill -KILL $run"
	sleeping() {
		[ -s "$T/id3-$M" ] && replay_json "$(cat "$T/id3-$M")" 2>/dev/null |
			jq -e 'select(.type == "exec" and (.filename | endswith("/sleep")))' >/dev/null
	}
	wait_for 30 sleeping
	check "[$M] the proxy's door is in the session's network namespace, not the host's" \
		test -z "$(ss -Hltn 'sport = :3128')"
	kill -TERM "$run"
	wait "$run"
	check "[$M] SIGTERM to run ends the workload by that signal (143), within the grace period" test $? -eq 143 ||
		diag "$(cat "$T/term.err")"
}
for M in "${MODES[@]}"; do proxy_killed "$M"; done

# ---- a session's first connect waits for the proxy, never refused ----
# sandtraild listens before the command runs; a proxy slow to take the
# listener over (stopped here for a second) finds the connect in the backlog
proxy_pid=$(pgrep -P "$DAEMON_PID" -x sandtrail-proxy)
kill -STOP "$proxy_pid"
defer "kill -CONT $proxy_pid"
"$SANDTRAIL" run --mode hardened "${PV[@]}" --network proxy --allow-domain registry.test -- /bin/sh -c \
	'curl -sS -o /dev/null -w %{http_code} --max-time 20 --cacert /share/ca.pem https://registry.test/first; echo " $?"' \
	>"$T/first" 2>"$T/first.err" &
run=$!
sleep 1
kill -CONT "$proxy_pid"
wait "$run"
check "a session's first connect waits for a proxy slow to take the listener (not refused)" \
	test "$(cat "$T/first")" = "200 0" || diag "$(cat "$T/first" "$T/first.err")"
