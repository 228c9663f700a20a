#!/usr/bin/env bash
# sandtrail run --mode microvm against a real sandtraild and Debian's QEMU
# (TCG here: this machine's /dev/kvm is PVM): the workload of the hardened
# and gvisor tests yields the same exec, open, rename, unlink and connect
# records, from the guest kernel's own capture (view sandbox), with the
# VMM's host-side events marked view host; CMD's status comes back; a guest
# that does not boot in time is killed and recorded; a forged guest's
# garbage and oversized frames are loss records while the collector goes
# on; nothing of the VM is left behind.  Boots are few: TCG is CPU-heavy.
source "$(dirname "$0")/lib.sh"
plan 56

command -v qemu-system-x86_64 >/dev/null || { not_ok "QEMU is installed (make deps)"; exit 1; }
[ -r "$BIN/microvm/vmlinux" ] && [ -r "$BIN/microvm/initramfs.cpio" ] ||
	{ not_ok "the guest is built (make microvm)"; exit 1; }
start_daemon || { not_ok "sandtraild starts"; exit 1; }
P=$HELPERS/sbx_probe
WS=$T/ws
mkdir -p "$WS"
chown 1000:1000 "$WS"
echo "input" >"$WS/input.txt"
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$T/target" && echo "root's secret" >"$T/target/secret" && chmod 600 "$T/target/secret"

# network none in both modes: the connect is to the sandbox's own loopback
WORKLOAD="cat /mnt/input.txt >/dev/null
echo data >/mnt/new.txt
mv /mnt/new.txt /mnt/moved.txt
rm /mnt/moved.txt
echo connect=\$($P connect 127.0.0.1 $PORT)
exit 3"
# run NAME MODE ARGS...: a recorded session; id in $T/NAME.id
run() {
	local name=$1 mode=$2
	shift 2
	"$SANDTRAIL" run --mode "$mode" --id-file "$T/$name.id" --label test=microvm -v "$WS:/mnt" "${HV[@]}" -w /mnt "$@" \
		2>"$T/$name.err"
}
records() { replay_json "$(cat "$T/$1.id")" >"$T/$1.json"; }
# cgroup_of NAME: session NAME's cgroup
cgroup_of() { jq -r 'select(.type=="session_start") | .cgroup' "$T/$1.json"; }

run hard hardened -- sh -c "$WORKLOAD" >"$T/hard.out"
START=$(date +%s%N)
run vm microvm -- sh -c "$WORKLOAD" >"$T/vm.out"
rc=$?
diag "microvm session: $(( ($(date +%s%N) - START) / 1000000 )) ms (TCG)"
check "microvm: run returns CMD's status" test $rc -eq 3 || diag "$(cat "$T/vm.err")"
check "microvm: CMD's output comes back on stdout" grep -q '^connect=' "$T/vm.out"
check "microvm: the connect met the sandbox's own loopback, as in hardened mode" \
	test "$(cat "$T/vm.out")" = "$(cat "$T/hard.out")" || diag "hardened: $(cat "$T/hard.out")" "microvm: $(cat "$T/vm.out")"
check "microvm: the session id is printed" grep -q "^sandtrail: session $(cat "$T/vm.id")\$" "$T/vm.err"

# what the mode cannot police, it refuses, before anything exists
"$SANDTRAIL" run --mode microvm --network host -- touch "$WS/ran" 2>"$T/refused.err"
check "microvm: --network host is refused (125, one line)" test $? -eq 125 -a "$(wc -l <"$T/refused.err")" -eq 1 -a ! -e "$WS/ran"
check "microvm: the refusal says why" grep -q 'network none only' "$T/refused.err"
"$SANDTRAIL" run --mode microvm -v /tmp/nonexistent-$$:/x -- true 2>"$T/refused.err"
check "microvm: a volume it cannot serve is refused" test $? -eq 125
mkdir -p "$T/other" && chown 4321:4321 "$T/other"
"$SANDTRAIL" run --mode microvm -v "$T/other:/work" -- touch /work/x 2>"$T/refused.err"
check "microvm: a writable volume the command's uid does not own is refused, naming its owner" \
	test $? -eq 125 -a "$(grep -c 'owned by uid 4321.*-u 4321' "$T/refused.err")" -eq 1 -a ! -e "$T/other/x"
ln -s "$T/target" "$WS/cache"
"$SANDTRAIL" run --mode microvm -v "$WS/cache:/tmp/cache" -- cat /tmp/cache/secret >"$T/link.out" 2>"$T/refused.err"
check "microvm: a volume through a link planted in a workspace is refused, naming the link" \
	test $? -eq 125 -a ! -s "$T/link.out" -a "$(grep -c "$WS/cache is a symbolic link" "$T/refused.err")" -eq 1
