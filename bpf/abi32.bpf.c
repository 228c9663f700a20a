/* Syscalls of an x86-64 kernel's other ABIs: i386 (int 0x80, sysenter;
 * the task's TS_COMPAT status) and x32 (the x32 bit in the number).  The
 * syscall tracepoints leave them out (the number means another call in
 * another ABI); raw_syscalls does not.  One program at every syscall's
 * exit of every task, so it leaves after two loads for native calls, and
 * only then runs the session filter.  Built at the exit: numbers from the
 * registers, strings read from the caller's memory then (marked late:
 * nothing kept them from the entry), bases and files walked from what the
 * task holds then.  open, creat, openat, unlink, unlinkat, rmdir, rename,
 * renameat, renameat2, connect (and i386's socketcall(SYS_CONNECT)) and a
 * failed execve are those syscalls' records with ST_F_ABI_*; a successful
 * exec is recorded at sched_process_exec, where the kernel still holds its
 * name; the rest are abi32 records. */
#include "common.bpf.h"
#include "egress.bpf.h"

#define ST_TS_COMPAT  0x0002     /* thread_info.status: an i386 syscall is running */
#define ST_X32_BIT    0x40000000 /* __X32_SYSCALL_BIT */
#define ST_AT_FDCWD   -100
#define ST_AT_REMOVEDIR 0x200
#define ST_O_WRONLY   01
#define ST_O_CREAT    0100
#define ST_O_TRUNC    01000
#define ST_SYS_CONNECT_CALL 3 /* socketcall's SYS_CONNECT */
#define ST_SIGSYS     31

/* What a number means in its ABI. */
enum abi_call {
	ABI_OTHER, ABI_OPEN, ABI_CREAT, ABI_OPENAT, ABI_UNLINK, ABI_UNLINKAT, ABI_RMDIR, ABI_RENAME, ABI_RENAMEAT,
	ABI_RENAMEAT2, ABI_EXECVE, ABI_EXECVEAT, ABI_SOCKETCALL, ABI_CONNECT,
};

static __always_inline enum abi_call i386_call(__u32 nr)
{
	switch (nr) {
	case 5: return ABI_OPEN;
	case 8: return ABI_CREAT;
	case 295: return ABI_OPENAT;
	case 10: return ABI_UNLINK;
	case 301: return ABI_UNLINKAT;
	case 40: return ABI_RMDIR;
	case 38: return ABI_RENAME;
	case 302: return ABI_RENAMEAT;
	case 353: return ABI_RENAMEAT2;
	case 11: return ABI_EXECVE;
	case 358: return ABI_EXECVEAT;
	case 102: return ABI_SOCKETCALL;
	case 362: return ABI_CONNECT;
	}
	return ABI_OTHER;
}

/* x32 numbers are x86-64's for these, but its own for execve(at). */
static __always_inline enum abi_call x32_call(__u32 nr)
{
	switch (nr) {
	case 2: return ABI_OPEN;
	case 85: return ABI_CREAT;
	case 257: return ABI_OPENAT;
	case 87: return ABI_UNLINK;
	case 263: return ABI_UNLINKAT;
	case 84: return ABI_RMDIR;
	case 82: return ABI_RENAME;
	case 264: return ABI_RENAMEAT;
	case 316: return ABI_RENAMEAT2;
	case 520: return ABI_EXECVE;
	case 545: return ABI_EXECVEAT;
	case 42: return ABI_CONNECT;
	}
	return ABI_OTHER;
}

/* A user path read at exit, as string i at dst. */
static __always_inline __u32 late_path(char *dst, __u64 src, __u32 *strs, int i)
{
	__u32 n = copy_user_path(dst, (const void *)src, strs, i) & (2 * ST_PATH_MAX - 1);

	if (!(*strs & ST_STR(i, ST_S_ABSENT)))
		*strs |= ST_STR(i, ST_S_LATE);
	return n;
}

static __always_inline __u32 abi_open(char *buf, enum abi_call c, const __u64 *a, long ret, __u32 *strs)
{
	struct st_open *ev = (struct st_open *)buf;
	__u32 plen, rlen = 0, blen = 0, off = sizeof(*ev);
	long dirfd = ST_AT_FDCWD;
	__u64 path = a[0], flags = a[1], mode = a[2];
	struct file *file;

	if (c == ABI_CREAT) {
		flags = ST_O_CREAT | ST_O_WRONLY | ST_O_TRUNC;
		mode = a[1];
	} else if (c == ABI_OPENAT) {
		dirfd = (int)a[0];
		path = a[1];
		flags = a[2];
		mode = a[3];
	}
	plen = late_path(buf + off, path, strs, 0);
	file = ret >= 0 ? fd_file(ret) : NULL;
	if (file)
		rlen = walk_path((__u64)BPF_CORE_READ(file, f_path.dentry), (__u64)BPF_CORE_READ(file, f_path.mnt),
				 off + plen, strs, 1) & (2 * ST_PATH_MAX - 1);
	else
		blen = walk_base_now(dirfd, buf + off, plen, off + plen, strs, 2);
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ret = ret;
	ev->dirfd = dirfd;
	ev->flags = (__u32)flags;
	ev->mode = (__u32)mode;
	ev->path_len = plen;
	ev->resolved_len = rlen;
	ev->base_len = blen;
	return off + plen + rlen + blen;
}

