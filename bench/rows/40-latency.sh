# Latency from a syscall to its record sealed on disk.  `loadgen stamped`
# opens PREFIX/<CLOCK_REALTIME ns> (taken just before the call) at a steady
# rate in a session; bench/seal_latency follows the journal and, when a seal
# covering the record appears (and its own fdatasync of the segment
# returned), notes now - stamp.  p50/p99 over every record of the run.

LAT_RATE=2000

# lat_run LABEL [SANDTRAILD-ARGS...]: seal_latency's JSON line into
# $B/lat-LABEL.json (in this shell: what it starts is stopped by our traps)
lat_run() {
	local label=$1 secs cg id follower pub=()
	shift
	secs=$(quick 10 2)
	cg=$(bench_cgroup "lat-$label") || return 1
	collector_start "$@" || return 1
	id=$(collector_watch "$cg") || return 1
	[ -f "$PUBKEY" ] && pub=(--pubkey "$PUBKEY")
	start_ready follower "$BIN/bench/seal_latency" --journal "$JOURNAL" "${pub[@]}" --prefix "$B/lat-$label" \
		>"$B/lat-$label.json" || return 1
	defer stop_pid "$follower"
	in_cgroup "$cg" "$LOADGEN" stamped "$LAT_RATE" "$secs" "$B/lat-$label" >/dev/null || return 1
	sleep 1.5 # longer than a seal interval: the last records get their seal
	stop_pid "$follower"
	"$SANDTRAIL" unwatch "$id" >/dev/null
	collector_stop
	journal_drop
}

section_latency() {
	local out tuned st p99
	log "== latency: syscall to sealed on disk, $LAT_RATE opens/s"
	lat_run default || { row latency "syscall to sealed record" "failed" "p99 < 50 ms" error "" ""; return 1; }
	out=$(cat "$B/lat-default.json")
	if [ "$(jq .seals <<<"$out")" = 0 ]; then
		row latency "syscall to sealed record (p50/p99)" "no seal seen" "p99 < 50 ms" skipped "" \
			"the journal on this branch writes no seals (the sealed journal, issue 3, has not landed)"
		return 0
	fi
	p99=$(jq .p99_ms <<<"$out")
	st=$(verdict "$p99 < 50")
	row latency "syscall to sealed record (p50/p99)" "$(jq -r '"\(.p50_ms) / \(.p99_ms) ms"' <<<"$out")" "p99 < 50 ms" "$st" \
		"$BUILD/sandtraild ... & $BUILD/sandtrail watch --cgroup \$CG; $BUILD/bench/seal_latency --journal J --pubkey K.pub --prefix /tmp/lat & sh -c 'echo \$\$ >\$CG/cgroup.procs; exec $BUILD/bench/loadgen stamped $LAT_RATE 10 /tmp/lat'" \
		"$(jq -r '"\(.records) records, \(.seals) seals, max \(.max_ms) ms, \(.unsealed) never seen sealed. Median parts: call to the seal'"'"'s timestamp \(.to_seal_p50_ms) ms (the wait for the next seal: every --seal-ms), seal to on disk \(.to_disk_p50_ms) ms (write, fdatasync)."' <<<"$out")" "$out"
	[ "$st" = missed ] || return 0
	# the seal interval is the first suspect: the same run with seals 4x as often
	lat_run tuned --seal-ms 5 || return 1
	tuned=$(cat "$B/lat-tuned.json")
	row latency.tuned "same with sandtraild --seal-ms 5" "$(jq -r '"\(.p50_ms) / \(.p99_ms) ms"' <<<"$tuned")" \
		"p99 < 50 ms" info "" \
		"$(jq -r '"diagnostic: seals 4x as often. Median parts: to the seal \(.to_seal_p50_ms) ms, to disk \(.to_disk_p50_ms) ms; \(.seals) seals"' <<<"$tuned")" "$tuned"
}
