#!/usr/bin/env bash
# Fail closed: no collector -> exit 125 and nothing ran; bad flags and
# policies -> one line naming the flag or field, exit 125, nothing left behind.
# "Nothing left behind" compares the mount table before and after: in a mount
# namespace of our own (a copy of the host's that no longer follows it), so
# that mounts made meanwhile by others on the machine do not count, while a
# mount leaked by `sandtrail run`, started from here, would.  The session
# cgroups looked at are the ones each run made (strace sees its mkdirs).
[ -n "${ST_PRIVATE_MNTNS:-}" ] || exec env ST_PRIVATE_MNTNS=1 unshare --mount --propagation private bash "$0" "$@"
source "$(dirname "$0")/lib.sh"
plan 34

MARK=$T/ran
mkdir -p "$T/ws"
chown 4242:4242 "$T/ws"
mounts() { awk '{print $5}' /proc/self/mountinfo | LC_ALL=C sort; }
# made_cgroups TRACE: the session cgroups (run-*, v2 and v1) that the traced
# run made, as strace saw its mkdirs: only this test's own, whatever other
# sessions come and go on the machine meanwhile
made_cgroups() { sed -n 's/^mkdir[a-z]*([^"]*"\([^"]*\/run-[^"/]*\)".*= 0$/\1/p' "$1"; }
# left_behind BEFORE AFTER TRACE: the mounts that appeared, and the session
# cgroups the run made that are still there
left_behind() {
	local cg
	LC_ALL=C comm -13 "$1" "$2"
	made_cgroups "$3" | while read -r cg; do [ -d "$cg" ] && echo "$cg"; done
}
# fails_cleanly NAME WANT-REGEX ARGS...: exit 125, one stderr line matching WANT, the
# marker never created, mounts and session cgroups as before
fails_cleanly() {
	local name=$1 want=$2 rc lines
	shift 2
	mounts >"$T/before"
	strace -qq -o "$T/mkdirs" -e trace=mkdir,mkdirat -e status=successful \
		"$SANDTRAIL" run "$@" -- sh -c "touch '$T/ws/ran'" 2>"$T/err" >/dev/null
	rc=$?
	mounts >"$T/after"
	lines=$(wc -l <"$T/err")
	if [ $rc -eq 125 ] && [ "$lines" -eq 1 ] && grep -Eq -- "$want" "$T/err" && [ ! -e "$T/ws/ran" ] &&
		[ -z "$(left_behind "$T/before" "$T/after" "$T/mkdirs")" ]; then
		ok "$name"
	else
		not_ok "$name"
		diag "rc=$rc lines=$lines" "$(cat "$T/err")" "$(left_behind "$T/before" "$T/after" "$T/mkdirs")"
	fi
	# what it leaked is ours: the machine is left as it was
	made_cgroups "$T/mkdirs" | while read -r cg; do rm_cgroup "$cg"; done
}

export SANDTRAIL_SOCKET=$T/no-daemon.sock
fails_cleanly "collector absent: exit 125 and nothing ran" 'cannot reach sandtraild at .*no-daemon.sock' -v "$T/ws:/mnt"
fails_cleanly "a stale socket file is no collector either" 'cannot reach sandtraild' --socket /dev/null -v "$T/ws:/mnt"
check "--no-audit runs without a collector" bash -c "'$SANDTRAIL' run --no-audit -v '$T/ws:/mnt' -- touch /mnt/ran 2>/dev/null && test -e '$T/ws/ran'"
rm -f "$T/ws/ran"

A=(--no-audit -v "$T/ws:/mnt")
fails_cleanly "bad --memory names the flag" '^sandtrail run: --memory .lots.: expected a size' "${A[@]}" --memory lots
fails_cleanly "bad --mount names the flag" '^sandtrail run: --mount type=nfs: expected bind or tmpfs' "${A[@]}" --mount type=nfs,dst=/x
fails_cleanly "a missing bind source names it" "^sandtrail run: --volume source '/nonexistent-$$'" "${A[@]}" -v /nonexistent-$$:/x
# the messages users found unclear say what was wrong and how to write it
fails_cleanly "--allow ::1:80 says to write [::1]:80" "^sandtrail run: --allow '::1:80' is ambiguous: write an IPv6 address with a port as \\[::1\\]:80" \
	"${A[@]}" --network allowlist --allow ::1:80
echo '{"user": -1}' >"$T/user-neg.json"
fails_cleanly '{"user":-1} names the range' '^sandtrail run: .*user-neg.json: user: -1: expected a UID from 0 to 65535, or "UID:GID"$' \
	"${A[@]}" --policy "$T/user-neg.json"
echo '{"user": 1000.5}' >"$T/user-frac.json"
fails_cleanly '{"user":1000.5} asks for a whole UID' '^sandtrail run: .*user-frac.json: user: 1000.5: expected a whole UID' \
	"${A[@]}" --policy "$T/user-frac.json"
fails_cleanly "--hostname with a newline, escaped on one line" "^sandtrail run: --hostname 'a\\\\nb': not a host name" \
	"${A[@]}" --hostname "$(printf 'a\nb')"