static __always_inline __u32 abi_unlink(char *buf, enum abi_call c, const __u64 *a, long ret, __u32 *strs)
{
	struct st_unlink *ev = (struct st_unlink *)buf;
	__u32 plen, blen, off = sizeof(*ev), flags = c == ABI_RMDIR ? ST_AT_REMOVEDIR : 0;
	long dirfd = ST_AT_FDCWD;
	__u64 path = a[0];

	if (c == ABI_UNLINKAT) {
		dirfd = (int)a[0];
		path = a[1];
		flags = a[2];
	}
	plen = late_path(buf + off, path, strs, 0);
	blen = walk_base_now(dirfd, buf + off, plen, off + plen, strs, 1);
	ev->ret = ret;
	ev->dirfd = dirfd;
	ev->flags = flags;
	ev->path_len = plen;
	ev->base_len = blen;
	return off + plen + blen;
}

static __always_inline __u32 abi_rename(char *buf, enum abi_call c, const __u64 *a, long ret, __u32 *strs)
{
	struct st_rename *ev = (struct st_rename *)buf;
	__u32 flen, tlen, fb, tb, off = sizeof(*ev);
	long olddirfd = ST_AT_FDCWD, newdirfd = ST_AT_FDCWD;
	__u64 from = a[0], to = a[1];

	if (c != ABI_RENAME) {
		olddirfd = (int)a[0];
		from = a[1];
		newdirfd = (int)a[2];
		to = a[3];
	}
	flen = late_path(buf + off, from, strs, 0);
	tlen = late_path(buf + off + flen, to, strs, 1);
	fb = walk_base_now(olddirfd, buf + off, flen, off + flen + tlen, strs, 2);
	tb = walk_base_now(newdirfd, buf + off + flen, tlen, off + flen + tlen + fb, strs, 3);
	ev->ret = ret;
	ev->olddirfd = olddirfd;
	ev->newdirfd = newdirfd;
	ev->flags = c == ABI_RENAMEAT2 ? (__u32)a[4] : 0;
	ev->from_len = flen;
	ev->to_len = tlen;
	ev->from_base_len = fb;
	ev->to_base_len = tb;
	return off + flen + tlen + fb + tb;
}

/* A failed execve(at): the name asked for, where it was resolved from. */
static __always_inline __u32 abi_exec(char *buf, enum abi_call c, const __u64 *a, long ret, __u32 *strs)
{
	struct st_exec *ev = (struct st_exec *)buf;
	__u32 flen, blen, off = sizeof(*ev);
	long dirfd = c == ABI_EXECVEAT ? (int)a[0] : ST_AT_FDCWD;

	flen = late_path(buf + off, c == ABI_EXECVEAT ? a[1] : a[0], strs, 0);
	*strs |= ST_STR(1, ST_S_ABSENT); /* argv: pointers of the other ABI's width, not read */
	blen = walk_base_now(dirfd, buf + off, flen, off + flen, strs, 3);
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ret = ret;
	ev->dirfd = dirfd;
	ev->at_flags = c == ABI_EXECVEAT ? (__u32)a[4] : 0;
	ev->filename_len = flen;
	ev->base_len = blen;
	return off + flen + blen;
}

/* connect(fd, addr, len), from the caller's memory at exit: what the hook
 * denied it recorded itself (no connect syscall was pending). */
