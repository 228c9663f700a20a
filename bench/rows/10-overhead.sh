# Tracing overhead of three syscall loops run in a session cgroup:
#   (a) no probes, (b) the floor probes (bench/floor.bpf.c), (c) sandtraild
#   into its journal, (d) auditd recording the same syscalls;
# and the filter: the open loop in a cgroup outside any session while (c) runs.
# Phase 1 interleaves a, b, c (+filter) round by round; phase 2 interleaves a
# again (a') with d, because enabling audit once leaves the kernel auditing
# every task created afterwards (audit_ever_enabled) and would tax the later
# baselines.  Ratios are medians of per-round ratios to (a) of the same round,
# for two measures of the workload: wall time (what a user waits; judged for
# (c) against (d), since auditd's cost is mostly the workload blocking on its
# backlog) and CPU time, user + system (what the probes add inside each
# syscall; judged for the filter, a few ns that wall time on this shared
# machine would drown).

OVH_LOOPS="open forkexec connect"
OVH_FILE=$B/ovh-file
OVH_N_open=$(quick 200000 20000)
OVH_N_forkexec=$(quick 200 20)
OVH_N_connect=$(quick 10000 1000)
OVH_ROUNDS_1=$(quick 9 2)
OVH_ROUNDS_2=$(quick 7 2)

ovh_args() {
	case $1 in
	open) echo "open $OVH_N_open $OVH_FILE" ;;
	forkexec) echo "forkexec $OVH_N_forkexec" ;;
	connect) echo "connect $OVH_N_connect" ;;
	uring) echo "uring $OVH_N_uring $OVH_FILE" ;;
	unlink) echo "unlink $OVH_N_unlink $OVH_DIR" ;;
	rename) echo "rename $OVH_N_rename $OVH_DIR" ;;
	esac
}

ovh_title() {
	case $1 in
	open) echo "open+close" ;;
	forkexec) echo "fork+exec true" ;;
	connect) echo "connect loopback" ;;
	uring) echo "io_uring openat+close" ;;
	unlink) echo "create+unlink" ;;
	rename) echo "rename there and back" ;;
	esac
}

# sandtrail programs attached by someone else (another collector or test on
# this shared machine): they tax every variant, baseline included
foreign_probes() {
	local n
	n=$(bpftool prog show --json 2>/dev/null | jq '[.[] | select(.name == "enter_openat")] | length')
	[ -n "$COLLECTOR_PID" ] && n=$((n - 1))
	echo "${n:-0}"
}

# ovh_run VARIANT LOOP CG [PID...]: one run, appended to $B/ovh/VARIANT.LOOP;
# the CPU the PIDs (collector, auditd) spent until they settled rides along
ovh_run() {
	local v=$1 l=$2 cg=$3 t0 t1 out foreign b0=0 b1=0
	shift 3
	foreign=$(foreign_probes)
	t0=$(cpu_ticks "$@")
	[ "$v" = d ] && b0=$(audit_field backlog_wait_time_actual)
	# shellcheck disable=SC2046
	out=$(in_cgroup "$cg" "$LOADGEN" $(ovh_args "$l")) || return 1
	[ "$v" = d ] && b1=$(audit_field backlog_wait_time_actual)
	[ $# -eq 0 ] || settle "$@"
	t1=$(cpu_ticks "$@")
	jq -c --argjson aux $((t1 - t0)) --argjson f "$foreign" --argjson bw $((b1 - b0)) \
		'. + {aux_ticks: $aux, foreign: $f, backlog_wait_jiffies: $bw}' <<<"$out" >>"$B/ovh/$v.$l"
}

ovh_state() {
	local l
	case $1 in
	a | a2)
		for l in $OVH_LOOPS; do ovh_run "$1" "$l" "$OVH_CG" || return 1; done
		;;
	b)
		floor_start "$OVH_CG" || return 1
		for l in $OVH_LOOPS; do ovh_run b "$l" "$OVH_CG" || return 1; done
		floor_stop
		;;
	c)
		collector_start || return 1
		collector_watch "$OVH_CG" >/dev/null || return 1
		for l in $OVH_LOOPS; do ovh_run c "$l" "$OVH_CG" "$COLLECTOR_PID" || return 1; done
		ovh_run f open "$OVH_OUT_CG" "$COLLECTOR_PID" || return 1
		collector_stop
		journal_drop
		;;
	d)
		audit_start || return 1
		for l in $OVH_LOOPS; do ovh_run d "$l" "$OVH_CG" "$AUDITD_PID" "$KAUDITD" || return 1; done
		audit_stop
		;;
	esac
}

