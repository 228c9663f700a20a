#!/usr/bin/env bash
# Anchors through the systemd journal, for hosts without Kafka: the journald
# sink publishes every seal (sd_journal_send, structured fields), and
# `sandtrail verify --anchor journald` (read back with sd-journal) and
# `--anchor FILE` (exported by journalctl) fail a journal cut by its last
# segment, its last two, or put back from an older copy, where a plain verify
# says intact.  An anchor logged by anyone but root is not taken.
# A journald of this test's own (systemd is not PID 1 on every test host):
# in a mount namespace of our own, over tmpfs at its socket and storage paths.
[ -n "${ST_PRIVATE_MNTNS:-}" ] || exec env ST_PRIVATE_MNTNS=1 unshare --mount --propagation private bash "$0" "$@"
source "$(dirname "$0")/lib.sh"
JOURNALD=/lib/systemd/systemd-journald
[ -x "$JOURNALD" ] || { echo "1..0 # SKIP no $JOURNALD"; exit 0; }
plan 27

PUB=$KEYDIR/signing.pub
bad_url "journald names no host" "journald://localhost" "names no host and no path"
bad_url "journald identifier" "journald://?identifier=a=b" "identifier: one word"
for d in /run/systemd /run/log /var/log/journal; do
	mkdir -p "$d" && mount -t tmpfs -o mode=755 tmpfs "$d" || { not_ok "a private $d"; exit 1; }
done
JD_PID=
start_journald() {
	"$JOURNALD" >"$T/journald.out" 2>&1 &
	JD_PID=$!
	defer "kill $JD_PID"
	wait_for 10 test -S /run/systemd/journal/socket
}
start_journald || { not_ok "a private journald starts"; diag "$(cat "$T/journald.out")"; exit 1; }

seals() { "$SANDTRAIL" replay --journal "$1" --pubkey "$PUB" --all --format json | jq -c 'select(.type == "seal") | .seq'; }
# anchored: the SANDTRAIL_SEQ of sandtraild's anchors in the systemd journal
anchored() { journalctl -o json SYSLOG_IDENTIFIER=sandtrail _UID=0 | jq -r 'select(.SANDTRAIL_JOURNAL) | .SANDTRAIL_SEQ'; }
# verify_anchor NAME DIR ANCHOR WANT-EXIT WANT-REGEX: verify --anchor ANCHOR on DIR
verify_anchor() {
	local rc
	"$SANDTRAIL" verify --journal "$2" --pubkey "$PUB" --anchor "$3" >"$T/verify.out" 2>&1
	rc=$?
	check "$1 (exit $rc)" bash -c '[ "$1" = "$2" ] && grep -Eq -- "$3" "$4"' _ "$rc" "$4" "$5" "$T/verify.out" ||
		diag "$(cat "$T/verify.out")"
}
FAILED_END="anchor: FAILED: the journal ends, before the last anchored seal"

OPTS=(--segment-bytes 8K --export "journald://?name=jd&backoff_max=200ms")
start_daemon "${OPTS[@]}" || { not_ok "sandtraild starts with a journald sink"; exit 1; }
burst 1000
check "ps shows the journald sink connected" \
	wait_for 10 bash -c '[ "$("$1" ps --json | jq -r "select(.exporter == \"jd\") | .connected")" = true ]' _ "$SANDTRAIL"
stop_daemon
cp -a "$JOURNAL" "$T/older"
start_daemon "${OPTS[@]}" || { not_ok "sandtraild starts again"; exit 1; }
burst 1000
check "sandtraild stops cleanly (its last seal anchored within the grace)" stop_daemon
jid=$(ls "$T"/state/jd.cursor >/dev/null && jq -r .journal "$T"/state/jd.cursor)
seals "$JOURNAL" >"$T/seals"
anchored >"$T/anchored"
check "every seal of the journal is an entry of the systemd journal, in order ($(wc -l <"$T/seals") seals)" \
	cmp -s "$T/seals" "$T/anchored" || diag "anchored: $(head -c 300 "$T/anchored")"
check "the entries name the journal, and journald stamps them as root's" \
	bash -c 'journalctl -o json SANDTRAIL_JOURNAL="$1" | jq -e -s "length > 0 and all(._UID == \"0\" and .PRIORITY == \"6\")" >/dev/null' _ "$jid"
journalctl -o cat SYSLOG_IDENTIFIER=sandtrail _UID=0 >"$T/anchors.txt"
check "MESSAGE is the anchor line: the seal record byte for byte" \
	bash -c 'tail -n 1 "$1" | grep -Eq "^sandtrail-anchor journal=$2 seq=$3 seal=[0-9a-f]+$"' _ "$T/anchors.txt" "$jid" "$(tail -n 1 "$T/seals")"
segs=$(ls "$JOURNAL" | grep -c '\.stj$')
check "the journal spans several segments ($segs)" test "$segs" -ge 4

verify_anchor "verify --anchor journald: the journal reaches the last anchored seal" \
	"$JOURNAL" journald 0 "anchor: the journal reaches the last anchored seal \(seq $(tail -n 1 "$T/seals")\)"
