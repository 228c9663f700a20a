#!/usr/bin/env bash
# What the kernel programs capture, end to end (sandtraild, watch, replay):
# a workload in a watched cgroup execs with arguments, creates, renames and
# removes files, fails to open a missing one, connects to a listening and a
# closed loopback port; a grandchild in a sub-cgroup is captured; the same
# operations outside the cgroup leave nothing.  strace and bpftool check the
# records and the attachments independently.
source "$(dirname "$0")/lib.sh"
plan 39
W=$HELPERS/st_workload

tracefs_before=$(grep -c ' - tracefs ' /proc/self/mountinfo)
start_daemon || { not_ok "sandtraild starts"; exit 1; }
check "the daemon stays in the host's mount namespace" \
	test "$(readlink "/proc/$DAEMON_PID/ns/mnt")" = "$(readlink /proc/self/ns/mnt)"
check "no tracefs mount reaches the host" test "$(grep -c ' - tracefs ' /proc/self/mountinfo)" = "$tracefs_before"
"$W" listen >"$T/lport" &
defer "kill $!"
"$W" hold-ports 1 >"$T/cport" & # closed, and held: nobody else takes it meanwhile
defer "kill $!"
wait_for 10 test -s "$T/lport" -a -s "$T/cport"
lport=$(cat "$T/lport")
cport=$(cat "$T/cport")

cg=$(mk_cgroup capture)
mkdir "$cg/sub"
cgid=$(stat -c %i "$cg")
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
work=$(readlink -f "$T")/in
out=$(readlink -f "$T")/outside
mkdir "$work" "$out"

# bpftool: the cgroup hooks hang on the session cgroup (the unix ones where
# the kernel has them)
want="cgroup_inet4_connect cgroup_inet6_connect cgroup_udp4_sendmsg cgroup_udp6_sendmsg cgroup_sock_ops"
grep -q "no cgroup hooks for unix sockets" "$T/daemon.err" || want="$want cgroup_unix_connect cgroup_unix_sendmsg"
check "bpftool: connect4/6, sendmsg4/6, sockops and unix connect/sendmsg hooks attached to the session cgroup" \
	test "$(bpftool link show -j | jq "[.[] | select(.cgroup_id == $cgid)]" | attach_type_names | paste -sd' ')" = \
	"$(tr ' ' '\n' <<<"$want" | sort | paste -sd' ')"
bpftool perf show | sed -nE "s/^pid $DAEMON_PID .*prog_id ([0-9]+) .*/\1/p" >"$T/tp_progs"
check "bpftool: the daemon's tracepoint programs are attached" test "$(wc -l <"$T/tp_progs")" -ge 27

workload() { # DIR: the same operations, inside or outside
	/bin/sh -c '
		/bin/echo hello-arg "two words" >"$1/created.txt"
		/bin/mv "$1/created.txt" "$1/renamed.txt"
		/bin/rm "$1/renamed.txt"
		/bin/cat "$1/missing" 2>/dev/null
		"$2" connect 127.0.0.1 "$3" >/dev/null
		"$2" connect 127.0.0.1 "$4" >/dev/null
		true' _ "$1" "$W" "$lport" "$cport"
}
run_in_cgroup "$cg" bash -c "$(declare -f workload); W=$W lport=$lport cport=$cport workload $work"
workload "$out"
# each file syscall variant once; exec from a thread, and by execveat
mkdir "$work/sys"
run_in_cgroup "$cg" "$W" syscalls "$work/sys"
run_in_cgroup "$cg" "$W" cold "$work/sys" >/dev/null
run_in_cgroup "$cg" "$W" thread-exec /bin/echo from-a-thread >/dev/null
run_in_cgroup "$cg" "$W" execveat /bin echo by-execveat >/dev/null
# grandchild: sh -> sh -> cat, in a sub-cgroup of the session
echo gc >"$work/gc-file"
run_in_cgroup "$cg/sub" /bin/sh -c '/bin/sh -c "/bin/cat \"$1\" >/dev/null; true"; true' _ "$work/gc-file"

# deaths by signal, with and without a core dump; python's waitpid says
# which one the kernel reported
mkdir "$work/core"
run_in_cgroup "$cg" python3 -c '
import os, resource, signal, sys
os.chdir(sys.argv[1])
for limit in (resource.RLIM_INFINITY, 0):
    pid = os.fork()
    if pid == 0:
        resource.setrlimit(resource.RLIMIT_CORE, (limit, limit))
        os.kill(os.getpid(), signal.SIGSEGV)
        os._exit(0)
    _, st = os.waitpid(pid, 0)
    print(pid, os.WTERMSIG(st), int(os.WCOREDUMP(st)))
