/* Shared by every bpf program file: the maps, the session filter, the event
 * header and loss counting.  The objects are linked into one (bpftool gen
 * object), so maps are declared __weak here and merged by the linker. */
#ifndef SANDTRAIL_COMMON_BPF_H
#define SANDTRAIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

#define ST_WATCH_MAX 4096
#define ST_LEVELS    32

/* Session cgroups: cgroup v2 id -> 1.  Written only by the collector. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_WATCH_MAX);
	__type(key, __u64);
	__type(value, __u8);
} watched SEC(".maps") __weak;

/* Samples to the collector; the collector sets the size before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps") __weak;

/* Events that could not be delivered, per CPU and type. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_EV_MAX);
	__type(key, __u32);
	__type(value, struct st_loss_counts);
} losses SEC(".maps") __weak;

/* Bit n set: some watched cgroup sits at level n of the cgroup v2 tree.
 * Lets untraced tasks leave after one load when nothing is watched, and
 * after one lookup per watched level otherwise. Defined in proc.bpf.c. */
extern __u32 watched_levels;

/* The watched cgroup that the current task is in or below, 0 if none. */
static __always_inline __u64 current_session(void)
{
	__u32 levels = watched_levels;

	if (!levels)
		return 0;
	for (__u32 lvl = 0; lvl < ST_LEVELS; lvl++) {
		__u64 id;

		if (!(levels & (1u << lvl)))
			continue;
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (id && bpf_map_lookup_elem(&watched, &id))
			return id;
	}
	return 0;
}

static __always_inline void count_loss(__u32 type, __u32 reason)
{
	struct st_loss_counts *c = bpf_map_lookup_elem(&losses, &type);

	if (c && reason < ST_LOSS_MAX)
		c->lost[reason]++;
}

static __always_inline void fill_hdr(struct st_hdr *h, __u32 type, __u64 session)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->ts = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->session_cgid = session;
	h->type = type;
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->flags = 0;
	h->syscall = ST_SYS_NONE;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* Sends an event of `size` bytes (h->size set here); counts it when the
 * ring buffer has no room. */
static __always_inline void emit(struct st_hdr *h, __u32 size)
{
	h->size = size;
	if (bpf_ringbuf_output(&events, h, size, 0))
		count_loss(h->type, ST_LOSS_RINGBUF);
}

#endif
