# The unit's exposure as systemd rates it (`systemd-analyze security`, run
# offline on the unit `make install` writes): what a root BPF daemon keeps
# open, one number and the directives that weigh most.  Not a ratio: a
# report, so a change that loosens the unit shows up in every bench.

section_service() {
	local unit=$B/sandtraild.service out score
	command -v systemd-analyze >/dev/null ||
		{ row service "systemd unit exposure" "systemd-analyze missing" "report" skipped "" "apt-get install systemd"; return 0; }
	sed "s#@BINDIR@#$BIN#g" packaging/sandtraild.service.in >"$unit"
	out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1)
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' <<<"$out")
	[ -n "$score" ] || { row service "systemd unit exposure" "failed" "report" error "" "$(tail -n 2 <<<"$out")"; return 1; }
	row service "systemd unit exposure (systemd-analyze security)" "$score (0 safest, 10 exposed)" "report" info \
		"systemd-analyze security --offline=true $unit" \
		"kept open: $(grep -E '^✗' <<<"$out" | sort -t' ' -k3 -rn | sed 's/^✗ *\([^ ]*\).*/\1/' | head -8 | paste -sd' ')"
}
