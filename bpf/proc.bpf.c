/* Process lifecycle: fork (new processes, not threads) and exit of the last
 * thread, so the collector can rebuild the process tree. */
#include "common.bpf.h"

__u32 watched_levels SEC(".bss");
__u32 watch_gen SEC(".bss");
__u32 tasks_left SEC(".bss");
__u32 active_loader SEC(".bss");
__u32 handover_loader SEC(".bss");
const volatile __u32 loader_id = 0;
const volatile __u64 wakeup_bytes = 0;

/* tgid joins session, followed outside its cgroups when left. */
static __always_inline void add_member(__u32 tgid, __u64 session, bool left)
{
	struct st_member m = { .session = session, .left = left };

	if (bpf_map_update_elem(&members, &tgid, &m, BPF_ANY)) {
		count_loss(session, ST_EV_CGROUP_LEAVE, ST_LOSS_PENDING);
		return;
	}
	if (left)
		__sync_fetch_and_add(&tasks_left, 1);
}

/* A process is gone: so is its membership (and pid reuse cannot inherit it). */
static __always_inline void drop_member(__u32 tgid)
{
	struct st_member *m = bpf_map_lookup_elem(&members, &tgid);

	if (!m)
		return;
	if (m->left)
		__sync_fetch_and_add(&tasks_left, -1);
	bpf_map_delete_elem(&members, &tgid);
}

/* The record of tgid leaving session from for dst (path: as the kernel
 * names it; NULL: not known). */
static __always_inline void emit_leave(__u64 from, struct cgroup *dst, const char *path, __u32 tgid, bool threadgroup)
{
	struct st_cgroup_leave *ev = (struct st_cgroup_leave *)scratch_buf();
	long n = 0;

	if (!ev)
		return;
	fill_hdr(&ev->h, ST_EV_CGROUP_LEAVE, from);
	ev->dst_cgid = BPF_CORE_READ(dst, kn, id);
	ev->task = tgid;
	ev->threadgroup = threadgroup;
	if (path)
		n = bpf_probe_read_kernel_str((char *)(ev + 1), ST_PATH_MAX, path);
	else
		ev->h.strs = ST_STR(0, ST_S_ABSENT);
	ev->path_len = n > 0 ? n - 1 : 0;
	ev->pad[0] = ev->pad[1] = ev->pad[2] = 0;
	emit(&ev->h, sizeof(*ev) + (ev->path_len & (ST_PATH_MAX - 1)));
}

/* A child of a session's process: a member; born outside the session's
 * cgroups (clone3's CLONE_INTO_CGROUP), it left at once.  A child of a
 * task that left has left too. */
static __always_inline void fork_member(struct task_struct *child, __u32 ctgid, __u64 session, __u32 parent)
{
	struct cgroup *cc = BPF_CORE_READ(child, cgroups, dfl_cgrp);
	struct st_member *p;
	__u64 there;

	if (cc == BPF_CORE_READ(bpf_get_current_task_btf(), cgroups, dfl_cgrp)) {
		p = bpf_map_lookup_elem(&members, &parent);
		add_member(ctgid, session, p && p->left && p->session == session);
		return;
	}
	there = cgroup_session(cc);
	if (there == session) {
		add_member(ctgid, session, false);
		return;
	}
	add_member(ctgid, there ? there : session, !there);
	emit_leave(session, cc, NULL, ctgid, true);
}

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
	fork_member(child, ev.child_tgid, session, ev.h.tgid);
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
		bpf_map_delete_elem(&pend_sock, &tid);
	}
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	session = current_session();
	/* either load may drop it: on one CPU, one after the other */
	drop_member(BPF_CORE_READ(task, tgid));
	if (!session)
		return 0;
	fill_hdr(&ev.h, ST_EV_EXIT, session);
	ev.status = BPF_CORE_READ(task, exit_code);
	ev.pad = 0;
	emit(&ev.h, sizeof(ev));
	return 0;
}

/* A task moved to another cgroup (after the move: the old one is known
 * only from `members`).  Out of its session: recorded, and followed; into
 * a session: a member of it. */
static __noinline int cgroup_moved(struct cgroup *dst, const char *path, __u32 tgid, bool threadgroup)
{
	struct st_member *m = bpf_map_lookup_elem(&members, &tgid);
	__u64 to = cgroup_session(dst), from;
	if (m && !still_watched(m->session)) { /* of a session that ended */
		drop_member(tgid);
		m = NULL;
	}
	from = m ? m->session : 0;
	if (!m) {
		if (to)
			add_member(tgid, to, false);
		return 0;
	}
	/* moves hold cgroup_mutex: no other move changes m meanwhile */
	if (to == from) { /* within the session, or back into it */
		if (m->left) {
			m->left = 0;
			__sync_fetch_and_add(&tasks_left, -1);
		}
		return 0;
	}
	if (to) {
		drop_member(tgid);
		add_member(tgid, to, false);
	} else if (!m->left) {
		m->left = 1;
		__sync_fetch_and_add(&tasks_left, 1);
	}
	if (still_watched(from))
		emit_leave(from, dst, path, tgid, threadgroup);
	return 0;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(on_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task, bool threadgroup)
{
	/* cgroup v2 only: the task's default-hierarchy cgroup is dst now */
	if (!*(volatile __u32 *)&watched_levels || !st_active() || BPF_CORE_READ(task, cgroups, dfl_cgrp) != dst)
		return 0;
	return cgroup_moved(dst, path, BPF_CORE_READ(task, tgid), threadgroup);
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
