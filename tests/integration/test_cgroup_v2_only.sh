#!/usr/bin/env bash
# Hosts come in two kinds: hybrid (cgroup2 at /sys/fs/cgroup/unified, the
# resource controllers on v1) and pure cgroup v2 (cgroup2 at /sys/fs/cgroup).
# The other tests run on the kind this host is; on a hybrid host, this one
# runs test_watch, test_capture and test_shutdown again as on a pure v2 host:
# in a private mount namespace whose only cgroup mount is cgroup2 at
# /sys/fs/cgroup (the same hierarchy, so the kernel side is unchanged; the
# controllers stay bound to v1, so resource limits are not part of it).  On a pure v2 host it has nothing to
# add and says so.
source "$(dirname "$0")/lib.sh"
TESTS=(test_watch test_capture test_shutdown)
DIR=$(cd "$(dirname "$0")" && pwd)

# the plan: the sum of theirs
total=0
for t in "${TESTS[@]}"; do
	n=$(sed -n 's/^plan \([0-9]*\)$/\1/p' "$DIR/$t.sh")
	total=$((total + ${n:-1}))
done
plan $total

if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
	for t in "${TESTS[@]}"; do
		n=$(sed -n 's/^plan \([0-9]*\)$/\1/p' "$DIR/$t.sh")
		for i in $(seq "$n"); do
			skip "pure cgroup v2: $t #$i" "this host is pure cgroup v2: $t ran as it is"
		done
	done
	exit 0
fi

# Each test in its own namespace; its results renamed, its plan dropped (it
# counts in ours), a shortfall reported as a failure of ours.
for t in "${TESTS[@]}"; do
	want=$(sed -n 's/^plan \([0-9]*\)$/\1/p' "$DIR/$t.sh")
	unshare --mount --propagation private bash -c \
		'umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec bash "$1"' _ "$DIR/$t.sh" \
		>"$T/$t.out" 2>&1
	sed -n 's/^\(not ok\|ok\) - /\1 - pure cgroup v2: '"$t"': /p; /^#/p' "$T/$t.out"
	got=$(grep -cE '^(not )?ok ' "$T/$t.out")
	for ((i = got; i < want; i++)); do
		not_ok "pure cgroup v2: $t: result $((i + 1)) of $want never came"
	done
	if [ "$got" -lt "$want" ]; then
		diag "$(tail -n 20 "$T/$t.out")"
	fi
done
