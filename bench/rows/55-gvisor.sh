# gVisor session start: `sandtrail run --mode gvisor -- /bin/true` (collector
# running, the Sentry reporting to its sink) against `runsc --network=none do
# /bin/true`, both with hyperfine in blocks whose order rotates; the ratio is
# the median of per-block ratios.  Both are dominated by runsc's own start.

section_gvisor() {
	local rounds runs r ratio st names cmds order k
	rounds=$(quick 6 2)
	runs=$(quick 5 2)
	names=(run runsc-do)
	cmds=("$SANDTRAIL run --mode gvisor -- /bin/true" "runsc --root $B/runsc-state --network=none do /bin/true")
	command -v runsc >/dev/null || { row gvisor "gvisor session start" "runsc missing" "<= 1.1x runsc do" skipped "" "apt-get install runsc"; return 0; }
	log "== gvisor session start: $rounds blocks of $runs runs each"
	collector_start || { row gvisor "gvisor session start" "failed" "<= 1.1x runsc do" error "" "sandtraild did not start"; return 1; }
	mkdir -p "$B/runsc-state"
	for ((r = 0; r < rounds; r++)); do
		order=()
		for ((i = 0; i < ${#cmds[@]}; i++)); do
			k=$(((i + r) % ${#cmds[@]}))
			order+=(-n "${names[k]}" "${cmds[k]}")
		done
		hyperfine -N -w 1 -r "$runs" --export-json "$B/gvisor.$r.json" "${order[@]}" >/dev/null 2>"$B/gvisor.err" ||
			{ row gvisor "gvisor session start" "failed" "<= 1.1x runsc do" error "" "$(tail -n 3 "$B/gvisor.err")"; collector_stop; return 1; }
	done
	jq -s 'map(.results | map({(.command): (.times | sort | .[length / 2 | floor])}) | add)' "$B"/gvisor.*.json \
		>"$B/gvisor.blocks.json"
	ratio=$(jq -r 'map(.run / .["runsc-do"]) | .[]' "$B/gvisor.blocks.json" | median)
	st=$(verdict "$ratio <= 1.1")
	row gvisor "gvisor session start: sandtrail run --mode gvisor" \
		"$(printf '%.1f ms = %s runsc do' "$(jq -r 'map(.run * 1000) | .[]' "$B/gvisor.blocks.json" | median)" \
		"$(ratio_fmt "$ratio")")" "<= 1.1x runsc do" "$st" \
		"hyperfine -N -w 1 -r 20 '$BUILD/sandtrail run --mode gvisor -- /bin/true' 'runsc --network=none do /bin/true' (sandtraild running)" \
		"" ""
	row gvisor.runsc_do "  runsc --network=none do /bin/true" \
		"$(printf '%.1f ms' "$(jq -r 'map(.["runsc-do"] * 1000) | .[]' "$B/gvisor.blocks.json" | median)")" "baseline" info "" ""
	collector_stop
	journal_drop
	rm -rf "$B/runsc-state"
}