rm "$WS/cache"
"$SANDTRAIL" run --mode microvm --memory 256m -- true 2>"$T/refused.err"
check "microvm: a memory limit too small for the VMM and a guest is refused" \
	test $? -eq 125 -a "$(grep -c 'needs 320m or more' "$T/refused.err")" -eq 1

# containment: what the guest can reach of the host, tried from inside in one
# boot (the escape suite's attempts that cross to the host; inside the guest
# its own kernel is the boundary)
HOSTADDR=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
run escape microvm -- sh -c "
echo secret=\$(cat $T/target/secret 2>/dev/null || echo unreadable)
echo usr=\$($P write /usr/sandtrail-escape)
echo ro=\$($P write $HELPERS/escape)
echo chmod=\$(touch /mnt/plain && $P chmod-setuid /mnt/plain)
echo create=\$($P create-setuid /mnt/created)
echo mount=\$($P mount)
echo host=\$($P connect ${HOSTADDR:-10.0.0.1} 22)
echo hostsock=\$($P connect-unix $SANDTRAIL_SOCKET)
echo int80=\$($P int80)
echo x32=\$($P x32)
echo uring=\$($P io_uring)
echo userns=\$($P unshare-user)
echo vsock=\$($P socket 40 1 0)
touch relative.txt && rm relative.txt
kill -USR1 \$\$
" >"$T/escape.out"
check "microvm: a CMD killed by a signal in the guest returns 128+N" test $? -eq $((128 + 10))
check "microvm escape: the host's files are not there" grep -qx 'secret=unreadable' "$T/escape.out"
check "microvm escape: the host's /usr is read-only" grep -qx 'usr=refused EROFS' "$T/escape.out"
check "microvm escape: a read-only volume is read-only" grep -qx 'ro=refused EROFS' "$T/escape.out"
check "microvm escape: no setuid bit by chmod on a volume (the VMM's fixed filter)" grep -qx 'chmod=refused EPERM' "$T/escape.out"
check "microvm escape: no setuid bit by a creating open on a volume" grep -qx 'create=refused EPERM' "$T/escape.out"
check "microvm escape: no mount" grep -qx 'mount=refused EPERM' "$T/escape.out"
check "microvm escape: the host's network is unreachable (network none)" grep -qx 'host=refused ENETUNREACH' "$T/escape.out"
check "microvm escape: the host's unix sockets are not there" grep -qx 'hostsock=refused ENOENT' "$T/escape.out"
# what the guest's capture cannot see, refused as hardened mode's fixed filter does
check "microvm escape: i386 syscalls (int 0x80) are refused" grep -qx 'int80=refused ENOSYS' "$T/escape.out"
check "microvm escape: x32 syscalls are refused" grep -qx 'x32=refused ENOSYS' "$T/escape.out"
check "microvm escape: io_uring is refused" grep -qx 'uring=refused ENOSYS' "$T/escape.out"
check "microvm escape: new user namespaces are refused" grep -qx 'userns=refused EPERM' "$T/escape.out"
check "microvm escape: AF_VSOCK is refused" grep -qx 'vsock=refused EAFNOSUPPORT' "$T/escape.out"
check "microvm escape: nothing on the host with a setuid bit or root's ownership" \
	test -z "$(find "$WS" \( -perm /6000 -o -user 0 \) ! -path "$WS" ! -name input.txt)" ||
	diag "$(cat "$T/escape.out")" "$(find "$WS" -ls)"

# a guest that does not start CMD within the boot timeout
SANDTRAIL_BOOT_TIMEOUT=200 run slow microvm -- true
rc=$?
check "microvm: a guest that did not boot in time ends the run with 125" test $rc -eq 125
check "microvm: the boot timeout is said on stderr" grep -q 'did not start the command within 200 ms' "$T/slow.err"

# a forged guest: garbage, an oversized frame, a broken checksum, a gap, a foreign type
PEER_CG=$(mk_cgroup peer)
"$HELPERS/microvm_peer" "$SANDTRAIL_SOCKET" "$PEER_CG" /peer/file 4194304 >"$T/peer.id" 2>"$T/peer.err"
check "the forged guest got its frames through" test $? -eq 0 || diag "$(cat "$T/peer.err")"
check "sandtraild still answers after the forged guest" "$SANDTRAIL" ps
kill -0 "$DAEMON_PID"
check "sandtraild is alive" test $? -eq 0

# sandtrail stop: the session cgroup is killed, the VM with it
run stop microvm -- sh -c 'echo started; exec sleep 60' >"$T/stop.out" &
RUNPID=$!
wait_for 120 grep -q started "$T/stop.out"
check "sandtrail stop ends a microvm session" "$SANDTRAIL" stop "$(cat "$T/stop.id")"
wait $RUNPID
check "a stopped microvm session ends with 137" test $? -eq 137

