#!/usr/bin/env bash
# The escape suite: the ways out of a session that DESIGN.md's threat model
# lists, tried from inside as an attacker would, mode by mode
# (ESCAPE_MODES="hardened gvisor microvm" to choose).  Each attempt must be refused,
# and recorded where it reaches a hook; nothing a session made may be left on
# the host with host root's ownership or a setuid bit.  A mode joins
# DEFAULT_MODES once it holds against every attempt (its threat model in
# DESIGN.md says which errno each layer answers with).
source "$(dirname "$0")/lib.sh"

P=$HELPERS/sbx_probe
DEFAULT_MODES="hardened gvisor microvm"
MODES=${ESCAPE_MODES:-$DEFAULT_MODES}
# checks per mode: gvisor refuses -p, where hardened has 6 checks of it, in 3;
# microvm refuses allowlist (network none only), and with it -p and NET_RAW
checks=0
for M in $MODES; do
	case $M in gvisor) checks=$((checks + 50)) ;; microvm) checks=$((checks + 31)) ;; *) checks=$((checks + 53)) ;; esac
done
plan $checks
start_daemon || { not_ok "sandtraild starts"; exit 1; }

# a profile that lets everything through, other ABIs included: the
# strongest relaxation a user can ask for
cat >"$T/permissive.json" <<'J'
{"defaultAction": "SCMP_ACT_ALLOW",
 "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}]}
J
# host things a session must not reach: a root-only file, unix sockets a
# host service listens on (world-writable, as many are), an abstract name
mkdir -p "$T/target" && echo "root's secret" >"$T/target/secret" && chmod 600 "$T/target/secret"
HOSTSOCK=/run/sandtrail-escape-$$.sock
python3 -c 'import socket,sys,os
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(8)
a=socket.socket(socket.AF_UNIX); a.bind("\0"+sys.argv[2]); a.listen(8)
print("up", flush=True); import signal; signal.pause()' "$HOSTSOCK" "sandtrail-escape-$$" >"$T/hostsock.out" 2>&1 &
defer "kill $! ; rm -f $HOSTSOCK"
wait_for 20 grep -q up "$T/hostsock.out"
# hostconn KIND ADDR [PORT], as a host process: tcp (connected), read (the
# first line the peer sends), unix (@NAME: connected), bind (bound); else the errno
hostconn() {
	python3 - "$@" <<'PY'
import errno, socket, sys
kind, addr = sys.argv[1], sys.argv[2]
try:
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX); s.connect("\0" + addr[1:]); print("connected")
    elif kind == "bind":
        # as a server would (SO_REUSEADDR): only a listener holds the port
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(sys.argv[3]))); s.listen(1); print("bound")
    else:
        s = socket.create_connection((addr, int(sys.argv[3])), timeout=20)
        print(s.makefile().readline().strip() if kind == "read" else "connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))
PY
}
export -f hostconn
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HOSTADDR=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
# a session's server: says hello to the first connection on PORT
# which of the host's /run, /var/run, /home and /root the session sees (no
# ls: Debian's fails in gVisor, and a failed ls would show nothing)
THERE='for f in /run/* /var/run /home /root; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done'
SERVER='import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4); print("up", flush=True)
c, _ = s.accept(); c.sendall(b"hello from the session\n"); c.close()'

