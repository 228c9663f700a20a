#!/usr/bin/env bash
# Egress enforcement by the session's cgroup hooks: with an allowlist,
# connect and sendto to anything not on it fail with EPERM (loopback and the
# metadata address included, IPv4-mapped IPv6 judged as IPv4, abstract unix
# sockets refused) and every attempt is still recorded with its verdict;
# with --network host, everything is allowed and recorded.  Sessions come
# from `sandtrail run`; the policy replacement at the end drives the probes
# directly (tests/integration/helpers/probe_dump), as no command sends a
# netpolicy update yet.
source "$(dirname "$0")/lib.sh"
plan 71
W=$HELPERS/st_workload

start_daemon || { not_ok "sandtraild starts"; exit 1; }
"$W" listen >"$T/lport" &
defer "kill $!"
"$W" hold-ports 2 >"$T/cport" & # two closed ports, held: nobody else takes them meanwhile
defer "kill $!"
wait_for 10 test -s "$T/lport" -a -s "$T/cport"
lport=$(cat "$T/lport")
cport=$(cat "$T/cport")
abstract=sandtrail-test-abstract-$$

probes='
	W=$1 l=$2 c=$3 a=$4
	echo "allowed $($W connect 127.0.0.1 $l)"
	echo "port $($W connect 127.0.0.1 $c)"
	echo "loopback2 $($W connect 127.0.0.2 $l)"
	echo "metadata $($W connect 169.254.169.254 80)"
	echo "v6loop $($W connect ::1 $l)"
	echo "mapped $($W connect ::ffff:127.0.0.1 $l)"
	echo "udp $($W sendto 127.0.0.1 9)"
	echo "abstract $($W connect-unix @$a)"
	echo "abstractdgram $($W sendto-unix @$a)"
	echo "pathname $($W connect-unix /nonexistent/sock)"'
"$SANDTRAIL" run "${HV[@]}" --network allowlist --allow "127.0.0.1/32:$lport" --id-file "$T/id1" -- \
	/bin/sh -c "$probes" _ "$W" "$lport" "$cport" "$abstract" >"$T/results" 2>"$T/run.err"
check "sandtrail run with an allowlist succeeds" test $? -eq 0
"$SANDTRAIL" run "${HV[@]}" --network host --id-file "$T/id2" -- \
	/bin/sh -c 'echo "port $($1 connect 127.0.0.1 $2)"; echo "udp $($1 sendto 127.0.0.1 9)"' _ "$W" "$cport" \
	>"$T/results.open" 2>>"$T/run.err"
# rules of every shape, through the kernel: a range with a port, a range
# without one, IPv6, an IPv4-mapped rule, a host name; each with the address
# just past it and the next port.  Nothing listens on $cport or on the other
# loopback addresses: an allowed connect is refused by the peer (111), a
# denied one never leaves (EPERM, 1).
nport=$((cport + 1))
shapes='
	W=$1 l=$2 c=$3 n=$4
	t() { echo "$1 $($W connect $2 $3)"; }
	t range 127.0.9.77 $c; t range-last 127.0.9.255 $c; t range-past 127.0.10.0 $c; t range-nport 127.0.9.77 $n
	t anyport 127.0.2.9 $c; t anyport-n 127.0.2.9 $n; t anyport-past 127.0.3.0 $c
	t v6 ::1 $c; t v6-nport ::1 $n; t v6-past ::2 $c
	t mapped ::ffff:127.0.9.77 $c; t mapped-past ::ffff:127.0.10.0 $c
	t maprule 127.0.4.1 $c; t maprule-past 127.0.5.0 $c; t maprule-nport 127.0.4.1 $n
	t host 127.0.0.1 $l; t host-nport 127.0.0.1 $c'
"$SANDTRAIL" run "${HV[@]}" --network allowlist --id-file "$T/id.shapes" --allow "127.0.9.0/24:$cport" --allow 127.0.2.0/24 \
	--allow "[::/127]:$cport" --allow "[::ffff:127.0.4.0/120]:$cport" --allow "localhost:$lport" -- \
	/bin/sh -c "$shapes" _ "$W" "$lport" "$cport" "$nport" >"$T/results.shapes" 2>>"$T/run.err"
