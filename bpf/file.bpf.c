/* open, openat, openat2, creat; unlink, unlinkat, rmdir; rename, renameat,
 * renameat2.  Paths as requested are copied at entry.  A successful open
 * also carries the path of the file the returned descriptor refers to,
 * walked in the kernel, so that no racing thread can make it lie. */
#include "common.bpf.h"

#define ST_AT_FDCWD     -100
#define ST_AT_REMOVEDIR 0x200
#define ST_O_WRONLY     01
#define ST_O_CREAT      0100
#define ST_O_TRUNC      01000

/* The entry of an open-family call of a session's task, from the call's
 * arguments as sys takes them. */
static __noinline int open_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	long dirfd = ST_AT_FDCWD;
	__u64 flags, mode, resolve = 0;
	struct open_how how = {};
	struct st_open *ev;
	const char *path;
	char *buf;
	__u32 f = 0;

	if (sys == ST_SYS_OPEN) {
		path = (const char *)sys_arg(ctx, 0);
		flags = sys_arg(ctx, 1);
		mode = sys_arg(ctx, 2);
	} else if (sys == ST_SYS_CREAT) {
		path = (const char *)sys_arg(ctx, 0);
		flags = ST_O_CREAT | ST_O_WRONLY | ST_O_TRUNC;
		mode = sys_arg(ctx, 1);
	} else {
		dirfd = (int)sys_arg(ctx, 0);
		path = (const char *)sys_arg(ctx, 1);
		if (sys == ST_SYS_OPENAT) {
			flags = sys_arg(ctx, 2);
			mode = sys_arg(ctx, 3);
		} else {
			/* a short or unreadable struct fails the call: record it with zeros */
			if (sys_arg(ctx, 3) >= sizeof(how))
				bpf_probe_read_user(&how, sizeof(how), (const void *)sys_arg(ctx, 2));
			flags = how.flags;
			mode = how.mode;
			resolve = how.resolve;
		}
	}
	buf = scratch_buf();
	if (!buf)
		return 0;
	ev = (struct st_open *)buf;
	ev->path_len = copy_user_path(buf + sizeof(*ev), path, &f, ST_F_TRUNC_1, ST_F_FAULT_1);
	ev->resolved_len = 0;
	ev->ret = 0;
	ev->dirfd = dirfd;
	ev->flags = flags;
	ev->mode = mode;
	ev->resolve = resolve;
	ev->h.flags = f;
	((struct pend_open *)buf)->user = (__u64)path;
	pend(&pend_open, &ev->h, session, sys, ST_EV_OPEN);
	return 0;
}

static __noinline int open_exit(long ret, __u32 tid)
{
	__u32 plen, rlen, flags, size;
	struct pend_open *po;
	struct st_open *ev;
	struct file *file;
	char *buf;

	po = bpf_map_lookup_elem(&pend_open, &tid);
	if (!po)
		return 0;
	flags = po->ev.h.flags;
	po->ev.path_len = reread_user_path(po->s, po->user, po->ev.path_len, &flags, ST_F_TRUNC_1, ST_F_FAULT_1,
					   ST_F_LATE_1);
	po->ev.h.flags = flags;
	plen = po->ev.path_len;
	if (plen > ST_PATH_MAX || !still_watched(po->ev.h.session_cgid))
		goto out;
	file = ret >= 0 ? fd_file(ret) : NULL;
	buf = file ? scratch_buf() : NULL;
	/* with the resolved path when the fd leads to a file, else as entered */
	if (buf && !bpf_probe_read_kernel(buf, sizeof(*ev) + plen, po)) {
		ev = (struct st_open *)buf;
		flags = ev->h.flags;
		rlen = walk_path(BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), sizeof(*ev) + plen,
				 &flags, ST_F_2_COMPONENTS, ST_F_TRUNC_2);
		size = sizeof(*ev) + plen + rlen;
		if (size <= ST_SCRATCH_SIZE) {
			ev->resolved_len = rlen;
			ev->ret = ret;
			ev->h.flags = flags;
			finish_hdr(&ev->h, ST_EV_OPEN);
			emit(&ev->h, size);
			goto out;
		}
	}
	po->ev.ret = ret;
	finish_hdr(&po->ev.h, ST_EV_OPEN);
	emit(&po->ev.h, sizeof(po->ev) + plen);
