// SPDX-License-Identifier: GPL-2.0
/* The guest's capture programs: the records of bpf/ (exec, fork, exit, open,
 * unlink, rename, connect) as bpf/events.h lays them out, from four programs
 * the guest's 6.1 kernel verifies quickly under TCG: raw sys_enter/sys_exit
 * (one pair for every syscall, the arguments stashed per thread at entry)
 * and sched_process_fork/exit.  No session filter: everything in the guest
 * but the agent belongs to the session.  Walks (paths made absolute) are
 * bpf_loop callbacks of CO-RE reads, no kfuncs (bpf_rdonly_cast is 6.2+). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

#define SLOT       ST_PATH_MAX
#define NSLOTS     4
#define FIXED      128            /* room for any fixed part below */
#define AT_FDCWD_  -100

/* x86-64 syscall numbers (the only guest built) */
enum {
	NR_OPEN = 2, NR_CONNECT = 42, NR_EXECVE = 59, NR_RENAME = 82, NR_RMDIR = 84, NR_CREAT = 85,
	NR_UNLINK = 87, NR_OPENAT = 257, NR_UNLINKAT = 263, NR_RENAMEAT = 264, NR_RENAMEAT2 = 316,
	NR_EXECVEAT = 322, NR_OPENAT2 = 437,
};

const volatile __u32 agent_tgid;

/* one traced syscall of one thread: the fixed part, then the strings, a
 * slot each, compacted at the exit */
struct pending {
	__u8 fixed[FIXED];
	__u16 len[NSLOTS];
	__u32 nstr;
	__u32 nr;
	__u8 slot[NSLOTS][SLOT];
	__u8 tail[512];  /* what a bounded read at the end of the last slot may touch */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);         /* the entry's, the exit's copy, the sample */
	__type(key, __u32);
	__type(value, struct pending);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* per type and reason (enum st_loss_reason) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_EV_MAX * ST_LOSS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} losses SEC(".maps");

static __always_inline void lost(__u32 type, __u32 reason)
{
	__u32 k = type * ST_LOSS_MAX + reason;
	__u64 *n = bpf_map_lookup_elem(&losses, &k);

	if (n)
		(*n)++;
}

static __always_inline bool traced(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) != agent_tgid;
}

static __always_inline void fill_hdr(struct st_hdr *h, __u32 type, __u32 sys)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid(), ug = bpf_get_current_uid_gid();

	h->ts = bpf_ktime_get_boot_ns();
	h->type = type;
	h->syscall = sys;
	h->tgid = (__u32)(id >> 32);
	h->tid = (__u32)id;
	h->ppid = BPF_CORE_READ(t, real_parent, tgid);
	h->uid = (__u32)ug;
	h->gid = (__u32)(ug >> 32);
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* Walks: the names from a dentry up to the root, leaf first, NUL after
 * each, into a slot of a scratch entry.  A global function and a bpf_loop
 * callback, so that the verifier checks each once, whatever the number of
 * call sites and steps (bpf/path.bpf.c does the same on the host, with
 * kfuncs this 6.1 guest kernel does not have). */
struct walk_ctx {
	struct pending *p;
	__u64 d, m;       /* dentry, struct mount */
	__u32 slot, off, status;
};

static long walk_step(__u64 i, struct walk_ctx *c)
{
	struct dentry *d = (struct dentry *)c->d;
	struct mount *m = (struct mount *)c->m;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	__u32 off = c->off;
	long n;

	if (c->d == (__u64)BPF_CORE_READ(m, mnt.mnt_root)) {
		__u64 up = (__u64)BPF_CORE_READ(m, mnt_parent);

		if (up == c->m || !up)
			return 1; /* the root */
		c->d = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		c->m = up;
		return 0;
	}
	if ((__u64)parent == c->d || !parent) {
		/* a root that is no mount's (a pipe, a memfd): its name is all there is */
		c->status |= ST_S_DETACHED;
		return 1;
	}
	if (off > SLOT - ST_NAME_MAX) {
		c->status |= ST_S_CUT;
		return 1;
	}
	n = bpf_probe_read_kernel_str(c->p->slot[c->slot & 3] + off, ST_NAME_MAX, BPF_CORE_READ(d, d_name.name));
	if (n <= 1) {
		c->status |= ST_S_CUT;
		return 1;
	}
	c->off = off + (__u32)n;
	c->d = (__u64)parent;
	return 0;
}

