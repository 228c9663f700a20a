/* open, openat, openat2, creat; unlink, unlinkat, rmdir; rename, renameat,
 * renameat2.  Paths as requested are copied at entry.  A successful open
 * also carries the path of the file the returned descriptor refers to,
 * walked in the kernel, so that no racing thread can make it lie; other
 * paths carry the walk of the directory they were resolved from (events.h). */
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
	struct pend_open *po;
	struct st_open *ev;
	const char *path;
	char *buf;
	__u32 strs = 0;

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
	po = (struct pend_open *)buf;
	ev = &po->ev;
	ev->path_len = copy_user_path(po->s, path, &strs, 0);
	ev->resolved_len = 0;
	ev->base_len = 0;
	ev->ret = 0;
	ev->dirfd = dirfd;
	ev->flags = flags;
	ev->mode = mode;
	ev->resolve = resolve;
	ev->h.flags = 0;
	ev->h.strs = strs;
	po->user = (__u64)path;
	base_enter(&po->base, dirfd, po->s[0], false, strs, 0);
	pend(&pend_open, &ev->h, session, sys, ST_EV_OPEN);
	return 0;
}

static __noinline int open_exit(long ret, __u32 tid)
{
	__u32 plen, rlen = 0, blen = 0, strs, size;
	struct pend_open *po;
	struct st_open *ev;
	struct file *file;
	char *buf;

	po = bpf_map_lookup_elem(&pend_open, &tid);
	if (!po)
		return 0;
	strs = po->ev.h.strs;
	po->ev.path_len = reread_user_path(po->s, po->user, po->ev.path_len, &strs, 0);
	po->ev.h.strs = strs;
	plen = po->ev.path_len;
	if (plen > ST_PATH_MAX || !still_watched(po->ev.h.session_cgid))
		goto out;
	buf = scratch_buf();
	/* with the file the fd leads to, else with where the path was
	 * resolved from */
	if (buf && !bpf_probe_read_kernel(buf, sizeof(*ev) + plen, po)) {
		ev = (struct st_open *)buf;
		file = ret >= 0 ? fd_file(ret) : NULL;
		if (file)
			rlen = walk_path((__u64)BPF_CORE_READ(file, f_path.dentry), (__u64)BPF_CORE_READ(file, f_path.mnt),
					 sizeof(*ev) + plen, &strs, 1);
		else
			blen = base_exit(&po->base, plen ? po->s[0] : 0, sizeof(*ev) + plen, &strs, 2);
		size = sizeof(*ev) + plen + rlen + blen;
		if (size <= ST_SCRATCH_SIZE) {
			ev->resolved_len = rlen;
			ev->base_len = blen;
			ev->ret = ret;
			ev->h.strs = strs;
			finish_hdr(&ev->h, ST_EV_OPEN);
			emit(&ev->h, size);
			goto out;
		}
	}
	po->ev.ret = ret;
	po->ev.h.strs = strs | ST_STR(2, ST_S_ABSENT);
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
	__u32 flags = sys == ST_SYS_RMDIR ? ST_AT_REMOVEDIR : 0, strs = 0;
	long dirfd = ST_AT_FDCWD;
	struct pend_unlink *pu;
	char *buf;

	if (sys == ST_SYS_UNLINKAT) {
		dirfd = (int)sys_arg(ctx, 0);
		path = (const char *)sys_arg(ctx, 1);
		flags = sys_arg(ctx, 2);
	}

	buf = scratch_buf();
	if (!buf)
		return 0;
	pu = (struct pend_unlink *)buf;
	pu->ev.path_len = copy_user_path(pu->s, path, &strs, 0);
	pu->ev.base_len = 0;
	pu->ev.ret = 0;
	pu->ev.dirfd = dirfd;
	pu->ev.flags = flags;
	pu->ev.h.flags = 0;
	pu->ev.h.strs = strs;
	pu->user = (__u64)path;
	base_enter(&pu->base, dirfd, pu->s[0], false, strs, 0);
	pend(&pend_unlink, &pu->ev.h, session, sys, ST_EV_UNLINK);
	return 0;
}