stop_daemon
for c in hard vm slow stop escape; do records $c; done
replay_json "$(cat "$T/peer.id")" >"$T/peer.json"
H=$T/hard.json
V=$T/vm.json
check "microvm: session_start says mode microvm and its accelerator" \
	test "$(jq_count "$V" '.type=="session_start" and .mode=="microvm" and .vmm=="qemu" and (.accel=="tcg" or .accel=="kvm")')" -eq 1
# the same set of records, as each view sees it
same() { same_records microvm "$H" "$V" "$@"; }
same exec 'select(.type=="exec" and .ret==0) | .argv | join(" ")'
same open 'select(.type=="open" and (.path|startswith("/mnt/"))) | "\(.path) \(.ret >= 0)"'
same rename 'select(.type=="rename" and .ret==0) | "\(.from) \(.to)"'
same unlink 'select(.type=="unlink" and .dir==false) | "\(.path) \(.ret)"'
same connect 'select(.type=="connect" and (.addr|tostring|startswith("127.0.0."))) | "\(.addr) \(.port) \(.error)"'
check "microvm: CMD's exec is the session's, view sandbox (the guest kernel's)" \
	test "$(jq_count "$V" '.type=="exec" and .ret==0 and .view=="sandbox" and (.argv|join(" ")|startswith("sh -c")) and .session=="'"$(cat "$T/vm.id")"'"')" -eq 1
check "microvm: the VMM ran in the session cgroup (its exec, view host)" \
	test "$(jq_count "$V" '.type=="exec" and .view=="host" and (.filename|endswith("qemu-system-x86_64")) and .ret==0')" -eq 1
check "microvm: every process record is marked with its view" \
	none "$V" '(.type|IN("exec","open","fork","exit","rename","unlink","connect")) and .view==null'
check "microvm: session_end: exit status 3" test "$(jq_count "$V" '.type=="session_end" and .reason=="exit" and .exit_status==3')" -eq 1
check "microvm: no loss in a quiet session" none "$V" '.type=="loss"'
check "microvm: a path relative to the cwd is made absolute in the guest (the cwd's walk)" \
	test "$(jq_count "$T/escape.json" '.type=="unlink" and .view=="sandbox" and .path=="/mnt/relative.txt" and .requested=="relative.txt" and .ret==0')" -eq 1
check "microvm: the stopped session's session_end says stop" \
	test "$(jq_count "$T/stop.json" '.type=="session_end" and .reason=="stop"')" -eq 1
check "microvm: the hung boot's session_end says boot_timeout, status 125" \
	test "$(jq_count "$T/slow.json" '.type=="session_end" and .reason=="boot_timeout" and .exit_status==125')" -eq 1

P2=$T/peer.json
# lost FILTER: the counts of the peer's loss records matching FILTER, summed
# (a count may be reported in parts, as the collector's ticks find it)
lost() { jq -s "map(select(.type==\"loss\" and ($1)) | .count) | add // 0" "$P2"; }
check "sink: the forged guest's good frames are recorded, past 4 MiB of garbage" \
	test "$(jq_count "$P2" '.type=="open" and .view=="sandbox" and .path=="/peer/file" and .pid==42')" -eq 2
check "sink: the oversized frame is a loss record" \
	test "$(lost '.reason=="oversized"')" -eq 1
check "sink: garbage and the broken checksum are loss records (malformed)" \
	test "$(lost '.kind=="unknown" and .reason=="malformed"')" -eq 2
check "sink: a type the guest may not send is refused (malformed)" \
	test "$(lost '.kind=="cgroup_leave" and .reason=="malformed"')" -eq 1 -a \
	"$(jq_count "$P2" '.type=="cgroup_leave"')" -eq 0
check "sink: the frames the stream skipped are a loss record (gap 3)" \
	test "$(lost '.reason=="gap"')" -eq 3
check "sink: the guest's own drops are a loss record" \
	test "$(lost '.kind=="open" and .reason=="guest_ringbuf"')" -eq 7

# nothing of the VM stays: processes, the session cgroup
left_behind() {
	local cg
	cg=$(cgroup_of "$1")
	[ -n "$cg" ] || { echo "no cgroup in $1's session_start"; return; }
	[ -d "$cg" ] && echo "cgroup $cg"
	pgrep -f -- "$BIN/microvm/vmlinux" >/dev/null && echo "QEMU: $(pgrep -af -- "$BIN/microvm/vmlinux")"
}
nothing_left() {
	local what
	what=$(left_behind "$1")
	[ -z "$what" ] || diag "$what"
	[ -z "$what" ]
}
for c in vm slow stop; do
	check "nothing of the VM is left after the $c session" nothing_left $c
done

# fail closed: no sandtraild, no session, no VM
"$SANDTRAIL" run --mode microvm -- touch "$WS/unrecorded" 2>"$T/closed.err"
check "microvm: without sandtraild the run is refused (125), nothing ran" test $? -eq 125 -a ! -e "$WS/unrecorded"
