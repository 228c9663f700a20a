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

#define ST_PENDING_MAX 65536 /* threads of all sessions inside one traced syscall */

/* Session cgroups: cgroup v2 id -> its settings.  Written only by the collector. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_WATCH_MAX);
	__type(key, __u64);
	__type(value, struct st_watch);
} watched SEC(".maps") __weak;

/* Samples to the collector; the collector sets the size before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps") __weak;

/* Events that could not be delivered, per CPU, session slot and type. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_LOSS_SLOTS * ST_EV_MAX);
	__type(key, __u32);
	__type(value, struct st_loss_counts);
} losses SEC(".maps") __weak;

/* Processes of sessions (tgid -> struct st_member): written when a task
 * forks in a session, is moved into one, or was there when it was watched
 * (the collector), so that a move out of the session's cgroup can tell
 * where the task came from: the kernel's tracepoint fires after the move. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_MEMBERS_MAX);
	__type(key, __u32);
	__type(value, struct st_member);
} members SEC(".maps") __weak;

/* Bit n set: some watched cgroup sits at level n of the cgroup v2 tree.
 * Lets untraced tasks leave after one load when nothing is watched.
 * Defined in proc.bpf.c. */
extern __u32 watched_levels;
/* Bumped by the collector after every change of `watched`, before it
 * answers: verdicts cached under an older generation are not used again. */
extern __u32 watch_gen;
/* Members that left their session's cgroup (and are followed); 0 keeps the
 * filter from looking tasks up.  Defined in proc.bpf.c. */
extern __u32 tasks_left;
/* Which load of the programs records: the collector that takes over from
 * an earlier one (its programs still attached through pins) loads its own,
 * shares the earlier maps, then switches this word; until then, and after,
 * only one set records. 0 and 0 when nothing is pinned.  proc.bpf.c. */
extern __u32 active_loader;
extern const volatile __u32 loader_id;
/* The load taking over while it switches active_loader, else 0: a hook's
 * two programs (the earlier load's runs first) then share one reading of
 * the word per hit, or a hit the switch fell in would be recorded by both.
 * proc.bpf.c. */
extern __u32 handover_loader;

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

/* The earlier load's reading of active_loader in the current hit, for the
 * later load's program that runs next on this CPU for the same thread. */
struct st_hit {
	__u32 tid;
	__u32 active;
	__u32 set;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct st_hit);
} hit_reading SEC(".maps") __weak;

/* Whether this load records; called once per program run. */
static __always_inline bool st_active(void)
{
	__u32 next = *(volatile __u32 *)&handover_loader, zero = 0, tid, a;
	struct st_hit *h;

	if (!next || !(h = bpf_map_lookup_elem(&hit_reading, &zero)))
		return *(volatile __u32 *)&active_loader == loader_id;
	tid = current_tid();
	if (loader_id == next && h->set && h->tid == tid) {
		a = h->active;
		h->set = 0;
	} else {
		a = *(volatile __u32 *)&active_loader;
		if (loader_id != next) {
			h->tid = tid;
			h->active = a;
			h->set = 1;
		}
	}
	return a == loader_id;
}

/* Cgroups found outside every session: a direct-mapped cache of words
 * gen << 32 | serial, by the serial number the kernel gives each cgroup
 * (a counter, never reused: unlike a struct's address, it cannot come back
 * for another cgroup).  Serials below 2^32 (all until 2^32 cgroups and
 * controller states were made) are cached, so that one word, written and
 * read whole, says it all: programs racing on a slot (other CPUs, or one
 * preempted on this CPU) replace words, never tear one. */
#define ST_OUTSIDE_SLOTS 2048
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_OUTSIDE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} outside SEC(".maps") __weak;

/* Threads with an event in a pending map, one byte per thread id (ids stay
 * below PID_MAX_LIMIT), eight to an array value: exits of other threads
 * return without a hash lookup.  Only a thread changes its own byte; plain
 * byte stores, unlike bits, need no atomic operation for that. */
