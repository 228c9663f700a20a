#!/usr/bin/env bash
# Datagrams, binds, listens and accepts, in a watched cgroup, in hardened
# run sessions and in gvisor ones (the Sentry's points): the first allowed
# datagram to each destination is a record, the rest a count per destination
# at the session's end (a full table says so); denied datagrams stay one
# record each; bind, listen and accept carry the addresses the kernel gave
# the socket (getsockname/getpeername inside the workload are the
# independent account).
source "$(dirname "$0")/lib.sh"
plan 37
W=$HELPERS/st_workload
PY=/usr/bin/python3 # the sandbox's /usr has it; pyenv shims elsewhere do not

start_daemon || { not_ok "sandtraild starts"; exit 1; }
"$W" hold-ports 2 >"$T/ports" & # closed and held: datagrams go nowhere, nobody else's
defer "kill $!"
wait_for 10 test -s "$T/ports"
dport=$(cat "$T/ports")
dport2=$((dport + 1))

# the socket workload: prints what getsockname/getpeername say
cat >"$T/sock.py" <<'EOF'
import os, socket, sys
d = sys.argv[1]
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(7)
port = s.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port)); a, peer = s.accept()
print("tcp", port, peer[1], flush=True)
b = socket.socket()
try:
    b.bind(("127.0.0.1", port))
except OSError as e:
    print("inuse", e.errno, flush=True)
s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 0)); s6.listen(3)
print("tcp6", s6.getsockname()[1], flush=True)
u = socket.socket(socket.AF_UNIX); u.bind(os.path.join(d, "ctl.sock")); u.listen(1)
EOF
cat >"$T/dgram.py" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    u.sendto(b"x", ("127.0.0.1", port))
    u.sendmsg([b"y"], [], 0, ("127.0.0.1", port))
v = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
v.sendto(b"z", ("::1", port))
EOF

cg=$(mk_cgroup net)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
mkdir "$T/w"
run_in_cgroup "$cg" "$PY" "$T/sock.py" "$T/w" >"$T/sock.out"
run_in_cgroup "$cg" "$PY" "$T/dgram.py" "$dport" 150
run_in_cgroup "$cg" "$W" sendmmsg 127.0.0.1 "$dport2" 40 >"$T/mmsg.out"
# a flood over more destinations than a session's table holds (1024; 3
# taken above): 1021 itemised, 9 not
run_in_cgroup "$cg" "$PY" -c '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(1, 1031):
    u.sendto(b"f", ("127.0.0.3", p))
u.sendto(b"f", ("127.0.0.3", 1))'
"$SANDTRAIL" unwatch "$id"
replay_json "$id" >"$T/r.json"
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$id" >"$T/r.txt"
export -f jq_count
has() { test "$(jq_count "$1" "$2")" -ge 1 || { diag "no record in $1 matches: $2"; return 1; }; }
count_is() { local n; n=$(jq_count "$1" "$2"); test "$n" = "$3" || { diag "$n records match $2, not $3"; return 1; }; }

read -r _ port peer <"$T/sock.out"
read -r _ inuse < <(grep ^inuse "$T/sock.out")
read -r _ port6 < <(grep ^tcp6 "$T/sock.out")
R=$T/r.json
check "bind: the port the kernel chose, read from the socket" has "$R" \
	'.type=="bind" and .family=="AF_INET" and .addr=="127.0.0.1" and .port=='"${port:-0}"' and .source=="socket" and .ret==0'
check "bind: a failed one keeps the address asked for, and its error" has "$R" \
	'.type=="bind" and .addr=="127.0.0.1" and .port=='"${port:-0}"' and .source=="user" and .ret==-'"${inuse:-0}"
check "listen: address, port and backlog" has "$R" \
	'.type=="listen" and .addr=="127.0.0.1" and .port=='"${port:-0}"' and .backlog==7 and .ret==0'
check "accept: the peer as getpeername has it, on the listening address" has "$R" \
	'.type=="accept" and .addr=="127.0.0.1" and .port=='"${port:-0}"' and .peer_addr=="127.0.0.1" and .peer_port=='"${peer:-0}"' and .ret>=0'
