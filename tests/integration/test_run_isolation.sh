#!/usr/bin/env bash
# sandtrail run --mode hardened: what a sandboxed process cannot do.  Runs
# unrecorded (--no-audit); test_run_audit.sh checks the records of the same.
source "$(dirname "$0")/lib.sh"
plan 37

P=$HELPERS/sbx_probe
WS=$T/ws
mkdir -p "$WS"
# what the session writes there belongs to the workspace owner (never root unasked)
chown 4242:4242 "$WS"
run() { "$SANDTRAIL" run --no-audit "${HV[@]}" -v "$WS:/mnt" -w /mnt "$@" 2>"$T/run.err"; }
# refused WHAT ERRNO ARGS...: the probe ran in the sandbox and was refused with ERRNO
refused() {
	local want=$1 out
	shift
	out=$(run -- "$P" "$@")
	[ "$out" = "refused $want" ] || { diag "$* -> $out" "$(cat "$T/run.err")"; return 1; }
}

check "writing a host path outside the workspace fails (EROFS)" refused EROFS write /etc/sandtrail-test-$$
check "nothing was written on the host" test ! -e /etc/sandtrail-test-$$
check "writing the workspace works" test "$(run -- "$P" write /mnt/out)" = allowed
check "the workspace file belongs to the workspace owner on the host" \
	test "$(stat -c %u "$WS/out")" = "$(stat -c %u "$WS")"
check "mount fails" refused EPERM mount
sleep 300 &
HOSTPID=$!
defer kill $HOSTPID
check "ptrace of a host process fails" refused EPERM ptrace $HOSTPID
check "ptrace of the sandbox's init fails" refused EPERM ptrace 1
check "unshare of a user namespace fails" refused EPERM unshare-user
check "bpf() fails" refused EPERM bpf
check "a raw socket fails" refused EPERM raw-socket

# --network none: a host listener on loopback is out of reach
python3 -m http.server --bind 127.0.0.1 0 >"$T/http.out" 2>&1 &
defer kill $!
for _ in $(seq 50); do PORT=$(grep -o 'port [0-9]*' "$T/http.out" | awk '{print $2}'); [ -n "$PORT" ] && break; sleep 0.1; done
check "--network none: the host's loopback listener is unreachable" refused ECONNREFUSED connect 127.0.0.1 "$PORT"
check "--network host: the host's loopback listener is reachable" \
	test "$(run --network host -- "$P" connect 127.0.0.1 "$PORT")" = allowed

# its caller's groups (root's 0 among them, as after sudo) do not follow it in
ids=$(setpriv --groups=0,4 "$SANDTRAIL" run --no-audit "${HV[@]}" -- sh -c 'id -u; id -g; id -G' 2>"$T/run.err")
check "default ids are 1000:1000 with no other group, whatever groups its caller had" test "$(echo $ids)" = "1000 1000 1000"
check "--user sets the ids" test "$(run --user 4242:77 -- sh -c 'echo $(id -u):$(id -g)')" = 4242:77
status=$(run -- cat /proc/self/status)
check "no capabilities" bash -c "grep -q '^CapEff:[[:space:]]*0000000000000000' <<<'$status' && grep -q '^CapBnd:[[:space:]]*0000000000000000' <<<'$status'"
check "no_new_privs is set" grep -q '^NoNewPrivs:[[:space:]]*1' <<<"$status"
check "a seccomp filter is on" grep -q '^Seccomp:[[:space:]]*2' <<<"$status"
check "--cap-add keeps one capability" \
	bash -c "'$SANDTRAIL' run --no-audit --cap-add NET_BIND_SERVICE -- grep CapEff /proc/self/status 2>/dev/null | grep -q 0000000000000400"