' "$work/core" >"$T/deaths"
run_in_cgroup "$cg" sh -c 'exit 7'

# strace's own account of a second run inside the cgroup
run_in_cgroup "$cg" strace -f -qq -o "$T/strace" -e trace=execve,openat,renameat2,unlinkat,connect \
	/bin/sh -c '/bin/cp "$1/gc-file" "$1/copy"; /bin/mv "$1/copy" "$1/moved"; /bin/rm "$1/moved"; true' _ "$work"

"$SANDTRAIL" unwatch "$id"
check "bpftool: unwatch detaches every hook" test "$(links_on_cgroup $cgid)" = 0
stop_daemon
gone() { while read -r p; do ! bpftool prog show id "$p" >/dev/null 2>&1 || return 1; done <"$T/tp_progs"; }
check "bpftool: the tracepoint programs are gone after shutdown" gone
replay_json "$id" >"$T/r.json" 2>/dev/null
has() { test "$(jq_count "$T/r.json" "$1")" -ge 1 || { diag "no record matches: $1"; return 1; }; }
echo_exe=$(readlink -f /bin/echo)

check "exec: filename, argv and the exe the kernel ran" has \
	'.type=="exec" and .filename=="/bin/echo" and .argv==["/bin/echo","hello-arg","two words"] and .ret==0 and .exe=="'"$echo_exe"'" and .session=="'"$id"'"'
check "exec: records carry pid, ppid, uid, comm" has \
	'.type=="exec" and .filename=="/bin/echo" and (.pid|type)=="number" and .ppid>0 and .uid==0 and .comm=="echo"'
check "open: the created file, resolved, with O_CREAT and its mode" has \
	'.type=="open" and .path=="'"$work"'/created.txt" and .requested=="'"$work"'/created.txt" and (.flags|index("O_CREAT")) and (.flags|index("O_WRONLY")) and .mode==438 and .ret>=0'
check "rename: from and to, absolute, beside the names as passed" has \
	'.type=="rename" and .from=="'"$work"'/created.txt" and .to=="'"$work"'/renamed.txt" and .from_requested=="'"$work"'/created.txt" and .ret==0'
check "unlink: the removed file" has '.type=="unlink" and .path=="'"$work"'/renamed.txt" and .dir==false and .ret==0'
check "open: the missing file fails with ENOENT" has \
	'.type=="open" and .path=="'"$work"'/missing" and .ret==-2 and .error=="ENOENT"'
check "connect: the listening port, allowed, from the kernel's copy" has \
	'.type=="connect" and .family=="AF_INET" and .addr=="127.0.0.1" and .port=='"$lport"' and .ret==0 and .verdict=="allow" and .source=="hook"'
check "connect: the closed port fails with ECONNREFUSED" has \
	'.type=="connect" and .addr=="127.0.0.1" and .port=='"$cport"' and .ret==-111 and .error=="ECONNREFUSED"'
check "nothing from outside the cgroup" none "$T/r.json" 'tostring | contains("'"$out"'")'
check "each connect once: the outside ones are not there" test \
	"$(jq_count "$T/r.json" '.type=="connect" and (.port=='"$lport"' or .port=='"$cport"')')" -eq 2

read -r dumped _ core <"$T/deaths"
read -r clean _ _ < <(sed -n 2p "$T/deaths")
check "exit: a clean exit has its code" has '.type=="exit" and .code==7 and (has("signal")|not)'
check "exit: death by a signal without a core: signal 11, core false" has \
	'.type=="exit" and .pid=='"${clean:-0}"' and .signal==11 and .core==false and (has("code")|not)'
if [ "${core:-0}" = 1 ]; then
	check "exit: death by a signal with a core dump: core true" has \
		'.type=="exit" and .pid=='"$dumped"' and .signal==11 and .core==true'
else
	skip "exit: death by a signal with a core dump" "no core dumped on this host (core_pattern $(cat /proc/sys/kernel/core_pattern))"
fi

S=$work/sys
check "exec from a thread: the process's pid, argv from the new image" has \
	'.type=="exec" and .filename=="/bin/echo" and .argv==["/bin/echo","from-a-thread"] and .tid==.pid and .ret==0'
check "execveat: the name as passed, the exe resolved" has \
	'.type=="exec" and .syscall=="execveat" and .filename=="echo" and .path=="'"$(readlink -f /bin)"'/echo" and .argv==["by-execveat"] and .exe=="'"$echo_exe"'" and .ret==0'
check "open(2): created with its mode" has \
	'.syscall=="open" and .path=="'"$S"'/a" and (.flags|index("O_CREAT")) and .mode==384 and .ret>=0'