check "bind and listen over IPv6" has "$R" \
	'.type=="listen" and .family=="AF_INET6" and .addr=="::1" and .port=='"${port6:-0}"' and .backlog==3'
check "bind of a unix socket: its path" has "$R" '.type=="bind" and .family=="AF_UNIX" and .addr=="'"$T/w/ctl.sock"'" and .ret==0'
check "replay text: bind, listen and accept with their addresses" bash -c '
	grep -q "bind 127.0.0.1:$2\$" "$1" && grep -q "listen 127.0.0.1:$2 (backlog 7)" "$1" &&
	grep -q "accept 127.0.0.1:$3 on 127.0.0.1:$2" "$1"' _ "$T/r.txt" "$port" "$peer"

check "datagram: one record for the first to a destination (sendto and sendmsg: 300 sent)" count_is "$R" \
	'.type=="datagram" and .addr=="127.0.0.1" and .port=='"$dport"' and .verdict=="allow" and .source=="hook"' 1
check "datagrams: the count per destination at the session's end" has "$R" \
	'.type=="datagrams" and .family=="AF_INET" and .addr=="127.0.0.1" and .port=='"$dport"' and .count==300'
check "datagram over IPv6: its own destination" has "$R" \
	'.type=="datagrams" and .family=="AF_INET6" and .addr=="::1" and .port=='"$dport"' and .count==1'
check "sendmmsg: 40 datagrams in one call, counted" bash -c \
	'test "$(cat "$1")" = "40 0" && test "$(jq_count "$2" ".type==\"datagrams\" and .port==$3 and .count==40")" = 1' \
	_ "$T/mmsg.out" "$R" "$dport2"
check "a full table: 1024 destinations itemised, the rest counted untracked" bash -c '
	test "$(jq_count "$1" ".type==\"datagram\"")" = 1024 &&
	test "$(jq_count "$1" ".type==\"datagrams\" and .untracked==true and .count==9 and .limit==1024")" = 1 &&
	test "$(jq_count "$1" ".type==\"datagrams\" and .addr==\"127.0.0.3\" and .port==1 and .count==2")" = 1' _ "$R"
