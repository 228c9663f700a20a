# Kafka shipping: a journal of N realistic records (journal_writer, 16
# sessions) shipped by sandtraild's Kafka sink to librdkafka's mock cluster
# (tests/integration/helpers/kafka_mock, one broker, 4 partitions, loopback
# TCP).  The broker is held down until sandtraild is ready (its sinks start
# before BPF is loaded, and would ship it all unmeasured), then brought up:
# records/s from then to the last delivery, read from sandtrail ps, and the
# CPU time sandtraild and the mock spent per record (/proc/PID/stat), which a
# loaded machine disturbs less than the rate.

# cpu_s PID: the CPU time (user + system) PID used so far, in seconds
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

section_kafka() {
	local writer=$BIN/tests/helpers/journal_writer mock=$BIN/tests/helpers/kafka_mock n runs i pid brokers
	local t0 t1 d0 d rate c0 m0 us_d us_m
	n=$(quick 1000000 100000)
	runs=$(quick 3 1)
	log "== kafka shipping: $runs x $n records"
	if [ ! -x "$mock" ] || ! command -v kcat >/dev/null; then
		row kafka "Kafka shipping (records/s)" "skipped" ">= 300000 rec/s" skipped "" "kafka_mock or kcat missing"
		return 0
	fi
	: >"$B/kafka.runs"
	: >"$B/kafka.cpu"
	for ((i = 0; i < runs; i++)); do
		rm -rf "$B/kafka" && mkdir -p "$B/kafka"
		"$writer" --journal "$B/kafka/j" --key "$B/kafka/k/signing.key" --create-key --count "$n" --sessions 16 \
			>/dev/null || { row kafka "Kafka shipping (records/s)" failed ">= 300000 rec/s" error "" "journal_writer"; return 1; }
		mkfifo "$B/kafka/ctl"
		"$mock" --topic bench:4 "$B/kafka/ctl" >"$B/kafka/mock.out" 2>&1 &
		pid=$!
		defer "kill $pid 2>/dev/null"
		wait_line "$B/kafka/mock.out" '^bootstrap ' "$pid" || { row kafka "Kafka shipping" failed "-" error "" "kafka_mock"; return 1; }
		brokers=$(awk '/^bootstrap /{ print $2 }' "$B/kafka/mock.out")
		echo "down -1" >"$B/kafka/ctl"
		wait_line "$B/kafka/mock.out" '^done down' "$pid" || { row kafka "Kafka shipping" failed "-" error "" "kafka_mock down"; return 1; }
		collector_stop
		export SANDTRAIL_SOCKET=$B/control.sock
		start_ready COLLECTOR_PID "$SANDTRAILD" --journal "$B/kafka/j" --socket "$SANDTRAIL_SOCKET" \
			--key "$B/kafka/k/signing.key" --export "kafka://$brokers/bench?name=kb" ||
			{ row kafka "Kafka shipping" failed "-" error "" "sandtraild"; return 1; }
		d0=$("$SANDTRAIL" ps --json | jq -s -r 'map(select(.exporter == "kb"))[0].delivered')
		c0=$(cpu_s "$COLLECTOR_PID") m0=$(cpu_s "$pid")
		t0=$(date +%s.%N)
		echo "up -1" >"$B/kafka/ctl"
		for _ in $(seq 6000); do
			d=$("$SANDTRAIL" ps --json 2>/dev/null | jq -s -r 'map(select(.exporter == "kb"))[0].delivered // 0')
			[ "$d" -ge "$n" ] && break
			sleep 0.1 # each look is two processes: on 2 CPUs, more often is load
		done
		t1=$(date +%s.%N)
		echo "$(calc "$(cpu_s "$COLLECTOR_PID") - $c0") $(calc "$(cpu_s "$pid") - $m0")" >>"$B/kafka.cpu"
		collector_stop
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		[ "$d" -ge "$n" ] || { row kafka "Kafka shipping" "$d of $n delivered" ">= 300000 rec/s" error "" ""; return 1; }
		[ "$d0" = 0 ] || { row kafka "Kafka shipping" "$d0 delivered with the broker down" ">= 300000 rec/s" error "" ""; return 1; }
		calc "($d - $d0) / ($t1 - $t0)" >>"$B/kafka.runs"
	done
	rm -rf "$B/kafka"
	rate=$(median <"$B/kafka.runs")
	us_d=$(awk '{ print $1 }' "$B/kafka.cpu" | median) us_m=$(awk '{ print $2 }' "$B/kafka.cpu" | median)
	us_d=$(calc "$us_d * 1e6 / $n") us_m=$(calc "$us_m * 1e6 / $n")
	row kafka "Kafka shipping to the mock cluster (records/s)" "$(printf '%.0f rec/s' "$rate")" ">= 300000 rec/s" \
		"$(verdict "$rate >= 300000")" "BENCH_ROWS=kafka make bench" \
		"msgpack values, 4 headers, key = session; one broker, 4 partitions, loopback; CPU per record: sandtraild $(printf %.2f "$us_d") us, kafka_mock $(printf %.2f "$us_m") us; load $(cut -d' ' -f1 /proc/loadavg)" \
		"$(jq -nc --argjson r "$rate" --argjson n "$n" --argjson d "$us_d" --argjson m "$us_m" \
			'{records_per_s: $r, records: $n, sandtraild_cpu_us_per_record: $d, mock_cpu_us_per_record: $m}')"
}
