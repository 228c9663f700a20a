# Session start: `sandtrail run --mode hardened -- /bin/true` (collector
# running) against bwrap and unshare, with hyperfine.  hyperfine runs one
# command's runs back to back, so it is called in short blocks, the command
# order rotated each time; ratios are medians of per-block ratios to bwrap.
# `--no-audit` is measured beside, to split the collector handshake from
# the sandbox.

# issue 10: against plain bwrap and against bwrap doing what a session does
START_TARGET="<= 1.5x bwrap and <= 1.0x bwrap-all"

section_start() {
	local rounds runs r i k names cmds st ratio ratio_all why
	rounds=$(quick 8 2)
	runs=$(quick 10 3)
	names=(run run-no-audit bwrap unshare bwrap-all)
	cmds=("$SANDTRAIL run --mode hardened -- /bin/true" "$SANDTRAIL run --mode hardened --no-audit -- /bin/true"
		"bwrap --ro-bind / / /bin/true" "unshare -Urmpn --fork /bin/true" "$BWRAP_ALL /bin/true")
	log "== session start: $rounds blocks of $runs runs each"
	collector_start || { row start "session start" "failed" "$START_TARGET" error "" "sandtraild did not start"; return 1; }
	for ((r = 0; r < rounds; r++)); do
		local order=()
		for ((i = 0; i < ${#cmds[@]}; i++)); do
			k=$(((i + r) % ${#cmds[@]}))
			order+=(-n "${names[k]}" "${cmds[k]}")
		done
		hyperfine -N -w 1 -r "$runs" --export-json "$B/start.$r.json" "${order[@]}" >/dev/null 2>"$B/start.err" ||
			{ row start "session start" "failed" "$START_TARGET" error "" "$(tail -n 3 "$B/start.err")"; return 1; }
	done
	# per block: median of each command; then medians over blocks
	jq -s 'map(.results | map({(.command): (.times | sort | .[length / 2 | floor])}) | add)' "$B"/start.*.json \
		>"$B/start.blocks.json"
	start_ms() { jq -r --arg c "$1" 'map(.[$c] * 1000) | .[]' "$B/start.blocks.json" | median; }
	start_ratio() { jq -r --arg a "$1" --arg b "$2" 'map(.[$a] / .[$b]) | .[]' "$B/start.blocks.json" | median; }
	ratio=$(start_ratio run bwrap)
	ratio_all=$(start_ratio run bwrap-all)
	st=$(verdict "$ratio <= 1.5 && $ratio_all <= 1.0")
	: >"$B/why"
	[ "$st" = missed ] && start_why >"$B/why"
	why=$(cat "$B/why")
	row start "session start: sandtrail run --mode hardened" "$(printf '%.2f ms = %s bwrap, %s bwrap-all' "$(start_ms run)" \
		"$(ratio_fmt "$ratio")" "$(ratio_fmt "$ratio_all")")" "$START_TARGET" "$st" \
		"hyperfine -N -w 1 -r 30 '$BUILD/sandtrail run --mode hardened -- /bin/true' 'bwrap --ro-bind / / /bin/true' 'unshare -Urmpn --fork /bin/true' (sandtraild running)" \
		"$why" "$(jq -c 'map(to_entries) | flatten | group_by(.key) | map({(.[0].key): (map(.value * 1000))}) | add | {blocks_ms: .}' "$B/start.blocks.json")"
	row start.no_audit "  sandtrail run --no-audit (no collector)" "$(printf '%.2f ms = %s bwrap' \
		"$(start_ms run-no-audit)" "$(ratio_fmt "$(start_ratio run-no-audit bwrap)")")" "-" info "" ""
	row start.bwrap "  bwrap --ro-bind / / /bin/true" "$(printf '%.2f ms' "$(start_ms bwrap)")" "baseline" info "" ""
	row start.unshare "  unshare -Urmpn --fork /bin/true" "$(printf '%.2f ms = %s bwrap' "$(start_ms unshare)" \
		"$(ratio_fmt "$(start_ratio unshare bwrap)")")" "-" info "" ""
	row start.bwrap_all "  bwrap with the namespaces and mounts of a hardened session" \
		"$(printf '%.2f ms = %s bwrap; run is %s of it' "$(start_ms bwrap-all)" \
		"$(ratio_fmt "$(start_ratio bwrap-all bwrap)")" "$(ratio_fmt "$(start_ratio run bwrap-all)")")" "-" info \
		"hyperfine -N '$BWRAP_ALL /bin/true'" \
		"the baseline above creates a user and a mount namespace only; a hardened session also has pid, net, ipc and uts namespaces, a tmpfs root with the host's /usr, /lib* and a filtered /etc bound in, /proc, /dev and /tmp (and seccomp, Landlock, a cgroup, which bwrap does not do)" ""
	collector_stop
	journal_drop
}

# bwrap doing what `sandtrail run` does by default, as far as bwrap can: a
# tmpfs root holding the host's /usr, /bin, /sbin, /lib* and the /etc files
# of sandbox/mntns.c's host_top and host_etc lists (files bwrap cannot make
# are bound as empty placeholders: passwd, group, hostname)
bwrap_all() {
	local args="bwrap --unshare-all --die-with-parent --tmpfs /" e
	for e in usr bin sbin lib lib32 lib64 libx32; do
		if [ -L "/$e" ]; then args="$args --symlink $(readlink "/$e") /$e"
		elif [ -d "/$e" ]; then args="$args --ro-bind /$e /$e"; fi
	done
	for e in alternatives bash.bashrc ca-certificates ca-certificates.conf debian_version environment gai.conf \
		host.conf hosts inputrc ld.so.cache ld.so.conf ld.so.conf.d locale.alias locale.conf localtime mime.types \
		nsswitch.conf os-release profile protocols resolv.conf rpc services ssl timezone passwd group hostname; do
		[ -e "/etc/$e" ] && args="$args --ro-bind /etc/$e /etc/$e"
	done
	echo "$args --proc /proc --dev /dev --tmpfs /tmp --symlink ../tmp /var/tmp --remount-ro / --new-session"
}
BWRAP_ALL=$(bwrap_all)

# Functions whose share of `sandtrail run`'s instructions says what to change.
START_HINTS=(
	"policy_digest|10|policy_digest (sandbox/policy.c): the digest of the effective policy costs more than a SHA-256 of a few hundred bytes should"
	"seccomp_profile_prepare|10|seccomp_profile_prepare: a profile is compiled at start (the default is embedded at build time; a custom one is compiled by libseccomp)"
	"dl_main|10|ld.so resolves every shared library of the one binary at every start: a static or smaller binary for run"
)

# start_kernel_pct: share of the sandtrail process's samples in the kernel
start_kernel_pct() {
	perf report -i "$B/perf.start" --stdio --sort comm,dso 2>/dev/null |
		awk '$1 ~ /%$/ && $2 == "sandtrail" { t += $1; if ($3 == "[kernel.kallsyms]") k += $1 } END { printf "%.1f\n", t ? 100 * k / t : 0 }'
}

# Where a session start spends its time: the wall time the collector
# handshake adds (run against --no-audit), user/kernel split (perf),
# instructions by function (callgrind, deterministic), the collector's
# syscalls during starts (strace -c -w).
start_why() {
	local n=20 spid cg h fn min hint share hints=""
	perf record -q -e cpu-clock -o "$B/perf.start" -- \
		sh -c 'for i in $(seq '"$n"'); do "$0" run --mode hardened -- /bin/true 2>/dev/null; done' "$SANDTRAIL" 2>/dev/null
	valgrind --tool=callgrind --callgrind-out-file="$B/cg.%p" "$SANDTRAIL" run --mode hardened -- /bin/true >/dev/null 2>&1
	cg=$(grep -l 'cmd_run' "$B"/cg.* | head -n 1)
	callgrind_annotate --inclusive=yes --auto=no "$cg" >"$B/cg.txt" 2>/dev/null
	strace -f -c -w -U name,total-time,calls -S total-time -o "$B/strace.collector" -p "$COLLECTOR_PID" 2>/dev/null &
	spid=$!
	defer stop_pid "$spid"
	sleep 0.5
	for _ in $(seq "$n"); do "$SANDTRAIL" run --mode hardened -- /bin/true 2>/dev/null; done
	kill -INT "$spid"
	wait "$spid"
	for h in "${START_HINTS[@]}"; do
		IFS='|' read -r fn min hint <<<"$h"
		share=$(awk -v f=":$fn " '$0 ~ f { gsub(/[(%)]/, "", $2); print $2; exit }' "$B/cg.txt")
		awk -v s="${share:-0}" -v m="$min" 'BEGIN { exit !(s >= m) }' && hints="$hints $fn ${share}%: $hint."
	done
	printf 'Handshake with the collector (run minus --no-audit) %.2f ms/start. perf (cpu-clock, %d starts): the sandtrail process in the kernel %.0f%%, in user space %.0f%% of its samples. callgrind (instructions of the sandtrail process, one start: %s): %s. Collector syscalls per start, idle epoll_wait aside (strace -c -w): %s.%s' \
		"$(calc "$(start_ms run) - $(start_ms run-no-audit)")" "$n" \
		"$(start_kernel_pct)" "$(calc "100 - $(start_kernel_pct)")" \
		"$(awk '/PROGRAM TOTALS/ { print $1; exit }' "$B/cg.txt")" \
		"$(awk '$2 ~ /%\)$|^\(/ && $0 ~ /(\/(sandbox|userspace|tools)\/|:dl_main( |$))/ && $0 !~ /:(main|cmd_run|manager_run)( |$)/ {
			fn = $0; sub(/.*:/, "", fn); sub(/ .*/, "", fn); if (seen[fn]++) next
			pct = $0; sub(/^[^(]*\( */, "", pct); sub(/\).*/, "", pct)
			printf "%s%s %s", sep, fn, pct; sep = ", "; if (++k == 5) exit }' "$B/cg.txt")" \
		"$(awk -v n="$n" 'NR > 2 && $1 !~ /^-/ && $1 != "total" && $1 != "epoll_wait" && NF >= 3 {
			printf "%s%s %.0f calls %.2f ms", sep, $1, $3 / n, $2 * 1000 / n; sep = ", "; if (++k == 4) exit }' \
			"$B/strace.collector")" \
		"${hints:+ Fixes:$hints}"
}
