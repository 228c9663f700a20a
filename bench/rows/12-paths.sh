# The io_uring and unlink/rename paths (issue 10): each loop's overhead in a
# session under sandtraild (c) against the floor probes (b), both to no
# probes (a), with 10-overhead.sh's machinery (rounds interleaved, medians
# of per-round ratios).  No auditd variant: audit sees io_uring requests
# only partly, and the rows to judge against auditd are 10-overhead's.

OVH_DIR=$B/ovh-dir
OVH_N_uring=$(quick 200000 20000)
OVH_N_unlink=$(quick 20000 2000)
OVH_N_rename=$(quick 50000 5000)

section_paths() {
	local OVH_LOOPS="uring unlink rename"
	log "== paths: io_uring openat, create+unlink, rename: (a) none, (b) floor, (c) sandtraild"
	mkdir -p "$B/ovh" "$OVH_DIR"
	: >"$OVH_FILE"
	OVH_CG=$(bench_cgroup paths) || return 1
	OVH_OUT_CG=$(bench_cgroup paths-outside) || return 1
	if ! ovh_rounds "$OVH_ROUNDS_1" a b c; then
		row paths "io_uring and unlink/rename overhead" "failed" "-" error "" "a variant failed to start or run (see the log above)"
		return 1
	fi
	ovh_report
}