/* The walk of (dentry, vfsmount) into scratch[key].slot[slot]: its length,
 * and its ST_S_* << 16. */
__noinline int walk(__u64 dentry, __u64 vfsmount, __u32 key, __u32 slot)
{
	struct walk_ctx c = { .d = dentry, .m = vfsmount - bpf_core_field_offset(struct mount, mnt), .slot = slot };
	long steps;

	c.p = bpf_map_lookup_elem(&scratch, &key);
	if (!c.p || !dentry || !vfsmount)
		return ST_S_ABSENT << 16;
	steps = bpf_loop(SLOT, walk_step, &c, 0);
	if (steps >= SLOT)
		c.status |= ST_S_CUT;
	return (int)((c.off & 0xffff) | c.status << 16);
}

static __always_inline void set_walk(struct pending *p, struct st_hdr *h, int i, int w)
{
	p->len[i & 3] = (__u16)(w & 0xffff);
	h->strs |= ST_STR(i, (__u32)w >> 16);
}

static __always_inline __u64 fd_file(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *f = NULL;

	if (fd < 0 || (unsigned)fd >= BPF_CORE_READ(t, files, fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(t, files, fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), fds + fd);
	return (__u64)f;
}

/* The directory a path of dirfd is resolved from: the root for an
 * absolute path, the cwd, or the dirfd's file; into slot i of scratch[key]. */
static __always_inline void base_str(struct pending *p, __u32 key, int i, int dirfd, int req, struct st_hdr *h)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file *f;

	if (p->slot[req & 3][0] == '/') {
		set_walk(p, h, i, walk((__u64)BPF_CORE_READ(t, fs, root.dentry), (__u64)BPF_CORE_READ(t, fs, root.mnt), key, i));
	} else if (dirfd == AT_FDCWD_) {
		set_walk(p, h, i, walk((__u64)BPF_CORE_READ(t, fs, pwd.dentry), (__u64)BPF_CORE_READ(t, fs, pwd.mnt), key, i));
	} else {
		f = (struct file *)fd_file(dirfd);
		set_walk(p, h, i, f ? walk((__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt), key, i)
				    : ST_S_ABSENT << 16);
	}
}

/* A user string into slot i; string i of the type's layout. */
static __always_inline void user_str(struct pending *p, int i, const char *u, struct st_hdr *h)
{
	long n = bpf_probe_read_user_str(p->slot[i & 3], SLOT, u);

	if (n <= 0) {
		h->strs |= ST_STR(i, ST_S_ABSENT);
		p->len[i & 3] = 0;
		return;
	}
	p->len[i & 3] = (__u16)(n - 1);
	if (n == SLOT)
		h->strs |= ST_STR(i, ST_S_CUT);
}

struct argv_ctx {
	struct pending *p;
	const char *const *argv;
	__u32 off, argc, cut;
};

static long argv_step(__u64 k, struct argv_ctx *c)
{
	const char *a = NULL;
	__u32 off = c->off;
	long n;

	if (bpf_probe_read_user(&a, sizeof(a), c->argv + k) < 0 || !a)
		return 1;
	if (off > SLOT - 512 || k >= ST_ARGS_MAX) {
		c->cut = 1;
		return 1;
	}
	n = bpf_probe_read_user_str(c->p->slot[1] + off, 512, a);
	if (n <= 0)
		return 1;
	c->off = off + (__u32)n;
	c->argc++;
	return 0;
}