check "creat(2): O_CREAT|O_WRONLY|O_TRUNC and its mode" has \
	'.syscall=="creat" and .path=="'"$S"'/b" and (.flags|index("O_TRUNC")) and (.flags|index("O_WRONLY")) and .mode==416 and .ret>=0'
check "openat2(2): resolve flags from struct open_how" has '.syscall=="openat2" and .path=="'"$S"'/a" and .resolve==4 and .ret>=0'
check "rename(2)" has '.syscall=="rename" and .from=="'"$S"'/a" and .to=="'"$S"'/c" and .ret==0'
check "renameat(2): names relative to the dirfd, resolved from its directory" has \
	'.syscall=="renameat" and .from=="'"$S"'/b" and .to=="'"$S"'/d" and .from_requested=="b" and .to_requested=="d" and (.from_dirfd|type)=="number" and .from_dirfd==.to_dirfd and .ret==0'
check "renameat2(2): RENAME_EXCHANGE" has \
	'.syscall=="renameat2" and .from=="'"$S"'/c" and .to=="'"$S"'/d" and .to_requested=="d" and .from_dirfd==-100 and .flags==["RENAME_EXCHANGE"] and .ret==0'
check "unlink(2)" has '.syscall=="unlink" and .path=="'"$S"'/c" and .dir==false and .ret==0'
check "rmdir(2)" has '.syscall=="rmdir" and .path=="'"$S"'/e" and .dir==true and .ret==0'
check "unlinkat(2) with AT_REMOVEDIR" has \
	'.syscall=="unlinkat" and .path=="'"$S"'/f" and .requested=="f" and (.dirfd|type)=="number" and .dir==true and .ret==0'
check "unlinkat(2) of a file" has '.syscall=="unlinkat" and .path=="'"$S"'/d" and .dir==false and .ret==0'

# paths in pages the process never touched cannot be read at entry: read at exit
check "open of a never-touched path: read at exit, flagged late" has \
	'.type=="open" and .requested=="'"$S"'/cold-open" and .requested_late==true and .error=="ENOENT"'
check "unlink of a never-touched path: read at exit, flagged late" has \
	'.type=="unlink" and .path=="'"$S"'/cold-unlink" and .requested_late==true and .error=="ENOENT"'
check "rename of never-touched paths: both read at exit, flagged late" has \
	'.type=="rename" and .from=="'"$S"'/cold-from" and .to=="'"$S"'/cold-to" and .from_requested_late==true and .to_requested_late==true'
check "no path is recorded unreadable" none "$T/r.json" '[to_entries[] | select(.key|endswith("_unreadable"))] | length > 0'

subid=$(stat -c %i "$cg/sub")
check "grandchild in a sub-cgroup: its exec, with the sub-cgroup's id" has \
	'.type=="exec" and .filename=="/bin/cat" and .argv[1]=="'"$work"'/gc-file" and .cgroup=='"$subid"' and .session=="'"$id"'"'
gcpid=$(jq -r 'select(.type=="exec" and .filename=="/bin/cat" and .cgroup=='"$subid"') | .pid' "$T/r.json" | head -1)
midpid=$(jq -r 'select(.type=="exec" and .pid=='"${gcpid:-0}"') | .ppid' "$T/r.json" | head -1)
check "grandchild: its parent's fork is recorded, and the parent's parent" has \
	'.type=="fork" and .child_pid=='"${gcpid:-0}"' and .pid=='"${midpid:-0}"' and .ppid>0'
check "grandchild: its open of the file" has \
	'.type=="open" and .pid=='"${gcpid:-0}"' and .path=="'"$work"'/gc-file" and .ret>=0'

# strace and the records agree on every call of the traced run
strace_calls() { # "syscall pid ret" lines of the strace log, one per finished call
	sed -nE 's/^([0-9]+) +(execve|openat|renameat2|unlinkat|connect)\(.*\) += (-?[0-9]+).*/\2 \1 \3/p' "$T/strace" | sort
}
strace_calls >"$T/strace.calls"
pids=$(awk '{print $2}' "$T/strace.calls" | sort -u | paste -sd, -)
jq -r 'select((.pid as $p | ['"$pids"'] | index($p)) and (.type=="exec" or .type=="open" or .type=="rename" or .type=="unlink" or .type=="connect"))
	| "\(.syscall) \(.pid) \(if .ret < 0 then -1 else .ret end)"' "$T/r.json" | sort >"$T/rec.calls"
awk '{ if ($3 < 0) $3 = -1; print }' "$T/strace.calls" | sort >"$T/strace.norm"
check "strace: every execve/openat/renameat2/unlinkat of the run is recorded, with its result" \
	bash -c 'test "$(wc -l <"$1")" -ge 10 && diff "$1" "$2"' _ "$T/strace.norm" "$T/rec.calls"
