#!/usr/bin/env bash
# The escape suite: the ways out of a session that DESIGN.md's threat model
# lists, tried from inside as an attacker would, mode by mode
# (ESCAPE_MODES="hardened gvisor" to choose).  Each attempt must be refused,
# and recorded where it reaches a hook; nothing a session made may be left on
# the host with host root's ownership or a setuid bit.  A mode joins
# DEFAULT_MODES once it holds against every attempt (its threat model in
# DESIGN.md says which errno each layer answers with).
source "$(dirname "$0")/lib.sh"

P=$HELPERS/sbx_probe
DEFAULT_MODES="hardened"
MODES=${ESCAPE_MODES:-$DEFAULT_MODES}
set -- $MODES
plan $((33 * $#))
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

for M in $MODES; do
	W=$T/$M
	mkdir -p "$W/root-ws" "$W/ws" "$W/own"
	chown 4321:4321 "$W/ws"
	# runs as `sudo sandtrail run` would: the invoking user is 4321
	run() { SUDO_UID=4321 SUDO_GID=4321 "$SANDTRAIL" run --mode "$M" "${HV[@]}" "$@"; }
	out() { run "$@" 2>"$W/run.err"; }
	refused() { # WANT OUTPUT
		[ "$2" = "refused $1" ] || { diag "got '$2', want 'refused $1'" "$(cat "$W/run.err")"; return 1; }
	}

	# 1. setuid planting through a workspace
	"$SANDTRAIL" run --mode "$M" -v "$W/root-ws:/work" -- true 2>"$W/root.err"
	check "[$M] a writable volume of root's is refused unless its owner is named" \
		grep -q "belongs to root, so what the session writes there would be root's on the host" "$W/root.err"
	o=$(out -v "$W/ws:/work" -w /work -- sh -c "cp /bin/id suid; $P chmod-setuid suid; $P create-setuid sgid; $P setcap suid")
	check "[$M] chmod 4755 in the workspace is refused" refused EPERM "$(sed -n 1p <<<"$o")"
	check "[$M] creating a setgid file is refused" refused EPERM "$(sed -n 2p <<<"$o")"
	check "[$M] a file capability is refused" refused EPERM "$(sed -n 3p <<<"$o")"
	check "[$M] under sudo, what the session made belongs to the invoking user" test "$(stat -c %u:%g "$W/ws/suid")" = 4321:4321
	o=$(SUDO_UID= "$SANDTRAIL" run --mode "$M" "${HV[@]}" --volume-owner 0 -v "$W/own:/work" -w /work -- \
		sh -c "cp /bin/id suid; $P chmod-setuid suid" 2>"$W/run.err")
	check "[$M] root's ownership asked in so many words: still no setuid bit" refused EPERM "$o"
	check "[$M] no file a session made has a setuid/setgid bit on the host" lacks . find "$W" -perm /6000
	check "[$M] nothing made under sudo belongs to host root" lacks . find "$W/ws" -user 0

	# 2. sockets no network mode polices, under any profile
	for net in "--network none" "--network allowlist --allow 127.0.0.1:9"; do
		# shellcheck disable=SC2086
		o=$(out $net -- sh -c "$P socket 40 1 0; $P socket 17 3 0; $P socket 16 3 9; $P socketpair 40; $P socket 16 3 0")
		check "[$M] $net: AF_VSOCK is refused" refused EAFNOSUPPORT "$(sed -n 1p <<<"$o")"
		check "[$M] $net: AF_PACKET is refused" refused EAFNOSUPPORT "$(sed -n 2p <<<"$o")"
		check "[$M] $net: netlink other than route is refused" refused EPROTONOSUPPORT "$(sed -n 3p <<<"$o")"
		check "[$M] $net: socketpair(AF_VSOCK) is refused" refused EAFNOSUPPORT "$(sed -n 4p <<<"$o")"
		check "[$M] $net: netlink route still works" test "$(sed -n 5p <<<"$o")" = allowed
	done
	o=$(out --security-opt seccomp="$T/permissive.json" -v "$W/ws:/work" -w /work -- sh -c \
		"$P socket 40 1 0; $P int80; $P x32; $P io_uring; $P unshare-user; $P chmod-setuid suid")
	check "[$M] a profile allowing everything: AF_VSOCK still refused" refused EAFNOSUPPORT "$(sed -n 1p <<<"$o")"
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
		"$P connect-unix $HOSTSOCK; $P connect-unix /var$HOSTSOCK; $P connect-unix @sandtrail-escape-$$; ls -d /run/* /var/run /home /root 2>/dev/null")
	check "[$M] --network none: a host socket under /run is out of reach" refused ENOENT "$(sed -n 1p <<<"$o")"
	check "[$M] ... and under /var/run" refused ENOENT "$(sed -n 2p <<<"$o")"
	check "[$M] ... a host abstract name too (own network namespace)" refused ECONNREFUSED "$(sed -n 3p <<<"$o")"
	check "[$M] ... the host's /run, /var/run, /home and /root are not there" test -z "$(sed -n '4,$p' <<<"$o")"
	stop_daemon
	replay_json "$(cat "$W/none.id")" >"$W/none.json"
	start_daemon || { not_ok "sandtraild restarts"; exit 1; }
	check "[$M] ... each attempt is recorded, none as a connection made" test \
		"$(jq_count "$W/none.json" '.type=="connect" and .family=="AF_UNIX"')" -eq 3 -a \
		"$(jq_count "$W/none.json" '.type=="connect" and .family=="AF_UNIX" and .ret==0')" -eq 0
done
