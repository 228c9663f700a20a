/* Process lifecycle: fork (new processes, not threads) and exit of the last
 * thread, so the collector can rebuild the process tree. */
#include "common.bpf.h"

__u32 watched_levels SEC(".bss");
__u32 watch_gen SEC(".bss");
__u32 active_loader SEC(".bss");
const volatile __u32 loader_id = 0;
const volatile __u64 wakeup_bytes = 0;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	struct st_fork ev;
	__u64 session;

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	session = current_session(); /* the parent runs this tracepoint */
	if (!session)
		return 0;
	fill_hdr(&ev.h, ST_EV_FORK, session);
	ev.child_tgid = BPF_CORE_READ(child, tgid);
	ev.pad = 0;
	emit(&ev.h, sizeof(ev));
	return 0;
}

/* Only the first argument is read: newer kernels add group_dead, older ones
 * do not, and signal->live (already decremented here) says the same. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tid = BPF_CORE_READ(task, pid);
	struct st_exit ev;
	__u64 session;

	/* a thread that dies inside a traced syscall leaves no entry behind */
	if (clear_pending(tid)) {
		bpf_map_delete_elem(&pend_exec, &tid);
		bpf_map_delete_elem(&pend_open, &tid);
		bpf_map_delete_elem(&pend_unlink, &tid);
		bpf_map_delete_elem(&pend_rename, &tid);
		bpf_map_delete_elem(&pend_fileop, &tid);
		bpf_map_delete_elem(&pend_connect, &tid);
	}
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	session = current_session();
	if (!session)
		return 0;
	fill_hdr(&ev.h, ST_EV_EXIT, session);
	ev.status = BPF_CORE_READ(task, exit_code);
	ev.pad = 0;
	emit(&ev.h, sizeof(ev));
	return 0;
}

/* A cgroup's id and level in the v2 tree, for the loader (the level is
 * what bpf_get_current_ancestor_cgroup_id indexes; only the kernel knows
 * it for sure, e.g. inside a cgroup namespace). */
SEC("iter/cgroup")
int cgroup_level(struct bpf_iter__cgroup *ctx)
{
	struct cgroup *cg = ctx->cgroup;
	__u64 out[2];

	if (!cg)
		return 0;
	out[0] = BPF_CORE_READ(cg, kn, id);
	out[1] = BPF_CORE_READ(cg, level);
	bpf_seq_write(ctx->meta->seq, out, sizeof(out));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