/* argv into slot 1 of scratch[0]: its length, argc << 16, cut << 31 */
__noinline int argv_walk(__u64 argv)
{
	__u32 zero = 0;
	struct argv_ctx c = { .argv = (const char *const *)argv };

	c.p = bpf_map_lookup_elem(&scratch, &zero);
	if (!c.p)
		return 0;
	bpf_loop(ST_ARGS_MAX + 1, argv_step, &c, 0);
	return (int)((c.off & 0xffff) | (c.argc & 0x7fff) << 16 | c.cut << 31);
}

SEC("raw_tracepoint/sys_enter")
int sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long nr = (long)ctx->args[1];
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	unsigned long a0, a1, a2, a3, a4;
	struct pending *p;
	struct st_hdr *h;
	int n;

	if (!traced())
		return 0;
	switch (nr) {
	case NR_OPEN: case NR_OPENAT: case NR_CREAT: case NR_OPENAT2: case NR_EXECVE: case NR_EXECVEAT:
	case NR_UNLINK: case NR_UNLINKAT: case NR_RMDIR: case NR_RENAME: case NR_RENAMEAT: case NR_RENAMEAT2:
	case NR_CONNECT:
		break;
	default:
		return 0;
	}
	p = bpf_map_lookup_elem(&scratch, &zero);
	if (!p)
		return 0;
	__builtin_memset(p->fixed, 0, FIXED);
	h = (struct st_hdr *)p->fixed;
	a0 = BPF_CORE_READ(regs, di);
	a1 = BPF_CORE_READ(regs, si);
	a2 = BPF_CORE_READ(regs, dx);
	a3 = BPF_CORE_READ(regs, r10);
	a4 = BPF_CORE_READ(regs, r8);
	p->nr = (__u32)nr;
	switch (nr) {
	case NR_EXECVE:
	case NR_EXECVEAT: {
		struct st_exec *x = (struct st_exec *)p->fixed;
		bool at = nr == NR_EXECVEAT;

		fill_hdr(h, ST_EV_EXEC, at ? ST_SYS_EXECVEAT : ST_SYS_EXECVE);
		x->dirfd = at ? (int)a0 : AT_FDCWD_;
		x->at_flags = at ? (__u32)a4 : 0;
		user_str(p, 0, (const char *)(at ? a1 : a0), h);
		n = argv_walk(at ? a2 : a1);
		p->len[1] = (__u16)(n & 0xffff);
		x->argc = ((__u32)n >> 16) & 0x7fff;
		if ((__u32)n >> 31)
			h->flags |= ST_F_TRUNC_ARGS;
		p->len[2] = 0; /* exe: at the exit */
		base_str(p, 0, 3, x->dirfd, 0, h);
		p->nstr = 4;
		break;
	}
	case NR_OPEN: case NR_OPENAT: case NR_CREAT: case NR_OPENAT2: {
		struct st_open *o = (struct st_open *)p->fixed;
		bool at = nr == NR_OPENAT || nr == NR_OPENAT2;

		fill_hdr(h, ST_EV_OPEN, nr == NR_OPEN ? ST_SYS_OPEN : nr == NR_OPENAT ? ST_SYS_OPENAT :
					nr == NR_CREAT ? ST_SYS_CREAT : ST_SYS_OPENAT2);
		o->dirfd = at ? (int)a0 : AT_FDCWD_;
		if (nr == NR_OPENAT2) {
			struct open_how how = {};

			bpf_probe_read_user(&how, sizeof(how), (void *)a2);
			o->flags = how.flags;
			o->mode = (__u32)how.mode;
			o->resolve = how.resolve;
		} else if (nr == NR_CREAT) {
			o->flags = 01 | 0100 | 01000; /* O_WRONLY|O_CREAT|O_TRUNC */
			o->mode = (__u32)a1;
		} else {
			o->flags = at ? a2 : a1;
			o->mode = (__u32)(at ? a3 : a2);
		}
		user_str(p, 0, (const char *)(at ? a1 : a0), h);
		p->len[1] = 0; /* resolved: at the exit */
		base_str(p, 0, 2, o->dirfd, 0, h);
		p->nstr = 3;
		break;
	}
	case NR_UNLINK: case NR_UNLINKAT: case NR_RMDIR: {
		struct st_unlink *u = (struct st_unlink *)p->fixed;
		bool at = nr == NR_UNLINKAT;

		fill_hdr(h, ST_EV_UNLINK, at ? ST_SYS_UNLINKAT : nr == NR_RMDIR ? ST_SYS_RMDIR : ST_SYS_UNLINK);
		u->dirfd = at ? (int)a0 : AT_FDCWD_;
		u->flags = at ? (__u32)a2 : 0;
		user_str(p, 0, (const char *)(at ? a1 : a0), h);
		base_str(p, 0, 1, u->dirfd, 0, h);
		p->nstr = 2;
		break;
	}
	case NR_RENAME: case NR_RENAMEAT: case NR_RENAMEAT2: {
		struct st_rename *r = (struct st_rename *)p->fixed;
		bool at = nr != NR_RENAME;

		fill_hdr(h, ST_EV_RENAME, nr == NR_RENAME ? ST_SYS_RENAME : nr == NR_RENAMEAT ? ST_SYS_RENAMEAT :
					  ST_SYS_RENAMEAT2);
		r->olddirfd = at ? (int)a0 : AT_FDCWD_;
		r->newdirfd = at ? (int)a2 : AT_FDCWD_;
		r->flags = nr == NR_RENAMEAT2 ? (__u32)a4 : 0;
		user_str(p, 0, (const char *)(at ? a1 : a0), h);
		user_str(p, 1, (const char *)(at ? a3 : a1), h);
		base_str(p, 0, 2, r->olddirfd, 0, h);
		base_str(p, 0, 3, r->newdirfd, 1, h);
		p->nstr = 4;
		break;
	}
	case NR_CONNECT: {
		struct st_connect *c = (struct st_connect *)p->fixed;
		struct __kernel_sockaddr_storage sa = {};
		__u32 alen = (__u32)a2;

		fill_hdr(h, ST_EV_CONNECT, ST_SYS_CONNECT);
		c->fd = (int)a0;
		c->source = ST_ADDR_USER;
		c->verdict = ST_VERDICT_ALLOW; /* the guest polices nothing: network none has no route */
		if (alen > sizeof(sa))
			alen = sizeof(sa);
		bpf_probe_read_user(&sa, alen & 127, (void *)a1);
		c->family = sa.ss_family;
		p->len[0] = 0;
		if (sa.ss_family == 2) {
			struct sockaddr_in *in = (struct sockaddr_in *)&sa;

			c->port = bpf_ntohs(in->sin_port);
			__builtin_memcpy(c->addr, &in->sin_addr, 4);
		} else if (sa.ss_family == 10) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

			c->port = bpf_ntohs(in6->sin6_port);
			__builtin_memcpy(c->addr, &in6->sin6_addr, 16);
		} else if (sa.ss_family == 1 && alen > 2) {
			__u32 n = alen - 2;

			if (n > ST_UNIX_PATH_MAX)
				n = ST_UNIX_PATH_MAX;
			barrier_var(n);
			bpf_probe_read_user(p->slot[0], n & 127, (char *)a1 + 2);
			/* a pathname ends at its NUL; an abstract name starts with one */
			if (p->slot[0][0]) {
				for (__u32 k = 1; k < ST_UNIX_PATH_MAX && k < n; k++)
					if (!p->slot[0][k]) {
						n = k;
						break;
					}
			}
			p->len[0] = (__u16)n;
		}
		p->nstr = 1;
		break;
	}
	}
	if (bpf_map_update_elem(&pending, &tid, p, BPF_ANY) < 0)
		lost(h->type, ST_LOSS_PENDING);
	return 0;
}