#define ST_TID_MAX (1u << 22)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_TID_MAX / 8);
	__type(key, __u32);
	__type(value, __u64);
} pending_tids SEC(".maps") __weak;

/* The session filter, run first by every program a task of any cgroup
 * triggers: the watched cgroup that the current task is in or below, 0 if
 * none.  A cgroup found outside is known so until the next watch or
 * unwatch, at the price of a few loads; a task that moves to another
 * cgroup has another id, and one that left its session is looked up in
 * `members` (only while some task has left).  Programs call it on their own small
 * frame and do the rest in a function of their own (__noinline): a frame
 * of 64 bytes or more runs on a per-CPU private stack, a cold line to
 * touch at every call. */
/* The session a task outside every watched cgroup left, 0 if none. */
static __always_inline __u64 left_session(void)
{
	__u32 tgid;
	struct st_member *m;

	if (!*(volatile __u32 *)&tasks_left)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	m = bpf_map_lookup_elem(&members, &tgid);
	if (!m || !m->left || !bpf_map_lookup_elem(&watched, &m->session))
		return 0;
	return m->session;
}

static __always_inline __u64 current_session(void)
{
	__u32 gen, levels, idx;
	__u64 serial, key, *slot;

	/* gen first: a verdict is only ever kept under the generation that was
	 * current before the map was read */
	gen = *(volatile __u32 *)&watch_gen;
	asm volatile("" ::: "memory");
	levels = *(volatile __u32 *)&watched_levels;
	if (!levels || !st_active())
		return 0;
	/* the current task's cgroup v2: one load less than its id, and no
	 * rcu_read_lock/unlock calls (programs run under RCU already) */
	serial = bpf_get_current_task_btf()->cgroups->dfl_cgrp->self.serial_nr;
	key = (__u64)gen << 32 | (__u32)serial;
	idx = serial & (ST_OUTSIDE_SLOTS - 1);
	slot = serial >> 32 ? NULL : bpf_map_lookup_elem(&outside, &idx);
	if (slot && *(volatile __u64 *)slot == key)
		return left_session();
	for (__u32 lvl = 0; lvl < ST_LEVELS; lvl++) {
		__u64 id;

		if (!(levels & (1u << lvl)))
			continue;
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (id && bpf_map_lookup_elem(&watched, &id))
			return id;
	}
	if (slot)
		*(volatile __u64 *)slot = key;
	return left_session();
}

/* The watched cgroup that cg is or is below, 0 if none. */
static __always_inline __u64 cgroup_session(struct cgroup *cg)
{
	__u32 levels = watched_levels, level = BPF_CORE_READ(cg, level);

	for (__u32 lvl = 0; lvl < ST_LEVELS && lvl <= level; lvl++) {
		struct cgroup *anc;
		__u64 id;

		if (!(levels & (1u << lvl)))
			continue;
		if (bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[lvl]))
			return 0;
		id = BPF_CORE_READ(anc, kn, id);
		if (id && bpf_map_lookup_elem(&watched, &id))
			return id;
	}
	return 0;
}

/* The byte of thread tid in pending_tids, NULL if none. */
static __always_inline volatile __u8 *pending_byte(__u32 tid)
{
	__u32 idx = (tid & (ST_TID_MAX - 1)) / 8;
	__u8 *w = bpf_map_lookup_elem(&pending_tids, &idx);

	return w ? (volatile __u8 *)w + (tid & 7) : NULL;
}

/* Marks thread tid (the current one, or the one it becomes) as having an
 * event in a pending map; false when it cannot. */
static __always_inline bool mark_pending(__u32 tid)
{
	volatile __u8 *b = pending_byte(tid);

	if (!b)
		return false;
	*b = 1;
	return true;
}

/* Whether thread tid was marked; clears the mark. */
static __always_inline bool clear_pending(__u32 tid)
{
	volatile __u8 *b = pending_byte(tid);

	if (!b || !*b)
		return false;
	*b = 0;
	return true;
}

