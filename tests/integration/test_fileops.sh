#!/usr/bin/env bash
# The file operations that once left no record (truncate, mkdir, mknod,
# symlink, link, chmod, chown, utimes, setxattr, removexattr, mount, umount,
# pivot_root), each through its syscall and its at/f variants, in a watched
# cgroup, in a hardened session, in a gvisor session and in a microvm
# session (the guest kernel's capture; with bind, listen, accept and UDP
# datagrams in the same boot): each has its record with the absolute path
# the session sees and the kernel's result.  The text replay shows what
# each changed (setuid bits, exchanges, O_PATH opens, failed connects) without
# blurring it.
source "$(dirname "$0")/lib.sh"

# NAME|FILTER, one record each; $D is the directory the helper works in, as
# the session sees it
COMMON=$(cat <<'EOF'
truncate(2): the length|.syscall=="truncate" and .type=="truncate" and .path=="$D/f" and .requested=="$D/f" and .length==10 and .ret==0
ftruncate(2): the fd's file|.syscall=="ftruncate" and .type=="truncate" and .path=="$D/f" and (.fd|type)=="number" and .length==5 and .ret==0
open with O_TRUNC, relative to a dirfd|.type=="open" and .path=="$D/f" and .requested=="f" and (.dirfd|type)=="number" and (.flags|index("O_TRUNC")) and .ret>=0
mkdir(2): its mode|.syscall=="mkdir" and .type=="mkdir" and .path=="$D/d" and .mode==488 and .ret==0
mkdirat(2) from a dirfd that does not exist: as passed, flagged unresolved|.syscall=="mkdirat" and .path=="nodir" and .path_unresolved==true and .requested=="nodir" and .dirfd==999 and .error=="EBADF"
mkdirat(2): resolved from the dirfd|.syscall=="mkdirat" and .path=="$D/d/e" and .requested=="d/e" and (.dirfd|type)=="number" and .mode==448 and .ret==0
mknod(2) of a regular file|.syscall=="mknod" and .type=="mknod" and .path=="$D/reg" and .file_type=="regular" and .mode==416 and .ret==0
mknodat(2) of a FIFO|.syscall=="mknodat" and .path=="$D/fifo" and .requested=="fifo" and .file_type=="fifo" and .mode==384 and .ret==0
symlink(2): link and target|.syscall=="symlink" and .type=="symlink" and .path=="$D/sl" and .target=="f" and .ret==0
symlinkat(2): the target as given|.syscall=="symlinkat" and .path=="$D/d/sl2" and .requested=="d/sl2" and .target=="../f" and .ret==0
link(2): both names absolute|.syscall=="link" and .type=="link" and .path=="$D/hl" and .target=="$D/f" and .ret==0
linkat(2): each name from its own dirfd|.syscall=="linkat" and .path=="$D/d/hl2" and .requested=="hl2" and .target=="$D/f" and .target_requested=="f" and (.target_dirfd|type)=="number" and .dirfd!=.target_dirfd and .ret==0
chmod(2)|.syscall=="chmod" and .type=="chmod" and .path=="$D/reg" and .mode==388 and (has("setuid")|not) and .ret==0
fchmod(2): the fd's file|.syscall=="fchmod" and .path=="$D/f" and (.fd|type)=="number" and .mode==416 and .ret==0
chown(2): owner and group|.syscall=="chown" and .type=="chown" and .path=="$D/f" and (.owner|type)=="number" and (.group|type)=="number" and .ret==0
fchownat(2): the link itself, group left|.syscall=="fchownat" and .path=="$D/sl" and .requested=="sl" and (.owner|type)=="number" and (has("group")|not) and .flags==["AT_SYMLINK_NOFOLLOW"] and .ret==0
fchown(2): owner left|.syscall=="fchown" and .path=="$D/f" and (has("owner")|not) and (.group|type)=="number" and .ret==0
utimes(2): set to 1970|.syscall=="utimes" and .type=="utimes" and .path=="$D/f" and .atime==0 and .mtime==0 and .ret==0
utimensat(2): the times in ns|.syscall=="utimensat" and .path=="$D/d/hl2" and .requested=="d/hl2" and .atime==1000000000 and .mtime==2000000500 and .ret==0
futimens: now, on the fd's file|.syscall=="utimensat" and .path=="$D/f" and (.fd|type)=="number" and .atime=="now" and .mtime=="now" and .ret==0
setxattr(2): name and size, never the value|.syscall=="setxattr" and .type=="setxattr" and .path=="$D/f" and .name=="user.st" and .size==5 and (tostring|contains("12345")|not) and .ret==0
fsetxattr(2): XATTR_CREATE|.syscall=="fsetxattr" and .path=="$D/f" and .name=="user.st2" and .size==2 and .xattr_flags==["XATTR_CREATE"] and .ret==0
removexattr(2)|.syscall=="removexattr" and .type=="removexattr" and .path=="$D/f" and .name=="user.st" and .ret==0
fremovexattr(2)|.syscall=="fremovexattr" and .path=="$D/f" and .name=="user.st2" and .ret==0
renameat2 RENAME_EXCHANGE|.type=="rename" and .from=="$D/reg" and .to=="$D/fifo" and .flags==["RENAME_EXCHANGE"] and .ret==0
renameat2 RENAME_NOREPLACE onto a file: EEXIST|.type=="rename" and .from=="$D/reg" and .to=="$D/f" and .flags==["RENAME_NOREPLACE"] and .error=="EEXIST"
an O_PATH open|.type=="open" and .path=="$D/d/e" and (.flags|index("O_PATH")) and .ret>=0
EOF
)
# where the session may do them (root on the host, in a mount namespace of
# its own; a permissive profile in hardened mode)
PRIVILEGED=$(cat <<'EOF'
chmod to 4777 through fchmodat(2): setuid called out|.syscall=="fchmodat" and .path=="$D/hl" and .requested=="hl" and .mode==2559 and .setuid==true and .ret==0
mount(2): point, source, fstype, flags|.syscall=="mount" and .type=="mount" and .path=="$D/d" and .source=="none" and .fstype=="tmpfs" and .flags==["MS_NOSUID","MS_NODEV"] and .ret==0
umount2(2)|.syscall=="umount2" and .type=="umount" and .path=="$D/d" and .ret==0
pivot_root(2): both paths and its failure|.syscall=="pivot_root" and .path=="$D/d" and .put_old=="$D/d/e" and .ret<0
EOF
)
REFUSED=$(cat <<'EOF'
mount(2) reaches the kernel and is refused: EPERM|.syscall=="mount" and .path=="$D/d" and .fstype=="tmpfs" and .error=="EPERM"
umount2(2): EPERM|.syscall=="umount2" and .path=="$D/d" and .error=="EPERM"
pivot_root(2): EPERM|.syscall=="pivot_root" and .path=="$D/d" and .put_old=="$D/d/e" and .error=="EPERM"
EOF
)
# A gvisor session: the Sentry reports opens with the path the sandbox named;
# the gofer, which makes each change on the host's file systems, is in the
# host view with its own name for the file (its /root is the sandbox's /).
# $D is the path in the sandbox.
GVISOR=$(cat <<'EOF'
open with O_TRUNC, as the sandbox named it|.view=="sandbox" and .type=="open" and .path=="$D/f" and (.flags|index("O_TRUNC")) and .ret>=0
truncate|.view=="host" and .type=="truncate" and .path=="/root$D/f" and .ret==0
mkdir|.view=="host" and .type=="mkdir" and .path=="/root$D/d" and .ret==0
mkdir, below|.view=="host" and .type=="mkdir" and .path=="/root$D/d/e" and .ret==0
mknod of a regular file|.view=="host" and .type=="mknod" and .path=="/root$D/reg" and .ret==0
symlink|.view=="host" and .type=="symlink" and .path=="/root$D/sl" and .ret==0
symlink, below|.view=="host" and .type=="symlink" and .path=="/root$D/d/sl2" and .ret==0
link|.view=="host" and .type=="link" and .path=="/root$D/hl" and .ret==0
link, below|.view=="host" and .type=="link" and .path=="/root$D/d/hl2" and .ret==0
chmod|.view=="host" and .type=="chmod" and .path=="/root$D/reg" and .ret==0
chown|.view=="host" and .type=="chown" and .path=="/root$D/f" and .ret==0
utimes|.view=="host" and .type=="utimes" and .path=="/root$D/f" and .ret==0
EOF
)
# and the Sentry's raw points of the same calls: the workload's own, with
# every number the call took (paths are pointers into the sandbox: unreadable)
GVISOR_SANDBOX=$(cat <<'EOF'
truncate(2): the length|.syscall=="truncate" and .type=="truncate" and .path_unreadable and .length==10 and .ret==0
ftruncate(2): the fd|.syscall=="ftruncate" and .type=="truncate" and (.fd|type)=="number" and .length==5 and .ret==0
mkdir(2): its mode|.syscall=="mkdir" and .type=="mkdir" and .path_unreadable and .mode==488 and .ret==0
mkdirat(2) from a dirfd that does not exist|.syscall=="mkdirat" and .dirfd==999 and .error=="EBADF"
mkdirat(2): its dirfd|.syscall=="mkdirat" and (.dirfd|type)=="number" and .mode==448 and .ret==0
mknod(2) of a regular file|.syscall=="mknod" and .type=="mknod" and .file_type=="regular" and .mode==416 and .ret==0
mknodat(2) of a FIFO|.syscall=="mknodat" and .file_type=="fifo" and .mode==384 and .ret==0
symlink(2)|.syscall=="symlink" and .type=="symlink" and .target_unreadable and .ret==0
linkat(2): each name from its own dirfd|.syscall=="linkat" and .type=="link" and (.target_dirfd|type)=="number" and .dirfd!=.target_dirfd and .ret==0
chmod(2)|.syscall=="chmod" and .type=="chmod" and .mode==388 and .ret==0
fchmod(2): the fd|.syscall=="fchmod" and (.fd|type)=="number" and .mode==416 and .ret==0
chown(2): owner and group|.syscall=="chown" and .type=="chown" and (.owner|type)=="number" and (.group|type)=="number" and .ret==0
fchownat(2): the link itself, group left|.syscall=="fchownat" and (.owner|type)=="number" and (has("group")|not) and .flags==["AT_SYMLINK_NOFOLLOW"] and .ret==0
fchown(2): owner left|.syscall=="fchown" and (has("owner")|not) and (.group|type)=="number" and .ret==0
utimes(2): the times unreadable|.syscall=="utimes" and .type=="utimes" and .times_unreadable and .ret==0
futimens: now, on the fd|.syscall=="utimensat" and (.fd|type)=="number" and .atime=="now" and .mtime=="now" and .ret==0
EOF
)
count() { grep -c . <<<"$1"; }
# a microvm guest (its 6.1 kernel): no user xattrs on its tmpfs, no FIFO
# over 9p; so the xattr calls are checked in the workspace, the rest in /tmp
NOXATTR=$(grep -v xattr <<<"$COMMON")
XATTR=$(grep xattr <<<"$COMMON")
plan $(($(count "$COMMON") * 3 + $(count "$PRIVILEGED") + $(count "$REFUSED") * 2 + $(count "$GVISOR") * 2 + \
	$(count "$GVISOR_SANDBOX") + 37))