static __always_inline __u32 abi_connect(char *buf, const __u64 *a, long ret, __u64 session)
{
	struct st_connect *ev = (struct st_connect *)buf;
	long alen = (int)a[2];
	struct sockaddr_in6 sa = {};
	__u32 addr[4];

	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ret = ret;
	ev->fd = (int)a[0];
	if (alen < 2 || bpf_probe_read_user(&sa, alen < sizeof(sa) ? 16 : sizeof(sa), (const void *)a[1]))
		return sizeof(*ev);
	ev->family = sa.sin6_family;
	ev->source = ST_ADDR_USER;
	if (sa.sin6_family == ST_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa;

		ev->port = bpf_ntohs(sin->sin_port);
		__builtin_memcpy(ev->addr, &sin->sin_addr, 4);
		__builtin_memcpy(addr, ev->addr, 16);
		ev->verdict = egress_verdict(session, ST_AF_INET, addr, sin->sin_port);
	} else if (sa.sin6_family == ST_AF_INET6) {
		ev->port = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(ev->addr, &sa.sin6_addr, 16);
		__builtin_memcpy(addr, ev->addr, 16);
		ev->verdict = inet6_verdict(session, addr, sa.sin6_port);
	} else if (sa.sin6_family == ST_AF_UNIX) {
		ev->path_len = read_sun_path(buf + sizeof(*ev), (const char *)a[1] + ST_SUN_PATH, alen - ST_SUN_PATH,
					     true);
		ev->verdict = unix_verdict(session, ev->path_len ? buf[sizeof(*ev)] : 1);
	}
	return ev->verdict == ST_VERDICT_DENY ? 0 : sizeof(*ev) + ev->path_len;
}

