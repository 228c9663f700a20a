# Loss: the open+close loop as fast as one core goes, in a session, default
# buffers: opens recorded in the journal (counted through replay) against
# opens performed, the loss records the collector wrote, and the collector's
# CPU (/proc/PID/stat) and its wait for a CPU (/proc/PID/task/*/schedstat).

# loss_run SECS CG FILE [PERF-OUT]: the run; sets LOSS_OUT (loadgen's JSON),
# LOSS_ID, LOSS_TICKS, LOSS_SCHED ("RUN WAIT" ms); with PERF-OUT, samples
# the collector meanwhile
loss_run() {
	local secs=$1 cg=$2 file=$3 t0 s0 pp=
	collector_start || return 1
	LOSS_ID=$(collector_watch "$cg") || return 1
	if [ -n "${4:-}" ]; then
		perf record -q -g -e cpu-clock -p "$COLLECTOR_PID" -o "$4" 2>/dev/null &
		pp=$!
		defer stop_pid "$pp"
	fi
	t0=$(cpu_ticks "$COLLECTOR_PID")
	s0=$(sched_ms "$COLLECTOR_PID")
	LOSS_OUT=$(in_cgroup "$cg" "$LOADGEN" open-for "$secs" "$file") || return 1
	settle "$COLLECTOR_PID"
	LOSS_TICKS=$(($(cpu_ticks "$COLLECTOR_PID") - t0))
	LOSS_SCHED=$(paste -d' ' <(echo "$s0") <(sched_ms "$COLLECTOR_PID") | awk '{ print $3 - $1, $4 - $2 }')
	if [ -n "$pp" ]; then
		kill -INT "$pp"
		wait "$pp"
	fi
	"$SANDTRAIL" unwatch "$LOSS_ID" >/dev/null
	collector_stop
}

section_loss() {
	local secs cg file ops pid wall got lost status cpu_ms pub=() run wait why=""
	secs=$(quick 10 2)
	file=$B/loss-file
	: >"$file"
	log "== loss: open+close flat out for ${secs}s in a session"
	cg=$(bench_cgroup loss) || return 1
	loss_run "$secs" "$cg" "$file" || { row loss "loss" "failed" "no loss" error "" "see the log above"; return 1; }
	ops=$(jq .ops <<<"$LOSS_OUT")
	pid=$(jq .pid <<<"$LOSS_OUT")
	wall=$(jq .wall_ns <<<"$LOSS_OUT")
	[ -f "$PUBKEY" ] && pub=(--pubkey "$PUBKEY")
	got=$("$SANDTRAIL" replay --journal "$JOURNAL" "${pub[@]}" --session "$LOSS_ID" --type open --pid "$pid" \
		--format json 2>"$B/replay.err" | jq -n --arg f "$file" 'reduce (inputs | select(.requested == $f)) as $r (0; . + 1)')
	lost=$("$SANDTRAIL" replay --journal "$JOURNAL" "${pub[@]}" --all --type loss --format json 2>>"$B/replay.err" |
		jq -n 'reduce inputs as $r (0; . + ($r.count // 0))')
	journal_drop
	cpu_ms=$(calc "$LOSS_TICKS * 1000 / $CLK_TCK")
	read -r run wait <<<"$LOSS_SCHED"
	status=$(verdict "$got == $ops")
	if [ "$status" = missed ]; then
		loss_run "$secs" "$cg" "$file" "$B/perf.loss" && journal_drop
		why=" perf record -g -e cpu-clock -p sandtraild (same run again): self time [$(perf_top "$B/perf.loss" . 8 no-children)]."
	fi
	row loss "open+close flat out ${secs}s, default buffers" "$got of $ops recorded, $lost lost (counted)" \
		"no loss" "$status" \
		"$BUILD/sandtraild ... & $BUILD/sandtrail watch --cgroup \$CG; sh -c 'echo \$\$ >\$CG/cgroup.procs; exec $BUILD/bench/loadgen open-for $secs /tmp/f'; $BUILD/sandtrail replay --session ID --type open --format json | wc -l" \
		"$(loss_note "$got" "$ops" "$lost") The collector waited $wait ms runnable for a CPU while it ran $run ms (schedstat; other tenants share these $(nproc) CPUs).$why" \
		"$(jq -nc --argjson o "$ops" --argjson g "$got" --argjson l "$lost" --argjson w "$wall" --argjson r "$run" --argjson q "$wait" \
			'{ops: $o, recorded: $g, lost_counted: $l, unaccounted: ($o - $g - $l), ops_per_s: ($o * 1e9 / $w), collector_run_ms: $r, collector_wait_ms: $q}')"
	row loss.cpu "collector CPU during the loss run" \
		"$(printf '%.0f ms = %.0f%% of a core, %.0f ns/event' "$cpu_ms" "$(calc "$cpu_ms * 1e8 / $wall")" "$(calc "$cpu_ms * 1e6 / $ops")")" \
		"-" info "awk '{ print \$14 + \$15 }' /proc/\$(pidof sandtraild)/stat before and after (clock ticks)" \
		"$(printf '%.0f opens/s by the workload; %% of a core over the workload'"'"'s %.1f s' "$(calc "$ops * 1e9 / $wall")" "$(calc "$wall / 1e9")")"
}

loss_note() {
	local got=$1 ops=$2 lost=$3
	if [ "$got" -eq "$ops" ]; then
		echo "Every open reached the journal."
	elif [ $((got + lost)) -eq "$ops" ]; then
		echo "$lost events dropped and counted in loss records (ring buffer full: the collector did not keep up)."
	else
		echo "$((ops - got - lost)) opens neither recorded nor counted as lost: silent loss."
	fi
}