verify_anchor "verify --anchor FILE (from journalctl): the same" \
	"$JOURNAL" "$T/anchors.txt" 0 "reaches the last anchored seal \(seq $(tail -n 1 "$T/seals")\)"
verify_anchor "verify --anchor journald:DIR reads the journal files there" \
	"$JOURNAL" journald:/run/log/journal 0 "reaches the last anchored seal"

# cut COPY N: a copy of the journal without its last N segments
cut() {
	rm -rf "$1" && cp -a "$JOURNAL" "$1"
	ls "$1"/*.stj | tail -n "$2" | xargs rm -f
}
cut "$T/cut1" 1
cut "$T/cut2" 2
"$SANDTRAIL" verify --journal "$T/cut2" --pubkey "$PUB" >"$T/plain.out" 2>&1
check "without an anchor, a journal cut at a segment boundary verifies intact (why anchors exist)" \
	grep -q ": intact$" "$T/plain.out" || diag "$(cat "$T/plain.out")"
for a in journald "$T/anchors.txt"; do
	what=${a##*/}
	verify_anchor "--anchor $what fails the journal without its last segment" "$T/cut1" "$a" 1 "$FAILED_END"
	verify_anchor "--anchor $what fails the journal without its last two segments" "$T/cut2" "$a" 1 "$FAILED_END"
	verify_anchor "--anchor $what fails an older copy of the journal put back" "$T/older" "$a" 1 "$FAILED_END"
done

# anchors that prove nothing, or are not anchors
printf 'MESSAGE=sandtrail-anchor journal=%s seq=999999 seal=00\nSANDTRAIL_JOURNAL=%s\nSYSLOG_IDENTIFIER=sandtrail\n' \
	"$jid" "$jid" | setpriv --reuid=65534 --regid=65534 --clear-groups logger --journald
check "the entry logged by another user is there" \
	wait_for 10 bash -c 'journalctl -o json SANDTRAIL_JOURNAL="$1" | grep -q "\"_UID\":\"65534\""' _ "$jid"
verify_anchor "an anchor logged by a user other than root is not taken" "$JOURNAL" journald 0 "reaches the last anchored seal"
sed '$ d' "$T/anchors.txt" >"$T/altered.txt"
last=$(tail -n 1 "$T/anchors.txt")
flip=$([ "${last: -1}" = 0 ] && echo 1 || echo 0)
echo "${last%?}$flip" >>"$T/altered.txt"
verify_anchor "an anchor whose seal differs from the host's record fails" "$JOURNAL" "$T/altered.txt" 1 \
	"anchor: FAILED: the journal differs, before the last anchored seal"
{ head -n 2 "$T/anchors.txt"; echo "x sandtrail-anchor journal=$jid seq=12 seal=zz"; } >"$T/bad.txt"
"$SANDTRAIL" verify --journal "$JOURNAL" --pubkey "$PUB" --anchor "$T/bad.txt" >"$T/bad.out" 2>"$T/bad.err"
rc=$?
check "a malformed anchor line is one error naming the file, line and field (exit $rc)" \
	bash -c '[ "$1" = 2 ] && [ "$(wc -l <"$2")" = 1 ] && grep -q "bad.txt: line 3, byte 3: seal: " "$2"' _ "$rc" "$T/bad.err" ||
	diag "$(cat "$T/bad.err")"
rm -rf "$T/other" && mkdir -p "$T/other"
"$SANDTRAILD" --journal "$T/other" --socket "$T/other.sock" --key "$KEYDIR/signing.key" 2>"$T/other.err" &
opid=$!
wait_for 30 grep -q "^sandtraild: ready" "$T/other.err"
kill -TERM "$opid" && wait "$opid"
verify_anchor "a journal put in place of the anchored one fails: no anchor of its id" "$T/other" journald 1 \
	"anchor: FAILED: no anchored seal of journal [0-9a-f]{32} in journald \(only of other journals"

# jd_down: ps shows the sink disconnected, naming journald's socket (jq 1.6's
# -e goes by the last input: one slurped array)
jd_down() {
	"$SANDTRAIL" ps --json | jq -s -e 'map(select(.exporter == "jd"))[0] |
		.connected == false and (.last_error // "" | test("^(sd_journal_send\\()?/run/systemd/journal/socket"))' >/dev/null
}
# journald down: the sink says so, the seals wait in the journal, and all
# of them are anchored once it is back
kill -KILL "$JD_PID" && wait "$JD_PID" 2>/dev/null # its socket stays, refusing
start_daemon "${OPTS[@]}" || { not_ok "sandtraild starts with journald down"; exit 1; }
burst 300
check "ps shows the journald sink down, with the error" \
	wait_for 10 jd_down
start_journald
# every_seal_anchored: the seals of the journal and the anchors are the same list
every_seal_anchored() { cmp -s <(seals "$JOURNAL") <(anchored); }
check "once journald is back, every seal is anchored, those made meanwhile too" wait_for 20 every_seal_anchored
check "sandtraild stops cleanly" stop_daemon
verify_anchor "the journal reaches its last anchored seal after the outage" "$JOURNAL" journald 0 "reaches the last anchored seal"
