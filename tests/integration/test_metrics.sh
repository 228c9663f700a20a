#!/usr/bin/env bash
# sandtraild's Prometheus metrics, scraped with curl (unix socket and the
# opt-in TCP address): after a known workload every counter equals what the
# journal holds (events per type = records of that type, records, losses per
# kind and reason, bytes on disk), every record's seal latency is timed,
# sessions are counted by mode while they live, an exporter's lag and
# retries are shown, and the unix socket is root's only.
source "$(dirname "$0")/lib.sh"
plan 24

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
# a syslog sink where nothing listens: its failures are retried, and counted
CLOSED=$(free_port)
start_daemon --ringbuf-size 4096 --seal-ms 200 --metrics-listen 127.0.0.1:$PORT --export "file://$T/shipped.ndjson" \
	--export "syslog+tcp://127.0.0.1:$CLOSED" || { not_ok "sandtraild starts"; exit 1; }
MSOCK=$(dirname "$SANDTRAIL_SOCKET")/metrics.sock
scrape() { curl -sS --max-time 10 --unix-socket "$MSOCK" http://sandtraild/metrics; }
# value NAME [LABELS]: one sample of the last scrape ($T/m), 0 when absent
value() {
	local k=$1
	[ -n "${2:-}" ] && k="$1{$2}"
	awk -v k="$k" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$T/m"
}

check "the unix socket is root's alone (0600)" test "$(stat -c %a:%U "$MSOCK")" = 600:root
scrape >"$T/m0" 2>"$T/err"
check "a scrape over the unix socket answers" test $? -eq 0 -a -s "$T/m0" || diag "$(cat "$T/err")"
check "... in the text format: every family has HELP and TYPE before its samples" awk '
	/^# HELP / { help[$3] = 1; next }
	/^# TYPE / { if (!help[$3]) exit 1; type[$3] = $4; next }
	{ n = $1; sub(/\{.*/, "", n); h = n; sub(/_(bucket|sum|count)$/, "", h)
	  if (!type[n] && type[h] != "histogram") exit 1; if ($2 !~ /^[0-9]+(\.[0-9]+)?$/) exit 1 }' "$T/m0"
curl -sS --max-time 10 "http://127.0.0.1:$PORT/metrics" >"$T/tcp" 2>"$T/err"
check "the same over --metrics-listen (TCP)" grep -q '^sandtrail_events_total{type="exec"}' "$T/tcp" || diag "$(cat "$T/err")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$MSOCK" http://sandtraild/other)
check "another path is 404" test "$code" = 404

# a hardened session that lives while we look
WS=$T/ws && mkdir -p "$WS" && chown 4242:4242 "$WS"
mkfifo -m 666 "$WS/go"
"$SANDTRAIL" run --id-file "$T/id" "${HV[@]}" -v "$WS:/w" -- sh -c 'cat /w/go >/dev/null; for i in 1 2 3; do cat /etc/hostname; done >/dev/null' \
	2>"$T/run.err" &
RUN=$!
wait_for 30 test -s "$T/id"
scrape >"$T/m"
check "a live hardened session is counted by its mode" test "$(value sandtrail_sessions 'mode="hardened"')" -eq 1
echo go >"$WS/go"
wait $RUN

# records spread over several seals (--seal-ms 200): each is timed from its
# arrival to its seal being durable
cg=$(mk_cgroup paced)
id=$("$SANDTRAIL" watch --cgroup "$cg")
run_in_cgroup "$cg" sh -c 'for i in $(seq 20); do cat /etc/hostname; sleep 0.05; done' >/dev/null
"$SANDTRAIL" unwatch "$id" >/dev/null
all_timed() { scrape >"$T/m" && [ "$(value sandtrail_seal_latency_seconds_count)" -eq "$(value sandtrail_journal_records_total)" ]; }
check "seal latency: every record appended is timed once its seal is durable (_count = records appended)" \
	wait_for 30 all_timed || diag "count $(value sandtrail_seal_latency_seconds_count), records $(value sandtrail_journal_records_total)"
check "... its buckets are cumulative, up to le=\"+Inf\" = _count" awk -v n="$(value sandtrail_seal_latency_seconds_count)" '
	/^sandtrail_seal_latency_seconds_bucket/ { if ($2 < last) exit 1; last = $2; inf = $1 ~ /"\+Inf"/ ? $2 : inf }
	END { exit !(n > 0 && inf == n) }' "$T/m"
check "... in seconds, about --seal-ms/2 on average (between 20 ms and 5 s with --seal-ms 200)" \
	awk -v s="$(value sandtrail_seal_latency_seconds_sum)" -v n="$(value sandtrail_seal_latency_seconds_count)" \
	'BEGIN { exit !(n > 0 && s / n >= 0.02 && s / n <= 5) }' ||
	diag "sum $(value sandtrail_seal_latency_seconds_sum) over $(value sandtrail_seal_latency_seconds_count)"
same_bytes() { scrape >"$T/m" && [ "$(value sandtrail_journal_disk_bytes)" -eq "$(cat "$JOURNAL"/*.stj | wc -c)" ]; }
check "the journal's bytes on disk are its segment files' (wc -c)" wait_for 30 same_bytes ||
	diag "metric $(value sandtrail_journal_disk_bytes), files $(cat "$JOURNAL"/*.stj | wc -c)"
SYSLOG=$("$SANDTRAIL" ps --json | jq -r 'select(.exporter and (.url | startswith("syslog"))) | .exporter')
retried() { scrape >"$T/m" && [ "$(value sandtrail_exporter_retries_total "exporter=\"$SYSLOG\"")" -ge 2 ]; }
wait_for 60 retried
check "exporter errors: the retries of a sink that is down are counted ($SYSLOG), and it is not connected" \
	test "$(value sandtrail_exporter_retries_total "exporter=\"$SYSLOG\"")" -ge 2 -a \
	"$(value sandtrail_exporter_connected "exporter=\"$SYSLOG\"")" -eq 0 -a -n "$SYSLOG"

# a burst through a one-page ring buffer: losses of kind open, reason ringbuf
cg=$(mk_cgroup burst)
mkfifo "$T/go2"
run_in_cgroup "$cg" "$HELPERS/st_workload" burst 100000 /dev/null <"$T/go2" >"$T/done" &
burst=$!
exec 7>"$T/go2"
id=$("$SANDTRAIL" watch --cgroup "$cg")
echo go >&7
exec 7>&-
wait $burst
"$SANDTRAIL" unwatch "$id"
scrape >"$T/m"
check "no session is counted once they ended" test "$(value sandtrail_sessions 'mode="hardened"')" -eq 0 -a \
	"$(value sandtrail_sessions 'mode="watch"')" -eq 0

"$SANDTRAIL" replay --journal "$JOURNAL" --all --format json 2>/dev/null >"$T/all.json"
count_type() { jq_count "$T/all.json" ".type==\"$1\""; }
ok_types=1
for t in exec fork exit open unlink rename connect; do
	[ "$(value sandtrail_events_total "type=\"$t\"")" -eq "$(count_type $t)" ] ||
		{ ok_types=0; diag "$t: metric $(value sandtrail_events_total "type=\"$t\""), journal $(count_type $t)"; }
done
check "events per type equal the journal's records of that type" test $ok_types -eq 1
check "... and there were events to count" test "$(value sandtrail_events_total 'type="open"')" -gt 1000
records=$(jq_count "$T/all.json" '.type!="seal" and .type!="epoch" and .type!="recovery"')
check "records appended equal the journal's records (but its own seals)" \
	test "$(value sandtrail_journal_records_total)" -eq "$records" || diag "metric $(value sandtrail_journal_records_total), journal $records"
lost=$(jq -s 'map(select(.type=="loss" and .kind=="open" and .reason=="ringbuf") | .count) | add // 0' "$T/all.json")
check "the burst lost events (the test exercises losses)" test "$lost" -gt 0
check "lost events by kind and reason equal the loss records' counts" \
	test "$(value sandtrail_lost_events_total 'kind="open",reason="ringbuf"')" -eq "$lost"
check "the ring buffer's size is --ringbuf-size, its fill within it" \
	test "$(value sandtrail_ringbuf_size_bytes)" -eq 4096 -a "$(value sandtrail_ringbuf_used_bytes)" -le 4096
check "the journal's durable seq trails its next seq" \
	test "$(value sandtrail_journal_durable_seq)" -le "$(value sandtrail_journal_next_seq)" -a "$(value sandtrail_journal_next_seq)" -gt 0
EXP=$("$SANDTRAIL" ps --json | jq -r 'select(.exporter and (.url | startswith("file"))) | .exporter')
check "the exporter's lag is a metric, and it is what ps says" wait_for 30 bash -c '
	m=$(curl -s --max-time 2 --unix-socket "$1" http://x/metrics)
	p=$("$2" ps --json | jq -r "select(.exporter) | .lag_records")
	grep -qx "sandtrail_exporter_lag_records{exporter=\"$3\"} $p" <<<"$m" &&
	grep -qx "sandtrail_exporter_connected{exporter=\"$3\"} 1" <<<"$m"' _ "$MSOCK" "$SANDTRAIL" "$EXP"
scrape >"$T/m"
before=$(value sandtrail_control_requests_total)
refused=$(value sandtrail_control_refusals_total)
for i in 1 2 3; do "$SANDTRAIL" ps >/dev/null; done
scrape >"$T/m"
check "control requests are counted: 3 ps, 3 more" test "$(value sandtrail_control_requests_total)" -eq $((before + 3))
# one process holding 40 connections: the 8 beyond the per-process bound (32) are refused
python3 -c 'import socket,sys,time
c=[]
for i in range(40):
    s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); c.append(s)
for s in c: s.settimeout(5); s.send(b"{\"cmd\":\"ps\"}"); s.recv(65536)
' "$SANDTRAIL_SOCKET"
scrape >"$T/m"
check "connections beyond the per-process bound are counted as refused: 8" \
	test "$(value sandtrail_control_refusals_total)" -eq $((refused + 8)) || diag "refusals $(value sandtrail_control_refusals_total), before $refused"

# others cannot read the metrics
setpriv --reuid 4244 --regid 4244 --clear-groups curl -sS --max-time 5 --unix-socket "$MSOCK" http://x/metrics >"$T/o" 2>&1
check "a non-root user cannot scrape the unix socket" bash -c '! grep -q sandtrail_events_total "$1"' _ "$T/o"
# a client that never finishes its request does not hold a slot forever
for i in $(seq 20); do
	python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"GET /met")
print("in", flush=True); time.sleep(30)' "$MSOCK" >>"$T/slow" &
	defer "kill $!"
done
wait_for 30 bash -c '[ "$(grep -c in "$1")" -eq 20 ]' _ "$T/slow"
check "20 slow clients hold every slot, yet scrapes are answered again within the deadline" wait_for 30 bash -c 'curl -s --max-time 2 --unix-socket "$1" http://x/metrics | grep -q "^sandtrail_metrics_scrapes_total"' _ "$MSOCK"
