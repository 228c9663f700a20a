# Elasticsearch sink: documents per second shipped from a sealed journal of
# synthetic records (journal_writer) to the _bulk test server
# (tests/integration/helpers/es_server.py, Python: it bounds the figure), from
# sandtraild's start until its lag is 0.  Baseline in the same run: the file
# sink shipping the same journal (same reading and JSON rendering, no ECS
# mapping, no HTTP).

# es_ship URL: seconds sandtraild takes to ship the bench journal to URL
es_ship() {
	local t0 t1 lag
	rm -rf "$B/es/state"
	start_ready ES_DAEMON "$SANDTRAILD" --journal "$B/es/j" --key "$B/es/k" --socket "$B/es/control.sock" \
		--state "$B/es/state" --export "$1" || return 1
	t0=$(date +%s.%N)
	for _ in $(seq 6000); do
		lag=$(SANDTRAIL_SOCKET=$B/es/control.sock "$SANDTRAIL" ps --json | jq -r 'select(.exporter) | .lag_records')
		[ -n "$lag" ] && [ "$lag" -le 2 ] && break
		sleep 0.05
	done
	t1=$(date +%s.%N)
	stop_pid "$ES_DAEMON"
	[ -n "$lag" ] && [ "$lag" -le 2 ] || return 1
	calc "$t1 - $t0"
}

section_es() {
	local n runs i port es_s file_s es_rate file_rate
	n=$(quick 300000 20000)
	runs=$(quick 3 1)
	log "== Elasticsearch sink: $runs x $n documents to the _bulk test server"
	rm -rf "$B/es"
	mkdir -p "$B/es"
	"$BIN/tests/helpers/journal_writer" --journal "$B/es/j" --key "$B/es/k" --create-key --count "$n" >/dev/null ||
		{ row es "Elasticsearch sink (documents/s)" "failed" "-" error "" "journal_writer failed"; return 1; }
	python3 tests/integration/helpers/es_server.py --port-file "$B/es/port" 2>"$B/es/server.err" &
	ES_SERVER=$!
	defer "kill $ES_SERVER 2>/dev/null"
	for _ in $(seq 100); do [ -s "$B/es/port" ] && break; sleep 0.05; done
	port=$(cat "$B/es/port")
	: >"$B/es.runs"
	for ((i = 0; i < runs; i++)); do
		# a fresh index each run: the server would answer 409 to documents it holds
		es_s=$(es_ship "elasticsearch://127.0.0.1:$port/bench-$i?name=es") || break
		file_s=$(es_ship "file://$B/es/out.ndjson?name=file&fsync=false") || break
		rm -f "$B/es/out.ndjson"*
		echo "$es_s $file_s" >>"$B/es.runs"
	done
	kill "$ES_SERVER" 2>/dev/null
	if [ "$(wc -l <"$B/es.runs")" -lt "$runs" ]; then
		row es "Elasticsearch sink (documents/s)" "failed" "-" error "" "a run did not catch up: $(cat "$B/es/server.err" | tail -3)"
		return 1
	fi
	es_rate=$(awk -v n="$n" '{ print n / $1 }' "$B/es.runs" | median)
	file_rate=$(awk -v n="$n" '{ print n / $2 }' "$B/es.runs" | median)
	row es "Elasticsearch sink, documents/s to the test server" \
		"$(printf '%.0f docs/s (file sink %.0f, %s)' "$es_rate" "$file_rate" "$(ratio_fmt "$(calc "$es_rate / $file_rate")")")" \
		"-" info \
		"$BUILD/tests/helpers/journal_writer --journal /tmp/j --key /tmp/k --create-key --count $n; python3 tests/integration/helpers/es_server.py --port-file /tmp/p & $BUILD/sandtraild --journal /tmp/j --key /tmp/k --export elasticsearch://127.0.0.1:\$(cat /tmp/p)/bench" \
		"from sandtraild's start until sandtrail ps shows lag 0, median of $runs; the test server is Python (one process, gunzip and json per document) and bounds the figure; gzip level 1" \
		"$(jq -nc --argjson e "$es_rate" --argjson f "$file_rate" --argjson n "$n" '{docs_per_s: $e, file_sink_records_per_s: $f, documents: $n}')"
}