/* At a syscall's exit: the current thread's id when its entry left an
 * event pending (the mark cleared), else 0 (thread 0, the idle task, makes
 * no syscalls). */
static __always_inline __u32 take_pending(void)
{
	__u32 tid = current_tid();

	return clear_pending(tid) ? tid : 0;
}

/* The tracepoint programs of a syscall: the filter on their own small
 * frame, the work in a __noinline fn(ctx, session, sys) at entry and
 * fn(ret, tid) at exit (larger frames run on a slower per-CPU stack). */
#define ST_SYSCALL_ENTER(name, fn, sys)                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                       \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)           \
	{                                                                 \
		__u64 session = current_session();                        \
		return session ? fn(ctx, session, sys) : 0;               \
	}
#define ST_SYSCALL_EXIT(name, fn)                                         \
	SEC("tracepoint/syscalls/sys_exit_" #name)                        \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)             \
	{                                                                 \
		__u32 tid = take_pending();                               \
		return tid ? fn(ctx->ret, tid) : 0;                       \
	}

/* Room for one event under construction.  Offsets into it are bounded by
 * masks the verifier can follow, so each string gets twice its bound. */
#define ST_SCRATCH_SIZE (1 << 15)
/* The state of st_walk_path, in memory: read back, its numbers are known
 * to the verifier only by their bounds, so that the steps of the walk are
 * equal states and its loop verifies once. */
struct st_walk {
	__u64 d;        /* struct dentry * */
	__u64 m;        /* struct mount * */
	__u64 root_d;   /* the task's root */
	__u64 root_m;
	__u64 ns_root;  /* struct mount * of its mount namespace's root */
	__u32 base;     /* of the walk in b */
	__u32 off;      /* bytes written */
	__u32 marked;   /* the task's root was passed */
	__u32 status;   /* ST_WALK_* */
	__u32 done;     /* the walk ended (the loop's count cannot tell) */
};
struct st_scratch {
	char b[ST_SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct st_scratch);
} scratch SEC(".maps") __weak;

/* Beside the scratch buffer: per-CPU values stop at 32 KiB. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct st_walk);
} walk_state SEC(".maps") __weak;

static __always_inline char *scratch_buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* Where a path argument is resolved from, as the kernel will take it at the
 * syscall's start: the task's root (absolute path), its cwd (AT_FDCWD), or
 * the file of a dirfd (for an empty path with AT_EMPTY_PATH, or an f* call,
 * the file acted on).  Saved at entry; at exit the same is looked up again
 * and walked only if it is still the same object, kept alive by the task:
 * a chdir, dup2 or close racing the syscall leaves the path unresolved. */
#define ST_BASE_NONE (-1000) /* no base: the path cannot be resolved */
#define ST_BASE_ROOT (-1001)
#define ST_BASE_LATE (-1002) /* path unreadable at entry: decided at exit */
#define ST_BASE_CWD  (-100)  /* AT_FDCWD */
struct st_base {
	__u64 dentry;
	__u64 mnt;
	__s32 from;         /* ST_BASE_* or a dirfd */
	__s32 dirfd;        /* as passed */
	__u32 empty_ok;     /* an empty path names the dirfd's file */
	__u32 pad;
};
/* What a syscall's entry copied, kept per thread until its exit: the
 * event's fixed part (header: session_cgid, flags, syscall) and strings. */
#define PENDING_MAP(name, val_type)                   \
	struct {                                      \
		__uint(type, BPF_MAP_TYPE_HASH);      \
		__uint(map_flags, BPF_F_NO_PREALLOC); \
		__uint(max_entries, ST_PENDING_MAX);  \
		__type(key, __u32);                   \
		__type(value, val_type);              \
	} name SEC(".maps") __weak

/* s: filename, argv, base (walked at entry: an O_CLOEXEC dirfd is gone by
 * a successful exec's exit) */
struct pend_exec {
	struct st_exec ev;
	char s[ST_PATH_MAX + ST_ARGV_MAX + ST_PATH_MAX];
};
/* user: where the paths were in the caller's memory, to read them again at
 * exit when the entry could not (set after the copies, which may spill up
 * to 2 bytes past s). */
struct pend_open {
	struct st_open ev;
	char s[ST_PATH_MAX];
	__u64 user;
	struct st_base base;
};
struct pend_unlink {
	struct st_unlink ev;
	char s[ST_PATH_MAX];
	__u64 user;
	struct st_base base;
};
struct pend_rename {
	struct st_rename ev;
	char s[2 * ST_PATH_MAX];
	__u64 user[2];
	struct st_base base[2];
};
/* s: path, path2, name */
struct pend_fileop {
	struct st_fileop ev;
	char s[2 * ST_PATH_MAX + ST_NAME_MAX];
	__u64 user[2];
	struct st_base base[2];
};
struct pend_connect {
	struct st_connect ev;
	char s[ST_UNIX_PATH_MAX];
};
struct pend_sock {
	struct st_sock ev;
	char s[ST_UNIX_PATH_MAX];
};

PENDING_MAP(pend_exec, struct pend_exec);
PENDING_MAP(pend_open, struct pend_open);
PENDING_MAP(pend_unlink, struct pend_unlink);
PENDING_MAP(pend_rename, struct pend_rename);
PENDING_MAP(pend_fileop, struct pend_fileop);
PENDING_MAP(pend_connect, struct pend_connect);
PENDING_MAP(pend_sock, struct pend_sock);

/* Argument i of a syscall at its sys_enter tracepoint, for functions that
 * serve several syscalls.  Read through a plain struct of that record's
 * fixed layout (header, syscall number, then each argument in 8 bytes),
 * not vmlinux.h's, whose CO-RE offsets compile to ctx arithmetic the
 * verifier refuses; volatile, so that the compiler neither merges two
 * reads into one at a computed offset nor hoists a read out of the branch
 * of the syscalls that have that argument (a program may not read past its
 * tracepoint's record). */
struct st_sys_enter {
	__u64 common;
	__s64 nr;
	__u64 args[6];
};

static __always_inline __u64 sys_arg(struct trace_event_raw_sys_enter *ctx, int i)
{
	return *(volatile const __u64 *)&((const struct st_sys_enter *)ctx)->args[i];
}

/* Counted for the session, so that its record says how complete it is.
 * Atomic although per CPU: the cgroup hooks run preemptible. */
static __always_inline void count_loss(__u64 session, __u32 type, __u32 reason)
{
	struct st_watch *w = bpf_map_lookup_elem(&watched, &session);
	__u32 slot = w ? w->slot : ST_WATCH_MAX;
	__u32 idx = slot * ST_EV_MAX + type;
	struct st_loss_counts *c = bpf_map_lookup_elem(&losses, &idx);

	if (c && reason < ST_LOSS_MAX)
		__sync_fetch_and_add(&c->lost[reason], 1);
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
	h->reserved = 0;
	h->strs = 0;
	h->pad = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* At a syscall's exit: the header of the event begun at its entry, for
 * the task as it is now (exec changed comm and maybe the ids). */
static __always_inline void finish_hdr(struct st_hdr *h, __u32 type)
{
	__u64 session = h->session_cgid;
	__u32 flags = h->flags, sys = h->syscall, strs = h->strs;

	fill_hdr(h, type, session);
	h->flags = flags;
	h->syscall = sys;
	h->strs = strs;
}

/* An event begun while its session was watched, ending after unwatch,
 * belongs to no session any more. */
static __always_inline bool still_watched(__u64 session)
{
	return bpf_map_lookup_elem(&watched, &session) != NULL;
}

/* Saves the event begun in buf (its fixed part first) until the syscall
 * exits; a full map is counted, never silent. */
static __always_inline void pend(void *map, struct st_hdr *h, __u64 session, __u32 sys, __u32 type)
{
	__u32 tid = current_tid();

	h->session_cgid = session;
	h->syscall = sys;
	h->type = type;
	/* marked first: an entry the exit would not look for is never saved */
	if (!mark_pending(tid) || bpf_map_update_elem(map, &tid, h, BPF_ANY))
		count_loss(session, type, ST_LOSS_PENDING);
}

/* Copies the user string at src to dst (room: ST_PATH_MAX + 2) and
 * returns the bytes kept, without NUL; the state of string i goes to *strs.
 * One more byte than kept is read so that a string of exactly ST_PATH_MAX
 * bytes is not flagged as cut. */
static __always_inline __u32 path_kept(long n, __u32 *strs, int i)
{
	if (n <= 0) {
		*strs |= ST_STR(i, ST_S_ABSENT);
		return 0;
	}
	if (n > ST_PATH_MAX + 1) {
		*strs |= ST_STR(i, ST_S_CUT);
		return ST_PATH_MAX;
	}
	return n - 1;
}

static __always_inline __u32 copy_user_path(char *dst, const void *src, __u32 *strs, int i)
{
	return path_kept(bpf_probe_read_user_str(dst, ST_PATH_MAX + 2, src), strs, i);
}

/* The same of a path the kernel copied (io_uring requests, exec's name). */
static __always_inline __u32 copy_kernel_path(char *dst, const void *src, __u32 *strs, int i)
{
	return path_kept(bpf_probe_read_kernel_str(dst, ST_PATH_MAX + 2, src), strs, i) & (2 * ST_PATH_MAX - 1);
}

/* A path the entry could not read (its page was not faulted in yet) is
 * read again at exit, once the kernel's own copy made it resident; it is
 * flagged late, as a racing thread could have changed it in between.
 * Returns the new length, or len when there is nothing to do. */
static __always_inline __u32 reread_user_path(char *dst, __u64 src, __u32 len, __u32 *strs, int i)
{
	__u32 s = 0, n;

	if (!(*strs & ST_STR(i, ST_S_ABSENT)))
		return len;
	n = copy_user_path(dst, (const void *)src, &s, i);
	if (s & ST_STR(i, ST_S_ABSENT))
		return len;
	*strs = (*strs & ~ST_STR(i, ST_S_ABSENT)) | s | ST_STR(i, ST_S_LATE);
	return n;
}

/* Writes the walk of (dentry, vfsmount) into the scratch buffer at base, as
 * events.h describes; returns its length with ST_WALK_* bits.  A global
 * function (bpf/path.bpf.c): verified once, not once per state of each
 * caller. */
#define ST_WALK_CUT      (1 << 16) /* stopped before the root: PATH_MAX bytes */
#define ST_WALK_DETACHED (1 << 17) /* ended outside the task's mount namespace */
#define ST_WALK_BASE_MAX (ST_SCRATCH_SIZE - ST_PATH_MAX - ST_NAME_MAX)
int st_walk_path(__u64 dentry, __u64 vfsmount, __u64 base);

/* Adds the walk of (d, vm) at base to an event as its string i: returns
 * the length, the string's state in *strs. */
static __always_inline __u32 walk_path(__u64 d, __u64 vm, __u32 base, __u32 *strs, int i)
{
	int r = st_walk_path(d, vm, base);

	if (r & ST_WALK_CUT)
		*strs |= ST_STR(i, ST_S_CUT);
	if (r & ST_WALK_DETACHED)
		*strs |= ST_STR(i, ST_S_DETACHED);
	return r & (2 * ST_PATH_MAX - 1);
}

/* The file behind the current task's descriptor fd, NULL if none. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The directory (or file) base->from names now: fills dentry and mnt, 0
 * when there is none. */
static __always_inline void base_lookup(struct st_base *b)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f;

	b->dentry = 0;
	b->mnt = 0;
	if (b->from == ST_BASE_ROOT) {
		b->dentry = (__u64)BPF_CORE_READ(task, fs, root.dentry);
		b->mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt);
	} else if (b->from == ST_BASE_CWD) {
		b->dentry = (__u64)BPF_CORE_READ(task, fs, pwd.dentry);
		b->mnt = (__u64)BPF_CORE_READ(task, fs, pwd.mnt);
	} else if (b->from >= 0) {
		f = fd_file(b->from);
		if (f) {
			b->dentry = (__u64)BPF_CORE_READ(f, f_path.dentry);
			b->mnt = (__u64)BPF_CORE_READ(f, f_path.mnt);
		}
	}
}

