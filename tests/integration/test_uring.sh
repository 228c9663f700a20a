#!/usr/bin/env bash
# io_uring in a watched cgroup: the ring's creation and every request that
# touches a file or socket are records; the requests that stand for a
# syscall (openat, renameat, unlinkat, mkdirat, symlinkat, linkat, connect)
# are that syscall's record with via io_uring, absolute paths from the
# kernel's copies, and the completion's result.
source "$(dirname "$0")/lib.sh"
plan 16

W=$HELPERS/st_workload
start_daemon || { not_ok "sandtraild starts"; exit 1; }
"$W" listen >"$T/lport" &
defer "kill $!"
wait_for 10 test -s "$T/lport"
lport=$(cat "$T/lport")
cg=$(mk_cgroup uring)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
work=$(readlink -f "$T")/w
mkdir "$work"
echo x >"$work/real"
ln -s real "$work/link"

run_in_cgroup "$cg" "$HELPERS/st_uring" "$work" "$lport" >"$T/out" 2>&1
check "the helper's requests ran" grep -qx 'CONNECT 0' "$T/out" || diag "$(cat "$T/out")"
"$SANDTRAIL" unwatch "$id"
stop_daemon
replay_json "$id" >"$T/r.json" 2>/dev/null
"$SANDTRAIL" replay --journal "$JOURNAL" --session "$id" --format text >"$T/r.txt" 2>/dev/null
has() { test "$(jq_count "$T/r.json" "$1")" -eq 1 || { diag "not one record matches: $1"; return 1; }; }
U='.via=="io_uring" and .comm=="st_uring"'

check "io_uring_setup: the ring, its size and fd" has \
	'.type=="io_uring" and .syscall=="io_uring_setup" and .entries==8 and .ret>=0 and (has("via")|not)'
check "OPENAT: an open record, absolute path, the fd" has \
	'.type=="open" and '"$U"' and .syscall=="openat" and .path=="'"$work"'/a" and .requested=="a" and .dirfd>=0 and (.flags|index("O_CREAT")) and .ret>=0'
check "OPENAT of a symlink: the file the fd leads to, as the kernel resolved it" has \
	'.type=="open" and '"$U"' and .requested=="link" and .path=="'"$work"'/real" and .ret>=0'
check "a request refused at submission: an io_uring record with its error" has \
	'.type=="io_uring" and '"$U"' and .op=="OPENAT" and .ret==-14 and .error=="EFAULT"'
check "WRITE: an io_uring record with its file and result" has \
	'.type=="io_uring" and '"$U"' and .op=="WRITE" and .path=="'"$work"'/a" and .fd>=0 and .ret==2'
check "RENAMEAT: a rename record, both paths absolute" has \
	'.type=="rename" and '"$U"' and .from=="'"$work"'/a" and .to=="'"$work"'/b" and .ret==0'
check "UNLINKAT: an unlink record" has \
	'.type=="unlink" and '"$U"' and .path=="'"$work"'/b" and .requested=="b" and .ret==0'
check "UNLINKAT of a file gone: its error" has \
	'.type=="unlink" and '"$U"' and .path=="'"$work"'/b" and .ret==-2 and .error=="ENOENT"'
check "MKDIRAT: a mkdir record" has \
	'.type=="mkdir" and '"$U"' and .path=="'"$work"'/d" and .mode==488 and .ret==0'
check "SYMLINKAT: a symlink record, the target as given" has \
	'.type=="symlink" and '"$U"' and .path=="'"$work"'/s" and .target=="target" and .ret==0'
check "LINKAT: a link record, both paths absolute" has \
	'.type=="link" and '"$U"' and .path=="'"$work"'/l" and .target=="'"$work"'/s" and .ret==0'
check "CONNECT: an allowed connect record, the kernel's copy of the address" has \
	'.type=="connect" and '"$U"' and .family=="AF_INET" and .addr=="127.0.0.1" and .port=='"$lport"' and .verdict=="allow" and .source=="request" and .ret==0'
check "text replay says which deletion went through io_uring" \
	grep -qF "delete $work/b (via io_uring)" "$T/r.txt" || diag "$(grep -F "$work/b" "$T/r.txt")"
check "what the kernel did is on disk" test -d "$work/d" -a -L "$work/l" -a ! -e "$work/a" -a ! -e "$work/b"
check "no syscall record stands in for a request" none "$T/r.json" \
	'.comm=="st_uring" and (.type=="rename" or .type=="unlink" or .type=="mkdir" or .type=="link" or .type=="symlink" or .type=="connect") and (has("via")|not)'