check "sandtrail run with rules of every shape succeeds" test $? -eq 0 || diag "$(cat "$T/run.err")"
# the hooks stay on the session parent: later sessions are policed by them,
# unwatched cgroups below it are left alone
check "a later allowlisted session is policed too" test "$("$SANDTRAIL" run "${HV[@]}" --network allowlist \
	--allow "127.0.0.1/32:$lport" -- "$W" connect 127.0.0.1 "$cport" 2>>"$T/run.err")" = "-1 1"
check "an unrecorded session below the session parent is not policed" test "$("$SANDTRAIL" run "${HV[@]}" --no-audit \
	--network host -- "$W" connect 127.0.0.1 "$cport" 2>>"$T/run.err")" = "-1 111"
# our_links CGROUP_DIR: how many of sandtraild's links are attached to it
our_links() {
	local id ids
	id=$(stat -c %i "$1")
	ids=$(grep -h '^link_id:' /proc/"$DAEMON_PID"/fdinfo/* 2>/dev/null | awk '{print $2}' | paste -sd, -)
	bpftool link show -j | jq "[.[] | select(.cgroup_id == $id and ([.id] | inside([${ids:-0}])))] | length"
}
hooks=7 # connect4/6, sendmsg4/6, unix connect/sendmsg, the proxy's sockops
grep -q "no cgroup hooks for unix sockets" "$T/daemon.err" && hooks=5
check "the egress hooks sit on the session parent once, for all its sessions" \
	test "$(our_links "$(cg2_root)/sandtrail")" -eq $hooks
stop_daemon
replay_json "$(cat "$T/id1")" >"$T/enforced" 2>/dev/null
replay_json "$(cat "$T/id2")" >"$T/open" 2>/dev/null

result() { # NAME WANT [FILE]
	local got
	got=$(sed -n "s/^$1 //p" "${3:-$T/results}")
	test "$got" = "$2" || { diag "$1: $got, want $2"; return 1; }
}
rec() { test "$(jq_count "$T/enforced" "$1")" -ge 1 || { diag "no record matches: $1"; return 1; }; }
check "allowed destination connects" result allowed "0 0"
check "... and is recorded as allowed" rec '.type=="connect" and .port=='"$lport"' and .addr=="127.0.0.1" and .verdict=="allow" and .ret==0'
check "another port of an allowed address: EPERM" result port "-1 1"
check "... recorded as denied" rec '.type=="connect" and .port=='"$cport"' and .verdict=="deny" and .ret==-1 and .error=="EPERM"'
check "another loopback address: EPERM" result loopback2 "-1 1"
check "the metadata address: EPERM" result metadata "-1 1"
check "... recorded as denied" rec '.type=="connect" and .addr=="169.254.169.254" and .port==80 and .verdict=="deny"'
check "IPv6 loopback: EPERM" result v6loop "-1 1"
check "IPv4-mapped IPv6 of an allowed address: allowed" result mapped "0 0"
check "... recorded as allowed" rec '.type=="connect" and .addr=="::ffff:127.0.0.1" and .verdict=="allow" and .ret==0'
check "UDP to a denied address: EPERM" result udp "-1 1"
check "... recorded as a denied sendmsg" rec '.type=="connect" and .syscall=="sendmsg" and .port==9 and .verdict=="deny" and .ret==-1'
if grep -q "no cgroup hooks for unix sockets" "$T/daemon.err"; then
	for c in "abstract unix socket: EPERM" "... recorded as denied, with its name" \
		"datagram to an abstract unix socket: EPERM" "... recorded as a denied sendmsg"; do
		skip "$c" "this kernel has no cgroup hooks for unix sockets (6.7+)"
	done
else
	check "abstract unix socket: EPERM" result abstract "-1 1"
	check "... recorded as denied, with its name" rec '.type=="connect" and .family=="AF_UNIX" and .addr=="\\x00'"$abstract"'" and .verdict=="deny"'
	check "datagram to an abstract unix socket: EPERM" result abstractdgram "-1 1"
	check "... recorded as a denied sendmsg" rec '.type=="connect" and .syscall=="sendmsg" and .family=="AF_UNIX" and .verdict=="deny"'
fi
check "filesystem unix socket: not denied (ENOENT)" result pathname "-1 2"
shape() { check "$1: $2" result "$2" "$3" "$T/results.shapes"; }
shape "127.0.9.0/24:PORT" range "-1 111"
shape "127.0.9.0/24:PORT" range-last "-1 111"
shape "127.0.9.0/24:PORT, one address past it" range-past "-1 1"
shape "127.0.9.0/24:PORT, the next port" range-nport "-1 1"
shape "127.0.2.0/24 without a port" anyport "-1 111"
shape "127.0.2.0/24 without a port, another port" anyport-n "-1 111"
shape "127.0.2.0/24 without a port, one address past it" anyport-past "-1 1"
# ::1 is the host's through pasta (the rule opens the host's loopback port):
# pasta accepts inside the session's namespace, then finds the port closed
shape "[::/127]:PORT, forwarded to the host's loopback" v6 "0 0"
shape "[::/127]:PORT, the next port" v6-nport "-1 1"
shape "[::/127]:PORT, one address past it" v6-past "-1 1"
shape "an IPv4-mapped address in 127.0.9.0/24:PORT" mapped "-1 111"
shape "an IPv4-mapped address past 127.0.9.0/24:PORT" mapped-past "-1 1"
shape "[::ffff:127.0.4.0/120]:PORT is 127.0.4.0/24:PORT" maprule "-1 111"
shape "[::ffff:127.0.4.0/120]:PORT, one address past it" maprule-past "-1 1"
shape "[::ffff:127.0.4.0/120]:PORT, the next port" maprule-nport "-1 1"
shape "localhost:PORT" host "0 0"
shape "localhost:PORT, another port" host-nport "-1 1"
replay_json "$(cat "$T/id.shapes")" >"$T/shapes" 2>/dev/null
check "... each allowed attempt recorded as allowed" test "$(jq_count "$T/shapes" \
	'.type=="connect" and .verdict=="allow" and (.ret==0 or .error=="ECONNREFUSED")')" -eq 8
check "... each denied attempt recorded as denied" test "$(jq_count "$T/shapes" \
	'.type=="connect" and .verdict=="deny" and .error=="EPERM"')" -eq 9

check "--network host: a closed port is refused by the peer, not by us" result port "-1 111" "$T/results.open"
check "--network host: UDP goes out" result udp "1 0" "$T/results.open"
check "... and the connect is recorded as allowed" test \
	"$(jq_count "$T/open" '.type=="connect" and .port=='"$cport"' and .verdict=="allow" and .ret==-111')" -eq 1

# dump CGROUP OUT [probe_dump options]: traces CGROUP until stop_dump
# (stdin from $DUMP_STDIN)
dump() {
	local cg=$1 out=$2
	shift 2
	"$HELPERS/probe_dump" "$@" "$cg" <"${DUMP_STDIN:-/dev/null}" >"$out" 2>"$out.err" &
	DUMP=$!
	for _ in $(seq 100); do
		grep -q '^ready' "$out.err" 2>/dev/null && return 0
		kill -0 $DUMP 2>/dev/null || break
		sleep 0.1
	done
	diag "probe_dump did not start: $(cat "$out.err")"
	return 1
}
stop_dump() { kill $DUMP && wait $DUMP; }

# a new policy replaces the old one at once; "open" lifts it
cg3=$(mk_cgroup swap)
mkfifo "$T/pol"
exec 8<>"$T/pol"
DUMP_STDIN=$T/pol dump "$cg3" "$T/swap" --policy-stdin || { not_ok "probes load"; exit 1; }
defer "kill $DUMP"
cg3id=$(stat -c %i "$cg3")
check "bpftool: the hooks are attached to the session cgroup" \
	test "$(bpftool link show -j | jq -c ".[] | select(.cgroup_id == $cg3id)" | wc -l)" -eq 7
applied=0
apply() {
	echo "$*" >&8
	applied=$((applied + 1))
	for _ in $(seq 50); do
		[ "$(grep -c '^applied' "$T/swap.err")" -ge $applied ] && return 0
		sleep 0.1
	done
	diag "policy '$*' not applied: $(cat "$T/swap.err")"
	return 1
}
try() { run_in_cgroup "$cg3" "$W" connect 127.0.0.1 "$1"; }
check "a first policy is applied" apply deny "127.0.0.1/32:$lport"
check "first policy: its port connects" test "$(try "$lport")" = "0 0"
check "first policy: another port is denied" test "$(try "$cport")" = "-1 1"
check "a second policy replaces it" apply deny "127.0.0.1/32:$cport"
check "second policy: the first one's port is denied now" test "$(try "$lport")" = "-1 1"
check "second policy: its port is allowed (and refused by the peer)" test "$(try "$cport")" = "-1 111"
check "the policy is lifted" apply open
check "no policy: everything allowed again" test "$(try "$lport")" = "0 0"
check "a policy without rules is applied" apply deny
check "deny with no rule: everything denied" test "$(try "$lport")" = "-1 1"
stop_dump
check "each attempt recorded with the verdict of the policy of its time" test \
	"$(jq -r 'select(.type=="connect") | "\(.port)=\(.verdict)"' "$T/swap" | paste -sd' ')" = \
	"$lport=allow $cport=deny $lport=deny $cport=allow $lport=allow $lport=deny"
check "bpftool: the hooks are gone with the probes" test "$(links_on_cgroup $cg3id)" = 0

# session parents: cgroups below one share its hooks; a second parent gets
# its own while the first still serves its session
p1=$(mk_cgroup parent1)
p2=$(mk_cgroup parent2)
mkdir "$p1/s" "$p2/s"
mkdir "$p1/s/deeper"
mkfifo "$T/pol2"
exec 9<>"$T/pol2"
DUMP_STDIN=$T/pol2 dump "$p2/s" "$T/parents" --policy-stdin --parent "$p1" "$p1/s" --parent "$p2" ||
	{ not_ok "probes load with session parents"; exit 1; }
links_on() { bpftool link show -j | jq "[.[] | select(.cgroup_id == $(stat -c %i "$1"))] | length"; }
check "each session parent holds the hooks once" test "$(links_on "$p1")$(links_on "$p2")" = "$hooks$hooks"
check "the sessions below them hold none" test "$(links_on "$p1/s")$(links_on "$p2/s")" = "00"
echo "deny 127.0.0.1/32:$lport" >&9
for _ in $(seq 50); do grep -q '^applied' "$T/parents.err" && break; sleep 0.1; done
check "a policy is applied to both sessions" grep -q '^applied' "$T/parents.err"
for s in "$p1/s" "$p2/s" "$p1/s/deeper"; do
	check "below ${s#"$(cg2_root)"/}: the allowed port connects" test "$(run_in_cgroup "$s" "$W" connect 127.0.0.1 "$lport")" = "0 0"
	check "below ${s#"$(cg2_root)"/}: another port is denied" test "$(run_in_cgroup "$s" "$W" connect 127.0.0.1 "$cport")" = "-1 1"
done
check "a datagram to a denied address is refused once" test "$(run_in_cgroup "$p1/s" "$W" sendto 127.0.0.1 9)" = "-1 1"
check "the first parent's hooks leave its other children alone" \
	test "$(mkdir "$p1/other" && run_in_cgroup "$p1/other" "$W" connect 127.0.0.1 "$cport")" = "-1 111"
stop_dump
check "each denied attempt is recorded once" \
	test "$(jq -c 'select(.type=="connect" and .verdict=="deny")' "$T/parents" | wc -l)" -eq 4
check "bpftool: the parents' hooks are gone with the probes" test "$(links_on "$p1")$(links_on "$p2")" = "00"
check "a parent is not shared while a session below it has hooks of its own" bash -c \
	"'$HELPERS/probe_dump' '$p1/s' --parent '$p1' '$p1/other' 2>&1 >/dev/null | grep -q 'watch $p1/other: Device or resource busy'"
