#!/usr/bin/env bash
# sandtraild as a systemd service, where no systemd runs as PID 1: the unit
# `make install` writes passes systemd-analyze verify; sandtraild speaks the
# notify protocol to a socket the test owns (READY only once it listens,
# STATUS with the live sessions and the export lag, the watchdog fed, STOPPING on SIGTERM);
# it records a session with nothing but the unit's CapabilityBoundingSet;
# the control socket's group may ask `ps` and nothing else, other users
# nothing.
source "$(dirname "$0")/lib.sh"
plan 26

# ---- make install ----
DEST=$T/dest
make -s -C "$SANDTRAIL_TOP" install DESTDIR="$DEST" PREFIX=/usr BUILD="$BUILD" >"$T/install.out" 2>&1
check "make install DESTDIR=... PREFIX=/usr" test $? -eq 0 || diag "$(tail -5 "$T/install.out")"
UNIT=$DEST/lib/systemd/system/sandtraild.service
check "... installs the binaries, the unit and the group's sysusers.d entry" \
	test -x "$DEST/usr/bin/sandtraild" -a -x "$DEST/usr/bin/sandtrail" -a -f "$UNIT" -a \
	-f "$DEST/usr/lib/sysusers.d/sandtrail.conf"
check "... the unit starts the installed daemon, Type=notify with a watchdog" \
	bash -c 'grep -q "^ExecStart=/usr/bin/sandtraild " "$1" && grep -q "^Type=notify$" "$1" && grep -q "^WatchdogSec=" "$1"' _ "$UNIT"
# verify checks ExecStart's binary: the built one stands in for /usr/bin
sed "s#^ExecStart=/usr/bin/#ExecStart=$SANDTRAIL_TOP/$BUILD/#" "$UNIT" >"$T/sandtraild.service"
systemd-analyze verify --man=no "$T/sandtraild.service" >"$T/verify.out" 2>&1
rc=$?
check "systemd-analyze verify: no error and nothing to say (a bad directive is only a warning)" \
	test $rc -eq 0 -a ! -s "$T/verify.out" || diag "$(cat "$T/verify.out")"