static __always_inline __u32 fixed_size(__u32 type)
{
	switch (type) {
	case ST_EV_EXEC: return sizeof(struct st_exec);
	case ST_EV_OPEN: return sizeof(struct st_open);
	case ST_EV_UNLINK: return sizeof(struct st_unlink);
	case ST_EV_RENAME: return sizeof(struct st_rename);
	case ST_EV_CONNECT: return sizeof(struct st_connect);
	}
	return 0;
}

/* where each type keeps its string lengths (bpf/events.h) */
static __always_inline __u32 len_off(__u32 type)
{
	switch (type) {
	case ST_EV_EXEC: return __builtin_offsetof(struct st_exec, filename_len);
	case ST_EV_OPEN: return __builtin_offsetof(struct st_open, path_len);
	case ST_EV_UNLINK: return __builtin_offsetof(struct st_unlink, path_len);
	case ST_EV_RENAME: return __builtin_offsetof(struct st_rename, from_len);
	case ST_EV_CONNECT: return __builtin_offsetof(struct st_connect, path_len);
	}
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 one = 1, two = 2, tid = (__u32)bpf_get_current_pid_tgid();
	long ret = (long)ctx->args[1];
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);
	struct pending *w = bpf_map_lookup_elem(&scratch, &one);
	struct pending *out = bpf_map_lookup_elem(&scratch, &two);
	struct st_hdr *h;
	__u32 type, size, off, lo;
	__u8 *buf;

	if (!p)
		return 0;
	if (!w || !out || bpf_probe_read_kernel(w, sizeof(*w), p) < 0) {
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	bpf_map_delete_elem(&pending, &tid);
	h = (struct st_hdr *)w->fixed;
	type = h->type;
	/* *_ret at the same offset in each fixed part: right after the header */
	*(__s32 *)(w->fixed + sizeof(struct st_hdr)) = (__s32)ret;
	if (type == ST_EV_EXEC && ret == 0) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		struct file *exe = BPF_CORE_READ(t, mm, exe_file);

		set_walk(w, h, 2, walk((__u64)BPF_CORE_READ(exe, f_path.dentry), (__u64)BPF_CORE_READ(exe, f_path.mnt), 1, 2));
		bpf_get_current_comm(h->comm, sizeof(h->comm));
	}
	if (type == ST_EV_OPEN) {
		struct file *f = ret >= 0 ? (struct file *)fd_file((int)ret) : NULL;

		set_walk(w, h, 1, f ? walk((__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt), 1, 1)
				    : ST_S_ABSENT << 16);
	}
	size = fixed_size(type);
	lo = len_off(type);
	if (!size || !lo || lo > FIXED - 2 * NSLOTS)
		return 0;
	/* the sample: the fixed part, then the strings back to back */
	buf = (__u8 *)out;
	__builtin_memcpy(buf, w->fixed, FIXED);
	off = size;
