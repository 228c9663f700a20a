# Sealed journal throughput on one core: journal_writer (a test helper of the
# journal) appends realistic synthetic records through the journal API with
# the default settings; records per CPU second and bytes on disk per record,
# medians of repeated runs, each into a fresh directory.

section_journal() {
	local writer=$BIN/tests/helpers/journal_writer n runs i out rps wall bpr
	n=$(quick 1000000 200000)
	runs=$(quick 7 2)
	log "== journal throughput: $runs x $n records"
	if [ ! -x "$writer" ]; then
		row journal "sealed journal throughput" "skipped" ">= 1000000 rec/s" skipped "" \
			"$writer is not built: the sealed journal (issue 3) is not on this branch yet"
		return 0
	fi
	: >"$B/journal.runs"
	for ((i = 0; i < runs; i++)); do
		rm -rf "$B/jw"
		out=$(taskset -c "$((i % $(nproc)))" "$writer" --journal "$B/jw/j" --key "$B/jw/k" --create-key --count "$n") ||
			{ row journal "sealed journal throughput" "failed" ">= 1000000 rec/s" error "" "$out"; return 1; }
		# "... in T s: R records/s, C records per CPU second, B bytes on disk per record"
		sed -E 's/.*: ([0-9.]+) records\/s, ([0-9.]+) records per CPU second, ([0-9.]+) bytes on disk.*/\1 \2 \3/' \
			<<<"$out" >>"$B/journal.runs"
	done
	rm -rf "$B/jw"
	wall=$(awk '{ print $1 }' "$B/journal.runs" | median)
	rps=$(awk '{ print $2 }' "$B/journal.runs" | median)
	bpr=$(awk '{ print $3 }' "$B/journal.runs" | median)
	row journal "sealed journal, one core (records/CPU s)" "$(printf '%.0f rec/s (wall %.0f)' "$rps" "$wall")" \
		">= 1000000 rec/s" "$(verdict "$rps >= 1000000")" \
		"taskset -c 0 /usr/bin/time -v $BUILD/tests/helpers/journal_writer --journal /tmp/jw --key /tmp/jw.key --create-key --count $n" \
		"$(printf '%.1f bytes on disk per record' "$bpr")" \
		"$(jq -nc --argjson r "$rps" --argjson w "$wall" --argjson b "$bpr" \
			'{records_per_cpu_s: $r, records_per_wall_s: $w, bytes_per_record: $b}')"
	row journal.size "sealed journal, bytes on disk per record" "$(printf '%.1f B/record' "$bpr")" "-" info "" ""
}
