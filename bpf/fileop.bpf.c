/* The file operations besides open, unlink and rename: truncate, mkdir,
 * mknod, symlink, link, chmod, chown, utimes, setxattr, removexattr and the
 * mount calls, from each syscall and its at/f variants (struct st_fileop).
 * Paths as requested are copied at entry with where each is resolved from;
 * at exit, the walk of that directory (or of the fd's file) joins them. */
#include "common.bpf.h"
#include "fileop_times.h"

#define ST_AT_FDCWD                -100
#define ST_AT_EMPTY_PATH           0x1000
#define ST_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define ST_MOVE_MOUNT_T_EMPTY_PATH 0x40

/* A call's operands, as its arguments give them. */
struct fileop_args {
	const char *path, *path2, *name;
	long dirfd, dirfd2;
	__u64 times;     /* user address of the times of a utimes call */
	bool fd_op;      /* operand 1 is the file of fd dirfd, no path */
	bool empty_ok;   /* an empty path names dirfd's file (AT_EMPTY_PATH) */
	bool empty_ok2;
	bool base2;      /* path2 is a path (not symlink's target or a device) */
};

/* Reads the arguments of sys into a and the fixed fields of ev.  sys is a
 * constant in each program, so the verifier walks one case. */
static __always_inline __u32 fileop_args(struct trace_event_raw_sys_enter *ctx, __u32 sys, struct fileop_args *a,
					 struct st_fileop *ev)
{
	__u64 a0 = sys_arg(ctx, 0), a1 = sys_arg(ctx, 1);

