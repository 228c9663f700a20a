#!/usr/bin/env python3
"""The oracle of test_paths_oracle.sh: replays a session's file records over
the tree that existed before it, and checks each path against the files that
existed at that moment, then the result against the tree after it.

    path_oracle.py ROOT BEFORE AFTER RECORDS

ROOT is the directory the workload worked in; BEFORE and AFTER list its tree
(`find ROOT -printf '%y %p\\n'`) before and after the session; RECORDS are
the session's records (replay --format json).  A record whose path the kernel
did not act on (a unlink of a file that was not there, a rename from the
wrong directory, an open of a file that did not exist) breaks the replay:
every such record is printed, and the exit status is 1.  Paths outside ROOT
are checked against the files there now (those do not change).
"""
import json
import os
import sys

# their contents change under anyone's feet: not checked against the disk
VOLATILE = ("/proc/", "/sys/", "/dev/", "/run/", "/tmp/", "/var/tmp/")
PATH_KEYS = {"open": ["path"], "unlink": ["path"], "rename": ["from", "to"], "exec": ["path", "exe"],
             "truncate": ["path"], "mkdir": ["path"], "mknod": ["path"], "symlink": ["path"],
             "link": ["path", "target"], "chmod": ["path"], "chown": ["path"], "utimes": ["path"]}


def tree(listing):
    out = {}
    with open(listing, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            kind, path = line.rstrip("\n").split(" ", 1)
            out[path] = kind
    return out


class Oracle:
    def __init__(self, root, before):
        self.root = root
        self.files = dict(before)
        self.faults = []
        self.checked = 0

    def inside(self, path):
        return path == self.root or path.startswith(self.root + "/")

    def fault(self, rec, why):
        keep = {k: rec[k] for k in ("seq", "type", "syscall", "pid", "comm", "path", "requested", "from", "to",
                                    "from_requested", "to_requested", "dirfd", "from_dirfd", "to_dirfd", "ret")
                if k in rec}
        self.faults.append(f"{why}: {json.dumps(keep)}")

    def exists(self, path):
        """Whether path names a file at this point of the session."""
        if self.inside(path):
            return path in self.files
        return os.path.lexists(path)

    def expect(self, rec, path, there):
        if not self.inside(path) and path.startswith(VOLATILE):
            return
        if "/../" in path or path.endswith("/.."):
            return  # a name before it may be a symlink the kernel followed
        self.checked += 1
        if self.exists(path) != there:
            self.fault(rec, f"{path} {'did not exist' if there else 'existed'} then")

    def children(self, path):
        return [p for p in self.files if p.startswith(path + "/")]

    def move(self, src, dst):
        moved = {p: k for p, k in self.files.items() if p == src or p.startswith(src + "/")}
        for p in moved:
            del self.files[p]
        for p in [p for p in self.files if p == dst or p.startswith(dst + "/")]:
            del self.files[p]
        for p, k in moved.items():
            self.files[dst + p[len(src):]] = k

    def add(self, path, kind):
        if self.inside(path):
            self.files.setdefault(path, kind)

    def record(self, rec):
        t, ret, err = rec["type"], rec.get("ret", 0), rec.get("error")
        ok = ret >= 0
        for key in PATH_KEYS.get(t, []):
            if key in rec:
                v = rec[key]
                if not v.startswith("/") and not (t == "exec" and key == "exe" and v.endswith(" (memfd)")):
                    self.fault(rec, f"{key} is not absolute")
            for flag in ("unresolved", "truncated", "detached", "unreadable"):
                if rec.get(f"{key}_{flag}"):
                    self.fault(rec, f"{key} is {flag}")
        if t == "open":
            path, flags = rec["path"], rec.get("flags", [])
            if "O_TMPFILE" in flags:
                return
            if ok:
                if "O_CREAT" in flags and not self.exists(path):
                    self.add(path, "f")
                self.expect(rec, path, True)
            elif err == "ENOENT":
                self.expect(rec, path, False)
            elif err == "EEXIST":
                self.expect(rec, path, True)
        elif t == "exec":
            if ok:
                self.expect(rec, rec["exe"], True)
            if "path" in rec and err == "ENOENT":
                self.expect(rec, rec["path"], False)
            elif "path" in rec and ok:
                self.expect(rec, rec["path"], True)
        elif t == "unlink":
            path = rec["path"]
            if ok:
                self.expect(rec, path, True)
                if rec.get("dir") and self.children(path):
                    self.fault(rec, f"{path} was not empty")
                self.files.pop(path, None)
            elif err == "ENOENT":
                self.expect(rec, path, False)
        elif t == "rename":
            src, dst = rec["from"], rec["to"]
            if ok:
                self.expect(rec, src, True)
                if "RENAME_EXCHANGE" in rec.get("flags", []):
                    self.expect(rec, dst, True)
                    tmp = src + "\0exchange"
                    self.move(src, tmp)
                    self.move(dst, src)
                    self.move(tmp, dst)
                elif self.inside(src) and self.inside(dst):
                    self.move(src, dst)
            elif err == "ENOENT":
                self.expect(rec, src, False)
        elif t in ("mkdir", "mknod", "symlink", "link"):
            path = rec["path"]
            if ok:
                self.expect(rec, path, False)
                if t == "link":
                    self.expect(rec, rec["target"], True)
                self.add(path, {"mkdir": "d", "symlink": "l"}.get(t, "f"))
            elif err == "EEXIST":
                self.expect(rec, path, True)
        elif t in ("truncate", "chmod", "chown", "utimes") and ok:
            self.expect(rec, rec["path"], True)


def main():
    root, before, after, records = sys.argv[1:5]
    oracle = Oracle(root, tree(before))
    with open(records, encoding="utf-8") as f:
        recs = [json.loads(line) for line in f if line.strip()]
    # in the order the calls returned (ts is taken at the exit), whatever
    # CPU they ran on
    for rec in sorted(recs, key=lambda r: (r["ts"], r["seq"])):
        if rec.get("setup"):
            continue
        oracle.record(rec)
    final = tree(after)
    for p in sorted(set(oracle.files) - set(final)):
        oracle.faults.append(f"{p}: the records leave it, the disk does not have it")
    for p in sorted(set(final) - set(oracle.files)):
        oracle.faults.append(f"{p}: on the disk, but no record made it")
    for line in oracle.faults[:40]:
        print(line)
    print(f"checked {oracle.checked} paths, {len(oracle.faults)} faults")
    return 1 if oracle.faults else 0


if __name__ == "__main__":
    sys.exit(main())