static __noinline int abi32_event(struct pt_regs *regs, long ret, __u64 session, bool i386)
{
	__u64 nr = BPF_CORE_READ(regs, orig_ax), a[6];
	__u32 strs = 0, size, type, sys = ST_SYS_NONE;
	enum abi_call c;
	struct st_hdr *h;
	char *buf;

	if (i386) {
		nr = (__u32)nr;
		a[0] = (__u32)BPF_CORE_READ(regs, bx);
		a[1] = (__u32)BPF_CORE_READ(regs, cx);
		a[2] = (__u32)BPF_CORE_READ(regs, dx);
		a[3] = (__u32)BPF_CORE_READ(regs, si);
		a[4] = (__u32)BPF_CORE_READ(regs, di);
		a[5] = (__u32)BPF_CORE_READ(regs, bp);
		c = i386_call(nr);
	} else {
		nr &= ~(__u64)ST_X32_BIT;
		a[0] = BPF_CORE_READ(regs, di);
		a[1] = BPF_CORE_READ(regs, si);
		a[2] = BPF_CORE_READ(regs, dx);
		a[3] = BPF_CORE_READ(regs, r10);
		a[4] = BPF_CORE_READ(regs, r8);
		a[5] = BPF_CORE_READ(regs, r9);
		c = x32_call(nr);
	}
	/* socketcall(SYS_CONNECT, args): three words of i386's width */
	if (c == ABI_SOCKETCALL && a[0] == ST_SYS_CONNECT_CALL) {
		__u32 w[3];

		if (!bpf_probe_read_user(w, sizeof(w), (const void *)a[1])) {
			a[0] = w[0];
			a[1] = w[1];
			a[2] = w[2];
			c = ABI_CONNECT;
			sys = ST_SYS_SOCKETCALL;
		}
	} else if (c == ABI_CONNECT) {
		sys = ST_SYS_CONNECT;
	}
	/* a call that seccomp trapped never ran: its registers were rolled
	 * back (the result is the number) and SIGSYS is on its way; a seccomp
	 * refusal is no record (DESIGN.md) */
	if (ret == (long)BPF_CORE_READ(regs, orig_ax) &&
	    (BPF_CORE_READ(bpf_get_current_task_btf(), pending.signal.sig[0]) & (1ul << (ST_SIGSYS - 1))))
		return 0;
	/* a successful exec is recorded at sched_process_exec */
	if ((c == ABI_EXECVE || c == ABI_EXECVEAT) && ret == 0)
		return 0;
	buf = scratch_buf();
	if (!buf)
		return 0;
	h = (struct st_hdr *)buf;
	switch (c) {
	case ABI_OPEN:
	case ABI_CREAT:
	case ABI_OPENAT:
		type = ST_EV_OPEN;
		sys = c == ABI_OPEN ? ST_SYS_OPEN : c == ABI_CREAT ? ST_SYS_CREAT : ST_SYS_OPENAT;
		size = abi_open(buf, c, a, ret, &strs);
		break;
	case ABI_UNLINK:
	case ABI_UNLINKAT:
	case ABI_RMDIR:
		type = ST_EV_UNLINK;
		sys = c == ABI_UNLINK ? ST_SYS_UNLINK : c == ABI_RMDIR ? ST_SYS_RMDIR : ST_SYS_UNLINKAT;
		size = abi_unlink(buf, c, a, ret, &strs);
		break;
	case ABI_RENAME:
	case ABI_RENAMEAT:
	case ABI_RENAMEAT2:
		type = ST_EV_RENAME;
		sys = c == ABI_RENAME ? ST_SYS_RENAME : c == ABI_RENAMEAT ? ST_SYS_RENAMEAT : ST_SYS_RENAMEAT2;
		size = abi_rename(buf, c, a, ret, &strs);
		break;
	case ABI_EXECVE:
	case ABI_EXECVEAT:
		type = ST_EV_EXEC;
		sys = c == ABI_EXECVE ? ST_SYS_EXECVE : ST_SYS_EXECVEAT;
		size = abi_exec(buf, c, a, ret, &strs);
		break;
	case ABI_CONNECT:
		type = ST_EV_CONNECT;
		size = abi_connect(buf, a, ret, session);
		if (!size)
			return 0;
		break;
	default: {
		struct st_abi32 *ev = (struct st_abi32 *)buf;

		type = ST_EV_ABI32;
		sys = ST_SYS_NONE;
		ev->ret = ret;
		ev->nr = nr;
		ev->pad = 0;
		__builtin_memcpy(ev->args, a, sizeof(a));
		size = sizeof(*ev);
		break;
	}
	}
	fill_hdr(h, type, session);
	h->flags = i386 ? ST_F_ABI_I386 : ST_F_ABI_X32;
	h->syscall = sys;
	h->strs = strs;
	if (size <= ST_SCRATCH_SIZE)
		emit(h, size);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(abi32_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	bool i386 = task->thread_info.status & ST_TS_COMPAT;
	__u64 session;

	/* native calls leave here */
	if (!i386 && (regs->orig_ax >> 30) != 1)
		return 0;
	session = current_session();
	return session ? abi32_event(regs, ret, session, i386) : 0;
}

/* A successful exec no native execve(at) began (exec.bpf.c marks those at
 * their entry): the kernel's copy of the name, the new image's argv and
 * file.  The registers say the new image's ABI by now (the kernel rewrites
 * the number for it), so the call's own ABI is known only when the image
 * is of another ABI too: a 64-bit image leaves "i386 or x32" (both flags),
 * and execve or execveat untold. */
static __noinline int abi32_exec_event(struct linux_binprm *bprm, __u64 session, __u64 nr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end), alen;
	struct file *exe = BPF_CORE_READ(bprm, file);
	__u32 strs = 0, flen, elen = 0, blen, off = sizeof(struct st_exec);
	struct st_exec *ev;
	int argc = BPF_CORE_READ(bprm, argc);
	char *buf = scratch_buf();

	if (!buf)
		return 0;
	ev = (struct st_exec *)buf;
	flen = copy_kernel_path(buf + off, BPF_CORE_READ(bprm, filename), &strs, 0);
	off += flen;
	alen = end > start ? end - start : 0;
	if (alen > ST_ARGV_MAX) {
		alen = ST_ARGV_MAX;
		strs |= ST_STR(1, ST_S_CUT);
	}
	alen &= 2 * ST_ARGV_MAX - 1;
	if (bpf_probe_read_user(buf + off, alen, (const void *)start)) {
		alen = 0;
		strs |= ST_STR(1, ST_S_ABSENT);
	}
	off += alen;
	if (exe)
		elen = walk_path((__u64)BPF_CORE_READ(exe, f_path.dentry), (__u64)BPF_CORE_READ(exe, f_path.mnt), off,
				 &strs, 2) & (2 * ST_PATH_MAX - 1);
	off += elen;
	blen = walk_base_now(ST_AT_FDCWD, buf + sizeof(*ev), flen, off, &strs, 3);
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->argc = argc > 0 ? argc : 0;
	ev->dirfd = ST_AT_FDCWD;
	ev->filename_len = flen;
	ev->argv_len = alen;
	ev->exe_len = elen;
	ev->base_len = blen;
	fill_hdr(&ev->h, ST_EV_EXEC, session);
	if (nr == 11 || nr == 358) {
		ev->h.flags = ST_F_ABI_I386;
		ev->h.syscall = nr == 358 ? ST_SYS_EXECVEAT : ST_SYS_EXECVE;
	} else if ((nr >> 30) == 1) {
		ev->h.flags = ST_F_ABI_X32;
		ev->h.syscall = nr == (ST_X32_BIT | 545) ? ST_SYS_EXECVEAT : ST_SYS_EXECVE;
	} else {
		ev->h.flags = ST_F_ABI_I386 | ST_F_ABI_X32;
	}
	ev->h.strs = strs;
	if (off + blen <= ST_SCRATCH_SIZE)
		emit(&ev->h, off + blen);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(abi32_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	volatile __u8 *mark = pending_byte(old_pid);
	__u64 session;

	/* a native execve(at)'s entry marked its thread: exec.bpf.c's */
	if (!mark || *mark)
		return 0;
	session = current_session();
	return session ? abi32_exec_event(bprm, session, BPF_CORE_READ((struct pt_regs *)bpf_task_pt_regs(p), orig_ax))
		       : 0;
}
