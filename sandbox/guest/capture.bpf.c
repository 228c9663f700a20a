// SPDX-License-Identifier: GPL-2.0
/* The guest's capture programs: the records of bpf/ (exec, fork, exit, open,
 * unlink, rename, connect, the file operations of st_fileop, bind, listen,
 * accept, the first datagram to each destination with a count per
 * destination) as bpf/events.h lays them out, from four programs
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
#include "fileop_times.h"

#define SLOT       ST_PATH_MAX
#define NSLOTS     5              /* st_fileop's strings */
#define FIXED      192            /* room for any fixed part below */
#define SAMPLE_MAX 16384          /* VMFRAME_MAX: the largest sample the agent can frame */
#define AT_FDCWD_  -100
#define AT_EMPTY_PATH_ 0x1000
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x04
#define MOVE_MOUNT_T_EMPTY_PATH_ 0x40

/* x86-64 syscall numbers (the only guest built) */
enum {
	NR_OPEN = 2, NR_CONNECT = 42, NR_ACCEPT = 43, NR_SENDTO = 44, NR_SENDMSG = 46, NR_BIND = 49,
	NR_LISTEN = 50, NR_EXECVE = 59, NR_TRUNCATE = 76, NR_FTRUNCATE = 77, NR_RENAME = 82, NR_MKDIR = 83,
	NR_RMDIR = 84, NR_CREAT = 85, NR_LINK = 86, NR_UNLINK = 87, NR_SYMLINK = 88, NR_CHMOD = 90,
	NR_FCHMOD = 91, NR_CHOWN = 92, NR_FCHOWN = 93, NR_LCHOWN = 94, NR_UTIME = 132, NR_MKNOD = 133,
	NR_PIVOT_ROOT = 155, NR_MOUNT = 165, NR_UMOUNT2 = 166, NR_SETXATTR = 188, NR_LSETXATTR = 189,
	NR_FSETXATTR = 190, NR_REMOVEXATTR = 197, NR_LREMOVEXATTR = 198, NR_FREMOVEXATTR = 199,
	NR_UTIMES = 235, NR_OPENAT = 257, NR_MKDIRAT = 258, NR_MKNODAT = 259, NR_FCHOWNAT = 260,
	NR_FUTIMESAT = 261, NR_UNLINKAT = 263, NR_RENAMEAT = 264, NR_LINKAT = 265, NR_SYMLINKAT = 266,
	NR_FCHMODAT = 268, NR_UTIMENSAT = 280, NR_ACCEPT4 = 288, NR_SENDMMSG = 307, NR_RENAMEAT2 = 316,
	NR_EXECVEAT = 322, NR_MOVE_MOUNT = 429, NR_OPENAT2 = 437, NR_FCHMODAT2 = 452,
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

/* Allowed datagrams per destination (events.h: the host's dgrams map,
 * for one session), read by the agent at the end; those to destinations
 * past a full table in dgram_untracked. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_DGRAM_DESTS);
	__type(key, struct st_dgram_key);
	__type(value, __u64);
} dgrams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dgram_untracked SEC(".maps");

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
	__u32 off = c->off, slot = c->slot;
	long n;

	if (slot >= NSLOTS)
		return 1;
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
	n = bpf_probe_read_kernel_str(c->p->slot[slot] + off, ST_NAME_MAX, BPF_CORE_READ(d, d_name.name));
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
	p->len[i] = (__u16)(w & 0xffff);
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

	if (p->slot[req][0] == '/') {
		set_walk(p, h, i, walk((__u64)BPF_CORE_READ(t, fs, root.dentry), (__u64)BPF_CORE_READ(t, fs, root.mnt), key, i));
	} else if (dirfd == AT_FDCWD_) {
		set_walk(p, h, i, walk((__u64)BPF_CORE_READ(t, fs, pwd.dentry), (__u64)BPF_CORE_READ(t, fs, pwd.mnt), key, i));
	} else {
		f = (struct file *)fd_file(dirfd);
		set_walk(p, h, i, f ? walk((__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt), key, i)
				    : ST_S_ABSENT << 16);
	}
}

/* A user string of at most max bytes into slot i; string i of the type's
 * layout. */
static __always_inline void user_str_max(struct pending *p, int i, const char *u, struct st_hdr *h, __u32 max)
{
	long n = bpf_probe_read_user_str(p->slot[i], max, u);

	if (n <= 0) {
		h->strs |= ST_STR(i, ST_S_ABSENT);
		p->len[i] = 0;
		p->slot[i][0] = 0;
		return;
	}
	p->len[i] = (__u16)(n - 1);
	if (n == max)
		h->strs |= ST_STR(i, ST_S_CUT);
}

static __always_inline void user_str(struct pending *p, int i, const char *u, struct st_hdr *h)
{
	user_str_max(p, i, u, h, SLOT);
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

/* The socket address at user address ua (alen bytes): family, port (host
 * order) and address (network order) for inet; a unix path into slot 0,
 * its length in len[0] (a pathname ends at its NUL, an abstract name
 * starts with one). */
static __always_inline void user_addr(struct pending *p, __u64 ua, __u32 alen, __u16 *family, __u16 *port, __u8 *addr)
{
	struct __kernel_sockaddr_storage sa = {};

	if (alen > sizeof(sa))
		alen = sizeof(sa);
	bpf_probe_read_user(&sa, alen & 127, (void *)ua);
	*family = sa.ss_family;
	p->len[0] = 0;
	if (sa.ss_family == 2) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;

		*port = bpf_ntohs(in->sin_port);
		__builtin_memcpy(addr, &in->sin_addr, 4);
	} else if (sa.ss_family == 10) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

		*port = bpf_ntohs(in6->sin6_port);
		__builtin_memcpy(addr, &in6->sin6_addr, 16);
	} else if (sa.ss_family == 1 && alen > 2) {
		__u32 n = alen - 2;

		if (n > ST_UNIX_PATH_MAX)
			n = ST_UNIX_PATH_MAX;
		barrier_var(n);
		bpf_probe_read_user(p->slot[0], n & 127, (char *)ua + 2);
		if (p->slot[0][0]) {
			for (__u32 k = 1; k < ST_UNIX_PATH_MAX && k < n; k++)
				if (!p->slot[0][k]) {
					n = k;
					break;
				}
		}
		p->len[0] = (__u16)n;
	}
}