static __noinline int unlink_exit(long ret, __u32 tid)
{
	__u32 plen, blen, strs, size;
	struct pend_unlink *pu;
	struct st_unlink *ev;
	char *buf;

	pu = bpf_map_lookup_elem(&pend_unlink, &tid);
	if (!pu)
		return 0;
	strs = pu->ev.h.strs;
	pu->ev.path_len = reread_user_path(pu->s, pu->user, pu->ev.path_len, &strs, 0);
	pu->ev.h.strs = strs;
	plen = pu->ev.path_len;
	if (plen > ST_PATH_MAX || !still_watched(pu->ev.h.session_cgid))
		goto out;
	buf = scratch_buf();
	if (buf && !bpf_probe_read_kernel(buf, sizeof(*ev) + plen, pu)) {
		ev = (struct st_unlink *)buf;
		blen = base_exit(&pu->base, plen ? pu->s[0] : 0, sizeof(*ev) + plen, &strs, 1);
		size = sizeof(*ev) + plen + blen;
		if (size <= ST_SCRATCH_SIZE) {
			ev->base_len = blen;
			ev->ret = ret;
			ev->h.strs = strs;
			finish_hdr(&ev->h, ST_EV_UNLINK);
			emit(&ev->h, size);
			goto out;
		}
	}
	pu->ev.ret = ret;
	pu->ev.h.strs = strs | ST_STR(1, ST_S_ABSENT);
	finish_hdr(&pu->ev.h, ST_EV_UNLINK);
	emit(&pu->ev.h, sizeof(pu->ev) + plen);
out:
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
	__u32 flags = 0, strs = 0, flen;
	struct pend_rename *pr;
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
	pr = (struct pend_rename *)buf;
	flen = copy_user_path(pr->s, from, &strs, 0);
	pr->ev.to_len = copy_user_path(pr->s + (flen & (2 * ST_PATH_MAX - 1)), to, &strs, 1);
	pr->ev.from_len = flen;
	pr->ev.from_base_len = 0;
	pr->ev.to_base_len = 0;
	pr->ev.ret = 0;
	pr->ev.olddirfd = olddirfd;
	pr->ev.newdirfd = newdirfd;
	pr->ev.flags = flags;
	pr->ev.h.flags = 0;
	pr->ev.h.strs = strs;
	pr->user[0] = (__u64)from;
	pr->user[1] = (__u64)to;
	base_enter(&pr->base[0], olddirfd, pr->s[0], false, strs, 0);
	base_enter(&pr->base[1], newdirfd, pr->s[flen & (2 * ST_PATH_MAX - 1)], false, strs, 1);
	pend(&pend_rename, &pr->ev.h, session, sys, ST_EV_RENAME);
	return 0;
}

/* The event of a pending rename in buf: from and to, read again from the
 * caller's memory when either was unreadable at entry (to follows from),
 * then where each was resolved from.  Returns its size, 0 if none. */
static __always_inline __u32 rename_build(struct pend_rename *pr, char *buf, long ret)
{
	struct st_rename *ev = (struct st_rename *)buf;
	__u32 strs = pr->ev.h.strs, flen = pr->ev.from_len, tlen = pr->ev.to_len, off, fb, tb;

	if (flen > ST_PATH_MAX || tlen > ST_PATH_MAX)
		return 0;
	if (strs & (ST_STR(0, ST_S_ABSENT) | ST_STR(1, ST_S_ABSENT))) {
		__u32 s = 0;

		if (bpf_probe_read_kernel(buf, sizeof(*ev), &pr->ev))
			return 0;
		flen = copy_user_path(buf + sizeof(*ev), (const void *)pr->user[0], &s, 0);
		tlen = copy_user_path(buf + sizeof(*ev) + (flen & (2 * ST_PATH_MAX - 1)), (const void *)pr->user[1],
				      &s, 1);
		/* late: unreadable at entry, read now */
		if ((strs & ST_STR(0, ST_S_ABSENT)) && !(s & ST_STR(0, ST_S_ABSENT)))
			s |= ST_STR(0, ST_S_LATE);
		if ((strs & ST_STR(1, ST_S_ABSENT)) && !(s & ST_STR(1, ST_S_ABSENT)))
			s |= ST_STR(1, ST_S_LATE);
		strs = s;
		if (flen > ST_PATH_MAX || tlen > ST_PATH_MAX)
			return 0;
	} else if (bpf_probe_read_kernel(buf, sizeof(*ev) + flen + tlen, pr)) {
		return 0;
	}
	off = sizeof(*ev) + flen + tlen;
	fb = base_exit(&pr->base[0], flen ? buf[sizeof(*ev)] : 0, off, &strs, 2);
	tb = base_exit(&pr->base[1], tlen ? buf[(sizeof(*ev) + flen) & (ST_SCRATCH_SIZE - 1)] : 0, off + fb, &strs, 3);
	ev->from_len = flen;
	ev->to_len = tlen;
	ev->from_base_len = fb;
	ev->to_base_len = tb;
	ev->ret = ret;
	ev->h.strs = strs;
	finish_hdr(&ev->h, ST_EV_RENAME);
	return off + fb + tb;
}

static __noinline int rename_exit(long ret, __u32 tid)
{
	struct pend_rename *pr;
	char *buf;
	__u32 size;

	pr = bpf_map_lookup_elem(&pend_rename, &tid);
	if (!pr)
		return 0;
	buf = scratch_buf();
	if (buf && still_watched(pr->ev.h.session_cgid)) {
		size = rename_build(pr, buf, ret);
		if (size && size <= ST_SCRATCH_SIZE)
			emit((struct st_hdr *)buf, size);
	}
	bpf_map_delete_elem(&pend_rename, &tid);
	return 0;
}

ST_SYSCALL_ENTER(rename, rename_enter, ST_SYS_RENAME)
ST_SYSCALL_ENTER(renameat, rename_enter, ST_SYS_RENAMEAT)
ST_SYSCALL_ENTER(renameat2, rename_enter, ST_SYS_RENAMEAT2)
ST_SYSCALL_EXIT(rename, rename_exit)
ST_SYSCALL_EXIT(renameat, rename_exit)
ST_SYSCALL_EXIT(renameat2, rename_exit)