# ovh_rounds N STATE...: N rounds, the order of the states rotated each round
ovh_rounds() {
	local n=$1 r i
	shift
	local states=("$@")
	for ((r = 0; r < n; r++)); do
		log "  round $((r + 1))/$n: ${states[*]}"
		for ((i = 0; i < ${#states[@]}; i++)); do
			ovh_state "${states[(i + r) % ${#states[@]}]}" || return 1
		done
	done
}

# per_op FILE FIELD: one value per run, ns per operation
per_op() { jq -r ".$2 / .ops" "$1"; }

# ovh_ratio V BASE LOOP FIELD: median over rounds of V/BASE; only over the
# rounds where neither run met others' probes when there are 3 such rounds
ovh_ratio() {
	paste <(jq -r "\"\\(.$4 / .ops) \\(.foreign)\"" "$B/ovh/$1.$3") <(jq -r "\"\\(.$4 / .ops) \\(.foreign)\"" "$B/ovh/$2.$3") |
		awk '{ r[NR] = $1 / $3; if ($2 == 0 && $4 == 0) c[++n] = r[NR] }
			END { if (n >= 3) for (i = 1; i <= n; i++) print c[i]; else for (i = 1; i <= NR; i++) print r[i] }' | median
}

# ovh_clean_rounds V BASE LOOP: how many rounds ovh_ratio had free of others' probes
ovh_clean_rounds() {
	paste <(jq .foreign "$B/ovh/$1.$3") <(jq .foreign "$B/ovh/$2.$3") | awk '$1 == 0 && $2 == 0 { n++ } END { print n + 0 }'
}

# aux_per_op V LOOP: helper CPU (ns) per operation over all runs
aux_per_op() {
	jq -s --argjson tck "$CLK_TCK" '(map(.aux_ticks) | add) * 1e9 / $tck / (map(.ops) | add)' "$B/ovh/$1.$2"
}

# ovh_backlog_note LOOP: how long the (d) runs of LOOP were blocked on the
# full audit backlog (backlog_wait_time_actual counts jiffies)
ovh_backlog_note() {
	local hz
	hz=$(zcat /proc/config.gz 2>/dev/null | awk -F= '$1 == "CONFIG_HZ" { print $2 }')
	jq -rs --argjson hz "${hz:-0}" '(map(.backlog_wait_jiffies) | add) as $j | (map(.wall_ns) | add / 1e9) as $w |
		if $hz > 0 then "blocked on the full audit backlog \($j / $hz * 10 | round / 10) s of their \($w * 100 | round / 100) s"
		else "blocked on the full audit backlog \($j) jiffies over \($w * 10 | round / 10) s" end' "$B/ovh/d.$1"
}

# ovh_frac X Y: overhead of ratio X as a multiple of ratio Y's ("n/a" when
# Y's overhead is within noise)
ovh_frac() { awk -v x="$1" -v y="$2" 'BEGIN { if (y - 1 > 0.005) printf "%.3f", (x - 1) / (y - 1); else print "n/a" }'; }

# Symbols that, when the workload spends this share (%) under them, say what
# to change: in a session (c), and outside any session (the filter).
OVH_HINTS_SESSION=(
	"irq_work_queue|5|ring-buffer wakeups (irq_work, an APIC write: a VM exit on this machine): emit() in bpf/common.bpf.h wakes the collector when the fill crosses wakeup_bytes; a higher threshold trades latency for fewer wakeups"
	"htab_map_update_elem|3|every traced syscall inserts its pending event (KBs, BPF_F_NO_PREALLOC hash) at entry and deletes it at exit: a preallocated or per-CPU slot, or reserving in the ring buffer at entry, would avoid the allocation"
	"bpf_probe_read_kernel|5|exit copies the whole pending event into scratch before the path walk: building the event in place would save the copy"
	"bpf:st_walk_path|5|the kernel path walk of each successful open"
	"finish_task_switch.isra.0|5|context switches in the workload: the collector competes for its CPU"
)
OVH_HINTS_OUTSIDE=(
	"bpf:enter_openat|1|every task on the machine runs current_session() (bpf/common.bpf.h) at each traced entry: a cached outside verdict per cgroup serial and generation; a miss (many cgroups, a watch or unwatch) walks the watched levels with a hash lookup each"
	"bpf:exit_openat|1|each traced exit of any task reads its pending mark (pending_tids); only marked threads look up the pending hash"
)

# ovh_profile LOOP CG session|outside: where LOOP's time goes in CG with
# sandtraild watching the session cgroup (the workload's samples: our
# programs and the helpers they call; in a session, also the collector's).
# Runs in this shell (never in $(...)): what it starts is stopped by our traps.
ovh_profile() {
	local l=$1 cg=$2 where=$3 wl=$B/perf.$1.$3 coll=$B/perf.coll.$1.$3 pp h sym min hint share hints=""
	local -n table=OVH_HINTS_${where^^}
	collector_start || return 1
	if collector_watch "$OVH_CG" >/dev/null; then
		perf record -q -g -e cpu-clock -p "$COLLECTOR_PID" -o "$coll" 2>/dev/null &
		pp=$!
		defer stop_pid "$pp"
		# shellcheck disable=SC2046
		in_cgroup "$cg" perf record -q -g -e cpu-clock -o "$wl" -- "$LOADGEN" $(ovh_args "$l") >/dev/null 2>&1
		settle "$COLLECTOR_PID"
		kill -INT "$pp"
		wait "$pp"
	fi
	collector_stop
	journal_drop
	[ -s "$wl" ] || return 1
	for h in "${table[@]}"; do
		IFS='|' read -r sym min hint <<<"$h"
		share=$(perf_share "$wl" "$sym")
		awk -v s="$share" -v m="$min" 'BEGIN { exit !(s >= m) }' && hints="$hints $sym $share%: $hint."
	done
	printf 'perf record -g -e cpu-clock of the workload (%s): in our BPF programs and their helpers %s%% [%s]; helpers [%s].' \
		"$([ "$where" = session ] && echo "in the session, (c)" || echo "outside any session")" \
		"$(perf_bpf_share "$wl")" "$(perf_top "$wl" '^bpf:' 4)" \
		"$(perf_top "$wl" '^(bpf_ringbuf|irq_work_queue|bpf_probe_read|htab_map|copy_from_kernel|bpf_get|bpf_map|__htab)' 5)"
	[ "$where" = session ] && printf ' Collector self time [%s].' "$(perf_top "$coll" . 6 no-children)"
	printf '%s' "${hints:+ Where it goes:$hints}"
}

ovh_report() {
	local l title rep setup_b setup_c setup_d base_cpu base_wall a2_cpu rb wb rc wc rd wd rf wf auxc auxd cb cd cdw st foreign
	setup_b="$BUILD/bench/floor --cgroup \$CG --check $BUILD/sandtrail.bpf.o &"
	setup_c="$BUILD/sandtraild --journal /tmp/j --socket /tmp/s --key /tmp/k --create-key & SANDTRAIL_SOCKET=/tmp/s $BUILD/sandtrail watch --cgroup \$CG;"
	setup_d="auditctl -b 8192 -e 1; auditd -n -s nochange & auditctl $AUDIT_RULE;"
	for l in $OVH_LOOPS; do
		title=$(ovh_title "$l")
		rep="sh -c 'echo \$\$ >\$CG/cgroup.procs; echo $AUID >/proc/self/loginuid; exec perf stat -r 10 -e task-clock $BUILD/bench/loadgen $(ovh_args "$l" | sed "s|$OVH_FILE|/tmp/f|; s|$OVH_DIR|/tmp/d|")'"
		base_cpu=$(per_op "$B/ovh/a.$l" cpu_ns | median)
		base_wall=$(per_op "$B/ovh/a.$l" wall_ns | median)
		rb=$(ovh_ratio b a "$l" cpu_ns)
		wb=$(ovh_ratio b a "$l" wall_ns)
		rc=$(ovh_ratio c a "$l" cpu_ns)
		wc=$(ovh_ratio c a "$l" wall_ns)
		auxc=$(aux_per_op c "$l")
		row "overhead.$l.a" "$title (a) no probes" "$(printf '%.0f ns/op wall, %.0f cpu' "$base_wall" "$base_cpu")" \
			baseline info "mkdir \$CG (cgroup v2); $rep" "" \
			"$(jq -nc --argjson c "$base_cpu" --argjson w "$base_wall" '{cpu_ns_per_op: $c, wall_ns_per_op: $w}')"
		row "overhead.$l.b" "$title (b) floor probes" "wall $(ratio_fmt "$wb"), cpu $(ratio_fmt "$rb")" "-" info \
			"$setup_b $rep" "" "$(jq -nc --argjson r "$rb" --argjson w "$wb" '{ratio_cpu: $r, ratio_wall: $w}')"
		cb=$(ovh_frac "$wc" "$wb")
		row "overhead.$l.c" "$title (c) sandtraild" "wall $(ratio_fmt "$wc"), cpu $(ratio_fmt "$rc")" "report (c)/(b)" info \
			"$setup_c $rep" \
			"overhead (c)/(b): wall $cb, cpu $(ovh_frac "$rc" "$rb"); collector CPU $(printf '%.0f' "$auxc") ns/op, so workload + collector CPU = $(ratio_fmt "$(calc "($rc * $base_cpu + $auxc) / $base_cpu")") (a)" \
			"$(jq -nc --argjson r "$rc" --argjson w "$wc" --argjson aux "$auxc" --arg cb "$cb" --arg cbc "$(ovh_frac "$rc" "$rb")" \
				'{ratio_cpu: $r, ratio_wall: $w, collector_cpu_ns_per_op: $aux, overhead_vs_floor_wall: $cb, overhead_vs_floor_cpu: $cbc}')"
		# issue 10's target, on the one-record-per-op loop
		[ "$l" = open ] && row overhead.collector "collector CPU per event (open+close, one record)" \
			"$(printf '%.0f ns' "$auxc")" "<= 700 ns" "$(verdict "$auxc <= 700")" "$setup_c $rep" \
			"sandtraild's utime+stime over the (c) runs, per op" "$(jq -nc --argjson aux "$auxc" '{collector_cpu_ns_per_event: $aux}')"
		if [ -s "$B/ovh/d.$l" ]; then
			a2_cpu=$(per_op "$B/ovh/a2.$l" cpu_ns | median)
			rd=$(ovh_ratio d a2 "$l" cpu_ns)
			wd=$(ovh_ratio d a2 "$l" wall_ns)
			auxd=$(aux_per_op d "$l")
			row "overhead.$l.d" "$title (d) auditd" "wall $(ratio_fmt "$wd"), cpu $(ratio_fmt "$rd") (a')" "-" info \
				"$setup_d $rep" \
				"(a') = (a) again, interleaved with (d): $(printf '%.0f' "$(per_op "$B/ovh/a2.$l" wall_ns | median)") ns/op wall; auditd+kauditd CPU $(printf '%.0f' "$auxd") ns/op, so workload + daemons CPU = $(ratio_fmt "$(calc "($rd * $a2_cpu + $auxd) / $a2_cpu")") (a'). Debian's auditd.conf, backlog 8192, rule selecting the workload's loginuid; the (d) runs were $(ovh_backlog_note "$l") (backlog_wait_time_actual)." \
				"$(jq -nc --argjson r "$rd" --argjson w "$wd" --argjson aux "$auxd" \
					'{ratio_cpu: $r, ratio_wall: $w, auditd_cpu_ns_per_op: $aux}')"
			cdw=$(ovh_frac "$wc" "$wd")
			cd=$(ovh_frac "$rc" "$rd")
			st=$(if [ "$cdw" = n/a ]; then echo missed; else verdict "$cdw <= 1/3"; fi)
			: >"$B/why"
			[ "$st" = missed ] && ovh_profile "$l" "$OVH_CG" session >"$B/why"
			row "overhead.$l.c_vs_d" "$title: (c) overhead / (d)'s" "wall $cdw (cpu $cd)" "<= 0.333 (wall)" "$st" "" \
				"$(cat "$B/why")" \
				"$(jq -nc --arg w "$cdw" --arg c "$cd" '{wall: $w, cpu: $c}')"
		fi
		[ "$l" = open ] || continue
		rf=$(ovh_ratio f a open cpu_ns)
		wf=$(ovh_ratio f a open wall_ns)
		st=$(verdict "($rf - 1) - ($rb - 1) <= 0.02")
		: >"$B/why"
		[ "$st" = missed ] && ovh_profile open "$OVH_OUT_CG" outside >"$B/why"
		row overhead.filter "open+close outside sessions, (c) running" \
			"cpu $(ratio_fmt "$rf"): $(printf '%+.1f' "$(calc "($rf - $rb) * 100")") pp vs (b)" "<= (b) + 2 pp (cpu)" "$st" \
			"$setup_c sh -c 'echo \$\$ >\$OTHER_CG/cgroup.procs; exec perf stat -r 10 -e task-clock $BUILD/bench/loadgen open $OVH_N_open /tmp/f'" \
			"wall $(ratio_fmt "$wf") (a). $(cat "$B/why")" \
			"$(jq -nc --argjson r "$rf" --argjson w "$wf" '{ratio_cpu: $r, ratio_wall: $w}')"
	done
	foreign=$(cat "$B"/ovh/*.* | jq -s 'map(select(.foreign > 0)) | length')
	if [ "$foreign" -gt 0 ]; then
		row overhead.foreign "caveat: others' sandtrail probes attached" "in $foreign of $(cat "$B"/ovh/*.* | wc -l) runs" \
			"0" info "" \
			"another collector or test on this machine had its probes attached (bpftool prog show): those runs, whatever their variant, paid their cost too. A ratio uses only the rounds free of them when there are 3 or more ($(ovh_title "${OVH_LOOPS%% *}") (c): $(ovh_clean_rounds c a "${OVH_LOOPS%% *}") of $OVH_ROUNDS_1 rounds), else every round."
	fi
}

section_overhead() {
	local why
	log "== overhead: (a) none, (b) floor, (c) sandtraild + filter; then (a') and (d) auditd"
	mkdir -p "$B/ovh"
	: >"$OVH_FILE"
	OVH_CG=$(bench_cgroup session) || return 1
	OVH_OUT_CG=$(bench_cgroup outside) || return 1
	KAUDITD=$(pgrep -x kauditd | head -n 1)
	if ! ovh_rounds "$OVH_ROUNDS_1" a b c; then
		row overhead "tracing overhead" "failed" "-" error "" "a variant failed to start or run (see the log above)"
		return 1
	fi
	why=$(audit_unusable)
	if [ -z "$why" ] && ! ovh_rounds "$OVH_ROUNDS_2" a2 d; then
		why="auditd could not be measured (see the log above)"
		rm -f "$B"/ovh/d.* "$B"/ovh/a2.*
	fi
	audit_stop
	audit_restored || row overhead.audit_restore "audit state restored" "NO" "restored" error "" \
		"auditctl -s / -l differ from before the bench: check by hand"
	[ -z "$why" ] || row overhead.d "(d) auditd" "skipped" "-" skipped "" "$why"
	ovh_report
}