/* Which base a path whose first byte is `first` (0: empty) starts from. */
static __always_inline __s32 base_kind(long dirfd, char first, bool empty_ok)
{
	if (first == '/')
		return ST_BASE_ROOT;
	if (!first && !empty_ok)
		return ST_BASE_NONE;
	if (dirfd == ST_BASE_CWD)
		return ST_BASE_CWD;
	return dirfd >= 0 ? dirfd : ST_BASE_NONE;
}

/* At entry: the base of a path argument relative to dirfd, whose string is
 * string i of *strs, first byte `first`; empty_ok when the call acts on the
 * dirfd's file itself for an empty path (AT_EMPTY_PATH, f* calls). */
static __always_inline void base_enter(struct st_base *b, long dirfd, char first, bool empty_ok, __u32 strs,
				       int i)
{
	b->dirfd = dirfd;
	b->empty_ok = empty_ok;
	b->pad = 0;
	b->from = strs & ST_STR(i, ST_S_ABSENT) ? ST_BASE_LATE : base_kind(dirfd, first, empty_ok);
	base_lookup(b);
}

/* At exit: the walk of a base saved at entry, as string i at off, when the
 * task still holds the same object; else string i is absent.  A path read
 * only now (late) is resolved from what the task holds now. */
static __always_inline __u32 base_exit(const struct st_base *saved, char first, __u32 off, __u32 *strs, int i)
{
	struct st_base now = { .from = saved->from };

	if (now.from == ST_BASE_LATE)
		now.from = base_kind(saved->dirfd, first, saved->empty_ok);
	base_lookup(&now);
	if (!now.dentry || (saved->from != ST_BASE_LATE && (now.dentry != saved->dentry || now.mnt != saved->mnt))) {
		*strs |= ST_STR(i, ST_S_ABSENT);
		return 0;
	}
	return walk_path(now.dentry, now.mnt, off, strs, i);
}