for M in $MODES; do
	W=$T/$M
	mkdir -p "$W/root-ws" "$W/ws" "$W/own"
	chown 4321:4321 "$W/ws"
	# runs as `sudo sandtrail run` would: the invoking user is 4321
	# (a microVM's guest sees the host's owners: the command runs as the workspace's)
	UA=()
	[ "$M" = microvm ] && UA=(-u 4321:4321)
	run() { SUDO_UID=4321 SUDO_GID=4321 "$SANDTRAIL" run --mode "$M" "${UA[@]}" "${HV[@]}" "$@"; }
	out() { run "$@" 2>"$W/run.err"; }
	# refused WANT OUTPUT: the attempt was refused.  The errno is the layer's:
	# hardened answers WANT (its fixed filter or the kernel); gVisor's Sentry
	# answers EPERM to every refusal of its seccomp rules (this runsc ignores
	# errnoRet) and some with its own (EOPNOTSUPP: no file capabilities at all)
	refused() {
		case $M:$2 in
		hardened:"refused $1" | microvm:"refused $1" | gvisor:"refused E"*) return 0 ;;
		esac
		diag "got '$2', want 'refused $1'" "$(cat "$W/run.err")"
		return 1
	}

	# 1. setuid planting through a workspace
	"$SANDTRAIL" run --mode "$M" -v "$W/root-ws:/work" -- true 2>"$W/root.err"
	ROOTMSG="belongs to root, so what the session writes there would be root's on the host"
	[ "$M" = microvm ] && ROOTMSG="owned by uid 0, and microvm mode's guest sees the host's owners"
	check "[$M] a writable volume of root's is refused unless its owner is named" grep -q "$ROOTMSG" "$W/root.err"
	o=$(out -v "$W/ws:/work" -w /work -- sh -c "cp /bin/id suid; $P chmod-setuid suid; $P create-setuid sgid; $P setcap suid")
	check "[$M] chmod 4755 in the workspace is refused" refused EPERM "$(sed -n 1p <<<"$o")"
	check "[$M] creating a setgid file is refused" refused EPERM "$(sed -n 2p <<<"$o")"
	check "[$M] a file capability is refused" refused EPERM "$(sed -n 3p <<<"$o")"
	check "[$M] under sudo, what the session made belongs to the invoking user" test "$(stat -c %u:%g "$W/ws/suid")" = 4321:4321
	o=$(SUDO_UID= "$SANDTRAIL" run --mode "$M" "${HV[@]}" --volume-owner 0 -v "$W/own:/work" -w /work -- \
		sh -c "cp /bin/id suid; $P chmod-setuid suid" 2>"$W/run.err")
	if [ "$M" = microvm ]; then
		# QEMU would serve the volume as root: refused before anything runs
		check "[$M] root's ownership asked in so many words: refused" \
			bash -c '[ -z "$1" ] && grep -q "microvm mode" "$2"' _ "$o" "$W/run.err"
	else
		check "[$M] root's ownership asked in so many words: still no setuid bit" refused EPERM "$o"
	fi
	check "[$M] no file a session made has a setuid/setgid bit on the host" lacks . find "$W" -perm /6000
	check "[$M] nothing made under sudo belongs to host root" lacks . find "$W/ws" -user 0

	# 2. sockets no network mode polices, under any profile
	NETS=("--network none" "--network allowlist --allow 127.0.0.1:9")
	if [ "$M" = microvm ]; then
		# the guest has no network device: network none only
		run --network allowlist --allow 127.0.0.1:9 -- true 2>"$W/run.err"
		check "[$M] --network allowlist is refused, saying why" grep -q "network none only" "$W/run.err"
		NETS=("--network none")
	fi
	for net in "${NETS[@]}"; do
		# shellcheck disable=SC2086
		o=$(out $net -- sh -c "$P socket 40 1 0; $P socket 17 3 0; $P socket 16 3 9; $P socketpair 40; $P socket 16 3 0")
		check "[$M] $net: AF_VSOCK is refused" refused EAFNOSUPPORT "$(sed -n 1p <<<"$o")"
		check "[$M] $net: AF_PACKET is refused" refused EAFNOSUPPORT "$(sed -n 2p <<<"$o")"
		check "[$M] $net: netlink other than route is refused" refused EPROTONOSUPPORT "$(sed -n 3p <<<"$o")"
		check "[$M] $net: socketpair(AF_VSOCK) is refused" refused EAFNOSUPPORT "$(sed -n 4p <<<"$o")"
		check "[$M] $net: netlink route still works" test "$(sed -n 5p <<<"$o")" = allowed
	done
	PROF=(--security-opt seccomp="$T/permissive.json")
	if [ "$M" = gvisor ] || [ "$M" = microvm ]; then
		# the Sentry, or the guest's kernel, serves the syscalls: no host filter would see them
		run "${PROF[@]}" -- true 2>"$W/run.err"
		check "[$M] a user seccomp profile is refused, saying why" \
			grep -q "$M mode does not apply seccomp profiles" "$W/run.err"
		PROF=()
	else
		check "[$M] a user seccomp profile is taken" run "${PROF[@]}" -- true
	fi
	o=$(out "${PROF[@]}" -v "$W/ws:/work" -w /work -- sh -c \
		"$P socket 40 1 0; $P int80; $P x32; $P io_uring; $P unshare-user; $P chmod-setuid suid")
	check "[$M] a profile allowing everything: AF_VSOCK still refused" refused EAFNOSUPPORT "$(sed -n 1p <<<"$o")"
	# (gVisor runs int 0x80 as the native call of that number: i386 getpid,
	# 20, is writev there, EBADF; no i386 ABI, nothing the Sentry does not see)
	check "[$M] ... i386 syscalls (int 0x80) refused" refused ENOSYS "$(sed -n 2p <<<"$o")"
	check "[$M] ... x32 syscalls refused" refused ENOSYS "$(sed -n 3p <<<"$o")"
	check "[$M] ... io_uring refused" refused ENOSYS "$(sed -n 4p <<<"$o")"
	check "[$M] ... user namespaces refused" refused EPERM "$(sed -n 5p <<<"$o")"
	check "[$M] ... setuid bits refused" refused EPERM "$(sed -n 6p <<<"$o")"

	# 3. a link planted by one session redirects no later session's volume
	out -v "$W/ws:/work" -w /work -- ln -s "$T/target" cache >/dev/null
	check "[$M] session 1 planted a link in the workspace" test -L "$W/ws/cache"
	o=$(out -v "$W/ws/cache:/tmp/cache" -- cat /tmp/cache/secret)
	check "[$M] session 2's volume through it is refused" test -z "$o"
	check "[$M] ... naming the link" grep -q "$W/ws/cache is a symbolic link" "$W/run.err"
	check "[$M] ... and the target is untouched" test "$(stat -c %u:%a "$T/target/secret")" = 0:600

	# 4. the host's sockets under --network none
	o=$(out --network none --id-file "$W/none.id" -- sh -c \
		"$P connect-unix $HOSTSOCK; $P connect-unix /var$HOSTSOCK; $P connect-unix @sandtrail-escape-$$; $THERE")
	check "[$M] --network none: a host socket under /run is out of reach" refused ENOENT "$(sed -n 1p <<<"$o")"
	check "[$M] ... and under /var/run" refused ENOENT "$(sed -n 2p <<<"$o")"
	check "[$M] ... a host abstract name too (own network namespace)" refused ECONNREFUSED "$(sed -n 3p <<<"$o")"
	check "[$M] ... the host's /run, /var/run, /home and /root are not there" test -z "$(sed -n '4,$p' <<<"$o")"
	stop_daemon
	replay_json "$(cat "$W/none.id")" >"$W/none.json"
	start_daemon || { not_ok "sandtraild restarts"; exit 1; }
	# (the workload's: runsc's own connects to its sink and sandbox are setup)
	check "[$M] ... each attempt is recorded, none as a connection made" test \
		"$(jq_count "$W/none.json" '.type=="connect" and .family=="AF_UNIX" and .setup!=true')" -eq 3 -a \
		"$(jq_count "$W/none.json" '.type=="connect" and .family=="AF_UNIX" and .setup!=true and .ret==0')" -eq 0 ||
		diag "$(jq -c 'select(.type=="connect")' "$W/none.json")"

	if [ "$M" = microvm ]; then
		# allowlist, -p and NET_RAW: refused above (network none only)
		run --network none -p 8080:80 -- true 2>"$W/run.err"
		check "[$M] --network none refuses -p" grep -q "published ports need network mode allowlist" "$W/run.err"
		continue
	fi
	# 1, 3 and 4 again in allowlist mode: a network namespace of the session's, pasta its way out
	AL=(--network allowlist --allow 127.0.0.1:9)
	o=$(out "${AL[@]}" -v "$W/ws:/work" -w /work -- sh -c "cp /bin/id suid2; $P chmod-setuid suid2; $P setcap suid2")
	check "[$M] allowlist: chmod 4755 in the workspace is refused" refused EPERM "$(sed -n 1p <<<"$o")"
	check "[$M] allowlist: ... and a file capability" refused EPERM "$(sed -n 2p <<<"$o")"
	check "[$M] allowlist: nothing has a setuid bit or host root's ownership" test -z "$(find "$W" -perm /6000)$(find "$W/ws" -user 0)"
	o=$(out "${AL[@]}" -v "$W/ws/cache:/tmp/cache" -- cat /tmp/cache/secret)
	check "[$M] allowlist: a volume through the planted link is refused, naming it" \
		bash -c '[ -z "$1" ] && grep -q "$2 is a symbolic link" "$3"' _ "$o" "$W/ws/cache" "$W/run.err"
	o=$(out "${AL[@]}" --id-file "$W/al.id" -- sh -c \
		"$P connect-unix $HOSTSOCK; $P connect-unix @sandtrail-escape-$$; $THERE")
	check "[$M] allowlist: a host socket under /run is out of reach" refused ENOENT "$(sed -n 1p <<<"$o")"
	check "[$M] allowlist: ... the host's abstract name too" refused EPERM "$(sed -n 2p <<<"$o")"
	check "[$M] allowlist: ... the host's /run, /var/run, /home and /root are not there" test -z "$(sed -n '3,$p' <<<"$o")"

	# 5. inbound: nothing reaches a session unless a port is published
	lp=$(free_port)
	mkfifo "$W/hold"
	exec 8<>"$W/hold"
	run "${AL[@]}" -- sh -c "$P listen-tcp $lp & $P listen-abstract sandtrail-in-$$ & wait" <"$W/hold" >"$W/in.out" 2>"$W/in.err" &
	RUN=$!
	check "[$M] allowlist: the session listens on 0.0.0.0:$lp and on an abstract name" \
		wait_for 30 bash -c '[ "$(grep -c listening "$1")" -eq 2 ]' _ "$W/in.out" || diag "$(cat "$W/in.out" "$W/in.err")"
	check "[$M] ... the host cannot connect to it on its loopback" test "$(hostconn tcp 127.0.0.1 "$lp")" = ECONNREFUSED
	check "[$M] ... nor on its address ($HOSTADDR)" test "$(hostconn tcp "$HOSTADDR" "$lp")" = ECONNREFUSED
	check "[$M] ... nor to its abstract name" test "$(hostconn unix @sandtrail-in-$$)" = ECONNREFUSED
	exec 8>&-
	wait $RUN
	hp=$(free_port)
	if [ "$M" = gvisor ]; then
		# runsc's network is the host's or none: nothing to publish through
		run "${AL[@]}" -p "127.0.0.1:$hp:$lp" --id-file "$W/pub.id" -- touch /tmp/ran 2>"$W/pub.err"
		check "[$M] -p is refused (125), saying why" bash -c '[ $1 -eq 125 ] && grep -q "gvisor mode cannot publish ports" "$2"' _ $? "$W/pub.err"
		check "[$M] ... before any session began" test ! -s "$W/pub.id"
		check "[$M] ... and nothing holds the host port" test "$(hostconn bind 127.0.0.1 "$hp")" = bound
	else
		run "${AL[@]}" -p "127.0.0.1:$hp:$lp" --timeout 60s --id-file "$W/pub.id" -- python3 -c "$SERVER" "$lp" >"$W/pub.out" 2>"$W/pub.err" &
		RUN=$!
		defer "pkill -9 -f -- '--tcp-ports 127.0.0.1/$hp:$lp' || true"
		wait_for 30 grep -q up "$W/pub.out"
		check "[$M] -p 127.0.0.1:HOST_PORT:PORT: the host reaches the session's listener" \
			test "$(hostconn read 127.0.0.1 "$hp")" = "hello from the session" || diag "$(cat "$W/pub.out" "$W/pub.err")"
		wait $RUN
		check "[$M] ... the session ends normally" test $? -eq 0
		check "[$M] ... and nothing holds the host port after it" test "$(hostconn bind 127.0.0.1 "$hp")" = bound
		stop_daemon
		replay_json "$(cat "$W/pub.id")" >"$W/pub.json"
		start_daemon || { not_ok "sandtraild restarts"; exit 1; }
		check "[$M] ... session_start records the published port" \
			test "$(jq_count "$W/pub.json" '.type=="session_start" and .published==["127.0.0.1:'"$hp:$lp"'/tcp"]')" -eq 1
		"$SANDTRAIL" run --mode "$M" "${AL[@]}" -p "127.0.0.1:$hp:$lp" --id-file "$W/k9.id" -- sleep 600 2>"$W/k9.err" &
		RUN=$!
		wait_for 30 test -s "$W/k9.id"
		check "[$M] while a session publishes a port, the host port is taken" test "$(hostconn bind 127.0.0.1 "$hp")" = EADDRINUSE
		kill -9 $RUN
		wait $RUN 2>/dev/null
		check "[$M] after kill -9 of run, pasta is gone: the host port is free" \
			wait_for 30 bash -c '[ "$(hostconn bind 127.0.0.1 "$1")" = bound ]' _ "$hp"
	fi
	run "${AL[@]}" --cap-add NET_RAW -- true 2>"$W/run.err"
	check "[$M] allowlist refuses NET_RAW (raw packets would pass no hook)" \
		grep -q "capability NET_RAW with network mode allowlist: its packets would bypass the allowlist; refused" "$W/run.err"
	run --network none -p 8080:80 -- true 2>"$W/run.err"
	check "[$M] --network none refuses -p" grep -q "published ports need network mode allowlist" "$W/run.err"
done
