#!/usr/bin/env bash
# sandtrail-proxy against hostile clients, on its own (standalone mode):
# malformed request heads and CONNECT lines get 400, oversized heads 431,
# a client that trickles its head (slowloris) 408 once the head deadline
# passes, however it trickles; hundreds of such clients at once cost
# bounded memory, and the proxy answers the next client as before.  Each
# refusal is a record with its reason.  A lookup its DNS never answers ends
# at the head deadline too, without a touch of freed memory (the proxy
# built with the sanitizers).
source "$(dirname "$0")/lib.sh"
plan 14

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/sandtrail-proxy" --listen "127.0.0.1:$port" --allow-domain registry.test --records "$T/rec" \
	2>"$T/proxy.err" &
PX=$!
defer "kill $PX"
wait_for 10 grep -q "sandtrail-proxy: ready" "$T/proxy.err" || { not_ok "sandtrail-proxy starts"; exit 1; }

# answer BYTES: the proxy's status line for a client that sends BYTES (printf format)
answer() {
	python3 - "$port" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
}
check "a CONNECT without a port is malformed (400)" test "$(answer 'CONNECT registry.test HTTP/1.1\r\n\r\n')" = "HTTP/1.1 400 Bad Request"
check "a CONNECT to port 99999 is malformed (400)" test "$(answer 'CONNECT registry.test:99999 HTTP/1.1\r\n\r\n')" = "HTTP/1.1 400 Bad Request"
check "a request line that is no HTTP is malformed (400)" test "$(answer 'HELLO\x01 there\r\n\r\n')" = "HTTP/1.1 400 Bad Request"
check "a head with a header line of 20000 bytes is too large (431)" \
	test "$(answer "GET http://registry.test/ HTTP/1.1\r\nX-Big: $(head -c 20000 /dev/zero | tr '\0' a)\r\n\r\n")" = \
	"HTTP/1.1 431 Request Header Fields Too Large"
check "a head that never ends within 16 KiB is too large (431)" \
	test "$(answer "GET http://registry.test/ HTTP/1.1\r\n$(head -c 17000 /dev/zero | tr '\0' a)")" = \
	"HTTP/1.1 431 Request Header Fields Too Large"
check "two Host headers are malformed (400)" \
	test "$(answer 'GET http://registry.test/ HTTP/1.1\r\nHost: registry.test\r\nHost: evil.test\r\n\r\n')" = \
	"HTTP/1.1 400 Bad Request"

# 300 slowloris clients: each sends 15000 bytes of a head that never ends,
# then one byte a second; the deadline is for the whole head
python3 - "$port" >"$T/slow" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(300):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET http://registry.test/ HTTP/1.1\r\nX-Slow: " + b"a" * 15000)
    socks.append(s)
print("sent", flush=True)
t0 = time.time()
answers = {}
for _ in range(20):
    for s in socks:
        if s in answers:
            continue
        try:
            s.setblocking(False)
            data = s.recv(4096)
            answers[s] = data.split(b"\r\n")[0].decode() if data else "closed"
        except BlockingIOError:
            try:
                s.send(b"a")
            except OSError:
                answers[s] = "reset"
    if len(answers) == len(socks):
        break
    time.sleep(1)
print("elapsed %d" % (time.time() - t0))
print("answers %d" % sum(1 for a in answers.values() if a == "HTTP/1.1 408 Request Timeout"))
PY
SLOW=$!
defer "kill $SLOW"
wait_for 20 grep -q sent "$T/slow"
rss=$(awk '/^VmRSS/ { print $2 }' /proc/$PX/status)
check "300 slowloris clients with 15000 bytes each cost bounded memory (${rss} KiB < 32 MiB)" test "$rss" -lt 32768
# a client's socket must not outlive an exec of the proxy's (none today; a
# library or a later change might): every socket and anon inode (epoll,
# timers, events) it holds, the 300 clients' too; not what its caller left open
leaky() {
	local f fl
	for f in /proc/$PX/fdinfo/*; do
		case $(readlink "/proc/$PX/fd/${f##*/}") in socket:* | anon_inode:*) ;; *) continue ;; esac
		fl=$(sed -n 's/^flags:[[:space:]]*//p' "$f" 2>/dev/null) || continue
		[ -z "$fl" ] || (((8#$fl) & 8#2000000)) || echo "${f##*/}"
	done
}
check "every socket and anon inode of the proxy, its 300 clients' too, is close-on-exec" test -z "$(leaky)" || diag "not: $(leaky | paste -sd' ')"
check "while they hang on, another client is answered" \
	test "$(answer 'CONNECT evil.test:443 HTTP/1.1\r\n\r\n')" = "HTTP/1.1 403 Forbidden"
wait "$SLOW"
check "every slowloris client got 408 at the head deadline, trickling or not" grep -qx "answers 300" "$T/slow" ||
	diag "$(cat "$T/slow")"
elapsed=$(sed -n 's/^elapsed //p' "$T/slow")
check "within the deadline and a little (${elapsed} s)" test "${elapsed:-99}" -le 13
reasons() { jq -r .reason "$T/rec" | sort | uniq -c | awk '{ print $2 "=" $1 }' | paste -sd' '; }
check "each refusal is a record with its reason" \
	test "$(reasons)" = "headers_too_large=2 malformed=4 not_allowed=1 timeout=300" || diag "$(reasons)"

# A CONNECT whose lookup the proxy's DNS never answers: the head deadline
# ends it (a timeout record); libevent calls the cancelled lookup back from
# the loop, after the connection is freed, and that must touch none of it
dns_port=$(python3 -c 'import socket; s = socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -c 'import socket, sys; s = socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
while True: s.recv(512)' "$dns_port" &
defer "kill $!"
san_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ASAN_OPTIONS=detect_leaks=0 "$BIN/tests/sandtrail-proxy-san" --listen "127.0.0.1:$san_port" \
	--dns "127.0.0.1:$dns_port" --allow-domain registry.test --records "$T/rec-san" 2>"$T/san.err" &
defer "kill $!"
wait_for 10 grep -q "sandtrail-proxy: ready" "$T/san.err" || diag "$(tail -n 3 "$T/san.err")"
python3 - "$san_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"CONNECT registry.test:443 HTTP/1.1\r\n\r\n")
while s.recv(4096):
    pass
PY
check "a CONNECT whose lookup is never answered ends at the head deadline (a timeout record)" \
	test "$(jq -r 'select(.domain == "registry.test") | .reason' "$T/rec-san" 2>/dev/null)" = timeout
check "the cancelled lookup touches no freed memory, and the next client is answered" \
	test "$(port=$san_port answer 'CONNECT evil.test:443 HTTP/1.1\r\n\r\n')" = "HTTP/1.1 403 Forbidden" -a \
	"$(grep -c AddressSanitizer "$T/san.err")" = 0 || diag "$(grep -m 3 -A 3 ERROR "$T/san.err")"
