/* execve and execveat.  The entry copies what was asked (filename, argv)
 * and walks where filename is resolved from; a successful exit replaces argv
 * by the new image's copy, which no thread of the caller can still change
 * (for a script, its interpreter's), and adds the file the kernel ran. */
#include "common.bpf.h"

#define ST_AT_EMPTY_PATH 0x1000

/* Copies up to ST_ARGS_MAX arguments, each NUL-terminated, to dst (room:
 * 2 * ST_ARGV_MAX).  From an array of user pointers (entry), or from the
 * strings packed between start and end (the new image's arg area). */
static __always_inline __u32 copy_args(char *dst, const char *const *argv, __u64 start, __u64 end, __u32 *argc,
				       __u32 *strs, __u32 *flags)
{
	__u64 next = start, off = 0, room;
	__u32 i;

	for (i = 0; i < ST_ARGS_MAX; i++) {
		const char *arg;
		long n;
		char last;

		if (argv) {
			if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i])) {
				*strs |= ST_STR(1, i ? ST_S_CUT : ST_S_ABSENT);
				break;
			}
		} else {
			arg = next < end ? (const char *)next : NULL;
		}
		if (!arg)
			break;
		if (off >= ST_ARGV_MAX) {
			*strs |= ST_STR(1, ST_S_CUT);
			break;
		}
		off &= ST_ARGV_MAX - 1;
		room = ST_ARGV_MAX - off;
		n = bpf_probe_read_user_str(dst + off, room, arg);
		if (n <= 0) {
			*strs |= ST_STR(1, i ? ST_S_CUT : ST_S_ABSENT);
			break;
		}
		/* a string that fills the room was cut unless it ends right there */
		if (n == room && (bpf_probe_read_user(&last, 1, arg + n - 1) || last)) {
			*strs |= ST_STR(1, ST_S_CUT);
			off += n;
			i++;
			break;
		}
		off += n;
		next += n;
	}
	*argc = i;
	if (i == ST_ARGS_MAX && !(*strs & ST_STR(1, ST_S_CUT))) {
		const char *more = NULL;

		if (argv)
			bpf_probe_read_user(&more, sizeof(more), &argv[i]);
		else
			more = next < end ? (const char *)next : NULL;
		if (more)
			*flags |= ST_F_TRUNC_ARGS;
	}
	return off;
}

static __noinline int exec_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	const char *filename = (const char *)sys_arg(ctx, 0);
	const char *const *argv = (const char *const *)sys_arg(ctx, 1);
	long dirfd = ST_BASE_CWD, at_flags = 0;
	struct st_base base;
	struct st_exec *ev;
	char *buf;
	__u32 flags = 0, strs = 0, flen, alen, argc = 0;

	if (sys == ST_SYS_EXECVEAT) { /* dirfd first */
		dirfd = (int)sys_arg(ctx, 0);
		filename = (const char *)sys_arg(ctx, 1);
		argv = (const char *const *)sys_arg(ctx, 2);
		at_flags = (int)sys_arg(ctx, 4);
	}
	buf = scratch_buf();
	if (!buf)
		return 0;
	ev = (struct st_exec *)buf;
	flen = copy_user_path(buf + sizeof(*ev), filename, &strs, 0);
	/* a NULL argv is an empty one to the kernel */
	alen = argv ? copy_args(buf + sizeof(*ev) + (flen & (2 * ST_PATH_MAX - 1)), argv, 0, 0, &argc, &strs, &flags)
		    : 0;
	/* walked now: the fd table is another one after a successful exec */
	base.from = base_kind(dirfd, flen ? buf[sizeof(*ev)] : 0, at_flags & ST_AT_EMPTY_PATH);
	base_lookup(&base);
	if (base.dentry)
		ev->base_len = walk_path(base.dentry, base.mnt, sizeof(*ev) + (flen & (2 * ST_PATH_MAX - 1)) +
					 (alen & (2 * ST_ARGV_MAX - 1)), &strs, 3);
	else {
		ev->base_len = 0;
		strs |= ST_STR(3, ST_S_ABSENT);
	}
	ev->filename_len = flen;
	ev->argv_len = alen;
	ev->argc = argc;
	ev->exe_len = 0;
	ev->dirfd = dirfd;
	ev->at_flags = at_flags;
	ev->ret = 0;
	ev->h.flags = flags;
	ev->h.strs = strs;
	pend(&pend_exec, &ev->h, session, sys, ST_EV_EXEC);
	return 0;
}