out:
	bpf_map_delete_elem(&pend_open, &tid);
	return 0;
}

ST_SYSCALL_ENTER(open, open_enter, ST_SYS_OPEN)
ST_SYSCALL_ENTER(openat, open_enter, ST_SYS_OPENAT)
ST_SYSCALL_ENTER(openat2, open_enter, ST_SYS_OPENAT2)
ST_SYSCALL_ENTER(creat, open_enter, ST_SYS_CREAT)
ST_SYSCALL_EXIT(open, open_exit)
ST_SYSCALL_EXIT(openat, open_exit)
ST_SYSCALL_EXIT(openat2, open_exit)
ST_SYSCALL_EXIT(creat, open_exit)

static __noinline int unlink_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	const char *path = (const char *)sys_arg(ctx, 0);
	__u32 flags = sys == ST_SYS_RMDIR ? ST_AT_REMOVEDIR : 0, f = 0;
	long dirfd = ST_AT_FDCWD;
	struct st_unlink *ev;
	char *buf;

	if (sys == ST_SYS_UNLINKAT) {
		dirfd = (int)sys_arg(ctx, 0);
		path = (const char *)sys_arg(ctx, 1);
		flags = sys_arg(ctx, 2);
	}

	buf = scratch_buf();
	if (!buf)
		return 0;
	ev = (struct st_unlink *)buf;
	ev->path_len = copy_user_path(buf + sizeof(*ev), path, &f, ST_F_TRUNC_1, ST_F_FAULT_1);
	ev->pad = 0;
	ev->ret = 0;
	ev->dirfd = dirfd;
	ev->flags = flags;
	ev->h.flags = f;
	((struct pend_unlink *)buf)->user = (__u64)path;
	pend(&pend_unlink, &ev->h, session, sys, ST_EV_UNLINK);
	return 0;
}

static __noinline int unlink_exit(long ret, __u32 tid)
{
	__u32 plen, flags;
	struct pend_unlink *pu;

	pu = bpf_map_lookup_elem(&pend_unlink, &tid);
	if (!pu)
		return 0;
	flags = pu->ev.h.flags;
	pu->ev.path_len = reread_user_path(pu->s, pu->user, pu->ev.path_len, &flags, ST_F_TRUNC_1, ST_F_FAULT_1,
					   ST_F_LATE_1);
	pu->ev.h.flags = flags;
	plen = pu->ev.path_len;
	if (plen <= ST_PATH_MAX && still_watched(pu->ev.h.session_cgid)) {
		pu->ev.ret = ret;
		finish_hdr(&pu->ev.h, ST_EV_UNLINK);
		emit(&pu->ev.h, sizeof(pu->ev) + plen);
	}
	bpf_map_delete_elem(&pend_unlink, &tid);
	return 0;
}

ST_SYSCALL_ENTER(unlink, unlink_enter, ST_SYS_UNLINK)
ST_SYSCALL_ENTER(unlinkat, unlink_enter, ST_SYS_UNLINKAT)
ST_SYSCALL_ENTER(rmdir, unlink_enter, ST_SYS_RMDIR)
ST_SYSCALL_EXIT(unlink, unlink_exit)
ST_SYSCALL_EXIT(unlinkat, unlink_exit)
ST_SYSCALL_EXIT(rmdir, unlink_exit)

