#!/usr/bin/env bash
# Paths checked against what the kernel operated on, on real programs: git
# init/add/commit, cc of a two-file program, a threaded Python program that
# renames and unlinks through dir_fd, rm -rf of trees, tar of a tree of 60
# levels of 20-character names.  path_oracle.py replays every file record
# over the tree as it was before the session and checks each path against
# the files that existed at that moment (a deletion must name a file that was
# there, a failed open one that was not), then the result against the tree
# after it: not against the strings the programs passed.
source "$(dirname "$0")/lib.sh"
plan 14

start_daemon || { not_ok "sandtraild starts"; exit 1; }
W=$(readlink -f "$T")/w
mkdir -p "$W/home" "$W/tmp" "$W/src" "$W/tree/a/b" "$W/tree/c"
touch "$W/tree/a/b/f" "$W/tree/a/g" "$W/tree/c/h"
cat >"$W/src/main.c" <<'C'
int util(int);
int main(void) { return util(0); }
C
echo 'int util(int x) { return x; }' >"$W/src/util.c"
printf '#!/bin/sh\nexit 0\n' >"$W/hello.sh" && chmod +x "$W/hello.sh"
# 60 levels of 20-character names: 1260 bytes, more components than a walk
# bounded by a count would keep
name=$(printf 'd%.0s' $(seq 20))
deep=$W/deep
for _ in $(seq 60); do deep=$deep/$name; done
mkdir -p "$deep" && echo leaf >"$deep/leaf"
find "$W" -printf '%y %p\n' >"$T/before"

cg=$(mk_cgroup oracle)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
run_in_cgroup "$cg" env HOME="$W/home" TMPDIR="$W/tmp" PYTHONDONTWRITEBYTECODE=1 GIT_CONFIG_NOSYSTEM=1 \
	/bin/bash -c '
	set -e
	cd "$1"
	git init -q repo
	cd repo
	echo one >a && mkdir sub && echo two >sub/b
	git add -A
	git -c user.name=t -c user.email=t@t commit -qm one
	git mv a c
	git -c user.name=t -c user.email=t@t commit -qm two
	cd ..
	cc -o prog src/main.c src/util.c
	./prog
	./hello.sh an-arg
	/usr/bin/python3 -c "import os; os.execve(os.open(\"/bin/true\", os.O_RDONLY), [\"true\", \"by-fd\"], {})"
	/usr/bin/python3 - <<"PY"
import os, threading

def work(n):
    src, dst = f"t{n}/src", f"t{n}/dst"
    os.makedirs(src)
    os.mkdir(dst)
    s = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    d = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(40):
        os.close(os.open(f"f{i}", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=s))
        os.rename(f"f{i}", f"g{i}", src_dir_fd=s, dst_dir_fd=d)
        if i % 2:
            os.unlink(f"g{i}", dir_fd=d)
    os.mkdir("gone", dir_fd=s)
    os.rmdir("gone", dir_fd=s)
    os.close(s)
    os.close(d)

threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
PY
	mkdir -p tree2/x/y && touch tree2/x/y/z tree2/x/w
	rm -rf tree tree2
	tar -cf deep.tar deep
	mkdir x
	tar -xf deep.tar -C x
	rm -rf deep
	' _ "$W" >"$T/workload.out" 2>&1
rc=$?
"$SANDTRAIL" unwatch "$id" >/dev/null
check "the workload ran" test $rc = 0 || diag "$(cat "$T/workload.out")"
find "$W" -printf '%y %p\n' >"$T/after"
replay_json "$id" >"$T/r.json" 2>/dev/null

oracle() { python3 "$TOP/tests/integration/path_oracle.py" "$W" "$T/before" "$T/after" "$T/r.json" >"$T/oracle.out"; }
check "the oracle: every path is a file the kernel had at that moment, and the records lead to the tree after" \
	oracle || diag "$(cat "$T/oracle.out")"
diag "$(tail -n 1 "$T/oracle.out")"
check "every open, unlink, rename and exec path is absolute and whole" none "$T/r.json" \
	'(.type|IN("open","unlink","rename","exec")) and ([.path, .from, .to] | map(select(. != null and (startswith("/")|not))) | length > 0 or ([to_entries[] | select(.key|test("^(path|from|to)_(unresolved|truncated)$"))] | length > 0))'
has() { test "$(jq_count "$T/r.json" "$1")" -ge 1 || { diag "no record matches: $1"; return 1; }; }
check "git: a lock file renamed over the index, absolute" has \
	'.type=="rename" and .comm=="git" and .from=="'"$W"'/repo/.git/index.lock" and .to=="'"$W"'/repo/.git/index" and .ret==0'
check "git: relative unlinks resolved from the cwd" has \
	'.type=="unlink" and .comm=="git" and (.requested|startswith("/")|not) and (.path|startswith("'"$W"'/repo/.git/")) and .ret==0'
check "cc: the program written where -o said" has '.type=="open" and .path=="'"$W"'/prog" and (.flags|index("O_CREAT")) and .ret>=0'
check "python: renames between two dir_fds, each side from its own" test \
	"$(jq_count "$T/r.json" '.type=="rename" and .comm=="python3" and .from_requested!=.from and (.from|test("^'"$W"'/t[0-3]/src/f[0-9]+$")) and (.to|test("^'"$W"'/t[0-3]/dst/g[0-9]+$")) and .from_dirfd!=.to_dirfd and .ret==0')" = 160
check "python: unlinks through a dir_fd" test \
	"$(jq_count "$T/r.json" '.type=="unlink" and .comm=="python3" and .requested!=.path and (.path|test("^'"$W"'/t[0-3]/dst/g[0-9]+$")) and (.dirfd|type)=="number" and .ret==0')" = 80
check "rm -rf: every file and directory of the tree it removed, by absolute path" bash -c \
	'test "$(jq -r "select(.type==\"unlink\" and .comm==\"rm\" and .ret==0 and (.path|startswith(\"$2/tree/\") or . == \"$2/tree\")) | .path" "$1" | sort | paste -sd" ")" = \
	"$2/tree $2/tree/a $2/tree/a/b $2/tree/a/b/f $2/tree/a/g $2/tree/c $2/tree/c/h"' _ "$T/r.json" "$W"
x=$W/x${deep#"$W"}
check "tar: the leaf 60 levels down, read whole" has \
	'.type=="open" and .comm=="tar" and .path=="'"$deep"'/leaf" and .ret>=0 and (has("path_truncated")|not)'
check "tar: ... and extracted whole" has \
	'.type=="open" and .comm=="tar" and .path=="'"$x"'/leaf" and (.flags|index("O_CREAT")) and .ret>=0 and (has("path_truncated")|not)'
check "exec of a #! script: the interpreter's argv, the script's absolute path" has \
	'.type=="exec" and .filename=="./hello.sh" and .path=="'"$W"'/hello.sh" and .script=="'"$W"'/hello.sh" and .argv==["/bin/sh","./hello.sh","an-arg"] and .exe=="'"$(readlink -f /bin/sh)"'" and .ret==0'
"$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$id" >"$T/r.txt" 2>/dev/null
check "text: the script beside the interpreter's argv" grep -qF "exec $W/hello.sh /bin/sh ./hello.sh an-arg (script $W/hello.sh)" "$T/r.txt"
check "execveat of an fd (AT_EMPTY_PATH): the fd's file" has \
	'.type=="exec" and .syscall=="execveat" and .filename=="" and .path=="'"$(readlink -f /bin/true)"'" and .at_flags==["AT_EMPTY_PATH"] and .argv==["true","by-fd"] and .ret==0'