/* Success: filename and base from the entry, argv and exe from the new
 * image.  False when the event could not be built (the caller sends the
 * entry's). */
static __always_inline bool exec_success(struct pend_exec *pe, __u32 flen, __u32 palen, __u32 blen)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	struct st_exec *ev;
	__u32 flags, strs, argc = 0, alen, elen, off, size;
	char *buf = scratch_buf();

	if (!buf)
		return false;
	ev = (struct st_exec *)buf;
	if (bpf_probe_read_kernel(buf, sizeof(*ev) + flen, pe))
		return false;
	flags = ev->h.flags & ST_F_SCRIPT;
	strs = ev->h.strs & (ST_STR(0, 0xf) | ST_STR(3, 0xf));
	alen = copy_args(buf + sizeof(*ev) + flen, NULL, BPF_CORE_READ(mm, arg_start), BPF_CORE_READ(mm, arg_end),
			 &argc, &strs, &flags);
	alen &= 2 * ST_ARGV_MAX - 1;
	elen = 0;
	if (exe)
		elen = walk_path((__u64)BPF_CORE_READ(exe, f_path.dentry), (__u64)BPF_CORE_READ(exe, f_path.mnt),
				 sizeof(*ev) + flen + alen, &strs, 2);
	off = sizeof(*ev) + flen + alen + elen;
	if (off > ST_SCRATCH_SIZE - ST_PATH_MAX ||
	    bpf_probe_read_kernel(buf + off, blen, pe->s + flen + palen))
		return false;
	ev->argc = argc;
	ev->argv_len = alen;
	ev->exe_len = elen;
	ev->ret = 0;
	ev->h.flags = flags;
	ev->h.strs = strs;
	finish_hdr(&ev->h, ST_EV_EXEC);
	size = off + blen;
	if (size > ST_SCRATCH_SIZE)
		return false;
	emit(&ev->h, size);
	return true;
}

static __noinline int exec_exit(long ret, __u32 tid)
{
	__u32 flen, alen, blen;
	struct pend_exec *pe;

	pe = bpf_map_lookup_elem(&pend_exec, &tid);
	if (!pe)
		return 0;
	flen = pe->ev.filename_len;
	alen = pe->ev.argv_len;
	blen = pe->ev.base_len;
	if (flen > ST_PATH_MAX || alen > ST_ARGV_MAX || blen > ST_PATH_MAX || !still_watched(pe->ev.h.session_cgid))
		goto out;
	if (ret != 0 || !exec_success(pe, flen, alen, blen)) {
		pe->ev.ret = ret;
		finish_hdr(&pe->ev.h, ST_EV_EXEC);
		emit(&pe->ev.h, sizeof(pe->ev) + flen + alen + blen);
	}
out:
	bpf_map_delete_elem(&pend_exec, &tid);
	return 0;
}

ST_SYSCALL_ENTER(execve, exec_enter, ST_SYS_EXECVE)
ST_SYSCALL_ENTER(execveat, exec_enter, ST_SYS_EXECVEAT)
ST_SYSCALL_EXIT(execve, exec_exit)
ST_SYSCALL_EXIT(execveat, exec_exit)

/* The exec has run: an interpreter in between (a #! script, binfmt_misc)
 * changed bprm->interp from the name asked.  A thread other than the
 * leader that execs takes the leader's pid: what its entry saved moves to
 * the pid its exit will run under. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 old = old_pid, tid = BPF_CORE_READ(p, pid);
	volatile __u8 *mark = pending_byte(old);
	struct pend_exec *pe;

	if (!mark || !*mark)
		return 0;
	pe = bpf_map_lookup_elem(&pend_exec, &old);
	if (!pe)
		return 0;
	if (BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename))
		pe->ev.h.flags |= ST_F_SCRIPT;
	if (tid == old)
		return 0;
	clear_pending(old);
	if (!mark_pending(tid) || bpf_map_update_elem(&pend_exec, &tid, pe, BPF_ANY))
		count_loss(pe->ev.h.session_cgid, ST_EV_EXEC, ST_LOSS_PENDING);
	bpf_map_delete_elem(&pend_exec, &old);
	return 0;
}