	switch (sys) {
	case ST_SYS_TRUNCATE:
		a->path = (const char *)a0;
		ev->arg[0] = a1;
		return ST_EV_TRUNCATE;
	case ST_SYS_FTRUNCATE:
		a->dirfd = (int)a0;
		a->fd_op = true;
		ev->arg[0] = a1;
		return ST_EV_TRUNCATE;
	case ST_SYS_MKDIR:
		a->path = (const char *)a0;
		ev->mode = a1;
		return ST_EV_MKDIR;
	case ST_SYS_MKDIRAT:
		a->dirfd = (int)a0;
		a->path = (const char *)a1;
		ev->mode = sys_arg(ctx, 2);
		return ST_EV_MKDIR;
	case ST_SYS_MKNOD:
		a->path = (const char *)a0;
		ev->mode = a1;
		ev->arg[0] = (__u32)sys_arg(ctx, 2);
		return ST_EV_MKNOD;
	case ST_SYS_MKNODAT:
		a->dirfd = (int)a0;
		a->path = (const char *)a1;
		ev->mode = sys_arg(ctx, 2);
		ev->arg[0] = (__u32)sys_arg(ctx, 3);
		return ST_EV_MKNOD;
	case ST_SYS_SYMLINK:
		a->path2 = (const char *)a0;
		a->path = (const char *)a1;
		return ST_EV_SYMLINK;
	case ST_SYS_SYMLINKAT:
		a->path2 = (const char *)a0;
		a->dirfd = (int)a1;
		a->path = (const char *)sys_arg(ctx, 2);
		return ST_EV_SYMLINK;
	case ST_SYS_LINK:
		a->path2 = (const char *)a0;
		a->path = (const char *)a1;
		a->base2 = true;
		return ST_EV_LINK;
	case ST_SYS_LINKAT:
		a->dirfd2 = (int)a0;
		a->path2 = (const char *)a1;
		a->dirfd = (int)sys_arg(ctx, 2);
		a->path = (const char *)sys_arg(ctx, 3);
		ev->flags = sys_arg(ctx, 4);
		a->empty_ok2 = ev->flags & ST_AT_EMPTY_PATH;
		a->base2 = true;
		return ST_EV_LINK;
	case ST_SYS_CHMOD:
		a->path = (const char *)a0;
		ev->mode = a1;
		return ST_EV_CHMOD;
	case ST_SYS_FCHMOD:
		a->dirfd = (int)a0;
		a->fd_op = true;
		ev->mode = a1;
		return ST_EV_CHMOD;
	case ST_SYS_FCHMODAT:
	case ST_SYS_FCHMODAT2:
		a->dirfd = (int)a0;
		a->path = (const char *)a1;
		ev->mode = sys_arg(ctx, 2);
		if (sys == ST_SYS_FCHMODAT2)
			ev->flags = sys_arg(ctx, 3);
		a->empty_ok = ev->flags & ST_AT_EMPTY_PATH;
		return ST_EV_CHMOD;
	case ST_SYS_CHOWN:
	case ST_SYS_LCHOWN:
		a->path = (const char *)a0;
		ev->arg[0] = (__u32)a1;
		ev->arg[1] = (__u32)sys_arg(ctx, 2);
		return ST_EV_CHOWN;
	case ST_SYS_FCHOWN:
		a->dirfd = (int)a0;
		a->fd_op = true;
		ev->arg[0] = (__u32)a1;
		ev->arg[1] = (__u32)sys_arg(ctx, 2);
		return ST_EV_CHOWN;
	case ST_SYS_FCHOWNAT:
		a->dirfd = (int)a0;
		a->path = (const char *)a1;
		ev->arg[0] = (__u32)sys_arg(ctx, 2);
		ev->arg[1] = (__u32)sys_arg(ctx, 3);
		ev->flags = sys_arg(ctx, 4);
		a->empty_ok = ev->flags & ST_AT_EMPTY_PATH;
		return ST_EV_CHOWN;
	case ST_SYS_UTIME:
	case ST_SYS_UTIMES:
		a->path = (const char *)a0;
		a->times = a1;
		return ST_EV_UTIMES;
	case ST_SYS_FUTIMESAT:
	case ST_SYS_UTIMENSAT:
		a->dirfd = (int)a0;
		a->path = (const char *)a1;
		a->times = sys_arg(ctx, 2);
		if (sys == ST_SYS_UTIMENSAT) {
			ev->flags = sys_arg(ctx, 3);
			/* a NULL path is futimens(): the fd's own file */
			a->fd_op = !a->path;
			a->empty_ok = ev->flags & ST_AT_EMPTY_PATH;
		}
		return ST_EV_UTIMES;
	case ST_SYS_SETXATTR:
	case ST_SYS_LSETXATTR:
	case ST_SYS_FSETXATTR:
		if (sys == ST_SYS_FSETXATTR) {
			a->dirfd = (int)a0;
			a->fd_op = true;
		} else {
			a->path = (const char *)a0;
		}
		a->name = (const char *)a1;
		ev->arg[0] = sys_arg(ctx, 3);
		ev->flags = sys_arg(ctx, 4);
		return ST_EV_SETXATTR;
	case ST_SYS_SETXATTRAT: {
		struct { __u64 value; __u32 size; __u32 flags; } xa = {};

		a->dirfd = (int)a0;
		a->path = (const char *)a1;
		ev->flags = sys_arg(ctx, 2);
		a->name = (const char *)sys_arg(ctx, 3);
		a->empty_ok = ev->flags & ST_AT_EMPTY_PATH;
		if (sys_arg(ctx, 5) < sizeof(xa) || bpf_probe_read_user(&xa, sizeof(xa), (const void *)sys_arg(ctx, 4)))
			ev->h.flags |= ST_F_ARG_FAULT;
		ev->arg[0] = xa.size;
		ev->arg[1] = xa.flags;
		return ST_EV_SETXATTR;
	}
	case ST_SYS_REMOVEXATTR:
	case ST_SYS_LREMOVEXATTR:
	case ST_SYS_FREMOVEXATTR:
		if (sys == ST_SYS_FREMOVEXATTR) {
			a->dirfd = (int)a0;
			a->fd_op = true;
		} else {
			a->path = (const char *)a0;
		}
		a->name = (const char *)a1;
		return ST_EV_REMOVEXATTR;
	case ST_SYS_REMOVEXATTRAT:
		a->dirfd = (int)a0;
		a->path = (const char *)a1;
		ev->flags = sys_arg(ctx, 2);
		a->name = (const char *)sys_arg(ctx, 3);
		a->empty_ok = ev->flags & ST_AT_EMPTY_PATH;
		return ST_EV_REMOVEXATTR;
	case ST_SYS_MOUNT:
		/* never the data argument: it may hold credentials (cifs) */
		a->path2 = (const char *)a0;
		a->path = (const char *)a1;
		a->name = (const char *)sys_arg(ctx, 2);
		ev->flags = sys_arg(ctx, 3);
		a->base2 = true;
		return ST_EV_MOUNT;
	case ST_SYS_UMOUNT2:
		a->path = (const char *)a0;
		ev->flags = a1;
		return ST_EV_UMOUNT;
	case ST_SYS_PIVOT_ROOT:
		a->path = (const char *)a0;
		a->path2 = (const char *)a1;
		a->base2 = true;
		return ST_EV_PIVOT_ROOT;
	case ST_SYS_MOVE_MOUNT:
		a->dirfd2 = (int)a0;
		a->path2 = (const char *)a1;
		a->dirfd = (int)sys_arg(ctx, 2);
		a->path = (const char *)sys_arg(ctx, 3);
		ev->flags = sys_arg(ctx, 4);
		a->empty_ok = ev->flags & ST_MOVE_MOUNT_T_EMPTY_PATH;
		a->empty_ok2 = ev->flags & ST_MOVE_MOUNT_F_EMPTY_PATH;
		a->base2 = true;
		return ST_EV_MOUNT;
	}
	return 0;
}