# records FILE D TABLE [TAG]: one check per line of TABLE
records() {
	local file=$1 d=$2 table=$3 tag=${4:-} name filter
	while IFS='|' read -r name filter; do
		filter=${filter//\$D/$d}
		check "$tag$name" test "$(jq_count "$file" "$filter")" -ge 1 || diag "no record matches: $filter"
	done <<<"$table"
}
# every path of the helper's records absolute, none flagged (but the one
# from a dirfd that does not exist)
clean() {
	none "$1" '(.comm=="st_fileops") and .error!="EBADF" and ([.path, .from, .to, (select(.type=="link") | .target)] | map(select(. != null and (startswith("/")|not))) | length > 0)' &&
		none "$1" '(.comm=="st_fileops") and .error!="EBADF" and ([to_entries[] | select(.key|test("_(unresolved|truncated|detached|unreadable)$"))] | length > 0)'
}
F=$HELPERS/st_fileops
start_daemon || { not_ok "sandtraild starts"; exit 1; }

# 1. a watched cgroup
cg=$(mk_cgroup fileops)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
D=$(readlink -f "$T")/w
mkdir "$D"
run_in_cgroup "$cg" unshare -m --propagation private "$F" "$D" 4777 >"$T/w.out"
"$SANDTRAIL" unwatch "$id" >/dev/null
replay_json "$id" >"$T/w.json" 2>/dev/null
records "$T/w.json" "$D" "$COMMON" "[watch] "
records "$T/w.json" "$D" "$PRIVILEGED" "[watch] "
check "[watch] every path absolute, none unresolved or cut" clean "$T/w.json"
check "[watch] the helper saw every operation succeed but pivot_root and the two that must fail" \
	test "$(awk '$2 != 0 { print $1 }' "$T/w.out" | paste -sd' ')" = "mkdirat-badfd pivot_root rename-noreplace connect-unix"

# the text replay, from the same session
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$id" >"$T/w.txt" 2>/dev/null
txt() { grep -qF -- "$1" "$T/w.txt" || { diag "no line has: $1"; return 1; }; }
check "text: chmod to 4777 says setuid" txt "chmod $D/hl mode 4777 [setuid]"
check "text: an exchange is shown as one" txt "rename $D/reg <-> $D/fifo [exchange]"
check "text: noreplace is shown, with its failure" txt "rename $D/reg -> $D/f [noreplace] (failed: EEXIST)"
check "text: an O_PATH open is not a read" bash -c 'grep -qF "open O_PATH $1/d/e" "$2" && ! grep -qE "(read|write) $1/d/e\$" "$2"' _ "$D" "$T/w.txt"
check "text: open with O_TRUNC says it emptied the file" txt "write $D/f (O_TRUNC: emptied)"
check "text: symlink shows link and target" txt "symlink $D/d/sl2 -> ../f"
check "text: utimes shows the epoch" txt "utimes $D/f atime 1970-01-01T00:00:00"
check "summary: the setuid mode, by absolute path" bash -c 'grep -A1 "setuid/setgid modes set: 1" "$1" | grep -qx "    $2/hl"' _ "$T/w.txt" "$D"
# unshare's own mount of / (MS_PRIVATE) is one of them
check "summary: mount, umount and pivot_root attempts, each with its result" bash -c \
	'grep -A4 "mount, umount and pivot_root attempts: 4" "$1" | grep -cxF -e "    \"mount $2/d (done)\"" -e "    \"umount $2/d (done)\"" -e "    \"pivot_root $2/d (EBUSY)\"" | grep -qx 3' _ "$T/w.txt" "$D"
check "summary: a failed connect is not a destination allowed" \
	bash -c 'grep -q "destinations allowed: 0 (none)" "$1" && grep -A1 "destinations allowed, connect failed: 1" "$1" | grep -qF "unix:$2/nosock"' _ "$T/w.txt" "$D"

# 2. a hardened session, in a workspace; its paths are the session's
WS=$T/ws
mkdir -p "$WS/w"
chown -R 4242:4242 "$WS"
hrun() { "$SANDTRAIL" run --id-file "$T/$1.id" "${HV[@]}" -v "$WS:/work" -w /work "${@:2}" 2>"$T/$1.err"; }
hrun h -- sh -c '"$0" /work/w 4777; cat /etc/hostname >/dev/null; mkdir /tmp/made-here' "$F" >"$T/h.out"
replay_json "$(cat "$T/h.id")" >"$T/h.json" 2>/dev/null
records "$T/h.json" /work/w "$COMMON" "[hardened] "
check "[hardened] every path absolute as the session sees it, none unresolved or cut" clean "$T/h.json"
check "[hardened] the session's /etc/hostname, as it sees it" test \
	"$(jq_count "$T/h.json" '.type=="open" and .path=="/etc/hostname" and .requested=="/etc/hostname" and .ret>=0')" -ge 1
check "[hardened] its own /tmp, as it sees it" test \
	"$(jq_count "$T/h.json" '.type=="mkdir" and .path=="/tmp/made-here" and .ret==0 and (has("setup")|not)')" = 1
check "[hardened] no path as the host sees it" none "$T/h.json" '.comm=="st_fileops" and (tostring|contains("'"$WS"'"))'
check "[hardened] the setuid chmod and the mount calls are refused by the seccomp filter" \
	test "$(awk '$2 != 0 { print $1, $3 }' "$T/h.out" | paste -sd' ')" = \
	"mkdirat-badfd 9 chmod-setuid 1 mount 1 umount 1 pivot_root 1 rename-noreplace 17 connect-unix 2"
mkdir -p "$WS/p" && chown 4242:4242 "$WS/p"
cat >"$T/permissive.json" <<'J'
{"defaultAction": "SCMP_ACT_ALLOW"}
J
hrun p --security-opt seccomp="$T/permissive.json" -- "$F" /work/p 0777 >"$T/p.out"
replay_json "$(cat "$T/p.id")" >"$T/p.json" 2>/dev/null
records "$T/p.json" /work/p "$REFUSED" "[hardened, permissive profile] "

# 3. a gvisor session, in the workspace and in its /tmp (a host tmpfs the
# gofer serves: the Sentry's own would keep the changes from any record)
mkdir -p "$WS/g" && chown 4242:4242 "$WS/g"
"$SANDTRAIL" run --mode gvisor --id-file "$T/g.id" "${HV[@]}" -v "$WS:/work" -w /work -- \
	sh -c '"$0" /work/g 4777 >/work/g.out; mkdir /tmp/t && "$0" /tmp/t 0777 >/work/t.out' "$F" 2>"$T/g.err"
check "[gvisor] the session ran the helper twice" test -s "$WS/g.out" -a -s "$WS/t.out" || diag "$(cat "$T/g.err")"
replay_json "$(cat "$T/g.id")" >"$T/g.json" 2>/dev/null
records "$T/g.json" /work/g "$GVISOR" "[gvisor, workspace] "
records "$T/g.json" /tmp/t "$GVISOR" "[gvisor, /tmp] "
records "$T/g.json" "" "$(sed 's/|/|.view=="sandbox" and .comm=="st_fileops" and /' <<<"$GVISOR_SANDBOX")" "[gvisor, sandbox view] "
# what the Sentry refuses: its fixed filter (setuid), no CAP_SYS_ADMIN (mount,
# umount, pivot_root), no extended attributes on the gofer's files, no
# renameat2 flags there
check "[gvisor] the setuid chmod, the mount calls, xattrs and renameat2's flags are refused" \
	test "$(awk '$2 != 0 { print $1, $3 }' "$WS/g.out" | paste -sd' ')" = \
	"mkdirat-badfd 9 chmod-setuid 1 setxattr 95 fsetxattr 95 removexattr 95 fremovexattr 95 mount 1 umount 1 pivot_root 1 rename-exchange 22 rename-noreplace 22 connect-unix 2"
check "[gvisor] no file of the session's has a setuid bit on the host" lacks . find "$WS/g" -perm /6000

# 4. a microvm session, one boot: the helper in the guest's /tmp (its own
# tmpfs) and in the workspace (9p), then sockets; the guest kernel's capture
# records it all, view sandbox, paths as the guest sees them
if [ -r "$BIN/microvm/vmlinux" ] && [ -r "$BIN/microvm/initramfs.cpio" ] && command -v qemu-system-x86_64 >/dev/null; then
	mkdir -p "$WS/m" && chown 4242:4242 "$WS/m"
	NET='import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(7)
port = s.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port)); a, peer = s.accept()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(299):
    u.sendto(b"x", ("127.0.0.1", 9))