check "datagrams come after the session's last event, before session_end" bash -c '
	jq -s -e "(map(.type) | index(\"session_end\")) > (map(.type) | rindex(\"datagrams\")) and
		(map(.type) | rindex(\"datagrams\")) > (map(.type) | rindex(\"datagram\"))" "$1" >/dev/null' _ "$R"
check "replay text: the first datagram and the count" bash -c '
	grep -q "datagram 127.0.0.1:$2 allow" "$1" && grep -q "datagrams to 127.0.0.1:$2: 300\$" "$1" &&
	grep -q "datagrams to destinations beyond the first 1024: 9" "$1"' _ "$T/r.txt" "$dport"
check "the kernel forgot the session's datagrams" bash -c \
	'bpftool map dump name dgrams -j | jq -e "[.[] | select(.key.session == $1)] | length == 0" >/dev/null' \
	_ "$(stat -c %i "$cg")"

# hardened run sessions: allowlist (the host's network, policed) and none
# (a network of the session's own: bind, listen, accept on its loopback)
# (gvisor: the Sentry's sockets are host sockets in the session cgroup, policed
# and recorded by the same hooks, view host; on its own loopback under
# --network none, the Sentry's points: view sandbox, below)
for mode in hardened gvisor; do
	"$SANDTRAIL" run --mode "$mode" --id-file "$T/a-$mode.id" "${HV[@]}" --network allowlist --allow 127.0.0.1:"$dport" -- /bin/sh -c "
	$PY -c '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(25): u.sendto(b\"x\", (\"127.0.0.1\", $dport))
for i in range(3):
    try: u.sendto(b\"x\", (\"127.0.0.1\", $dport2))
    except PermissionError: pass
'" 2>"$T/a-$mode.err"
	check "run ($mode, allowlist): the session ran" test -s "$T/a-$mode.id" || diag "$(cat "$T/a-$mode.err")"
	replay_json "$(cat "$T/a-$mode.id")" >"$T/a-$mode.json"
	A=$T/a-$mode.json
	check "run ($mode, allowlist): the allowed destination, once, and its count" bash -c '
		test "$(jq_count "$1" ".type==\"datagram\" and .port==$2 and .verdict==\"allow\"")" = 1 &&
		test "$(jq_count "$1" ".type==\"datagrams\" and .port==$2 and .count==25")" = 1' _ "$A" "$dport"
	check "run ($mode, allowlist): denied datagrams, one record each" count_is "$A" \
		'.type=="connect" and .syscall=="sendmsg" and .port=='"$dport2"' and .verdict=="deny" and .ret==-1' 3
	check "run ($mode, allowlist): denied datagrams are not counted" count_is "$A" '.port=='"$dport2"' and (.type=="datagram" or .type=="datagrams")' 0
done
mkdir -p "$T/ws"
cp "$T/sock.py" "$T/ws/"
chown -R 4242:4242 "$T/ws"
"$SANDTRAIL" run --id-file "$T/n.id" "${HV[@]}" -v "$T/ws:/ws" --network none -- "$PY" /ws/sock.py /ws \
	>"$T/n.out" 2>"$T/n.err"
check "run (none): the session ran" test -s "$T/n.id" || diag "$(cat "$T/n.err")"
replay_json "$(cat "$T/n.id")" >"$T/n.json"
read -r _ nport npeer <"$T/n.out"
N=$T/n.json
check "run (none): bind with the kernel's port" has "$N" \
	'.type=="bind" and .addr=="127.0.0.1" and .port=='"${nport:-0}"' and .source=="socket" and .ret==0'
check "run (none): listen" has "$N" '.type=="listen" and .port=='"${nport:-0}"' and .backlog==7 and .ret==0'
check "run (none): accept with the peer's port" has "$N" \
	'.type=="accept" and .port=='"${nport:-0}"' and .peer_port=='"${npeer:-0}"' and .ret>=0'
check "run (none): the failed bind" has "$N" '.type=="bind" and .port=='"${nport:-0}"' and .ret==-98'
check "run (none): the unix socket's path as the sandbox named it" has "$N" '.type=="bind" and .family=="AF_UNIX" and .addr=="/ws/ctl.sock"'
check "run (none): no record is left unattributed" none "$N" '.session != "'"$(cat "$T/n.id")"'"'
check "run: datagrams are not recorded without datagrams" none "$N" '.type=="datagram" or .type=="datagrams"'

# gvisor under --network none: the sandbox's own loopback, from the Sentry's
# points (bind as asked, accept with its peer, listen from its raw point:
# neither has the socket's own address)
"$SANDTRAIL" run --mode gvisor --id-file "$T/g.id" "${HV[@]}" -v "$T/ws:/ws" --network none -- "$PY" /ws/sock.py /ws \
	>"$T/g.out" 2>"$T/g.err"
check "run (gvisor, none): the session ran" test -s "$T/g.id" || diag "$(cat "$T/g.err")"
replay_json "$(cat "$T/g.id")" >"$T/g.json"
read -r _ gport gpeer <"$T/g.out"
G=$T/g.json
check "run (gvisor, none): bind as the sandbox asked it (port 0), from the Sentry" has "$G" \
	'.type=="bind" and .view=="sandbox" and .family=="AF_INET" and .addr=="127.0.0.1" and .port==0 and .source=="sentry" and .ret==0'
check "run (gvisor, none): the failed bind with its port and error" has "$G" \
	'.type=="bind" and .view=="sandbox" and .port=='"${gport:-0}"' and .ret==-98'
check "run (gvisor, none): listen with its backlog and fd, no address" has "$G" \
	'.type=="listen" and .view=="sandbox" and .backlog==7 and .fd>=0 and .ret==0 and .addr==null'
check "run (gvisor, none): accept with the peer's port as getpeername has it" has "$G" \
	'.type=="accept" and .view=="sandbox" and .family=="AF_INET" and .peer_addr=="127.0.0.1" and .peer_port=='"${gpeer:-0}"' and .ret>=0'
check "run (gvisor, none): the unix socket's path as the sandbox named it" has "$G" \
	'.type=="bind" and .view=="sandbox" and .family=="AF_UNIX" and .addr=="/ws/ctl.sock"'