fails_cleanly "-p outside allowlist mode" '^sandtrail run: published ports need network mode allowlist' "${A[@]}" -p 8080:80
fails_cleanly "-p in docker's forms only" "^sandtrail run: --publish '80': expected \\[IP:\\]HOST_PORT:PORT" "${A[@]}" -p 80
fails_cleanly "-p in gvisor mode (no pasta there)" '^sandtrail: -p: gvisor mode cannot publish ports' \
	"${A[@]}" --mode gvisor --network allowlist -p 8080:80
fails_cleanly "bad --allow names the flag" '^sandtrail run: --allow expected "CIDR\[:PORT\]" or "HOST:PORT"' "${A[@]}" --network allowlist --allow 10.0.0.0/99
fails_cleanly "--allow without allowlist mode" 'allow rules need network mode allowlist' "${A[@]}" --allow 10.0.0.0/8
fails_cleanly "bad --network" "^sandtrail run: --network 'bridge': expected none, host, allowlist or proxy" "${A[@]}" --network bridge
fails_cleanly "unknown capability" "^sandtrail run: --cap-add 'CAP_FLY': unknown capability" "${A[@]}" --cap-add CAP_FLY
fails_cleanly "secret missing from the environment" '^sandtrail: --secret NOPE_'$$': not set' "${A[@]}" --secret NOPE_$$
fails_cleanly "a mount point in the host's read-only /usr" 'mount /usr/no-such-dir-'$$': /usr/no-such-dir-'$$' cannot be made in a read-only directory of the root' "${A[@]}" --tmpfs /usr/no-such-dir-$$
mkdir "$T/root-ws"
fails_cleanly "a writable volume of root's needs its owner named" "^sandtrail: mount /mnt: $T/root-ws belongs to root, so what the session writes there would be root's on the host: name its owner with --volume-owner" \
	--no-audit -v "$T/ws:/ws" -v "$T/root-ws:/mnt"
ln -s "$T/ws" "$T/link"
fails_cleanly "a volume through a symbolic link is refused, naming it" "^sandtrail: mount /mnt: $T/link is a symbolic link: volume sources are opened without following links" \
	--no-audit -v "$T/link:/mnt"
mkdir "$T/d" && ln -s "$T/d" "$T/dlink" && mkdir "$T/d/sub" && chown 4242 "$T/d/sub"
fails_cleanly "... also a link in the middle of the path" "^sandtrail: mount /mnt: $T/dlink is a symbolic link" --no-audit -v "$T/dlink/sub:/mnt"
check "... unless the volume says follow" lacks . "$SANDTRAIL" run --no-audit -v "$T/link:/mnt:ro,follow" -- ls /mnt
check "a volume at a new path works and leaves nothing on the host" bash -c '
	"$1" run --no-audit -v "$2/ws:/a-$3/new/dir" -w /a-$3/new/dir -- sh -c "pwd; echo x >f" 2>/dev/null | grep -qx "/a-$3/new/dir" &&
	test -f "$2/ws/f" && test ! -e "/a-$3"' _ "$SANDTRAIL" "$T" $$
fails_cleanly "a missing workdir" 'chdir\("/nope-'$$'"\): ENOENT' "${A[@]}" -w /nope-$$
# it failed in the sandbox, after its cgroups were made: the trace saw them
check "... the trace saw the session cgroups it removed" test -n "$(made_cgroups "$T/mkdirs")" || diag "$(cat "$T/mkdirs")"
fails_cleanly "an allowlist nobody enforces is refused" 'allowlist is enforced by sandtraild' "${A[@]}" --network allowlist --allow 127.0.0.1:80
fails_cleanly "an unknown --mode" "^sandtrail run: --mode 'kvm'" "${A[@]}" --mode kvm

cat >"$T/policy.json" <<'J'
{"network": {"mode": "allowlist", "allow": ["10.0.0.0/8:443", "127.0.0.1:80", "nonsense!"]}}
J
fails_cleanly "a bad policy names the JSON field" 'policy.json: network.allow\[2\]: expected "CIDR\[:PORT\]" or "HOST:PORT"' "${A[@]}" --policy "$T/policy.json"
echo '{"resources": {"memory": 12, "pidz": 3}}' >"$T/policy.json"
fails_cleanly "an unknown policy field is refused" 'policy.json: resources.pidz: unknown field' "${A[@]}" --policy "$T/policy.json"
echo '{"network": {"mode": "none"' >"$T/policy.json"
fails_cleanly "malformed policy JSON gives its position" 'policy.json: line [0-9]+ column' "${A[@]}" --policy "$T/policy.json"
echo '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_MAYBE"}]}' >"$T/prof.json"
fails_cleanly "a malformed seccomp profile names the field" 'prof.json: syscalls\[0\].action: unknown action "SCMP_ACT_MAYBE"' "${A[@]}" --security-opt seccomp="$T/prof.json"

# flags override the policy
echo '{"network": {"mode": "host"}, "env": {"WHO": "policy"}, "user": "2000"}' >"$T/policy.json"
out=$("$SANDTRAIL" run --no-audit --policy "$T/policy.json" -e WHO=flag --user 3000 -- sh -c 'echo $WHO $(id -u)' 2>/dev/null)
check "flags override the policy" test "$out" = "flag 3000"
out=$("$SANDTRAIL" run --no-audit --policy "$T/policy.json" -- sh -c 'echo $WHO $(id -u)' 2>/dev/null)
check "the policy applies without flags" test "$out" = "policy 2000"