# ---- notify protocol, under the unit's capability bounding set ----
CAPS=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
BOUND=-all
for c in $CAPS; do BOUND+=",+$(tr 'A-Z' 'a-z' <<<"${c#CAP_}")"; done
NOTIFY=$T/notify.sock
python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    for line in s.recv(4096).decode().split("\n"): print(line, flush=True)' "$NOTIFY" >"$T/notify.out" 2>&1 &
defer "kill $!"
wait_for 20 grep -q listening "$T/notify.out"
GROUP=sttest$$
groupadd "$GROUP" && defer "groupdel $GROUP"
GID=$(getent group "$GROUP" | cut -d: -f3)
RUNDIR=/run/sandtrail-test-$$
defer "rm -rf $RUNDIR"
export SANDTRAIL_SOCKET=$RUNDIR/control.sock
mkdir -p "$KEYDIR"
# a sink where nothing listens: its lag only grows
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# READY must come after the socket listens: record what the socket was then
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=400000 setpriv --bounding-set "$BOUND" --inh-caps=-all \
	"$SANDTRAILD" --journal "$JOURNAL" --socket "$SANDTRAIL_SOCKET" --socket-group "$GROUP" \
	--key "$KEYDIR/signing.key" --create-key --export "syslog+tcp://127.0.0.1:$CLOSED" 2>"$T/daemon.err" &
DAEMON_PID=$!
defer stop_daemon
check "sandtraild under the unit's bounding set says READY=1" wait_for 60 grep -q '^READY=1$' "$T/notify.out" ||
	diag "$(cat "$T/daemon.err")"
check "... only once the control socket listens" \
	bash -c 'test -S "$1" && grep -q "^sandtraild: ready" "$2"' _ "$SANDTRAIL_SOCKET" "$T/daemon.err"
check "... its capabilities are the bounding set's" \
	bash -c '[ "$(grep CapBnd /proc/$1/status | awk "{print \$2}")" = "$(setpriv --bounding-set "$2" grep CapBnd /proc/self/status | awk "{print \$2}")" ]' \
	_ $DAEMON_PID "$BOUND"
check "... and feeds the watchdog (WatchdogSec/2)" wait_for 20 bash -c '[ "$(grep -c "^WATCHDOG=1$" "$1")" -ge 3 ]' _ "$T/notify.out"
"$SANDTRAIL" run --id-file "$T/id" "${HV[@]}" -- sh -c 'cat /etc/hostname >/dev/null; sleep 2' 2>"$T/run.err" &
RUN=$!
check "STATUS counts the live session, and the exporters' lag" \
	wait_for 20 grep -Eq '^STATUS=recording: 1 session, export lag [0-9]+ records?$' "$T/notify.out"
wait $RUN
check "a session recorded with only those capabilities" \
	test "$(replay_json "$(cat "$T/id")" | jq -s '[.[] | select(.type == "exec" or .type == "open" or .type == "session_end")] | length')" -ge 3 ||
	diag "$(cat "$T/run.err")" "$(tail -5 "$T/daemon.err")"
check "... and the live count goes back to 0, the lag of the sink that is down does not" \
	wait_for 20 bash -c 'tail -n 3 "$1" | grep -Eq "^STATUS=recording: 0 sessions, export lag [1-9][0-9]* records?$"' _ "$T/notify.out"

# ---- the socket's group ----
check "the control socket is 0660 root:$GROUP" test "$(stat -c %a:%U:%G "$SANDTRAIL_SOCKET")" = "660:root:$GROUP"
member() { setpriv --reuid 4243 --regid 4243 --groups "$GID" "$@"; }
outsider() { setpriv --reuid 4244 --regid 4244 --clear-groups "$@"; }
member "$SANDTRAIL" ps >"$T/ps.out" 2>"$T/ps.err"
check "a member of the group runs sandtrail ps" test $? -eq 0 || diag "$(cat "$T/ps.err")"
member "$SANDTRAIL" ps --json >"$T/ps.json" 2>"$T/ps.err"
check "... and ps --json" bash -c 'jq -e . "$1" >/dev/null' _ "$T/ps.json"
setpriv --reuid 4243 --regid "$GID" --clear-groups "$SANDTRAIL" ps >/dev/null 2>"$T/ps.err"
check "... also when it is the primary group" test $? -eq 0 || diag "$(cat "$T/ps.err")"
member "$SANDTRAIL" unwatch 0123456789abcdef >"$T/un.out" 2>"$T/un.err"
rc=$?
check "... but changes nothing: unwatch is refused, saying why" \
	bash -c '[ "$1" -ne 0 ] && grep -q "group '"$GROUP"' may ask ps only; unwatch needs root" "$2"' _ $rc "$T/un.err" ||
	diag "$(cat "$T/un.err")"
outsider "$SANDTRAIL" ps >"$T/out.out" 2>"$T/out.err"
rc=$?
check "a user outside the group is refused" test $rc -ne 0 -a ! -s "$T/out.out" || diag "status $rc" "$(cat "$T/out.err")"
check "... by the socket's permissions" grep -qi "permission denied" "$T/out.err"
bad=$("$SANDTRAILD" --journal "$T/j2" --socket "$T/s2" --socket-group "nosuchgroup$$" --key "$KEYDIR/signing.key" 2>&1)
check "--socket-group with an unknown group: one line, non-zero, nothing listens" \
	bash -c '[ "$(wc -l <<<"$1")" -eq 1 ] && grep -q "no group .nosuchgroup" <<<"$1" && [ ! -e "$2" ]' _ "$bad" "$T/s2"

# ---- shutdown ----
kill -TERM $DAEMON_PID
wait $DAEMON_PID
rc=$?
DAEMON_PID=
check "SIGTERM: STOPPING=1 sent, then a clean exit" test $rc -eq 0 -a "$(grep -c '^STOPPING=1$' "$T/notify.out")" -eq 1

# ---- systemctl restart hands the sessions over, systemctl stop ends them ----
# Both send SIGTERM; sandtraild asks systemd (D-Bus) whether a restart job
# is queued on its unit.  A fake systemd on a private bus answers for it.
BPFFS=$T/bpffs
mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS" && defer "umount -l '$BPFFS'"
cat >"$T/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><listen>unix:path=$T/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>
CONF
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile 2>/dev/null &
defer "kill $!"
wait_for 20 test -S "$T/bus"
: >"$T/job"
/usr/bin/python3 "$(dirname "$0")/fake_systemd_bus.py" "unix:path=$T/bus" "$T/job" >"$T/systemd.out" 2>&1 &
defer "kill $!"
check "a fake systemd answers on a private bus" wait_for 20 grep -q ready "$T/systemd.out" || diag "$(cat "$T/systemd.out")"
export INVOCATION_ID=0123456789abcdef0123456789abcdef DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus
DOPTS=(--pin-dir "$BPFFS/pins")
WS=$T/ws
mkdir -p "$WS"
start_daemon "${DOPTS[@]}" || not_ok "sandtraild starts under the fake systemd"
"$SANDTRAIL" run --id-file "$T/rid" "${HV[@]}" -v "$WS:$WS" --volume-owner 0 -- sh -c \
	"until [ -e $WS/go ]; do sleep 0.05; done; cat /etc/hostname >/dev/null; exit 5" 2>"$T/rrun.err" &
RUN=$!
defer "kill $RUN"
wait_for 30 test -s "$T/rid"
id=$(cat "$T/rid")
echo restart >"$T/job" # systemctl restart: the job is queued, then SIGTERM
pid=$DAEMON_PID
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
check "SIGTERM under a restart job: sandtraild asks systemd about its own pid, hands over, keeps the pins" \
	bash -c '[ "$1" -eq 0 ] && grep -q "^GetUnitByPID $2$" "$3" && grep -q "for a restart: handing over" "$4" &&
		[ -n "$(ls "$5")" ]' _ $rc "$pid" "$T/systemd.out" "$T/daemon.err" "$BPFFS/pins" ||
	diag "status $rc" "$(tail -3 "$T/daemon.err")" "$(cat "$T/systemd.out")"
: >"$T/job"
start_daemon "${DOPTS[@]}" || not_ok "the next sandtraild starts on the pins"
touch "$WS/go"
wait "$RUN"
check "the run session went on across the restart and returns its workload's status (5)" test $? -eq 5 ||
	diag "$(cat "$T/rrun.err")"
replay_json "$id" >"$T/restart.json"
check "... recorded: taken over after a restart, its open, ended by its exit" \
	quiet jq -se 'any(.type=="session_reattach" and .after=="restart") and any(.type=="open" and .path=="/etc/hostname")
		and ([.[] | select(.type=="session_end") | .reason] == ["exit"])' "$T/restart.json" ||
	diag "$(jq -c '{type, reason}' "$T/restart.json" | tail -5 | tr '\n' ' ')"
# systemctl stop: no job but the stop (or none by the time it asks)
cg=$(mk_cgroup svcstop)
sid=$("$SANDTRAIL" watch --cgroup "$cg") || not_ok "watch"
echo stop >"$T/job"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
check "SIGTERM under a stop job: the sessions end (shutdown) and no pin is left" \
	bash -c '[ "$1" -eq 0 ] && [ ! -e "$2" ]' _ $rc "$BPFFS/pins"
check "... the watched session's end is in the journal" \
	test "$(replay_json "$sid" | jq -c 'select(.type=="session_end") | .reason')" = '"shutdown"'
unset INVOCATION_ID DBUS_SYSTEM_BUS_ADDRESS
