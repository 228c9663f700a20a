#!/usr/bin/env bash
# Syscalls of the other ABIs (i386's int $0x80, x32) in a watched cgroup,
# which the syscall tracepoints do not see: open, creat, rename, unlink,
# execve (failed and successful) and socketcall(SYS_CONNECT) are those
# calls' records with their abi, absolute paths and results; the others are
# abi32 records with their number.
source "$(dirname "$0")/lib.sh"
plan 17

W=$HELPERS/st_workload
start_daemon || { not_ok "sandtraild starts"; exit 1; }
"$W" listen >"$T/lport" &
defer "kill $!"
wait_for 10 test -s "$T/lport"
lport=$(cat "$T/lport")
cg=$(mk_cgroup abi32)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
work=$(readlink -f "$T")/w
mkdir "$work"

run_in_cgroup "$cg" "$HELPERS/st_abi32" "$work" "$lport" >"$T/out" 2>&1
# a run session's seccomp filter traps other ABIs: the call never runs
"$SANDTRAIL" run --id-file "$T/run.id" "${HV[@]}" -- "$HELPERS/sbx_probe" int80 >/dev/null 2>&1
check "a run session's filter ends an int 0x80 caller (SIGSYS)" test $? -eq $((128 + 31))
check "the helper's calls ran, and its last exec" grep -qx 'connect 0' "$T/out" || diag "$(cat "$T/out")"
"$SANDTRAIL" unwatch "$id"
stop_daemon
replay_json "$id" >"$T/r.json" 2>/dev/null
"$SANDTRAIL" replay --journal "$JOURNAL" --session "$id" --format text >"$T/r.txt" 2>/dev/null
has() { test "$(jq_count "$T/r.json" "$1")" -eq 1 || { diag "not one record matches: $1"; return 1; }; }
I='.abi=="i386" and .comm=="st_abi32"'
getpid=$(awk '$1 == "getpid" { print $2 }' "$T/out")

check "open: absolute path, flags, the fd" has \
	'.type=="open" and '"$I"' and .syscall=="open" and .path=="'"$work"'/a" and (.flags|index("O_CREAT")) and .ret>=0'
check "creat" has '.type=="open" and '"$I"' and .syscall=="creat" and .path=="'"$work"'/c" and .ret>=0'
check "rename: both paths" has \
	'.type=="rename" and '"$I"' and .from=="'"$work"'/a" and .to=="'"$work"'/b" and .ret==0'
check "unlink" has '.type=="unlink" and '"$I"' and .path=="'"$work"'/b" and .ret==0'
check "a failed execve: the name and the error" has \
	'.type=="exec" and '"$I"' and .filename=="'"$work"'/missing" and .ret==-2'
check "socketcall(SYS_CONNECT): a connect record, allowed" has \
	'.type=="connect" and '"$I"' and .syscall=="socketcall" and .addr=="127.0.0.1" and .port=='"$lport"' and .verdict=="allow" and .ret==0'
check "socketcall(SYS_SOCKET): an abi32 record" has \
	'.type=="abi32" and '"$I"' and .nr==102 and .args[0]==1 and .ret>=0'
check "close: an abi32 record with its number and result" has '.type=="abi32" and '"$I"' and .nr==6 and .ret==0'
check "getpid: an abi32 record" has '.type=="abi32" and '"$I"' and .nr==20 and .ret=='"${getpid:-0}"
check "x32 getpid: an abi32 record, x32 bit left out of the number" has \
	'.type=="abi32" and .abi=="x32" and .nr==39 and .ret=='"$(awk '$1 == "x32-getpid" { print $2 }' "$T/out")"
check "x32 open: an open record" has '.type=="open" and .abi=="x32" and .path=="'"$work"'/x"'
check "a successful exec through int 0x80: the kernel's name, argv and file" has \
	'.type=="exec" and .abi=="i386_or_x32" and .filename=="/bin/true" and .argv==["/bin/true"] and .exe=="/usr/bin/true" and .ret==0'
replay_json "$(cat "$T/run.id")" >"$T/run.json" 2>/dev/null
check "a call seccomp trapped is no record" none "$T/run.json" '.abi or .type=="abi32"'
check "text replay says which deletion was an i386 call" \
	grep -qF "delete $work/b (abi i386)" "$T/r.txt" || diag "$(grep -F "$work/b" "$T/r.txt")"
check "native calls carry no abi" none "$T/r.json" '.comm=="st_abi32" and .syscall=="openat" and has("abi")'
