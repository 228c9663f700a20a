#!/usr/bin/env bash
# The package's whole life on this machine: `make deb`; `dpkg -i` installs
# it (the group, the directories, the unit enabled); sandtraild starts from
# the installed unit (under systemd where it is PID 1; where it is not, as
# here, the unit's ExecStart is run the way systemd would run it); the
# demo's session runs against it and is replayed and verified with the
# installed defaults; `dpkg -P` removes everything (binaries, unit, group,
# key, state, sockets, the pinned kernel side) but the journal.
# It never clobbers a sandtrail installed here: it refuses to run when one
# is, takes a lock against a second copy of itself, and purges what it
# installed on any exit.
source "$(dirname "$0")/lib.sh"
source "$TOP/tests/demo_session.sh"

# the lock (fd 9) is not handed to the processes this test starts
exec 9</run/lock
flock -w 900 9 || { echo "1..0 # SKIP another test_deb_lifecycle holds /run/lock"; exit 0; }
found=
dpkg-query -W -f='${Status}' sandtrail 2>/dev/null | grep -q 'installed\|unpacked\|config-files' && found+=" the package"
for f in /usr/bin/sandtraild /usr/local/bin/sandtraild /lib/systemd/system/sandtraild.service \
	/etc/systemd/system/sandtraild.service /etc/sandtrail /var/lib/sandtrail /run/sandtrail/control.sock \
	/sys/fs/bpf/sandtrail; do
	[ -e "$f" ] && found+=" $f"
done
getent group sandtrail >/dev/null && found+=" the group sandtrail"
if [ -n "$found" ]; then
	echo "1..0 # SKIP sandtrail is on this machine already ($found ): this test installs and purges it"
	exit 0
fi
plan 17