#pragma unroll
	for (int i = 0; i < NSLOTS; i++) {
		__u32 n = w->len[i];

		if (i >= (int)w->nstr)
			break;
		if (n > SLOT)
			n = SLOT;
		*(__u16 *)(buf + lo + 2 * i) = (__u16)n;
		if (off > FIXED + i * SLOT)
			break;
		bpf_probe_read_kernel(buf + off, n, w->slot[i]);
		off += n;
	}
	((struct st_hdr *)buf)->size = off;
	if (off <= sizeof(*out) && bpf_ringbuf_output(&events, buf, off, 0) < 0)
		lost(type, ST_LOSS_RINGBUF);
	return 0;
}

SEC("raw_tracepoint/sched_process_fork")
int proc_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	struct st_fork f = {};

	if (!traced() || BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	fill_hdr(&f.h, ST_EV_FORK, ST_SYS_NONE);
	f.h.size = sizeof(f);
	f.child_tgid = BPF_CORE_READ(child, tgid);
	if (bpf_ringbuf_output(&events, &f, sizeof(f), 0) < 0)
		lost(ST_EV_FORK, ST_LOSS_RINGBUF);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int proc_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct st_exit e = {};

	/* the last thread of a traced process */
	if (!traced() || BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0;
	fill_hdr(&e.h, ST_EV_EXIT, ST_SYS_NONE);
	e.h.size = sizeof(e);
	e.status = BPF_CORE_READ(t, exit_code);
	if (bpf_ringbuf_output(&events, &e, sizeof(e), 0) < 0)
		lost(ST_EV_EXIT, ST_LOSS_RINGBUF);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