static __noinline int rename_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	const char *from = (const char *)sys_arg(ctx, 0), *to = (const char *)sys_arg(ctx, 1);
	long olddirfd = ST_AT_FDCWD, newdirfd = ST_AT_FDCWD;
	__u32 flags = 0, f = 0, flen;
	struct st_rename *ev;
	char *buf;

	if (sys != ST_SYS_RENAME) {
		olddirfd = (int)sys_arg(ctx, 0);
		from = (const char *)sys_arg(ctx, 1);
		newdirfd = (int)sys_arg(ctx, 2);
		to = (const char *)sys_arg(ctx, 3);
	}
	if (sys == ST_SYS_RENAMEAT2)
		flags = sys_arg(ctx, 4);
	buf = scratch_buf();
	if (!buf)
		return 0;
	ev = (struct st_rename *)buf;
	flen = copy_user_path(buf + sizeof(*ev), from, &f, ST_F_TRUNC_1, ST_F_FAULT_1);
	ev->to_len = copy_user_path(buf + sizeof(*ev) + (flen & (2 * ST_PATH_MAX - 1)), to, &f, ST_F_TRUNC_2,
				    ST_F_FAULT_2);
	ev->from_len = flen;
	ev->pad = 0;
	ev->ret = 0;
	ev->olddirfd = olddirfd;
	ev->newdirfd = newdirfd;
	ev->flags = flags;
	ev->h.flags = f;
	((struct pend_rename *)buf)->user[0] = (__u64)from;
	((struct pend_rename *)buf)->user[1] = (__u64)to;
	pend(&pend_rename, &ev->h, session, sys, ST_EV_RENAME);
	return 0;
}

static __noinline int rename_exit(long ret, __u32 tid)
{
	__u32 flen, tlen, flags;
	struct pend_rename *pr;

	pr = bpf_map_lookup_elem(&pend_rename, &tid);
	if (!pr)
		return 0;
	flags = pr->ev.h.flags;
	/* `to` follows `from`: when either was unreadable, both are read again */
	if ((flags & (ST_F_FAULT_1 | ST_F_FAULT_2)) && still_watched(pr->ev.h.session_cgid)) {
		char *buf = scratch_buf();
		struct st_rename *ev = (struct st_rename *)buf;
		__u32 f = 0;

		if (buf && !bpf_probe_read_kernel(buf, sizeof(*ev), &pr->ev)) {
			flen = copy_user_path(buf + sizeof(*ev), (const void *)pr->user[0], &f, ST_F_TRUNC_1,
					      ST_F_FAULT_1);
			tlen = copy_user_path(buf + sizeof(*ev) + (flen & (2 * ST_PATH_MAX - 1)),
					      (const void *)pr->user[1], &f, ST_F_TRUNC_2, ST_F_FAULT_2);
			/* late: unreadable at entry, read now */
			f |= (flags & ST_F_FAULT_1) && !(f & ST_F_FAULT_1) ? ST_F_LATE_1 : 0;
			f |= (flags & ST_F_FAULT_2) && !(f & ST_F_FAULT_2) ? ST_F_LATE_2 : 0;
			if (flen <= ST_PATH_MAX && tlen <= ST_PATH_MAX) {
				ev->from_len = flen;
				ev->to_len = tlen;
				ev->ret = ret;
				ev->h.flags = f;
				finish_hdr(&ev->h, ST_EV_RENAME);
				emit(&ev->h, sizeof(*ev) + flen + tlen);
			}
			goto out;
		}
	}
	flen = pr->ev.from_len;
	tlen = pr->ev.to_len;
	if (flen <= ST_PATH_MAX && tlen <= ST_PATH_MAX && still_watched(pr->ev.h.session_cgid)) {
		pr->ev.ret = ret;
		finish_hdr(&pr->ev.h, ST_EV_RENAME);
		emit(&pr->ev.h, sizeof(pr->ev) + flen + tlen);
	}
out:
	bpf_map_delete_elem(&pend_rename, &tid);
	return 0;
}

ST_SYSCALL_ENTER(rename, rename_enter, ST_SYS_RENAME)
ST_SYSCALL_ENTER(renameat, rename_enter, ST_SYS_RENAMEAT)
ST_SYSCALL_ENTER(renameat2, rename_enter, ST_SYS_RENAMEAT2)
ST_SYSCALL_EXIT(rename, rename_exit)
ST_SYSCALL_EXIT(renameat, rename_exit)
ST_SYSCALL_EXIT(renameat2, rename_exit)
