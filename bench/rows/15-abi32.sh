# The other ABIs' exit program (bpf/abi32.bpf.c) runs at every syscall exit
# of every task on the machine; native calls leave it after two loads.  Its
# cost there, as the kernel's BPF statistics count it (run time over runs
# of sandtraild's abi32_exit while the open+close loop runs in a cgroup
# outside any session), against the loop's own CPU time per operation
# (two syscalls), and against exit_openat's (the pending-mark check every
# openat exit of every task runs), measured alike: the statistics' own
# clock reads are most of such a short run.  A tracing link cannot be detached here, so the program's
# own time is measured rather than a run without it.  Statistics are on
# only while the loop runs (kernel.bpf_stats_enabled, restored after).

ABI_N=$(quick 200000 20000)
ABI_ROUNDS=$(quick 9 2)

# abi_prog NAME: the id of the collector's program NAME (its fds' fdinfo)
abi_prog() {
	local progs
	progs=$(bpftool prog show -j | jq -r --arg n "$1" '.[] | select(.name == $n) | .id')
	cat /proc/"$COLLECTOR_PID"/fdinfo/* 2>/dev/null |
		awk -v ids=" $(echo $progs) " '$1 == "prog_id:" && index(ids, " " $2 " ") { print $2; exit }'
}

# abi_stats ID: "RUN_TIME_NS RUN_CNT" of a program
abi_stats() { bpftool prog show id "$1" -j | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'; }

section_abi32() {
	local cg out r id ref s0 s1 r0 r1 was ns rns op share
	mkdir -p "$B/abi"
	: >"$B/abi/runs"
	: >"$B/abi/file"
	cg=$(bench_cgroup abi-session) || return 1
	out=$(bench_cgroup abi-outside) || return 1
	collector_start || return 1
	collector_watch "$cg" >/dev/null || return 1
	id=$(abi_prog abi32_exit)
	ref=$(abi_prog exit_openat)
	[ -n "$id" ] || { row abi32 "other ABIs' exit program, per native syscall" error "<= exit_openat's" error "" \
		"no abi32_exit program in sandtraild"; collector_stop; return 1; }
	was=$(sysctl -n kernel.bpf_stats_enabled)
	defer "sysctl -qw kernel.bpf_stats_enabled=$was"
	log "abi32: $ABI_ROUNDS runs of open+close outside a session, BPF statistics of abi32_exit (prog $id)"
	for ((r = 0; r < ABI_ROUNDS; r++)); do
		sysctl -qw kernel.bpf_stats_enabled=1
		s0=$(abi_stats "$id")
		r0=$(abi_stats "$ref")
		op=$(in_cgroup "$out" "$LOADGEN" open "$ABI_N" "$B/abi/file" | jq -r '.cpu_ns / .ops')
		s1=$(abi_stats "$id")
		r1=$(abi_stats "$ref")
		sysctl -qw kernel.bpf_stats_enabled="$was"
		echo "$s0 $s1 $op $r0 $r1" | awk '$4 > $2 && $9 > $7 { print ($3 - $1) / ($4 - $2), $5, ($8 - $6) / ($9 - $7) }' >>"$B/abi/runs"
	done
	collector_stop
	journal_drop
	ns=$(awk '{ print $1 }' "$B/abi/runs" | median)
	op=$(awk '{ print $2 }' "$B/abi/runs" | median)
	rns=$(awk '{ print $3 }' "$B/abi/runs" | median)
	share=$(calc "2 * $ns / $op * 100")
	row abi32 "other ABIs' exit program, per native syscall" "$(calc "$ns") ns/exit vs $(calc "$rns") ($share% of open+close)" \
		"<= exit_openat's" "$(verdict "$ns <= $rns")" \
		"BENCH_ROWS=abi32 bench/run.sh (bpf_stats_enabled=1; bpftool prog show id ID: run_time_ns / run_cnt of abi32_exit while loadgen open $ABI_N runs outside a session)" \
		"open+close: $(calc "$op") ns CPU per operation, two syscall exits; every task of the machine pays this at each syscall. For scale, measured alike: exit_openat (the pending-mark check every openat exit runs) $(calc "$rns") ns" \
		"$(jq -nc --argjson ns "$ns" --argjson op "$op" --argjson r "$rns" '{exit_ns: $ns, open_close_cpu_ns: $op, exit_openat_ns: $r}')"
}