/* Copies a short user string (xattr name, fs type) of at most
 * ST_NAME_MAX bytes to dst (room: ST_NAME_MAX + 1); state as string i. */
static __always_inline __u32 copy_user_name(char *dst, const void *src, __u32 *strs, int i)
{
	long n = bpf_probe_read_user_str(dst, ST_NAME_MAX + 1, src);

	if (n <= 0) {
		*strs |= ST_STR(i, ST_S_ABSENT);
		return 0;
	}
	if (n > ST_NAME_MAX) {
		*strs |= ST_STR(i, ST_S_CUT);
		return ST_NAME_MAX;
	}
	return n - 1;
}

static __noinline int fileop_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	struct fileop_args a = { .dirfd = ST_AT_FDCWD, .dirfd2 = ST_AT_FDCWD };
	__u32 type, strs = 0, plen = 0, p2len = 0;
	struct pend_fileop *pf;
	struct st_fileop *ev;
	char *buf;

	buf = scratch_buf();
	if (!buf)
		return 0;
	pf = (struct pend_fileop *)buf;
	ev = &pf->ev;
	__builtin_memset(ev, 0, sizeof(*ev));
	type = fileop_args(ctx, sys, &a, ev);
	if (type == ST_EV_UTIMES)
		read_times(sys, a.times, ev);
	if (!a.fd_op)
		plen = copy_user_path(pf->s, a.path, &strs, 0);
	if (a.path2)
		p2len = copy_user_path(pf->s + (plen & (2 * ST_PATH_MAX - 1)), a.path2, &strs, 1);
	if (a.name)
		ev->name_len = copy_user_name(pf->s + (plen & (2 * ST_PATH_MAX - 1)) + (p2len & (2 * ST_PATH_MAX - 1)),
					      a.name, &strs, 2);
	ev->path_len = plen;
	ev->path2_len = p2len;
	ev->dirfd = a.dirfd;
	ev->dirfd2 = a.dirfd2;
	if (a.fd_op)
		ev->h.flags |= ST_F_FD_1;
	ev->h.strs = strs;
	pf->user[0] = (__u64)a.path;
	pf->user[1] = (__u64)a.path2;
	base_enter(&pf->base[0], a.fd_op && a.dirfd < 0 ? ST_BASE_NONE : a.dirfd, plen ? pf->s[0] : 0,
		   a.fd_op || a.empty_ok, strs, 0);
	if (a.base2)
		base_enter(&pf->base[1], a.dirfd2, p2len ? pf->s[plen & (2 * ST_PATH_MAX - 1)] : 0, a.empty_ok2,
			   strs, 1);
	else
		pf->base[1].from = ST_BASE_NONE;
	pend(&pend_fileop, &ev->h, session, sys, type);
	return 0;
}

/* The event of a pending file operation in buf: the paths, read again from
 * the caller's memory when either was unreadable at entry (path2 follows
 * path), the name, then where each path was resolved from.  Returns its
 * size, 0 if none. */
static __always_inline __u32 fileop_build(struct pend_fileop *pf, char *buf, long ret)
{
	struct st_fileop *ev = (struct st_fileop *)buf;
	__u32 strs = pf->ev.h.strs, plen = pf->ev.path_len, p2len = pf->ev.path2_len, nlen = pf->ev.name_len;
	__u32 off, b1, b2 = 0, npos = plen + p2len;

	if (plen > ST_PATH_MAX || p2len > ST_PATH_MAX || nlen > ST_NAME_MAX)
		return 0;
	if (strs & (ST_STR(0, ST_S_ABSENT) | ST_STR(1, ST_S_ABSENT))) {
		__u32 s = strs & ~(ST_STR(0, 0xf) | ST_STR(1, 0xf));

		if (bpf_probe_read_kernel(buf, sizeof(*ev), &pf->ev))
			return 0;
		plen = pf->user[0] ? copy_user_path(buf + sizeof(*ev), (const void *)pf->user[0], &s, 0) : 0;
		p2len = pf->user[1] ? copy_user_path(buf + sizeof(*ev) + (plen & (2 * ST_PATH_MAX - 1)),
						     (const void *)pf->user[1], &s, 1)
				    : 0;
		/* late: unreadable at entry, read now; else as at entry */
		if ((strs & ST_STR(0, ST_S_ABSENT)) && !(s & ST_STR(0, ST_S_ABSENT)))
			s |= ST_STR(0, ST_S_LATE);
		if ((strs & ST_STR(1, ST_S_ABSENT)) && !(s & ST_STR(1, ST_S_ABSENT)))
			s |= ST_STR(1, ST_S_LATE);
		strs = s;
		if (plen > ST_PATH_MAX || p2len > ST_PATH_MAX || npos > 2 * ST_PATH_MAX ||
		    bpf_probe_read_kernel(buf + sizeof(*ev) + plen + p2len, nlen, pf->s + npos))
			return 0;
	} else if (bpf_probe_read_kernel(buf, sizeof(*ev) + plen + p2len + nlen, pf)) {
		return 0;
	}
	off = sizeof(*ev) + plen + p2len + nlen;
	b1 = base_exit(&pf->base[0], plen ? buf[sizeof(*ev)] : 0, off, &strs, 3);
	if (pf->base[1].from != ST_BASE_NONE)
		b2 = base_exit(&pf->base[1], p2len ? buf[(sizeof(*ev) + plen) & (ST_SCRATCH_SIZE - 1)] : 0, off + b1,
			       &strs, 4);
	if (pf->ev.h.syscall == ST_SYS_PIVOT_ROOT && ret == 0) {
		/* the walks see the new root: the paths were resolved in the old */
		strs |= ST_STR(3, ST_S_ABSENT) | ST_STR(4, ST_S_ABSENT);
		b1 = b2 = 0;
	}
	ev->path_len = plen;
	ev->path2_len = p2len;
	ev->base_len = b1;
	ev->base2_len = b2;
	ev->ret = ret;
	ev->h.strs = strs;
	finish_hdr(&ev->h, ev->h.type);
	return off + b1 + b2;
}

