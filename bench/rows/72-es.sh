# Elasticsearch sink: documents per second shipped from a sealed journal of
# synthetic records (journal_writer) to the _bulk test server
# (tests/integration/helpers/es_server.py), timed by the server from the
# first bulk request to the answer that completed the journal's records.  Baseline in the same run: the
# server's own ceiling, curl posting one of the sink's gzipped requests
# again and again (to fresh indices), so the ratio says how much of what the
# server can take the sink delivers (the server is Python and bounds both).

es_stats() { curl -sf "http://127.0.0.1:$1/_test/stats"; }

section_es() {
	local n runs i j k port out docs secs es_rate base_rate per_body t0 t1
	n=$(quick 300000 20000)
	runs=$(quick 3 1)
	k=$(quick 20 5)
	log "== Elasticsearch sink: $runs x $n documents to the _bulk test server"
	rm -rf "$B/es"
	mkdir -p "$B/es"
	"$BIN/tests/helpers/journal_writer" --journal "$B/es/j" --key "$B/es/k" --create-key --count "$n" >/dev/null ||
		{ row es "Elasticsearch sink (documents/s)" "failed" "-" error "" "journal_writer failed"; return 1; }
	: >"$B/es.runs"
	for ((i = 0; i < runs; i++)); do
		rm -rf "$B/es/state" "$B/es/port" "$B/es/body"
		python3 tests/integration/helpers/es_server.py --port-file "$B/es/port" --save-body "$B/es/body" \
			2>"$B/es/server.err" &
		ES_SERVER=$!
		for _ in $(seq 100); do [ -s "$B/es/port" ] && break; sleep 0.05; done
		port=$(cat "$B/es/port")
		start_ready ES_DAEMON "$SANDTRAILD" --journal "$B/es/j" --key "$B/es/k" --socket "$B/es/control.sock" \
			--state "$B/es/state" --export "elasticsearch://127.0.0.1:$port/bench?name=es" || break
		for _ in $(seq 6000); do
			out=$(es_stats "$port")
			[ "$(jq .created <<<"$out")" -ge "$n" ] && break
			sleep 0.05
		done
		stop_pid "$ES_DAEMON"
		out=$(es_stats "$port")
		# from the first request to the answer that made it n documents
		secs=$(jq --argjson n "$n" '(first(.answered[] | select(.[1] >= $n)) // [0])[0] - .first_ts' <<<"$out")
		docs=$(jq --argjson n "$n" 'first(.answered[] | select(.[1] >= $n))[1] // 0' <<<"$out")
		# the server alone: one of the sink's requests, posted k times
		per_body=$(gzip -dc "$B/es/body" | grep -c '"create"')
		t0=$(date +%s.%N)
		for ((j = 0; j < k; j++)); do
			curl -sf -o /dev/null -H 'Content-Type: application/x-ndjson' -H 'Content-Encoding: gzip' \
				--data-binary @"$B/es/body" "http://127.0.0.1:$port/base-$j/_bulk" || break
		done
		t1=$(date +%s.%N)
		kill "$ES_SERVER" 2>/dev/null
		wait "$ES_SERVER" 2>/dev/null
		[ "$docs" -ge "$n" ] || break
		echo "$(calc "$docs / $secs") $(calc "$per_body * $k / ($t1 - $t0)")" >>"$B/es.runs"
	done
	if [ "$(wc -l <"$B/es.runs")" -lt "$runs" ]; then
		row es "Elasticsearch sink (documents/s)" "failed" "-" error "" "a run did not ship everything: $(tail -3 "$B/es/server.err")"
		return 1
	fi
	rm -rf "$B/es"
	es_rate=$(awk '{ print $1 }' "$B/es.runs" | median)
	base_rate=$(awk '{ print $2 }' "$B/es.runs" | median)
	row es "Elasticsearch sink, documents/s to the test server" \
		"$(printf '%.0f docs/s (server alone %.0f, %s)' "$es_rate" "$base_rate" "$(ratio_fmt "$(calc "$es_rate / $base_rate")")")" \
		"-" info \
		"$BUILD/tests/helpers/journal_writer --journal /tmp/j --key /tmp/k --create-key --count $n; python3 tests/integration/helpers/es_server.py --port-file /tmp/p & $BUILD/sandtraild --journal /tmp/j --key /tmp/k --export elasticsearch://127.0.0.1:\$(cat /tmp/p)/bench; curl 127.0.0.1:\$(cat /tmp/p)/_test/stats" \
		"first bulk request to the answer that completed the documents, as the server times it, median of $runs; baseline: curl posting one of the sink's requests ($per_body documents, gzip level 1) $k times; the server is Python (one process, gunzip and json per document) and bounds both" \
		"$(jq -nc --argjson e "$es_rate" --argjson b "$base_rate" --argjson n "$n" '{docs_per_s: $e, server_alone_docs_per_s: $b, documents: $n}')"
}