U=/lib/systemd/system/sandtraild.service
LINKIDS=
# whatever happened, the machine as it was: no collector, no package, none
# of what it made (the journal too: this test made it)
RUNDIR_MODE=$(stat -c %a /run/sandtrail 2>/dev/null)
BPFFS_MOUNTED=
uninstall() {
	[ -z "$DEMO_LISTENER" ] || kill "$DEMO_LISTENER"
	if [ -n "$DAEMON_PID" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		timeout 60 tail --pid="$DAEMON_PID" -f /dev/null
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	dpkg-query -W sandtrail >/dev/null 2>&1 && wait_for 300 dpkg -P sandtrail
	rm -rf /var/lib/sandtrail /etc/sandtrail /sys/fs/bpf/sandtrail
	rm -f /run/sandtrail/control.sock /run/sandtrail/metrics.sock /run/sandtrail/gvisor.sock
	if [ -z "$RUNDIR_MODE" ]; then
		rmdir /run/sandtrail
	else
		chmod "$RUNDIR_MODE" /run/sandtrail
	fi
	getent group sandtrail >/dev/null && groupdel sandtrail
	[ -z "$BPFFS_MOUNTED" ] || umount /sys/fs/bpf
}
defer uninstall

make -s -C "$TOP" deb BUILD="$BUILD" >"$T/deb.out" 2>&1
check "make deb" test $? -eq 0 || diag "$(tail -5 "$T/deb.out")"
DEB=$(ls "$BIN"/deb/sandtrail_*_amd64.deb 2>/dev/null | head -1)

# dpkg -i, once no other dpkg holds its lock
dpkg_i() {
	dpkg -i "$DEB" >"$T/dpkg-i.out" 2>&1
	echo $? >"$T/dpkg-i.rc"
	! grep -q 'lock' "$T/dpkg-i.out" || [ "$(cat "$T/dpkg-i.rc")" -eq 0 ]
}
wait_for 300 dpkg_i
check "dpkg -i installs it" bash -c '[ "$(cat "$1")" -eq 0 ] && [ "$(dpkg-query -W -f="\${Status}" sandtrail)" = "install ok installed" ]' \
	_ "$T/dpkg-i.rc" || diag "$(tail -5 "$T/dpkg-i.out")"
check "... the binaries in /usr/bin, the unit, the man page man finds, the completion" \
	bash -c 'test -x /usr/bin/sandtraild -a -x /usr/bin/sandtrail -a -x /usr/bin/sandtrail-journal -a -f "$1" -a \
		-f /usr/share/bash-completion/completions/sandtrail && [ "$(man -w sandtraild)" = /usr/share/man/man8/sandtraild.8.gz ]' _ "$U"
check "postinst: the system group sandtrail, /var/lib/sandtrail (0700), the unit enabled" \
	bash -c 'gid=$(getent group sandtrail | cut -d: -f3) && [ "$gid" -lt 1000 ] &&
		[ "$(stat -c %a:%U /var/lib/sandtrail)" = 700:root ] && test -d /etc/sandtrail &&
		[ "$(readlink /etc/systemd/system/multi-user.target.wants/sandtraild.service)" = "$1" ]' _ "$U"

# ---- sandtraild, started from the installed unit ----
EXEC=$(awk '/^ExecStart=/ { on = 1; sub(/^ExecStart=/, "") }
	on { l = $0; c = sub(/\\$/, "", l); printf "%s", l; if (!c) { print ""; exit } }' "$U")
CAPS=$(sed -n 's/^CapabilityBoundingSet=//p' "$U")
BOUND=-all
for c in $CAPS; do BOUND+=",+$(tr 'A-Z' 'a-z' <<<"${c#CAP_}")"; done
unset SANDTRAIL_SOCKET
if [ "$(ps -p 1 -o comm=)" = systemd ]; then
	# postinst started it (deb-systemd-invoke)
	check "sandtraild runs under systemd (postinst started it)" wait_for 60 systemctl is-active --quiet sandtraild
else
	# what systemd does before ExecStart: the bpffs it mounts at boot (the
	# pins go there), RuntimeDirectory=, then the unit's UMask,
	# NoNewPrivileges and CapabilityBoundingSet
	if [ "$(stat -f -c %T /sys/fs/bpf)" != bpf_fs ]; then
		mount -t bpf bpf /sys/fs/bpf && BPFFS_MOUNTED=1
	fi
	install -d -m "$(sed -n 's/^RuntimeDirectoryMode=//p' "$U")" /run/sandtrail
	# shellcheck disable=SC2086 # ExecStart's words
	(umask "$(sed -n 's/^UMask=//p' "$U")" && exec setpriv --no-new-privs --bounding-set "$BOUND" --inh-caps=-all $EXEC) \
		2>"$T/daemon.err" 9<&- &
	DAEMON_PID=$!
	check "sandtraild starts from the unit's ExecStart (systemd is not PID 1 here: run as the unit would)" \
		wait_for 60 grep -q '^sandtraild: ready' "$T/daemon.err" || diag "$(cat "$T/daemon.err")"
fi
check "first start made the key in /etc/sandtrail: signing.key 0600, signing.pub 0644 (verify's default)" \
	test "$(stat -c %a /etc/sandtrail/signing.key):$(stat -c %a /etc/sandtrail/signing.pub)" = 600:644
check "the control socket is 0660 root:sandtrail where the CLI looks" \
	test "$(stat -c %a:%U:%G /run/sandtrail/control.sock)" = 660:root:sandtrail
GID=$(getent group sandtrail | cut -d: -f3)
setpriv --reuid 4243 --regid 4243 --groups "$GID" /usr/bin/sandtrail ps >"$T/ps.out" 2>&1
rc=$?
setpriv --reuid 4244 --regid 4244 --clear-groups /usr/bin/sandtrail ps >"$T/ps2.out" 2>&1
check "a member of the group sandtrail runs sandtrail ps, a user outside it is refused" \
	test $rc -eq 0 -a $? -ne 0 || diag "$(cat "$T/ps.out" "$T/ps2.out")"

# ---- the demo's session, against the installed daemon ----
W=$T/demo && mkdir -m 755 "$W"
demo_session /usr/bin/sandtrail "$HELPERS/st_workload" "$W" >"$T/demo.out" 2>&1 9<&-
kill "$DEMO_LISTENER" 2>/dev/null
ID=$(cat "$W/id" 2>/dev/null)
/usr/bin/sandtrail replay --session "$ID" --format json >"$T/demo.json" 2>"$T/replay.err"
jq_all() { jq -se "$1" "$2" >/dev/null; }
check "the demo's session is recorded: replay with the installed defaults (journal, public key)" \
	jq_all 'any(.type=="session_start" and .mode=="hardened") and any(.type=="exec" and (.argv | index("agent.sh"))) and
		any(.type=="connect" and .addr=="169.254.169.254" and .verdict=="deny") and
		any(.type=="connect" and .addr=="127.0.0.1" and .verdict=="allow") and any(.type=="session_end")' "$T/demo.json" \
	|| diag "$(cat "$T/demo.out" "$T/replay.err")"
/usr/bin/sandtrail replay --session "$ID" >"$T/demo.txt" 2>&1
check "... its seals checked with /etc/sandtrail/signing.pub, the secret nowhere" \
	bash -c '! grep -q "seals not checked" "$1" && grep -q "agent.sh" "$1" && ! grep -rqa "$2" /var/lib/sandtrail/journal' \
	_ "$T/demo.txt" "$DEMO_SECRET" || diag "$(head -5 "$T/demo.txt")"

# ---- stopped for a restart: the kernel side stays pinned for the next one ----
if [ "$(ps -p 1 -o comm=)" = systemd ]; then
	DAEMON_PID=$(systemctl show -p MainPID --value sandtraild)
fi
for f in /sys/fs/bpf/sandtrail/L*; do
	LINKIDS+=" $(bpftool link show pinned "$f" -j 2>/dev/null | jq .id)"
done
kill -USR2 "$DAEMON_PID"
timeout 60 tail --pid="$DAEMON_PID" -f /dev/null
DAEMON_PID=
cp /etc/sandtrail/signing.pub "$T/signing.pub"
/usr/bin/sandtrail verify >"$T/verify.out" 2>&1
check "sandtrail verify with the installed defaults: intact" test $? -eq 0 || diag "$(cat "$T/verify.out")"
check "the collector stopped for a restart left its links pinned in /sys/fs/bpf/sandtrail" \
	test "$(wc -w <<<"$LINKIDS")" -gt 10

# ---- dpkg -P ----
dpkg -P sandtrail >"$T/purge.out" 2>&1
check "dpkg -P purges it" bash -c '[ $1 -eq 0 ] && ! dpkg-query -W sandtrail >/dev/null 2>&1' _ $? || diag "$(tail -5 "$T/purge.out")"
left=
for f in /usr/bin/sandtraild /usr/bin/sandtrail /usr/bin/sandtrail-journal /usr/bin/sandtrail-proxy "$U" /usr/lib/sysusers.d/sandtrail.conf \
	/etc/systemd/system/multi-user.target.wants/sandtraild.service /usr/share/bash-completion/completions/sandtrail \
	/usr/share/doc/sandtrail /var/lib/systemd/deb-systemd-helper-enabled/sandtraild.service.dsh-also; do
	[ -e "$f" ] || [ -L "$f" ] && left+=" $f"
done
man -w sandtraild >/dev/null 2>&1 && left+=" man:sandtraild(8)"
check "... the binaries, the unit and its enable link, the man pages, the completion are gone" test -z "$left" || diag "left:$left"
check "... the group, the key, the state" \
	bash -c '! getent group sandtrail && ! test -e /etc/sandtrail && ! test -e /var/lib/sandtrail/state'
alive=
for id in $LINKIDS; do bpftool link show id "$id" >/dev/null 2>&1 && alive+=" $id"; done
check "... the sockets and the pinned kernel side: its links are detached (bpftool)" \
	bash -c '! ls /run/sandtrail/*.sock 2>/dev/null && ! test -e /sys/fs/bpf/sandtrail && [ -z "$1" ]' _ "$alive" ||
	diag "links still there:$alive"
"$SANDTRAIL" verify --journal /var/lib/sandtrail/journal --pubkey "$T/signing.pub" >"$T/verify2.out" 2>&1
check "... but not the journal, which verifies with its public key kept apart" test $? -eq 0 || diag "$(cat "$T/verify2.out")"