static __noinline int fileop_exit(long ret, __u32 tid)
{
	struct pend_fileop *pf;
	char *buf;
	__u32 size;

	pf = bpf_map_lookup_elem(&pend_fileop, &tid);
	if (!pf)
		return 0;
	buf = scratch_buf();
	if (buf && still_watched(pf->ev.h.session_cgid)) {
		size = fileop_build(pf, buf, ret);
		if (size && size <= ST_SCRATCH_SIZE)
			emit((struct st_hdr *)buf, size);
	}
	bpf_map_delete_elem(&pend_fileop, &tid);
	return 0;
}

#define ST_FILEOP(name, sys)                        \
	ST_SYSCALL_ENTER(name, fileop_enter, sys) \
	ST_SYSCALL_EXIT(name, fileop_exit)

ST_FILEOP(truncate, ST_SYS_TRUNCATE)
ST_FILEOP(ftruncate, ST_SYS_FTRUNCATE)
ST_FILEOP(mkdir, ST_SYS_MKDIR)
ST_FILEOP(mkdirat, ST_SYS_MKDIRAT)
ST_FILEOP(mknod, ST_SYS_MKNOD)
ST_FILEOP(mknodat, ST_SYS_MKNODAT)
ST_FILEOP(symlink, ST_SYS_SYMLINK)
ST_FILEOP(symlinkat, ST_SYS_SYMLINKAT)
ST_FILEOP(link, ST_SYS_LINK)
ST_FILEOP(linkat, ST_SYS_LINKAT)
ST_FILEOP(chmod, ST_SYS_CHMOD)
ST_FILEOP(fchmod, ST_SYS_FCHMOD)
ST_FILEOP(fchmodat, ST_SYS_FCHMODAT)
ST_FILEOP(fchmodat2, ST_SYS_FCHMODAT2)
ST_FILEOP(chown, ST_SYS_CHOWN)
ST_FILEOP(fchown, ST_SYS_FCHOWN)
ST_FILEOP(lchown, ST_SYS_LCHOWN)
ST_FILEOP(fchownat, ST_SYS_FCHOWNAT)
ST_FILEOP(utime, ST_SYS_UTIME)
ST_FILEOP(utimes, ST_SYS_UTIMES)
ST_FILEOP(futimesat, ST_SYS_FUTIMESAT)
ST_FILEOP(utimensat, ST_SYS_UTIMENSAT)
ST_FILEOP(setxattr, ST_SYS_SETXATTR)
ST_FILEOP(lsetxattr, ST_SYS_LSETXATTR)
ST_FILEOP(fsetxattr, ST_SYS_FSETXATTR)
ST_FILEOP(setxattrat, ST_SYS_SETXATTRAT)
ST_FILEOP(removexattr, ST_SYS_REMOVEXATTR)
ST_FILEOP(lremovexattr, ST_SYS_LREMOVEXATTR)
ST_FILEOP(fremovexattr, ST_SYS_FREMOVEXATTR)
ST_FILEOP(removexattrat, ST_SYS_REMOVEXATTRAT)
ST_FILEOP(mount, ST_SYS_MOUNT)
ST_FILEOP(umount, ST_SYS_UMOUNT2)
ST_FILEOP(pivot_root, ST_SYS_PIVOT_ROOT)
ST_FILEOP(move_mount, ST_SYS_MOVE_MOUNT)
