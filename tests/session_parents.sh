# Sourced by tests/run.sh, bench/lib.sh and tests/demo.sh: `sandtrail run`
# makes one session parent per cgroup hierarchy (<mount>/sandtrail); what a
# run of ours created, it removes, to leave the machine as it found it.

session_parents() { ls -d /sys/fs/cgroup/sandtrail /sys/fs/cgroup/*/sandtrail 2>/dev/null || true; }

# remove_new_session_parents BEFORE: removes the parents not listed in BEFORE
# (a child cgroup that was just removed can keep its parent busy a moment)
remove_new_session_parents() {
	local d i
	for d in $(session_parents); do
		grep -qxF "$d" <<<"$1" && continue
		for i in $(seq 50); do
			rmdir "$d" 2>/dev/null && break
			[ -d "$d" ] || break
			sleep 0.1
		done
	done
	return 0
}