/* The socket behind fd of the current task, 0 if none. */
static __always_inline struct sock *fd_sock(int fd)
{
	struct file *f = (struct file *)fd_file(fd);
	struct socket *so = f ? BPF_CORE_READ(f, private_data) : NULL;

	if (!so || BPF_CORE_READ(so, file) != f)
		return NULL;
	return BPF_CORE_READ(so, sk);
}

/* The socket fd's own address (inet: local; unix: its path into slot 0),
 * and with peer its peer's, into the st_sock of scratch[1] (the exit's). */
__noinline int sock_addrs(int fd, int peer)
{
	__u32 one = 1;
	struct pending *w = bpf_map_lookup_elem(&scratch, &one);
	struct sock *sk = fd_sock(fd);
	struct st_sock *k;
	__u16 fam;

	if (!w || !sk)
		return 0;
	k = (struct st_sock *)w->fixed;
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	k->family = fam;
	k->source = ST_ADDR_SOCKET;
	__builtin_memset(k->addr, 0, sizeof(k->addr));
	w->len[0] = 0;
	if (fam == 2) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

		__builtin_memcpy(k->addr, &a, 4);
		k->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (peer) {
			a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			__builtin_memcpy(k->peer, &a, 4);
			k->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == 10) {
		BPF_CORE_READ_INTO(&k->addr, sk, __sk_common.skc_v6_rcv_saddr);
		k->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (peer) {
			BPF_CORE_READ_INTO(&k->peer, sk, __sk_common.skc_v6_daddr);
			k->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == 1) {
		/* accept: the new socket is bound where its listener is */
		struct unix_address *ua = BPF_CORE_READ((struct unix_sock *)sk, addr);
		const char *sun = (const char *)ua + bpf_core_field_offset(struct unix_address, name) + 2;
		long n = ua ? BPF_CORE_READ(ua, len) - 2 : 0;
		__u64 len = n > ST_UNIX_PATH_MAX ? ST_UNIX_PATH_MAX : n;
		char first = 0;

		/* a pathname ends at its NUL; an abstract name starts with one */
		asm volatile("%[len] &= 0x7f" : [len] "+r"(len)); /* <= 108 already: for the verifier */
		if (n <= 0 || bpf_probe_read_kernel(&first, 1, sun))
			return 0;
		if (!first)
			n = bpf_probe_read_kernel(w->slot[0], len, sun) ? 0 : len;
		else
			n = bpf_probe_read_kernel_str(w->slot[0], len + 1, sun) - 1;
		w->len[0] = n > 0 ? (__u16)n : 0;
	}
	return 0;
}

/* A file operation's entry (struct st_fileop, the operands as
 * bpf/fileop.bpf.c reads them) into scratch[0]: its type, 0 if nr is none.
 * A function of its own, verified once beside sys_enter. */
__noinline int fileop_enter(__u64 regs_addr, __u32 nr)
{
	struct pt_regs *regs = (struct pt_regs *)regs_addr;
	const char *path = NULL, *path2 = NULL, *name = NULL;
	int dirfd = AT_FDCWD_, dirfd2 = AT_FDCWD_;
	bool fd_op = false, base2 = false;
	__u32 zero = 0, sys = 0, type = 0;
	unsigned long a0, a1, a2, a3, a4;
	struct st_fileop *ev;
	struct pending *p;
	__u64 times = 0;

	p = bpf_map_lookup_elem(&scratch, &zero);
	if (!p)
		return 0;
	__builtin_memset(p->fixed, 0, FIXED);
	ev = (struct st_fileop *)p->fixed;
	a0 = BPF_CORE_READ(regs, di);
	a1 = BPF_CORE_READ(regs, si);
	a2 = BPF_CORE_READ(regs, dx);
	a3 = BPF_CORE_READ(regs, r10);
	a4 = BPF_CORE_READ(regs, r8);
	switch (nr) {
	case NR_TRUNCATE:
		sys = ST_SYS_TRUNCATE, type = ST_EV_TRUNCATE, path = (const char *)a0, ev->arg[0] = a1;
		break;
	case NR_FTRUNCATE:
		sys = ST_SYS_FTRUNCATE, type = ST_EV_TRUNCATE, dirfd = (int)a0, fd_op = true, ev->arg[0] = a1;
		break;
	case NR_MKDIR:
		sys = ST_SYS_MKDIR, type = ST_EV_MKDIR, path = (const char *)a0, ev->mode = a1;
		break;
	case NR_MKDIRAT:
		sys = ST_SYS_MKDIRAT, type = ST_EV_MKDIR, dirfd = (int)a0, path = (const char *)a1, ev->mode = a2;
		break;
	case NR_MKNOD:
		sys = ST_SYS_MKNOD, type = ST_EV_MKNOD, path = (const char *)a0, ev->mode = a1, ev->arg[0] = (__u32)a2;
		break;
	case NR_MKNODAT:
		sys = ST_SYS_MKNODAT, type = ST_EV_MKNOD, dirfd = (int)a0, path = (const char *)a1, ev->mode = a2;
		ev->arg[0] = (__u32)a3;
		break;
	case NR_SYMLINK:
		sys = ST_SYS_SYMLINK, type = ST_EV_SYMLINK, path2 = (const char *)a0, path = (const char *)a1;
		break;
	case NR_SYMLINKAT:
		sys = ST_SYS_SYMLINKAT, type = ST_EV_SYMLINK, path2 = (const char *)a0, dirfd = (int)a1;
		path = (const char *)a2;
		break;
	case NR_LINK:
		sys = ST_SYS_LINK, type = ST_EV_LINK, path2 = (const char *)a0, path = (const char *)a1, base2 = true;
		break;
	case NR_LINKAT:
		sys = ST_SYS_LINKAT, type = ST_EV_LINK, dirfd2 = (int)a0, path2 = (const char *)a1, dirfd = (int)a2;
		path = (const char *)a3, ev->flags = a4, base2 = true;
		break;
	case NR_CHMOD:
		sys = ST_SYS_CHMOD, type = ST_EV_CHMOD, path = (const char *)a0, ev->mode = a1;
		break;
	case NR_FCHMOD:
		sys = ST_SYS_FCHMOD, type = ST_EV_CHMOD, dirfd = (int)a0, fd_op = true, ev->mode = a1;
		break;
	case NR_FCHMODAT:
	case NR_FCHMODAT2:
		sys = nr == NR_FCHMODAT ? ST_SYS_FCHMODAT : ST_SYS_FCHMODAT2, type = ST_EV_CHMOD, dirfd = (int)a0;
		path = (const char *)a1, ev->mode = a2, ev->flags = nr == NR_FCHMODAT2 ? a3 : 0;
		break;
	case NR_CHOWN:
	case NR_LCHOWN:
		sys = nr == NR_CHOWN ? ST_SYS_CHOWN : ST_SYS_LCHOWN, type = ST_EV_CHOWN, path = (const char *)a0;
		ev->arg[0] = (__u32)a1, ev->arg[1] = (__u32)a2;
		break;
	case NR_FCHOWN:
		sys = ST_SYS_FCHOWN, type = ST_EV_CHOWN, dirfd = (int)a0, fd_op = true;
		ev->arg[0] = (__u32)a1, ev->arg[1] = (__u32)a2;
		break;
	case NR_FCHOWNAT:
		sys = ST_SYS_FCHOWNAT, type = ST_EV_CHOWN, dirfd = (int)a0, path = (const char *)a1;
		ev->arg[0] = (__u32)a2, ev->arg[1] = (__u32)a3, ev->flags = a4;
		break;
	case NR_UTIME:
	case NR_UTIMES:
		sys = nr == NR_UTIME ? ST_SYS_UTIME : ST_SYS_UTIMES, type = ST_EV_UTIMES, path = (const char *)a0;
		times = a1;
		break;
	case NR_FUTIMESAT:
	case NR_UTIMENSAT:
		sys = nr == NR_FUTIMESAT ? ST_SYS_FUTIMESAT : ST_SYS_UTIMENSAT, type = ST_EV_UTIMES, dirfd = (int)a0;
		path = (const char *)a1, times = a2;
		if (nr == NR_UTIMENSAT) {
			ev->flags = a3;
			/* a NULL path is futimens(): the fd's own file */
			fd_op = !path;
		}
		break;
	case NR_SETXATTR: case NR_LSETXATTR: case NR_FSETXATTR:
		sys = nr == NR_SETXATTR ? ST_SYS_SETXATTR : nr == NR_LSETXATTR ? ST_SYS_LSETXATTR : ST_SYS_FSETXATTR;
		type = ST_EV_SETXATTR, name = (const char *)a1, ev->arg[0] = a3, ev->flags = a4;
		if (nr == NR_FSETXATTR)
			dirfd = (int)a0, fd_op = true;
		else
			path = (const char *)a0;
		break;
	case NR_REMOVEXATTR: case NR_LREMOVEXATTR: case NR_FREMOVEXATTR:
		sys = nr == NR_REMOVEXATTR ? ST_SYS_REMOVEXATTR : nr == NR_LREMOVEXATTR ? ST_SYS_LREMOVEXATTR :
		      ST_SYS_FREMOVEXATTR;
		type = ST_EV_REMOVEXATTR, name = (const char *)a1;
		if (nr == NR_FREMOVEXATTR)
			dirfd = (int)a0, fd_op = true;
		else
			path = (const char *)a0;
		break;
	case NR_MOUNT:
		/* never the data argument: it may hold credentials (cifs) */
		sys = ST_SYS_MOUNT, type = ST_EV_MOUNT, path2 = (const char *)a0, path = (const char *)a1;
		name = (const char *)a2, ev->flags = a3, base2 = true;
		break;
	case NR_UMOUNT2:
		sys = ST_SYS_UMOUNT2, type = ST_EV_UMOUNT, path = (const char *)a0, ev->flags = a1;
		break;
	case NR_PIVOT_ROOT:
		sys = ST_SYS_PIVOT_ROOT, type = ST_EV_PIVOT_ROOT, path = (const char *)a0, path2 = (const char *)a1;
		base2 = true;
		break;
	case NR_MOVE_MOUNT:
		sys = ST_SYS_MOVE_MOUNT, type = ST_EV_MOUNT, dirfd2 = (int)a0, path2 = (const char *)a1;
		dirfd = (int)a2, path = (const char *)a3, ev->flags = a4, base2 = true;
		break;
	default:
		return 0;
	}
	fill_hdr(&ev->h, type, sys);
	if (type == ST_EV_UTIMES)
		read_times(sys, times, ev);
	ev->dirfd = dirfd;
	ev->dirfd2 = dirfd2;
	if (fd_op) {
		ev->h.flags |= ST_F_FD_1;
		p->len[0] = 0;
		p->slot[0][0] = 0;
	} else {
		user_str(p, 0, path, &ev->h);
	}
	p->len[1] = 0;
	p->slot[1][0] = 0;
	if (path2)
		user_str(p, 1, path2, &ev->h);
	p->len[2] = 0;
	if (name)
		user_str_max(p, 2, name, &ev->h, ST_NAME_MAX + 1);
	/* the base of an empty path (AT_EMPTY_PATH, an f* call) is the dirfd's file */
	if (fd_op && dirfd < 0)
		set_walk(p, &ev->h, 3, ST_S_ABSENT << 16);
	else
		base_str(p, 0, 3, dirfd, 0, &ev->h);
	p->len[4] = 0;
	if (base2)
		base_str(p, 0, 4, dirfd2, 1, &ev->h);
	p->nstr = 5;
	return (int)type;
}

/* Counts an allowed datagram from the socket fd to the address at ua (alen
 * bytes); the first to a destination is a record (bpf/net.bpf.c's
 * count_datagram), the ones past a full table are counted untracked.
 * Only UDP with an address: what the host's cgroup sendmsg hooks see. */
__noinline int dgram_one(int fd, __u64 ua, __u32 alen)
{
	struct sock *sk = fd_sock(fd);
	struct st_dgram_key key = {};
	__u32 zero = 0, two = 2;
	struct st_connect *c;
	__u64 one = 1, *n;
	__u16 fam;

	if (!sk || !ua || BPF_CORE_READ(sk, sk_protocol) != 17 /* IPPROTO_UDP */)
		return 0;
	if (bpf_probe_read_user(&fam, sizeof(fam), (void *)ua) < 0)
		return 0;
	/* sin_port and sin6_port at 2; sin_addr at 4, sin6_addr at 8 */
	if ((fam != 2 || alen < sizeof(struct sockaddr_in)) && (fam != 10 || alen < sizeof(struct sockaddr_in6)))
		return 0;
	if (bpf_probe_read_user(&key.port, 2, (void *)ua + 2) < 0 ||
	    bpf_probe_read_user(key.addr, fam == 2 ? 4 : 16, (void *)ua + (fam == 2 ? 4 : 8)) < 0)
		return 0;
	key.port = bpf_ntohs(key.port);
	key.family = fam;
	n = bpf_map_lookup_elem(&dgrams, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	if (bpf_map_update_elem(&dgrams, &key, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&dgrams, &key); /* another CPU's first one */
		if (!n)
			n = bpf_map_lookup_elem(&dgram_untracked, &zero);
		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}
	/* built in the exit's sample buffer: no exit runs on this CPU meanwhile */
	c = bpf_map_lookup_elem(&scratch, &two);
	if (!c)
		return 0;
	__builtin_memset(c, 0, sizeof(*c));
	fill_hdr(&c->h, ST_EV_DATAGRAM, ST_SYS_SENDMSG);
	c->h.size = sizeof(*c);
	c->fd = -1;
	c->family = fam;
	c->port = key.port;
	__builtin_memcpy(c->addr, key.addr, 16);
	/* read from the caller's memory at entry, as the kernel took it */
	c->source = ST_ADDR_USER;
	c->verdict = ST_VERDICT_ALLOW;
	if (bpf_ringbuf_output(&events, c, sizeof(*c), 0) < 0)
		lost(ST_EV_DATAGRAM, ST_LOSS_RINGBUF);
	return 0;
}

struct mmsg_ctx {
	__u64 vec;
	int fd;
};

/* the head of struct user_msghdr: where to, and its length */
struct msg_name {
	__u64 name;
	__u32 namelen;
};

static long mmsg_step(__u64 i, struct mmsg_ctx *c)
{
	struct msg_name m = {};

	/* struct mmsghdr: a msghdr, then its length, padded to 64 bytes */
	if (bpf_probe_read_user(&m, sizeof(m), (void *)(c->vec + i * 64)) < 0)
		return 1;
	dgram_one(c->fd, m.name, m.namelen);
	return 0;
}

/* sendto, sendmsg, sendmmsg: each datagram's destination counted at entry
 * (the hook, too, runs before the send). */
__noinline int dgram_enter(__u64 regs_addr, __u32 nr)
{
	struct pt_regs *regs = (struct pt_regs *)regs_addr;
	int fd = (int)BPF_CORE_READ(regs, di);
	struct mmsg_ctx c = { .fd = fd };
	struct msg_name m = {};
	__u32 vlen;

	if (nr == NR_SENDTO)
		return dgram_one(fd, BPF_CORE_READ(regs, r8), (__u32)BPF_CORE_READ(regs, r9));
	if (nr == NR_SENDMSG) {
		if (bpf_probe_read_user(&m, sizeof(m), (void *)BPF_CORE_READ(regs, si)) < 0)
			return 0;
		return dgram_one(fd, m.name, m.namelen);
	}
	c.vec = BPF_CORE_READ(regs, si);
	vlen = (__u32)BPF_CORE_READ(regs, dx);
	/* the kernel sends at most UIO_MAXIOV of them */
	bpf_loop(vlen > 1024 ? 1024 : vlen, mmsg_step, &c, 0);
	return 0;
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
	case NR_CONNECT: case NR_BIND: case NR_LISTEN: case NR_ACCEPT: case NR_ACCEPT4:
		break;
	case NR_SENDTO: case NR_SENDMSG: case NR_SENDMMSG:
		return dgram_enter((__u64)regs, (__u32)nr);
	case NR_TRUNCATE: case NR_FTRUNCATE: case NR_MKDIR: case NR_MKDIRAT: case NR_MKNOD: case NR_MKNODAT:
	case NR_SYMLINK: case NR_SYMLINKAT: case NR_LINK: case NR_LINKAT: case NR_CHMOD: case NR_FCHMOD:
	case NR_FCHMODAT: case NR_FCHMODAT2: case NR_CHOWN: case NR_FCHOWN: case NR_LCHOWN: case NR_FCHOWNAT:
	case NR_UTIME: case NR_UTIMES: case NR_FUTIMESAT: case NR_UTIMENSAT: case NR_SETXATTR: case NR_LSETXATTR:
	case NR_FSETXATTR: case NR_REMOVEXATTR: case NR_LREMOVEXATTR: case NR_FREMOVEXATTR: case NR_MOUNT:
	case NR_UMOUNT2: case NR_PIVOT_ROOT: case NR_MOVE_MOUNT:
		if (!fileop_enter((__u64)regs, (__u32)nr))
			return 0;
		p = bpf_map_lookup_elem(&scratch, &zero);
		if (!p)
			return 0;
		p->nr = (__u32)nr;
		if (bpf_map_update_elem(&pending, &tid, p, BPF_ANY) < 0)
			lost(((struct st_hdr *)p->fixed)->type, ST_LOSS_PENDING);
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

		fill_hdr(h, ST_EV_CONNECT, ST_SYS_CONNECT);
		c->fd = (int)a0;
		c->source = ST_ADDR_USER;
		c->verdict = ST_VERDICT_ALLOW; /* the guest polices nothing: network none has no route */
		user_addr(p, a1, (__u32)a2, &c->family, &c->port, c->addr);
		p->nstr = 1;
		break;
	}
	case NR_BIND: case NR_LISTEN: case NR_ACCEPT: case NR_ACCEPT4: {
		struct st_sock *k = (struct st_sock *)p->fixed;

		fill_hdr(h, nr == NR_BIND ? ST_EV_BIND : nr == NR_LISTEN ? ST_EV_LISTEN : ST_EV_ACCEPT,
			 nr == NR_BIND ? ST_SYS_BIND : nr == NR_LISTEN ? ST_SYS_LISTEN :
			 nr == NR_ACCEPT ? ST_SYS_ACCEPT : ST_SYS_ACCEPT4);
		/* accept: the listener is not said, as on the host */
		k->fd = nr == NR_BIND || nr == NR_LISTEN ? (int)a0 : -1;
		p->len[0] = 0;
		if (nr == NR_BIND) {
			/* the address asked for; the socket's own replaces it at a successful exit */
			k->source = ST_ADDR_USER;
			user_addr(p, a1, (__u32)a2, &k->family, &k->port, k->addr);
		}
		if (nr == NR_LISTEN)
			k->backlog = (int)a1;
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
	case ST_EV_BIND: case ST_EV_LISTEN: case ST_EV_ACCEPT: return sizeof(struct st_sock);
	}
	return type >= ST_EV_TRUNCATE && type <= ST_EV_PIVOT_ROOT ? sizeof(struct st_fileop) : 0;
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
	case ST_EV_BIND: case ST_EV_LISTEN: case ST_EV_ACCEPT: return __builtin_offsetof(struct st_sock, path_len);
	}
	return type >= ST_EV_TRUNCATE && type <= ST_EV_PIVOT_ROOT ? __builtin_offsetof(struct st_fileop, path_len) : 0;
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
	if (type == ST_EV_ACCEPT && ret < 0)
		return 0; /* accepted nothing (EAGAIN in every event loop): no record, as on the host */
	if (type == ST_EV_ACCEPT || ((type == ST_EV_BIND || type == ST_EV_LISTEN) && ret == 0))
		sock_addrs(type == ST_EV_ACCEPT ? (int)ret : ((struct st_sock *)w->fixed)->fd, type == ST_EV_ACCEPT);
	if (type == ST_EV_PIVOT_ROOT && ret == 0) {
		/* the walks were of the old root; the paths resolved in it */
		h->strs |= ST_STR(3, ST_S_ABSENT) | ST_STR(4, ST_S_ABSENT);
		w->len[3] = w->len[4] = 0;
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
		/* a string that would take the sample past a frame is left out,
		 * flagged (the record stays, its path unresolved or unreadable) */
		if (off + n > SAMPLE_MAX) {
			n = 0;
			((struct st_hdr *)buf)->strs |= ST_STR(i, ST_S_ABSENT);
		}
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
