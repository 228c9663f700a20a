/* The kernel side of fork_stall: a fork by a task of one cgroup takes
 * stall_ns longer, spent between the programs attached to the tracepoint
 * before this one and those attached after (they run in that order). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u64 cgroup_id;
const volatile __u64 stall_ns;

static long until_due(__u32 i, void *due)
{
	return bpf_ktime_get_ns() >= *(__u64 *)due;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(stall, struct task_struct *parent, struct task_struct *child)
{
	__u64 due;

	if (bpf_get_current_cgroup_id() != cgroup_id)
		return 0;
	due = bpf_ktime_get_ns() + stall_ns;
	bpf_loop(1 << 23, until_due, &due, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
