# Collector peak RSS (VmHWM) while a paced workload in a session makes
# 100,000 events/s (one open each), against its VmHWM when idle and ready,
# and how much of it is the kernel ring buffer's mapping (smaps).

RSS_RATE=100000

# status_kib PID FIELD: a /proc/PID/status figure in KiB
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

section_rss() {
	local secs cg idle peak ringbuf out rate
	secs=$(quick 10 2)
	log "== collector peak RSS at $RSS_RATE events/s for ${secs}s"
	cg=$(bench_cgroup rss) || return 1
	: >"$B/rss-file"
	collector_start || { row rss "collector peak RSS" "failed" "< 64 MiB" error "" "sandtraild did not start"; return 1; }
	collector_watch "$cg" >/dev/null || { row rss "collector peak RSS" "failed" "< 64 MiB" error "" "watch failed"; return 1; }
	idle=$(status_kib "$COLLECTOR_PID" VmHWM)
	out=$(in_cgroup "$cg" "$LOADGEN" paced "$RSS_RATE" "$secs" "$B/rss-file") || return 1
	settle "$COLLECTOR_PID"
	peak=$(status_kib "$COLLECTOR_PID" VmHWM)
	ringbuf=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { m = $6 } /^Rss:/ && m == "anon_inode:bpf-map" { k += $2 } END { print k + 0 }' \
		"/proc/$COLLECTOR_PID/smaps")
	collector_stop
	journal_drop
	rate=$(jq '.ops * 1e9 / .wall_ns' <<<"$out")
	row rss "collector peak RSS (VmHWM) at 100k events/s" "$(printf '%.1f MiB (idle %.1f MiB)' "$(calc "$peak / 1024")" \
		"$(calc "$idle / 1024")")" "< 64 MiB" "$(verdict "$peak < 64 * 1024")" \
		"$BUILD/sandtraild ... & $BUILD/sandtrail watch --cgroup \$CG; sh -c 'echo \$\$ >\$CG/cgroup.procs; exec $BUILD/bench/loadgen paced $RSS_RATE $secs /tmp/f'; grep VmHWM /proc/\$(pidof sandtraild)/status" \
		"$(printf 'workload reached %.0f events/s. Of the RSS, %.1f MiB are BPF map mappings (anon_inode:bpf-map in smaps): the ring buffer'"'"'s data pages are mapped twice (so that records can wrap), and RSS counts each page twice' "$rate" "$(calc "$ringbuf / 1024")")" \
		"$(jq -nc --argjson p "$peak" --argjson i "$idle" --argjson r "$rate" '{vmhwm_kib: $p, idle_vmhwm_kib: $i, events_per_s: $r}')"
}