/* The walk of where a path (plen bytes at path) relative to dirfd starts,
 * as the current task holds it now, as string i at off: for events built
 * in one go (io_uring requests at submission, other ABIs' calls at exit). */
static __always_inline __u32 walk_base_now(long dirfd, const char *path, __u32 plen, __u32 off, __u32 *strs, int i)
{
	struct st_base b;

	base_enter(&b, dirfd, plen ? path[0] : 0, false, *strs, i);
	if (!b.dentry || off > ST_WALK_BASE_MAX) {
		*strs |= ST_STR(i, ST_S_ABSENT);
		return 0;
	}
	return walk_path(b.dentry, b.mnt, off, strs, i) & (2 * ST_PATH_MAX - 1);
}

/* Waiting data that wakes the collector; below it, the collector's own
 * timer fetches the events.  A wakeup per event would cost the traced
 * task more than the event itself.  Set before load; defined in proc.bpf.c. */
extern const volatile __u64 wakeup_bytes;

/* Sends an event of `size` bytes (h->size set here); counts it when the
 * ring buffer has no room.  The collector is woken once, by the event that
 * makes the waiting data cross wakeup_bytes, not by every event after it. */
static __always_inline void emit(struct st_hdr *h, __u32 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = avail < wakeup_bytes && avail + size >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;

	h->size = size;
	if (bpf_ringbuf_output(&events, h, size, flags))
		count_loss(h->session_cgid, h->type, ST_LOSS_RINGBUF);
}

#endif