check "the root holds only what programs need" test "$(run -- ls / | tr '\n' ' ')" = \
	"$(cd / && ls -d bin dev etc lib lib32 lib64 libx32 mnt proc sbin tmp usr var "${HELPERS#/}" 2>/dev/null | cut -d/ -f1 | sort -u | tr '\n' ' ')"
check "the host's homes, /run and /var are not there" lacks . run -- sh -c 'ls -d /root /home /run /var/lib /srv 2>/dev/null; true'
check "/etc is filtered: no shadow, no host users" \
	test "$(run -- sh -c 'ls /etc/shadow /etc/sudoers 2>/dev/null; cut -d: -f1 /etc/passwd | tr "\n" " "')" = "root sandbox nobody "
check "the root is read-only" refused EROFS write /newfile
# landlock: outside the session's writable mounts nothing is writable, even
# where a mount is (procfs, whose files a process may otherwise write)
check "landlock: a file of a writable mount outside the session's (procfs) refuses writes" \
	refused EACCES write /proc/self/comm
check "/tmp is a private tmpfs of 512m" bash -c "'$SANDTRAIL' run --no-audit -- df -k /tmp 2>/dev/null | awk 'NR==2 {exit !(\$1==\"tmpfs\" && \$2==524288)}'"
check "--tmpfs sets the size" bash -c "'$SANDTRAIL' run --no-audit --tmpfs /tmp:size=8m -- df -k /tmp 2>/dev/null | awk 'NR==2 {exit !(\$2==8192)}'"
check "the sandbox sees only its own processes" test "$(run -- sh -c 'ls /proc | grep -c "^[0-9]"')" -le 4
check "/dev holds only the minimal nodes" test "$(run -- ls /dev | tr '\n' ' ')" = "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero "
check "the host's environment does not leak in" lacks SANDTRAIL_LEAK env SANDTRAIL_LEAK=1 "$SANDTRAIL" run --no-audit -- env
check "--env and --secret reach the environment" \
	test "$(TOK=s3cr3t "$SANDTRAIL" run --no-audit -e A=1 --secret TOK -- sh -c 'echo $A$TOK' 2>/dev/null)" = "1s3cr3t"
echo filevalue >"$T/secret"
check "--secret NAME=@FILE reads the file" \
	test "$("$SANDTRAIL" run --no-audit --secret K=@"$T/secret" -- sh -c 'echo $K' 2>/dev/null)" = filevalue
check "a read-only bind is read-only" \
	test "$("$SANDTRAIL" run --no-audit "${HV[@]}" -v "$WS:/mnt:ro" -- "$P" write /mnt/x 2>/dev/null)" = "refused EROFS"
printf '{"mounts": [{"type": "bind", "src": "%s", "dst": "/mnt", "ro": true}]}\n' "$WS" >"$T/ro-policy.json"
check "a read-only bind of a policy file is read-only" \
	test "$("$SANDTRAIL" run --no-audit "${HV[@]}" --policy "$T/ro-policy.json" -- "$P" write /mnt/x 2>/dev/null)" = "refused EROFS"
check "--hostname names the UTS namespace" test "$("$SANDTRAIL" run --no-audit --hostname box -- hostname 2>/dev/null)" = box
check "--ulimit applies" test "$("$SANDTRAIL" run --no-audit --ulimit nofile=64 -- sh -c 'ulimit -n' 2>/dev/null)" = 64

# --rootfs: each top-level entry of the image is bound, read-only; a link is
# recreated, never followed on the host; sockets and fifos stay out
IMG=$T/img
mkdir -p "$IMG/usr" "$IMG/etc"
mount --bind /usr "$IMG/usr"
defer umount -l "$IMG/usr"
for l in bin lib lib64; do ln -s "usr/$l" "$IMG/$l"; done
echo imagefile >"$IMG/file"
echo hostvalue >"$T/hostfile"
ln -s "$T/hostfile" "$IMG/leak"
mkfifo "$IMG/fifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$IMG/sock"
rootfs() { "$SANDTRAIL" run --no-audit --rootfs "$IMG" -- "$@" 2>"$T/run.err"; }
check "--rootfs: the image's files are there" test "$(rootfs cat /file)" = imagefile
check "--rootfs: an image link is a link in the session, never the host file it names" \
	test "$(rootfs sh -c 'readlink /leak; cat /leak 2>/dev/null')" = "$T/hostfile"
check "--rootfs: the image's sockets and fifos are left out" \
	test "$(rootfs sh -c 'ls -d /sock /fifo 2>/dev/null; readlink /bin')" = usr/bin