u.sendmsg([b"y"], [], 0, ("127.0.0.1", 9))
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"z", ("::1", 9))
x = socket.socket(socket.AF_UNIX); x.bind("/tmp/t/ctl.sock"); x.listen(1)
y = socket.socket(socket.AF_UNIX); y.connect("/tmp/t/ctl.sock"); x.accept()
print("port", port, "peer", peer[1])'
	"$SANDTRAIL" run --mode microvm -u 4242 --id-file "$T/m.id" "${HV[@]}" -v "$WS:/work" -w /work -- \
		sh -c 'mkdir /tmp/t && "$0" /tmp/t 4777 >/work/mt.out && "$0" /work/m 0777 >/work/mw.out && python3 -c "$1"' \
		"$F" "$NET" >"$T/m.out" 2>"$T/m.err"
	check "[microvm] the session ran the helper twice and the sockets" test -s "$WS/mt.out" -a -s "$WS/mw.out" -a -s "$T/m.out" ||
		diag "$(cat "$T/m.err")"
	replay_json "$(cat "$T/m.id")" >"$T/m.json" 2>/dev/null
	SB='.view=="sandbox" and '
	records "$T/m.json" /tmp/t "$(sed "s/|/|$SB/" <<<"$NOXATTR")" "[microvm, /tmp] "
	records "$T/m.json" /work/m "$(sed "s/|/|$SB/" <<<"$XATTR")" "[microvm, workspace] "
	records "$T/m.json" /tmp/t "$(sed "s/|/|$SB/" <<<"$REFUSED")" "[microvm, no CAP_SYS_ADMIN in the guest] "
	check "[microvm] every path absolute, none unresolved or cut" clean "$T/m.json"
	# the guest's fixed filter (the hardened one): the setuid chmod is refused
	# before the kernel runs it, so it leaves no record, as in hardened mode
	check "[microvm] the setuid chmod is refused; xattrs are not on the guest's tmpfs" \
		test "$(awk '$2 != 0 { print $1, $3 }' "$WS/mt.out" | paste -sd' ')" = \
		"mkdirat-badfd 9 chmod-setuid 1 setxattr 95 fsetxattr 95 removexattr 95 fremovexattr 95 mount 1 umount 1 pivot_root 1 rename-noreplace 17 connect-unix 2"
	check "[microvm] the refused setuid chmod is no record" none "$T/m.json" '.type=="chmod" and .path=="/tmp/t/hl"'
	check "[microvm] the refused xattr calls: records with their error" test \
		"$(jq_count "$T/m.json" '.view=="sandbox" and (.type|IN("setxattr","removexattr")) and (.path|startswith("/tmp/t/")) and .error=="EOPNOTSUPP"')" -eq 4
	check "[microvm] a FIFO over 9p: the record has the kernel's refusal" test \
		"$(jq_count "$T/m.json" '.view=="sandbox" and .type=="mknod" and .path=="/work/m/fifo" and .file_type=="fifo" and .ret<0')" -eq 1
	check "[microvm] no file of the session's has a setuid bit on the host" lacks . find "$WS/m" -perm /6000
	read -r _ port _ peer <"$T/m.out"
	has() { test "$(jq_count "$T/m.json" "$SB$1")" -ge 1 || { diag "no record matches: $1"; return 1; }; }
	check "[microvm] bind: the port the kernel chose, read from the socket" \
		has '.type=="bind" and .family=="AF_INET" and .addr=="127.0.0.1" and .port=='"${port:-0}"' and .source=="socket" and .ret==0'
	check "[microvm] listen: address, port and backlog" \
		has '.type=="listen" and .addr=="127.0.0.1" and .port=='"${port:-0}"' and .backlog==7 and .ret==0'
	check "[microvm] accept: the peer, on the listening address" \
		has '.type=="accept" and .addr=="127.0.0.1" and .port=='"${port:-0}"' and .peer_addr=="127.0.0.1" and .peer_port=='"${peer:-0}"' and .ret>=0'
	check "[microvm] bind, listen and accept of a unix socket: its path" test \
		"$(jq_count "$T/m.json" "$SB"'.family=="AF_UNIX" and .addr=="/tmp/t/ctl.sock" and .ret>=0 and (.type|IN("bind","listen","accept"))')" -eq 3
	check "[microvm] datagram: one record for the first to a destination (sendto and sendmsg: 300 sent)" test \
		"$(jq_count "$T/m.json" "$SB"'.type=="datagram" and .addr=="127.0.0.1" and .port==9 and .verdict=="allow"')" -eq 1
	check "[microvm] datagrams: the count per destination at the session's end, before session_end" \
		jq -se 'map(.type) as $t | (map(select(.type=="datagrams" and .addr=="127.0.0.1" and .port==9 and .count==300)) | length == 1)
			and ($t | index("datagrams")) < ($t | index("session_end"))' "$T/m.json"
	check "[microvm] datagram over IPv6: its own destination" \
		test "$(jq_count "$T/m.json" '.type=="datagrams" and .family=="AF_INET6" and .addr=="::1" and .port==9 and .count==1')" -eq 1
	check "[microvm] no loss" none "$T/m.json" '.type=="loss"'
	"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$(cat "$T/m.id")" >"$T/m.txt" 2>/dev/null
	check "[microvm] text: open with O_TRUNC says it emptied the file" grep -qF "write /tmp/t/f (O_TRUNC: emptied)" "$T/m.txt"
	check "[microvm] text: the mount attempts with their result" \
		grep -qF 'mount, umount and pivot_root attempts: 6' "$T/m.txt"
else
	not_ok "[microvm] the guest is built and QEMU is installed (make microvm, make deps)"
fi
